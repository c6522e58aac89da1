"""Input checks shared by the estimators, the attacks and the metrics.

Each check raises a ``ValueError``, ``TypeError`` or ``NotFittedError`` whose message names
the parameter and says how to fix it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted


class Number(Interval):
    """scikit-learn's ``Interval`` that refuses booleans (``eps=True`` is not a number)."""

    def is_satisfied_by(self, val: Any) -> bool:
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def caller_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` that points at the first frame outside
    skadv, skorch and scikit-learn: the user's call, however deep the hook that warns."""
    roots = tuple(
        os.path.dirname(sys.modules[name].__file__) + os.sep
        for name in ("skadv", "skorch", "sklearn", "imblearn")
        if name in sys.modules
    )
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(roots):
        frame, level = frame.f_back, level + 1
    return level


def check_device(device: Any, parameter: str = "device") -> None:
    """Refuse a CUDA device on a machine where torch sees no CUDA.

    Parameters
    ----------
    device : str, torch.device or None
        The requested device.
    parameter : str, default="device"
        The parameter's name, for the message.

    Raises
    ------
    ValueError
        If ``device`` is a CUDA device and CUDA is not available.

    Examples
    --------
    >>> from skadv.validation import check_device
    >>> check_device("cpu")
    """
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"{parameter}={str(device)!r} was asked for, but CUDA is not available here "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}). "
            f"Use {parameter}='cpu', or install a CUDA build of torch."
        )


def check_feature_mask(mask: Any, sample_shape: tuple[int, ...]) -> np.ndarray:
    """Validate a feature mask against the shape of one sample.

    Parameters
    ----------
    mask : array-like
        Zero where a feature may not change, one where it may.
    sample_shape : tuple of int
        Shape of one sample.

    Returns
    -------
    ndarray of float64
        The mask, broadcast to ``sample_shape``.

    Raises
    ------
    ValueError
        If the mask does not broadcast to ``sample_shape``, or holds values that are not
        finite or outside [0, 1].

    Examples
    --------
    >>> from skadv.validation import check_feature_mask
    >>> check_feature_mask([1, 0], (2,)).tolist()
    [1.0, 0.0]
    """
    try:
        values = np.asarray(mask, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"feature_mask must hold numbers in [0, 1], one per feature; got {mask!r}."
        ) from None
    try:
        broadcast = np.broadcast_to(values, sample_shape)
    except ValueError:
        raise ValueError(
            f"feature_mask of shape {values.shape} does not broadcast to one sample of "
            f"shape {tuple(sample_shape)}; give one entry per feature."
        ) from None
    if not np.isfinite(values).all() or values.min(initial=0) < 0 or values.max(initial=0) > 1:
        raise ValueError(
            "feature_mask must be finite and within [0, 1] (0 = immutable feature, "
            "1 = free); it holds NaN, infinity or values outside [0, 1]."
        )
    return broadcast.copy()


def unique_labels(y: Any, parameter: str = "y") -> np.ndarray:
    """The sorted distinct labels of ``y``, refusing labels of mixed types.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    parameter : str, default="y"

    Returns
    -------
    ndarray

    Raises
    ------
    TypeError
        If ``y`` mixes labels that cannot be ordered together, such as strings and ints.

    Examples
    --------
    >>> from skadv.validation import unique_labels
    >>> unique_labels(["b", "a", "b"]).tolist()
    ['a', 'b']
    """
    values = np.asarray(y)
    try:
        return np.unique(values)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in values.ravel()})
        raise TypeError(
            f"{parameter} mixes labels of types {', '.join(kinds)}; use labels of one type, "
            f"e.g. {parameter}.astype(str)."
        ) from None


def check_fitted_classifier(estimator: Any, parameter: str = "estimator") -> None:
    """Refuse ``None`` or an unfitted estimator with scikit-learn's ``NotFittedError``.

    Parameters
    ----------
    estimator : object
        The estimator to be judged.
    parameter : str, default="estimator"
        The parameter's name, for the message.

    Raises
    ------
    NotFittedError
        If ``estimator`` is None, not an estimator, or not fitted.

    Examples
    --------
    >>> from skadv.validation import check_fitted_classifier
    >>> check_fitted_classifier(None)
    Traceback (most recent call last):
    ...
    sklearn.exceptions.NotFittedError: estimator is None; pass a fitted classifier.
    """
    if estimator is None:
        raise NotFittedError(f"{parameter} is None; pass a fitted classifier.")
    if not hasattr(estimator, "fit"):
        raise NotFittedError(
            f"{parameter} must be a fitted scikit-learn classifier, got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
