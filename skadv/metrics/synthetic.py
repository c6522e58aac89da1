"""Quality checks of synthetic data against the real data it imitates."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array, check_consistent_length


def _flat(X: Any, name: str) -> np.ndarray:
    X = check_array(X, allow_nd=True, ensure_min_samples=0, input_name=name)
    return X.reshape(len(X), int(np.prod(X.shape[1:])))


def train_synthetic_test_real(
    estimator: Any,
    X_synthetic: Any,
    y_synthetic: Any,
    X_real: Any,
    y_real: Any,
    scoring: str = "balanced_accuracy",
) -> float:
    """Fit a clone of ``estimator`` on synthetic rows and score it on real ones (TSTR).

    Parameters
    ----------
    estimator : estimator
        Unfitted; it is cloned.
    X_synthetic, y_synthetic : array-like
        Synthetic training data.
    X_real, y_real : array-like
        Real test data.
    scoring : str or callable, default="balanced_accuracy"
        A scikit-learn scorer.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skadv.metrics import train_synthetic_test_real
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]]); y = np.array([0, 0, 1, 1])
    >>> train_synthetic_test_real(LogisticRegression(), X, y, X, y)
    1.0
    """
    check_consistent_length(X_synthetic, y_synthetic)
    check_consistent_length(X_real, y_real)
    model = clone(estimator).fit(X_synthetic, y_synthetic)
    return float(check_scoring(model, scoring=scoring)(model, X_real, y_real))


def memorization_rate(X_synthetic: Any, X_real: Any, threshold: float = 0.1) -> float:
    """Fraction of synthetic rows that are near-copies of a real row.

    A synthetic row counts as a copy when its distance to the nearest real row is below
    ``threshold`` times the median distance between a real row and its nearest other
    real row.

    Parameters
    ----------
    X_synthetic : array-like of shape (n_synthetic, ...)
    X_real : array-like of shape (n_real, ...)
    threshold : float, default=0.1
        Relative distance under which a row is a copy.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skadv.metrics import memorization_rate
    >>> real = np.array([[0.0], [1.0], [2.0]])
    >>> memorization_rate(np.array([[0.0], [0.5]]), real)
    0.5
    """
    real, synthetic = _flat(X_real, "X_real"), _flat(X_synthetic, "X_synthetic")
    if len(real) < 2:
        raise ValueError("memorization_rate needs at least 2 real rows.")
    real_gap = NearestNeighbors(n_neighbors=2).fit(real).kneighbors(real)[0][:, 1]
    nearest = NearestNeighbors(n_neighbors=1).fit(real).kneighbors(synthetic)[0][:, 0]
    return float(np.mean(nearest < threshold * np.median(real_gap)))


def class_coverage(
    X_synthetic: Any, y_synthetic: Any, X_real: Any, y_real: Any, n_neighbors: int = 5
) -> dict[Any, float]:
    """Per class, the share of real rows whose neighbourhood holds a synthetic row.

    A real row's neighbourhood is the ball reaching its ``n_neighbors``-th nearest real
    neighbour of the same class (the coverage of Naeem et al. 2020): 1.0 means the
    synthetic rows spread over the whole class, low values mean missing modes.

    Parameters
    ----------
    X_synthetic, y_synthetic : array-like
        Synthetic rows and their classes.
    X_real, y_real : array-like
        Real rows and their classes.
    n_neighbors : int, default=5

    Returns
    -------
    dict
        {class: coverage in [0, 1]} for every class of ``y_real`` with more than
        ``n_neighbors`` rows; a class with no synthetic row gets 0.0.
    """
    real, synthetic = _flat(X_real, "X_real"), _flat(X_synthetic, "X_synthetic")
    y_real, y_synthetic = np.asarray(y_real), np.asarray(y_synthetic)
    check_consistent_length(real, y_real)
    check_consistent_length(synthetic, y_synthetic)
    coverage = {}
    for c in np.unique(y_real):
        rows = real[y_real == c]
        if len(rows) <= n_neighbors:
            continue
        fake = synthetic[y_synthetic == c]
        if len(fake) == 0:
            coverage[c.item()] = 0.0
            continue
        radius = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(rows).kneighbors(rows)[0][:, -1]
        nearest = NearestNeighbors(n_neighbors=1).fit(fake).kneighbors(rows)[0][:, 0]
        coverage[c.item()] = float(np.mean(nearest <= radius))
    return coverage
