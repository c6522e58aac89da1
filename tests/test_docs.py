"""Documentation: every public name and method has a numpydoc docstring that documents
its parameters and return value, and README.md's code blocks run as written."""

from __future__ import annotations

import importlib
import inspect
import re
import runpy
import textwrap
import warnings
from pathlib import Path

import pytest
from numpydoc.validate import validate
from sklearn.exceptions import FitFailedWarning

PUBLIC_MODULES = [
    "skadv",
    "skadv.attacks",
    "skadv.callbacks",
    "skadv.datasets",
    "skadv.detection",
    "skadv.differentiable",
    "skadv.distributed",
    "skadv.exceptions",
    "skadv.gans",
    "skadv.hookspecs",
    "skadv.metrics",
    "skadv.modules",
    "skadv.objectives",
    "skadv.persistence",
    "skadv.plugins",
    "skadv.smoothing",
    "skadv.tables",
    "skadv.testing",
    "skadv.threat",
]
# no docstring; a parameter not documented; a documented parameter that does not
# exist; a return value not documented
CHECKED = {"GL08", "PR01", "PR02", "RT01"}


def public_objects() -> list[str]:
    """Dotted paths of every public name and of the public methods skadv defines."""
    paths: list[str] = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # pluggy's markers, documented by pluggy
            path = f"{module_name}.{name}"
            if hasattr(obj, "__module__") and hasattr(obj, "__qualname__"):
                path = f"{obj.__module__}.{obj.__qualname__}"
            if path in paths:
                continue
            paths.append(path)
            if inspect.isclass(obj):
                paths += [
                    f"{path}.{attr}"
                    for attr, value in vars(obj).items()
                    if not attr.startswith("_")
                    and (inspect.isfunction(value) or isinstance(value, classmethod | property))
                ]
    return paths


PUBLIC = public_objects()


def test_the_public_api_is_large_enough_to_mean_something():
    assert len(PUBLIC) > 150
    assert "skadv.trainer.AdversarialTrainer.fit_raw" in PUBLIC


@pytest.mark.parametrize("path", PUBLIC)
def test_docstring_documents_parameters_and_returns(path):
    errors = [f"{code}: {message}" for code, message in validate(path)["errors"] if code in CHECKED]
    assert not errors, f"{path}: {errors}"


README = Path(__file__).parents[1] / "README.md"
FILE_BLOCK = re.compile(r"# (\S+\.py)\n")


def readme_python_blocks() -> list[str]:
    return re.findall(r"^ *```python\n(.*?)^ *```", README.read_text(), flags=re.S | re.M)


def test_readme_code_blocks_run_as_written(tmp_path, monkeypatch):
    """Every python block, in order, in one namespace, as a reader pasting them would. A
    block that starts with ``# path/to/file.py`` is a file (of the plugin example): it is
    written there, and the tests it holds are run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    blocks = [textwrap.dedent(block) for block in readme_python_blocks()]
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "readme"}
    test_files = []
    for number, block in enumerate(blocks, 1):
        path = FILE_BLOCK.match(block)
        if path:
            target = tmp_path / path[1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block)
            if target.name.startswith("test_"):
                test_files.append(target)
            continue
        try:
            with warnings.catch_warnings():
                # a search whose candidates fail scores them NaN and goes on: not as written
                warnings.simplefilter("error", FitFailedWarning)
                exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"README python block {number} fails: {exc!r}\n{block}") from exc
    assert test_files, "the plugin example's test file"
    for test_file in test_files:
        module = runpy.run_path(str(test_file))
        tests = [f for name, f in module.items() if name.startswith("test_")]
        assert tests
        for test in tests:
            test()
