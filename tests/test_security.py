"""Hostile files and hostile plugins: each test builds the hostile thing, shows that it is
real, and checks that skadv refuses it before any of its code runs."""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import skops.io
import torch
from imblearn.pipeline import make_pipeline
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skadv import AdversarialTrainer, GANAugmenter, persistence
from skadv.gans import ConditionalGAN
from skadv.modules import MLP

MEMBERS = ("skadv-model.json", "estimator.skops", "tensors.safetensors")


class Payload:
    """Unpickling this object writes ``marker``: the shape of every pickle exploit."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(200, n_features=6, weights=[0.8], random_state=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A fitted AdversarialTrainer and GANAugmenter, written by persistence.dump."""
    X, y = data
    folder = tmp_path_factory.mktemp("models")
    models = {
        "trainer": AdversarialTrainer(
            MLP, module__hidden=(8,), max_epochs=2, train_split=None, verbose=0, random_state=0
        ).fit(X, y),
        "augmenter": make_pipeline(
            GANAugmenter(gan=ConditionalGAN(hidden=(8,)), max_steps=4, random_state=0),
            LogisticRegression(),
        ).fit(X, y),
    }
    for name, model in models.items():
        persistence.dump(model, folder / f"{name}.skadv")
    return folder, models


def replace_member(source, target, member, content):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, content if name == member else old.read(name))


def test_the_payload_is_real(tmp_path):
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("name", ["trainer", "augmenter"])
def test_round_trip_restores_weights_optimizer_and_history(saved, data, name):
    folder, models = saved
    X, _ = data
    loaded = persistence.load(folder / f"{name}.skadv")
    original = models[name]
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    net, net_loaded = (
        (original, loaded) if name == "trainer" else (original[0].gan_net_, loaded[0].gan_net_)
    )
    assert len(net_loaded.history) == len(net.history) > 0
    for key, value in net.module_.state_dict().items():
        torch.testing.assert_close(net_loaded.module_.state_dict()[key], value)
    assert zipfile.ZipFile(folder / f"{name}.skadv").namelist() == list(MEMBERS)


@pytest.mark.parametrize("member", MEMBERS)
def test_every_member_replaced_by_a_pickle_is_refused(saved, tmp_path, member):
    folder, _ = saved
    marker = tmp_path / "marker"
    forged = tmp_path / "forged.skadv"
    replace_member(folder / "trainer.skadv", forged, member, pickle.dumps(Payload(marker)))
    with pytest.raises((ValueError, TypeError), match="corrupt or forged|not JSON"):
        persistence.load(forged)
    assert not marker.exists()


def test_pickle_and_joblib_files_get_a_clear_error(saved, tmp_path):
    import joblib

    _, models = saved
    marker = tmp_path / "marker"
    for name, write in {
        "model.pkl": lambda p: p.write_bytes(pickle.dumps(Payload(marker))),
        "model.joblib": lambda p: joblib.dump(models["trainer"], p),
        "model.joblib.gz": lambda p: joblib.dump(models["trainer"], p, compress=3),
    }.items():
        path = tmp_path / name
        write(path)
        with pytest.raises(ValueError, match="is a pickle or joblib file, not a skadv model"):
            persistence.load(path)
    assert not marker.exists()


def test_torch_archive_with_a_poisoned_data_pkl_is_refused(saved, tmp_path):
    folder, _ = saved
    marker = tmp_path / "marker"
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, buffer)
    poisoned = io.BytesIO()
    with zipfile.ZipFile(buffer) as archive, zipfile.ZipFile(poisoned, "w") as out:
        for name in archive.namelist():
            content = archive.read(name)
            out.writestr(
                name, pickle.dumps(Payload(marker)) if name.endswith("data.pkl") else content
            )
    torch.load(io.BytesIO(poisoned.getvalue()), weights_only=False)  # the archive is real
    assert marker.read_text() == "pwned"
    marker.unlink()
    forged = tmp_path / "forged.skadv"
    replace_member(folder / "trainer.skadv", forged, "tensors.safetensors", poisoned.getvalue())
    with pytest.raises(ValueError, match="tensors.safetensors is not a safetensors archive"):
        persistence.load(forged)
    assert not marker.exists()


def skops_file(schema):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return out.getvalue()


def reduce_call(module, name, *args):
    """A hand-written skops node that calls ``module.name(*args)`` when loaded."""
    content = [
        {
            "__class__": "str",
            "__module__": "builtins",
            "__loader__": "JsonNode",
            "content": json.dumps(arg),
            "is_json": True,
            "__id__": i,
        }
        for i, arg in enumerate(args)
    ]
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": content,
            "__id__": 100,
        },
        "__id__": 101,
        "protocol": 2,
        "_skops_version": skops.__version__,
    }


def test_functions_reexported_under_allowed_packages_are_refused(saved, tmp_path):
    folder, _ = saved
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    remove = skops_file(reduce_call("sklearn.datasets._olivetti_faces", "remove", str(victim)))
    # the file is real: a prefix allow-list ("sklearn.") lets skops call os.remove
    skops.io.loads(remove, trusted=["sklearn.datasets._olivetti_faces.remove"])
    assert not victim.exists()
    victim.write_text("precious")
    marker = tmp_path / "marker"
    command = skops_file(
        reduce_call("sklearn.utils._testing", "check_output", ["touch", str(marker)])
    )
    for shell in (remove, command):
        forged = tmp_path / "forged.skadv"
        replace_member(folder / "trainer.skadv", forged, "estimator.skops", shell)
        with pytest.raises(TypeError, match="not trusted: \\['sklearn\\.(datasets|utils)"):
            persistence.load(forged)
    assert victim.read_text() == "precious" and not marker.exists()


def test_a_skorch_net_stored_by_skops_is_refused(saved, tmp_path):
    """skops would rebuild a skorch net through its __setstate__, which unpickles."""
    folder, _ = saved
    forged = tmp_path / "forged.skadv"
    shell = skops.io.dumps(AdversarialTrainer(MLP))
    replace_member(folder / "trainer.skadv", forged, "estimator.skops", shell)
    with pytest.raises(TypeError, match="not trusted: .*skadv.trainer.AdversarialTrainer"):
        persistence.load(forged)


def test_a_net_class_named_in_the_file_must_be_trusted(saved, tmp_path):
    folder, _ = saved
    with zipfile.ZipFile(folder / "trainer.skadv") as archive:
        shell = skops.io.loads(
            archive.read("estimator.skops"),
            trusted=skops.io.get_untrusted_types(data=archive.read("estimator.skops")),
        )
    shell["__skadv_net__"] = "subprocess.Popen"
    forged = tmp_path / "forged.skadv"
    replace_member(folder / "trainer.skadv", forged, "estimator.skops", skops.io.dumps(shell))
    with pytest.raises(TypeError, match="net class 'subprocess.Popen', which is not trusted"):
        persistence.load(forged)


def test_version_mismatch_is_reported(saved, tmp_path):
    folder, _ = saved
    with zipfile.ZipFile(folder / "trainer.skadv") as archive:
        meta = json.loads(archive.read("skadv-model.json"))
    meta["versions"]["torch"] = "1.0.0"
    forged = tmp_path / "old.skadv"
    replace_member(folder / "trainer.skadv", forged, "skadv-model.json", json.dumps(meta))
    with pytest.warns(persistence.PersistenceWarning, match="torch 1.0.0 \\(here 2"):
        persistence.load(forged)
    meta["format_version"] = 99
    replace_member(folder / "trainer.skadv", forged, "skadv-model.json", json.dumps(meta))
    with pytest.raises(ValueError, match="format version 99"):
        persistence.load(forged)


def test_allow_list_holds_exact_names_only():
    objects, nets = persistence.trusted_types()
    assert "sklearn.linear_model._logistic.LogisticRegression" in objects
    assert "torch.nn.modules.linear.Linear" in objects and "skadv.modules.MLP" in objects
    assert "skadv.trainer.AdversarialTrainer" in nets
    assert "skadv.trainer.AdversarialTrainer" not in objects  # nets never go through skops
    assert not any(name.endswith(".") for name in objects | nets)
    assert "sklearn.datasets._olivetti_faces.remove" not in objects


# ---------------------------------------------------------------- plugins


def run_python(code, plugin_site, plugins=None, **env):
    environ = {**os.environ, "PYTHONPATH": str(plugin_site), **env}
    environ.pop("SKADV_PLUGINS", None)
    if plugins is not None:
        environ["SKADV_PLUGINS"] = plugins
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True)


PROBLEMS = """
import json, warnings
warnings.simplefilter("ignore")
import skadv
registry = skadv.plugins.get_registry()
print(json.dumps({"problems": [[p.plugin, p.distribution, p.message] for p in registry.problems],
                  "gans": sorted(registry.components["gan"]),
                  "attacks": {n: c.plugin.distribution
                              for n, c in registry.components["attack"].items()}}))
"""


def test_a_plugin_calling_sys_exit_is_reported_like_any_broken_plugin(plugin_site):
    result = run_python(PROBLEMS, plugin_site)
    assert result.returncode == 0, result.stderr
    problems = {p[0]: p[2] for p in json.loads(result.stdout)["problems"]}
    assert problems["exits"] == "failed to load: SystemExit: 3"
    cli = subprocess.run(
        [sys.executable, "-m", "skadv.cli", "plugins"],
        env={**os.environ, "PYTHONPATH": str(plugin_site)},
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0 and "exits (skadv-exits): failed to load: SystemExit" in cli.stdout


def test_an_entry_point_name_means_the_genuine_distribution(plugin_site, tmp_path):
    marker = tmp_path / "imported"
    chosen = run_python(PROBLEMS, plugin_site, "noise", SKADV_TEST_MARKER=str(marker))
    data = json.loads(chosen.stdout)
    assert data["attacks"]["uniform-noise"] == "skadv-noise"
    assert "impostor-noise" not in data["attacks"] and data["problems"] == []
    everything = run_python(PROBLEMS, plugin_site, SKADV_TEST_MARKER=str(marker))
    problems = json.loads(everything.stdout)["problems"]
    assert [
        "noise",
        "skadv-impostor",
        "not loaded: its entry-point name 'noise' is already used by skadv-noise",
    ] in problems
    assert not marker.exists()  # the impostor was never imported
    named = run_python(PROBLEMS, plugin_site, "skadv-impostor", SKADV_TEST_MARKER=str(marker))
    assert json.loads(named.stdout)["attacks"]["impostor-noise"] == "skadv-impostor"
    assert marker.exists()  # ... unless the user names it


def test_a_misspelled_hook_is_reported_and_the_other_hooks_work(plugin_site):
    data = json.loads(run_python(PROBLEMS, plugin_site, "typo").stdout)
    assert data["problems"] == [
        [
            "typo",
            "skadv-typo",
            "implements 'skadv_register_attack', which is no skadv hook; "
            "did you mean 'skadv_register_attacks'?",
        ]
    ]
    assert "typo-gan" in data["gans"] and "typo-pgd" not in data["attacks"]


def test_register_plugin_refuses_none():
    with pytest.raises(TypeError, match="register_plugin needs a module or object"):
        __import__("skadv").register_plugin(None)


THREADS = """
import threading, types, warnings
warnings.simplefilter("ignore")
import skadv
from skadv.attacks import PGD
from skadv.hookspecs import hookimpl

register_late = hookimpl(lambda register: register("late", PGD))
plugin = types.SimpleNamespace(skadv_register_attacks=register_late)
barrier, registries = threading.Barrier(7), []

def look_up():
    barrier.wait()
    registries.append(skadv.plugins.get_registry())

def register():
    barrier.wait()
    skadv.register_plugin(plugin, name="in-process")

threads = [threading.Thread(target=look_up) for _ in range(6)] + [threading.Thread(target=register)]
for t in threads: t.start()
for t in threads: t.join()
print(len({id(r) for r in registries}), "late" in skadv.list_attacks())
"""


def test_the_registry_is_built_once_under_concurrent_first_use(plugin_site):
    for _ in range(4):
        result = run_python(THREADS, plugin_site, "")
        assert result.stdout.split() == ["1", "True"], result.stderr


FAULTY = """
import numpy as np, torch, skadv, warnings
warnings.simplefilter("ignore")
from skadv.exceptions import PluginError
from skadv.modules import MLP
X = np.random.default_rng(0).random((60, 4)).astype(np.float32); y = np.arange(60) % 2
net = skadv.AdversarialTrainer(MLP, ratio=0.0, max_epochs=1, train_split=None, verbose=0).fit(X, y)
for name in ("faulty-init", "outside", "nans", "half"):
    try:
        print(skadv.robust_accuracy(net, X, y, name, eps=0.01))
    except PluginError as exc:
        print(exc)
"""


def test_bad_plugin_attacks_are_refused_by_name(plugin_site):
    lines = run_python(FAULTY, plugin_site, "faulty").stdout.splitlines()
    origin = "of plugin 'faulty' (skadv-faulty 0.4.0)"
    assert lines[0] == f"attack 'faulty-init' {origin} raised TypeError: bug in __init__"
    assert lines[1].startswith(f"attack 'outside' {origin} returned points outside the eps")
    assert lines[2] == f"attack 'nans' {origin} returned NaN or infinite values in 60 of 60 samples"
    assert lines[3].startswith(f"attack 'half' {origin} returned a batch of dtype torch.float16")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks loading without CUDA")
def test_a_model_saved_with_device_cuda_loads_on_the_cpu(saved, data, tmp_path):
    """The file stores tensors on the CPU and the device as a parameter, so a model
    trained on a GPU loads here, on the CPU, with a warning."""
    _, models = saved
    X, _ = data
    gpu_model = models["trainer"]
    gpu_model.device = "cuda"  # as fitted on a GPU machine: only the parameter differs
    try:
        persistence.dump(gpu_model, tmp_path / "gpu.skadv")
    finally:
        gpu_model.device = "cpu"
    with pytest.warns(persistence.PersistenceWarning, match="device='cuda'.*loaded on the CPU"):
        loaded = persistence.load(tmp_path / "gpu.skadv")
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), gpu_model.predict(X))
