"""Every example runs end to end with quick settings, and says what it promises."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "examples"


def run_example(name):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return result.stdout


def test_every_example_is_tested():
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    tested = {
        "harden_pipeline.py",
        "harden_tabular_pipeline.py",
        "grid_search_robustness.py",
        "imbalanced_augmentation.py",
        "custom_attack_plugin.py",
        "dcgan_images.py",
        "certify_and_detect.py",
    }
    assert scripts == tested


def scores(out, marker):
    return {line.split()[0]: float(line.split()[-1]) for line in out.splitlines() if marker in line}


def test_harden_pipeline():
    out = run_example("harden_pipeline.py")
    robust = [float(line.split()[-1]) for line in out.splitlines() if "PGD-20" in line]
    assert len(robust) == 2 and robust[1] > robust[0]


def test_harden_tabular_pipeline():
    out = run_example("harden_tabular_pipeline.py")
    rows = [line.split() for line in out.splitlines() if "constrained PGD-20" in line]
    assert [row[0] for row in rows] == ["undefended", "hardened"]
    assert all(row[row.index("rows") + 1] == "100%" for row in rows)
    assert float(rows[1][-1]) > float(rows[0][-1]) + 0.2
    assert "an adversarial applicant:" in out


def test_grid_search_robustness():
    out = run_example("grid_search_robustness.py")
    assert out.count("robust") >= 4 and "best: {" in out


def test_imbalanced_augmentation():
    result = scores(run_example("imbalanced_augmentation.py"), "balanced accuracy")
    assert set(result) == {"none", "SMOTE", "GANAugmenter"}
    assert result["GANAugmenter"] > result["none"]


def test_custom_attack_plugin():
    result = scores(run_example("custom_attack_plugin.py"), "robust accuracy")
    assert result["pgd"] < result["sign-noise"]


def test_dcgan_images():
    out = run_example("dcgan_images.py")
    assert "generated" in out and "real + DCGAN" in out


def test_certify_and_detect():
    out = run_example("certify_and_detect.py")
    certified = [float(line.split()[-1]) for line in out.splitlines() if "at L2 radius" in line]
    assert len(certified) == 4 and certified == sorted(certified, reverse=True)
    assert certified[0] > 0.9 and certified[1] > 0.5
    guarded = {
        line.split()[0]: float(line.split()[-1]) for line in out.splitlines() if "PGD-20" in line
    }
    assert guarded["adaptive"] < guarded["non_adaptive"]
    assert "sigma chosen by certified accuracy at radius 0.25: 0.25" in out
