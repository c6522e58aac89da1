"""Model files that cannot run code when loaded.

``pickle`` and ``joblib`` files run any code when loaded: load them only from people you
trust. :func:`dump` writes, and :func:`load` reads, a zip archive of three members, none
of which is ever unpickled:

- ``skadv-model.json``: the format and the skadv, skorch, torch and scikit-learn versions
  that wrote the file;
- ``estimator.skops``: the estimator without its torch objects, in the ``skops.io``
  format, which rebuilds objects only from types on an allow-list of exact names;
- ``tensors.safetensors``: every weight and optimizer tensor, in the safetensors format,
  which holds raw numbers only.

A skorch net (an :class:`~skadv.AdversarialTrainer`, a GAN's net, any ``NeuralNet``) is
stored as its parameters, its plain fitted attributes and the state dicts of its torch
components; :func:`load` rebuilds the module, criterion and optimizers from the
parameters (``net.initialize()``) and loads the state dicts into them. Every type the
file names, the module class included, must be on the allow-list or named by the caller.
"""

from __future__ import annotations

import functools
import importlib
import json
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from sklearn.base import BaseEstimator, clone

from skadv.skorch_compat import REBUILT_BY_INITIALIZE, component_names

__all__ = ["PersistenceWarning", "dump", "load", "trusted_types", "untrusted_types"]

FORMAT = "skadv-model"
FORMAT_VERSION = 1
META, SHELL, TENSORS = "skadv-model.json", "estimator.skops", "tensors.safetensors"
VERSIONED = ("skadv", "skorch", "torch", "scikit-learn")
NET_KEY, TENSOR_KEY = "__skadv_net__", "__skadv_tensor__"
SKADV_MODULES = (
    "skadv.trainer",
    "skadv.sampling",
    "skadv.attacks.base",
    "skadv.attacks.fgsm",
    "skadv.attacks.pgd",
    "skadv.attacks.momentum",
    "skadv.attacks.apgd",
    "skadv.attacks.fab",
    "skadv.attacks.square",
    "skadv.attacks.autoattack",
    "skadv.objectives",
    "skadv.gans.base",
    "skadv.gans.encoders",
    "skadv.gans.mlp",
    "skadv.gans.tabular",
    "skadv.gans.dcgan",
    "skadv.gans.training",
    "skadv.modules",
    "skadv.callbacks",
    "skadv.data",
    "skadv.tables",
    "skadv.threat.constraints",
    "skadv.threat.feasible",
    "skadv.threat.model",
    "skadv.pipeline",
    "skadv.smoothing",
)


class PersistenceWarning(UserWarning):
    """A model file was written by other versions of skadv, skorch, torch or scikit-learn."""


def _name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _classes_of(module_names: Iterable[str]) -> list[type]:
    classes = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        classes += [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type) and obj.__module__ == module_name
        ]
    return classes


def _subclasses_in(namespace: Any, names: Iterable[str], base: type) -> list[type]:
    found = (getattr(namespace, name, None) for name in names)
    return [obj for obj in found if isinstance(obj, type) and issubclass(obj, base)]


@functools.cache
def trusted_types() -> tuple[frozenset[str], frozenset[str]]:
    """The allow-list: exact names of the types a model file may name.

    Returns
    -------
    objects : frozenset of str
        Types ``skops.io`` may rebuild: skadv's classes, torch's modules, losses,
        optimizers and LR schedulers, ``torch.utils.data.DataLoader``, skorch's callbacks
        and ``ValidSplit``, scikit-learn's and imbalanced-learn's estimators, and
        ``builtins.print`` (skorch's default log sink). No prefixes: a function
        re-exported under an allowed package is not on it.
    nets : frozenset of str
        skorch net classes that :func:`load` rebuilds from their parameters (never
        through skops, whose route for them would unpickle).
    """
    import skorch
    import skorch.callbacks
    import skorch.dataset
    from sklearn.utils import all_estimators

    skadv_classes = _classes_of(SKADV_MODULES)
    nets = [c for c in skadv_classes if issubclass(c, skorch.NeuralNet)]
    nets += _subclasses_in(skorch, skorch.__all__, skorch.NeuralNet)
    objects = [c for c in skadv_classes if not issubclass(c, skorch.NeuralNet)]
    objects += _subclasses_in(torch.nn, torch.nn.modules.__all__, torch.nn.Module)
    objects += _subclasses_in(torch.optim, torch.optim.__all__, torch.optim.Optimizer)
    objects += _subclasses_in(
        torch.optim.lr_scheduler,
        torch.optim.lr_scheduler.__all__,
        torch.optim.lr_scheduler.LRScheduler,
    )
    objects += [torch.utils.data.DataLoader, skorch.dataset.ValidSplit, skorch.dataset.Dataset]
    objects += _subclasses_in(skorch.callbacks, skorch.callbacks.__all__, skorch.callbacks.Callback)
    objects += [cls for _, cls in all_estimators()]
    try:
        from imblearn.utils.testing import all_estimators as imblearn_estimators
    except ImportError:
        pass
    else:
        objects += [cls for _, cls in imblearn_estimators()]
    names = {_name(cls) for cls in objects} | {"builtins.print"}
    return frozenset(names), frozenset(_name(cls) for cls in nets)


def _skops() -> Any:
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            "skadv.persistence needs skops and safetensors: pip install 'skadv[skops]'."
        ) from None
    return skops.io


# ---------------------------------------------------------------- writing


def _plain(value: Any) -> Any:
    """JSON-able copy of a skorch history entry (numpy scalars become Python numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item()))


class _Writer:
    """Splits an object graph into a tensor-free shell and a flat dict of tensors."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.nets: set[str] = set()

    def tensor(self, t: torch.Tensor) -> dict[str, str]:
        key = f"t{len(self.tensors)}"
        self.tensors[key] = t.detach().cpu().contiguous().clone()
        return {TENSOR_KEY: key}

    def net(self, net: Any) -> dict[str, Any]:
        torch_attrs = set(component_names(net))
        state_dicts, attributes = {}, {}
        for key, value in vars(net).items():
            if not key.endswith("_") or key.startswith("_") or key in REBUILT_BY_INITIALIZE:
                continue
            if key in torch_attrs or (
                hasattr(value, "state_dict") and hasattr(value, "load_state_dict")
            ):
                state_dicts[key] = self.walk(value.state_dict())
            elif key == "history_":
                attributes[key] = _plain(list(value))
            else:
                attributes[key] = self.walk(value)
        params = net.get_params(deep=False)
        # skorch initializes the callback objects passed in `callbacks` in place: store
        # them fresh, as initialize() will use them
        params["callbacks"] = clone(params.get("callbacks"), safe=False)
        self.nets.add(_name(type(net)))
        return {
            NET_KEY: _name(type(net)),
            "params": self.walk(params),
            "attributes": attributes,
            "state_dicts": state_dicts,
        }

    def walk(self, obj: Any) -> Any:
        from skorch import NeuralNet

        if isinstance(obj, NeuralNet):
            return self.net(obj)
        if isinstance(obj, torch.Tensor):
            return self.tensor(obj)
        if isinstance(obj, (torch.nn.Module, torch.optim.Optimizer)):
            raise TypeError(
                f"skadv.persistence stores torch objects only inside skorch nets; found a "
                f"{type(obj).__name__} elsewhere. Wrap the module in a skorch net."
            )
        if isinstance(obj, dict):
            return type(obj)((k, self.walk(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
            return type(obj)(self.walk(v) for v in obj)
        if isinstance(obj, BaseEstimator) or _is_skadv_object(obj):
            state = obj.__getstate__() if isinstance(obj, BaseEstimator) else vars(obj)
            shell = object.__new__(type(obj))
            shell.__dict__.update({k: self.walk(v) for k, v in state.items()})
            return shell
        return obj


def _is_skadv_object(obj: Any) -> bool:
    """An instance of a class of skadv's own (a threat model's feasible set, say)."""
    return type(obj).__module__.split(".")[0] == "skadv" and hasattr(obj, "__dict__")


def dump(estimator: Any, file: str | Path) -> None:
    """Write a (fitted) estimator to ``file`` in skadv's code-free model format.

    Parameters
    ----------
    estimator : estimator
        An AdversarialTrainer, GANAugmenter, Pipeline, or any scikit-learn estimator;
        skorch nets anywhere inside it are stored without pickle.
    file : str or Path

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skadv import persistence
    >>> clf = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    >>> path = tempfile.mkdtemp() + "/model.skadv"
    >>> persistence.dump(clf, path)
    >>> persistence.load(path).predict(np.eye(4)).tolist()
    [0, 1, 0, 1]
    """
    from safetensors.torch import save

    writer = _Writer()
    shell = _skops().dumps(writer.walk(estimator))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": {name: version(name) for name in VERSIONED},
        "nets": sorted(writer.nets),
    }
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(META, json.dumps(meta, indent=2))
        archive.writestr(SHELL, shell)
        archive.writestr(TENSORS, save(writer.tensors))


# ---------------------------------------------------------------- reading

PICKLE_HEADS = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00")


def _read_members(file: str | Path) -> tuple[dict[str, Any], bytes, bytes]:
    """The three members of a model file, checked for shape only: nothing is built."""
    path = Path(file)
    head = path.open("rb").read(6)
    if not zipfile.is_zipfile(path):
        kind = "a pickle or joblib file" if head.startswith(PICKLE_HEADS) else "not a zip archive"
        raise ValueError(
            f"{path} is {kind}, not a skadv model file: skadv.persistence.load reads only "
            "files written by skadv.persistence.dump. A pickle or joblib file runs code when "
            "loaded; open one with pickle or joblib only if you trust its author."
        )
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        if names != sorted([META, SHELL, TENSORS]):
            raise ValueError(
                f"{path} is not a skadv model file: it holds members {names}, expected "
                f"{sorted([META, SHELL, TENSORS])} (written by skadv.persistence.dump)."
            )
        raw_meta, shell, tensors = (archive.read(name) for name in (META, SHELL, TENSORS))
    try:
        meta = json.loads(raw_meta)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path}: {META} is not JSON; the file is corrupt or forged.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: {META} does not describe a {FORMAT} file.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {meta.get('format_version')!r}; this skadv "
            f"{version('skadv')} reads version {FORMAT_VERSION}. Load it with the skadv "
            "version that wrote it."
        )
    return meta, shell, tensors


def _check_versions(path: Path, meta: dict[str, Any]) -> None:
    written = meta.get("versions") or {}
    differ = [
        f"{name} {written.get(name)} (here {version(name)})"
        for name in VERSIONED
        if written.get(name) != version(name)
    ]
    if differ:
        warnings.warn(
            f"{path} was written with {', '.join(differ)}. It loads, but a model from other "
            "versions may predict differently; refit it, or load it with the versions "
            "that wrote it, if results must match.",
            PersistenceWarning,
            stacklevel=3,
        )


def _split_trusted(trusted: Sequence[str]) -> tuple[set[str], set[str]]:
    """Caller-trusted names, split into skorch net classes and other types."""
    from skorch import NeuralNet

    nets, others = set(), set()
    for name in trusted:
        module_name, _, attr = name.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module_name), attr, None)
        except ImportError:
            obj = None
        is_net = isinstance(obj, type) and issubclass(obj, NeuralNet)
        (nets if is_net else others).add(name)
    return nets, others


def _shell_types(shell: bytes) -> list[str]:
    try:
        return _skops().get_untrusted_types(data=shell)
    except Exception as exc:  # a forged member: skops could not even read its schema
        raise ValueError(
            f"{SHELL} is not a valid skops archive ({type(exc).__name__}: {exc}); the file "
            "is corrupt or forged."
        ) from None


def untrusted_types(file: str | Path, trusted: Sequence[str] = ()) -> list[str]:
    """Types named in ``file`` that neither skadv's allow-list nor ``trusted`` covers.

    Reads the file's schema and the net classes its header lists; nothing in it is built.

    Parameters
    ----------
    file : str or Path
    trusted : sequence of str, default=()
        Further fully qualified type names you vouch for (your module class, say).

    Returns
    -------
    list of str
    """
    meta, shell, _ = _read_members(file)
    objects, nets = trusted_types()
    trusted_nets, trusted_objects = _split_trusted(trusted)
    unknown = [name for name in _shell_types(shell) if name not in objects | trusted_objects]
    return unknown + [name for name in meta.get("nets", []) if name not in nets | trusted_nets]


class _Reader:
    """Puts tensors and rebuilt nets back into a loaded shell."""

    def __init__(self, tensors: dict[str, torch.Tensor], nets: set[str]):
        self.tensors = tensors
        self.nets = nets

    def net(self, node: dict[str, Any]) -> Any:
        from skorch.history import History

        name = node[NET_KEY]
        if name not in self.nets:
            raise TypeError(
                f"The file names the net class {name!r}, which is not trusted; if you trust "
                f"the file's author, pass it as load(file, trusted=[{name!r}])."
            )
        module_name, _, attr = name.rpartition(".")
        cls = getattr(importlib.import_module(module_name), attr)
        params = self.walk(node["params"])
        device = params.get("device")
        if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
            warnings.warn(
                f"The model was saved with device={device!r}, but CUDA is not available "
                "here; it is loaded on the CPU.",
                PersistenceWarning,
                stacklevel=4,
            )
            params["device"] = "cpu"
        net = cls(**params)
        attributes = self.walk(node["attributes"])
        attributes["history_"] = History(attributes.get("history_", []))
        history = attributes.pop("history_")  # initialize() clears the history in place
        vars(net).update(attributes)  # what initialize() needs, such as the classes
        net.initialize()
        vars(net).update(attributes, history_=history)
        for key, state in node["state_dicts"].items():
            component = getattr(net, key, None)
            if not hasattr(component, "load_state_dict"):
                raise ValueError(
                    f"The file holds a state for {key!r}, which {name} does not have after "
                    "initialize(); the file is corrupt or forged."
                )
            component.load_state_dict(self.walk(state))
        return net

    def walk(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            if NET_KEY in obj:
                return self.net(obj)
            if TENSOR_KEY in obj:
                return self.tensors[obj[TENSOR_KEY]]
            return type(obj)((k, self.walk(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
            return type(obj)(self.walk(v) for v in obj)
        if isinstance(obj, BaseEstimator) or _is_skadv_object(obj):
            vars(obj).update({k: self.walk(v) for k, v in vars(obj).items()})
        return obj


def load(file: str | Path, trusted: Sequence[str] = ()) -> Any:
    """Load an estimator written by :func:`dump`, refusing anything outside the allow-list.

    Nothing in the file is unpickled: the members are checked, then the estimator shell is
    rebuilt by ``skops.io`` from allowed types only, the tensors are read from the
    safetensors member, and skorch nets are rebuilt from their parameters.

    Parameters
    ----------
    file : str or Path
    trusted : sequence of str, default=()
        Further fully qualified type names to allow, e.g. ``["mypackage.nets.MyNet"]``.

    Returns
    -------
    estimator

    Raises
    ------
    ValueError
        If the file is not a skadv model file (a pickle or joblib file, say) or a member
        is corrupt or forged.
    TypeError
        If the file names types outside the allow-list; the message names them.

    Warns
    -----
    PersistenceWarning
        If the file was written with other versions of skadv, skorch, torch or
        scikit-learn, or on a GPU that this machine lacks.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    path = Path(file)
    meta, shell, raw_tensors = _read_members(path)
    objects, nets = trusted_types()
    trusted_nets, trusted_objects = _split_trusted(trusted)
    named = _shell_types(shell)
    unknown = [name for name in named if name not in objects | trusted_objects]
    if unknown:
        raise TypeError(
            f"{path} holds types that are not trusted: {unknown}. If you trust the file's "
            "author, pass them as load(file, trusted=[...])."
        )
    try:
        tensors = load_tensors(raw_tensors)
    except (SafetensorError, ValueError) as exc:
        raise ValueError(
            f"{path}: {TENSORS} is not a safetensors archive ({exc}); the file is corrupt "
            "or forged."
        ) from None
    _check_versions(path, meta)
    estimator = _skops().loads(shell, trusted=named)
    return _Reader(tensors, nets | trusted_nets).walk(estimator)
