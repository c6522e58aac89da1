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

    Features are standardized by the real rows' spread first, so no feature's units
    dominate. A synthetic row counts as a copy when its distance to the nearest real row
    is at most ``threshold`` times the median distance between a distinct real row and
    its nearest other distinct real row (duplicated real rows are counted once, so exact
    copies of them count too).

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
    spread = real.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    real, synthetic = real / spread, synthetic / spread
    distinct = np.unique(real, axis=0)
    if len(distinct) < 2:
        raise ValueError("memorization_rate needs at least 2 distinct real rows.")
    real_gap = NearestNeighbors(n_neighbors=2).fit(distinct).kneighbors(distinct)[0][:, 1]
    nearest = NearestNeighbors(n_neighbors=1).fit(distinct).kneighbors(synthetic)[0][:, 0]
    return float(np.mean(nearest <= threshold * np.median(real_gap)))


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


def _encoded(tables: list[Any]) -> tuple[list[np.ndarray], list[Any]]:
    """The tables encoded by a schema fitted on the first (real) one, and its columns."""
    from skadv.tables import TableSchema

    schema = TableSchema().fit(tables[0])
    return [schema.encode(t).astype(np.float64) for t in tables], schema.columns_


def synthetic_report(
    real: Any,
    synthetic: Any,
    holdout: Any,
    *,
    y_real: Any = None,
    y_synthetic: Any = None,
    y_holdout: Any = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Fidelity and privacy of synthetic rows, against the real rows they imitate.

    Parameters
    ----------
    real : DataFrame or array-like
        The rows the generator was trained on.
    synthetic : DataFrame or array-like
        Generated rows, with the same columns.
    holdout : DataFrame or array-like
        Real rows the generator never saw (the privacy baseline).
    y_real, y_synthetic, y_holdout : array-like or None, default=None
        Class labels; with ``y_synthetic`` and ``y_holdout`` the train-on-synthetic,
        test-on-real AUC is measured.
    random_state : int, default=0

    Returns
    -------
    dict
        ``column_distance``: per column, the Kolmogorov-Smirnov statistic (numbers) or
        the total variation distance (categories), 0 is identical; ``correlation_gap``:
        mean absolute difference of the pairwise correlations; ``tstr_auc``;
        ``detection_auc``: how well a classifier tells synthetic from real rows (0.5 is
        ideal); ``dcr``: median distance from synthetic rows to their closest real row,
        against the holdout's own median distance to the real rows (a ratio well below 1
        means copying); ``membership_auc``: how well closeness to the synthetic rows tells
        training rows from holdout rows (0.5 is ideal); ``memorization_rate``.

    Examples
    --------
    >>> import numpy as np
    >>> from skadv.metrics import synthetic_report
    >>> rng = np.random.default_rng(0)
    >>> real, holdout, fake = rng.normal(size=(3, 200, 3))
    >>> report = synthetic_report(real, fake, holdout)
    >>> round(report["detection_auc"], 1), bool(0.8 < report["dcr"]["ratio"] < 1.25)
    (0.5, True)
    """
    from scipy.stats import ks_2samp
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    (R, S, H), columns = _encoded([real, synthetic, holdout])
    distances, start = {}, 0
    for column in columns:
        block = slice(start, start + column.width)
        if column.kind == "categorical":
            distances[str(column.name)] = float(
                0.5 * np.abs(R[:, block].mean(0) - S[:, block].mean(0)).sum()
            )
        else:
            distances[str(column.name)] = float(ks_2samp(R[:, start], S[:, start]).statistic)
        start += column.width
    varying = (R.std(axis=0) > 0) & (S.std(axis=0) > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(np.corrcoef(R[:, varying].T) - np.corrcoef(S[:, varying].T))
    report: dict[str, Any] = {
        "column_distance": distances,
        "correlation_gap": float(np.nanmean(gap[np.triu_indices_from(gap, k=1)]))
        if varying.sum() > 1
        else 0.0,
    }
    if y_synthetic is not None and y_holdout is not None:
        y_holdout = np.asarray(y_holdout)
        model = LogisticRegression(max_iter=2000).fit(S, y_synthetic)
        proba = model.predict_proba(H)
        report["tstr_auc"] = float(
            roc_auc_score(y_holdout, proba[:, 1])
            if proba.shape[1] == 2
            else roc_auc_score(y_holdout, proba, multi_class="ovr", labels=model.classes_)
        )
    spread = np.where(R.std(axis=0) > 0, R.std(axis=0), 1.0)
    R, S, H = R / spread, S / spread, H / spread
    both = np.concatenate([R, S])
    is_fake = np.r_[np.zeros(len(R)), np.ones(len(S))]
    scores = cross_val_predict(
        LogisticRegression(max_iter=2000), both, is_fake, cv=3, method="predict_proba"
    )[:, 1]
    report["detection_auc"] = float(roc_auc_score(is_fake, scores))
    to_real = NearestNeighbors(n_neighbors=1).fit(R)
    synthetic_dcr = float(np.median(to_real.kneighbors(S)[0][:, 0]))
    holdout_dcr = float(np.median(to_real.kneighbors(H)[0][:, 0]))
    report["dcr"] = {
        "synthetic": synthetic_dcr,
        "holdout": holdout_dcr,
        "ratio": synthetic_dcr / holdout_dcr if holdout_dcr > 0 else float("inf"),
    }
    to_fake = NearestNeighbors(n_neighbors=1).fit(S)
    closeness = -np.r_[to_fake.kneighbors(R)[0][:, 0], to_fake.kneighbors(H)[0][:, 0]]
    member = np.r_[np.ones(len(R)), np.zeros(len(H))]
    report["membership_auc"] = float(roc_auc_score(member, closeness))
    report["memorization_rate"] = memorization_rate(S, R)
    return report
