"""Saving and loading fitted estimators, including a loader that runs no arbitrary code.

``pickle`` and ``joblib`` files can run any code when loaded: load them only from people
you trust. :func:`load` reads the ``skops.io`` format, which rebuilds objects only from
types on an allow-list (skadv's, skorch's, torch's modules, losses and optimizers, and the
ones you pass as ``trusted``), so a file from a stranger cannot run code on load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

TRUSTED_PREFIXES = (
    "skadv.",
    "skorch.callbacks.",
    "skorch.dataset.",
    "skorch.history.",
    "skorch.setter.",
    "skorch.utils.",
    "torch.nn.modules.",
    "torch.optim.",
    "torch.utils.data.dataloader.",
    "sklearn.",
    "imblearn.",
)
TRUSTED_NAMES = ("builtins.print", "functools.partial")


def _skops() -> Any:
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            "skadv.persistence needs skops: pip install skops (or skadv[skops])."
        ) from None
    return skops.io


def dump(estimator: Any, file: str | Path) -> None:
    """Write a (fitted) estimator to ``file`` in the ``skops.io`` format.

    Parameters
    ----------
    estimator : estimator
        An AdversarialTrainer, GANAugmenter, or any object skops can store.
    file : str or Path
    """
    _skops().dump(estimator, file)


def untrusted_types(file: str | Path, trusted: Sequence[str] = ()) -> list[str]:
    """Types in ``file`` that neither skadv's allow-list nor ``trusted`` covers.

    Parameters
    ----------
    file : str or Path
    trusted : sequence of str, default=()
        Further fully qualified type names you vouch for (your module class, say).

    Returns
    -------
    list of str
    """
    return [
        name
        for name in _skops().get_untrusted_types(file=file)
        if not name.startswith(TRUSTED_PREFIXES)
        and name not in TRUSTED_NAMES
        and name not in trusted
    ]


def load(file: str | Path, trusted: Sequence[str] = ()) -> Any:
    """Load an estimator written by :func:`dump`, refusing unknown types.

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
    TypeError
        If the file holds types outside the allow-list; the message names them.
    """
    unknown = untrusted_types(file, trusted)
    if unknown:
        raise TypeError(
            f"{file} holds types that are not trusted: {unknown}. If you trust the file's "
            "author, pass them as load(file, trusted=[...])."
        )
    return _skops().load(file, trusted=_skops().get_untrusted_types(file=file))
