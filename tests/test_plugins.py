"""The plugin system: built-ins, real entry points, SKADV_PLUGINS and broken plugins."""

import inspect
import json
import os
import subprocess
import sys

import pytest

import skadv
from skadv import hookspecs
from skadv.attacks import PGD


def run_python(code, plugin_site, plugins=None):
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    env.pop("SKADV_PLUGINS", None)
    if plugins is not None:
        env["SKADV_PLUGINS"] = plugins
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return result


REPORT = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import skadv
    from skadv.plugins import get_registry
    registry = get_registry()
print(json.dumps({
    "attacks": {n: [c.plugin.name, c.plugin.distribution, c.plugin.version]
                for n, c in registry.components["attack"].items()},
    "problems": [[p.plugin, p.message] for p in registry.problems],
    "warnings": [str(w.message) for w in caught],
}))
"""


def report(plugin_site, plugins=None):
    return json.loads(run_python(REPORT, plugin_site, plugins).stdout)


def test_builtins_are_registered_through_the_hooks():
    assert {"fgsm", "fgsm-rs", "pgd", "mi-fgsm"} <= set(skadv.list_attacks())
    assert {"madry", "trades"} <= set(skadv.list_objectives())
    component = skadv.plugins.get_registry().components["attack"]["pgd"]
    assert component.plugin.distribution == "skadv"
    assert component.plugin.version == skadv.__version__


def test_get_attack_builds_with_params():
    attack = skadv.get_attack("pgd", eps=0.2, steps=3)
    assert isinstance(attack, PGD)
    assert attack.get_params()["eps"] == 0.2 and attack.steps == 3


def test_unknown_name_lists_available_and_closest():
    with pytest.raises(ValueError, match=r"Did you mean 'pgd'\?.*fgsm, fgsm-rs, mi-fgsm, pgd"):
        skadv.get_attack("pdg")
    with pytest.raises(ValueError, match="Unknown gan 'cgann'"):
        skadv.get_gan("cgann")
    with pytest.raises(ValueError, match="Available objectives: .*madry"):
        skadv.get_objective("madri")


def test_bad_attack_parameter_names_the_valid_ones():
    with pytest.raises(TypeError, match="Invalid parameters for attack 'pgd'.*stepz.*steps"):
        skadv.get_attack("pgd", stepz=3)


def test_entry_point_plugin_is_discovered(plugin_site):
    data = report(plugin_site)
    assert data["attacks"]["uniform-noise"] == ["noise", "skadv-noise", "1.2.0"]
    code = (
        "import torch, skadv\n"
        "a = skadv.get_attack('uniform-noise', eps=0.2, clip_values=(0.0, 1.0))\n"
        "x = torch.full((4, 3), 0.5)\n"
        "d = a.perturb(torch.nn.Linear(3, 2), x, torch.zeros(4, dtype=torch.long)) - x\n"
        "print(float(d.abs().max()))\n"
    )
    delta = float(run_python(code, plugin_site).stdout)
    assert 0 < delta <= 0.2 + 1e-6


def test_broken_plugins_are_isolated_and_reported_by_name(plugin_site):
    data = report(plugin_site)
    problems = dict(data["problems"])
    assert "ModuleNotFoundError" in problems["broken-import"]
    assert "hook exploded" in problems["broken-hook"]
    assert (
        "'fgsm' is already provided by plugin 'skadv.default_plugins.attacks'"
        in problems["duplicate"]
    )
    # everything else keeps working: built-ins win, the duplicate's other name stays
    assert data["attacks"]["fgsm"][1] == "skadv"
    assert data["attacks"]["fgsm-copy"][0] == "duplicate"
    assert "uniform-noise" in data["attacks"]
    assert any("broken-import" in w for w in data["warnings"])
    assert any("hook exploded" in w for w in data["warnings"])


def test_skadv_plugins_empty_loads_no_external_plugin(plugin_site):
    data = report(plugin_site, plugins="")
    assert {c[1] for c in data["attacks"].values()} == {"skadv"}
    assert data["problems"] == []


def test_skadv_plugins_allow_list(plugin_site):
    data = report(plugin_site, plugins="noise, skadv-broken-hook, not-installed")
    assert "uniform-noise" in data["attacks"]
    assert "fgsm-copy" not in data["attacks"]
    problems = dict(data["problems"])
    assert set(problems) == {"broken-hook", "not-installed"}
    assert "no such plugin is installed" in problems["not-installed"]


def test_cli_plugins_table(plugin_site):
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    env.pop("SKADV_PLUGINS", None)
    out = subprocess.run(
        [sys.executable, "-m", "skadv.cli", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    header, *rows = out.split("\n\nProblems:")[0].splitlines()
    assert header.split() == ["NAME", "KIND", "PLUGIN", "DISTRIBUTION", "VERSION"]
    assert ["uniform-noise", "attack", "noise", "skadv-noise", "1.2.0"] in [r.split() for r in rows]
    assert any(r.split()[:2] == ["pgd", "attack"] and r.split()[3] == "skadv" for r in rows)
    assert "broken-import (skadv-broken-import): failed to load" in out


def test_every_hook_is_documented():
    specs = [f for name, f in inspect.getmembers(hookspecs) if name.startswith("skadv_")]
    assert len(specs) == 3
    readme = skadv.plugins.__file__.rsplit("/skadv/", 1)[0] + "/README.md"
    text = open(readme).read()
    for spec in specs:
        assert spec.__doc__ and spec.__doc__.strip()
        assert spec.__name__ in text, f"{spec.__name__} is not documented in README.md"
