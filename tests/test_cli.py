"""The command line: --version, and the demo end to end on bundled data."""

import json
import re
import subprocess
import sys

import pytest
import torch

import skadv
from skadv.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"skadv {skadv.__version__}"


def test_console_script_is_installed():
    out = subprocess.run(["skadv", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"skadv {skadv.__version__}"


def test_demo_quick_writes_report_and_results(tmp_path):
    out = tmp_path / "demo"
    subprocess.run(
        [sys.executable, "-m", "skadv.cli", "demo", "--quick", "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    results = json.loads((out / "results.json").read_text())
    for figure in results["figures"]:
        assert (out / figure).stat().st_size > 5000
        assert f'src="{figure}"' in (out / "report.html").read_text()
    models = results["models"]
    assert set(models) == {"undefended", "madry-pgd", "trades", "fast-fgsm-rs"}
    undefended = models["undefended"]
    for name in ("madry-pgd", "trades", "fast-fgsm-rs"):
        assert models[name]["robust_accuracy_art"] > undefended["robust_accuracy_art"] + 0.2
        assert models[name]["autoattack"] > undefended["autoattack"] + 0.2
        assert models[name]["autoattack"] <= models[name]["robust_accuracy_art"]
        card = models[name]["model_card"]
        assert card["attack"]["version"] == "standard" and card["eps"] == 0.1
    judge = results["config"]["judge"]
    assert judge["attacks"] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    assert "AutoAttack, standard version (quick budgets)" in (out / "report.html").read_text()
    augmentation = results["augmentation"]
    assert set(augmentation) == {"no augmentation", "GANAugmenter (cgan)", "SMOTE"}
    assert (
        augmentation["GANAugmenter (cgan)"]["balanced_accuracy"]
        > augmentation["no augmentation"]["balanced_accuracy"] + 0.05
    )
    assert set(results["figures"]) == {
        "robustness_curves.png",
        "adversarial_examples.png",
        "training_curves.png",
        "gan_samples.png",
    }
    assert 0.0 <= results["dcgan_class_agreement"] <= 1.0
    assert results["versions"]["skadv"] == skadv.__version__
    assert results["seed"] == 0 and results["device"] == "cpu"
    run = results["run"]
    assert run["threads"] == 1 and run["seconds"] > 0 and run["cpu"]
    assert f"on 1 thread(s) of {run['cpu']}" in (out / "report.html").read_text()


def test_the_demo_limits_torch_and_blas_threads_and_restores_them():
    from threadpoolctl import threadpool_info

    from skadv.demo import limited_threads

    before = torch.get_num_threads()
    with limited_threads(1):
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert torch.get_num_threads() == before


def test_demo_without_its_extra_says_how_to_install_it():
    hide_art = (  # a None entry in sys.modules: art is not importable, find_spec says so
        "import sys; sys.modules['art'] = None\n"
        "from skadv.cli import main\n"
        "sys.exit(main(['demo', '--quick']))\n"
    )
    result = subprocess.run([sys.executable, "-c", hide_art], capture_output=True, text=True)
    assert result.returncode == 2
    assert "adversarial-robustness-toolbox" in result.stderr
    assert "pip install 'skadv[demo]'" in result.stderr


def run_demo_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "skadv.cli", "demo", *args], capture_output=True, text=True
    )


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_demo_on_cuda_without_cuda_fails_fast(tmp_path):
    result = run_demo_cli("--device", "cuda", "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "CUDA is not available here" in result.stderr and "--device='cpu'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_bad_output_folders_in_one_line_before_training(tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "report.html").write_text("the user's own report")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = {
        str(users): "is not empty.*--force",
        "": "--out is empty",
        str(a_file): "is a file, not a folder",
        str(a_file / "sub"): "is not a writable folder",
    }
    for out, message in cases.items():
        result = run_demo_cli("--out", out, "--quick")
        assert result.returncode == 2, out
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert re.search(message, result.stderr), result.stderr
    assert (users / "report.html").read_text() == "the user's own report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "mine"]
