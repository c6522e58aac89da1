"""Generated tables for examples, benchmarks and tests (nothing is downloaded)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_credit"]

CREDIT_CONSTRAINTS = ("debt <= 2 * income", "loan_total == loan_a + loan_b")


def make_credit(
    n_samples: int = 1000, *, random_state: int | None = None, imbalance: float | None = None
) -> tuple[Any, np.ndarray]:
    """A credit-scoring table with the column kinds users bring.

    Columns: ``age`` (integer, fixed in reality), ``income`` (positive, skewed),
    ``debt`` (at most twice the income), ``loan_a``, ``loan_b`` and ``loan_total``
    (their sum), ``accounts`` (a count), ``job`` (category dtype), ``region`` (strings)
    and ``owner`` (bool). The two relations hold on every row: see
    ``CREDIT_CONSTRAINTS``. The target says whether the loan was repaid.

    Parameters
    ----------
    n_samples : int, default=1000
    random_state : int or None, default=None
    imbalance : float or None, default=None
        Share of the positive class to keep (by dropping positives), for imbalanced
        tables; None keeps the natural share (about one half).

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 10)
    y : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from skadv.datasets import make_credit
    >>> X, y = make_credit(200, random_state=0)
    >>> X.dtypes["job"].name, X.dtypes["accounts"].name, bool((X.debt <= 2 * X.income).all())
    ('category', 'int64', True)
    """
    import pandas as pd

    rng = np.random.default_rng(random_state)
    size = n_samples if imbalance is None else 4 * n_samples
    income = rng.gamma(4.0, 1.0, size)
    loan_a = rng.uniform(0, 3, size)
    loan_b = rng.uniform(0, 2, size)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, size),
            "income": income,
            "debt": income * rng.uniform(0, 2.0, size),
            "loan_a": loan_a,
            "loan_b": loan_b,
            "loan_total": loan_a + loan_b,
            "accounts": rng.poisson(3, size),
            "job": pd.Categorical(rng.choice(["eng", "art", "law", "ops"], size)),
            "region": rng.choice(["north", "south", "east"], size),
            "owner": rng.random(size) > 0.5,
        }
    )
    score = (
        X.income
        - 0.6 * X.debt
        - 0.5 * X.loan_total
        + 0.1 * X.accounts
        + 0.8 * (X.job == "eng")
        - 0.4 * (X.region == "east")
        + 0.01 * (X.age - 45)
    )
    y = (score + rng.normal(0, 0.4, size) > 1.0).astype(int).to_numpy()
    if imbalance is None:
        return X, y
    positives = np.flatnonzero(y == 1)
    n_positive = int(round(imbalance * n_samples))
    keep = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == 0), n_samples - n_positive, replace=False),
            rng.choice(positives, min(n_positive, len(positives)), replace=False),
        ]
    )
    keep.sort()
    return X.iloc[keep].reset_index(drop=True), y[keep]
