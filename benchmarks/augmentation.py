"""Minority oversampling on six tables: none, RandomOverSampler, SMOTE / SMOTENC, ADASYN,
CTGAN and each skadv generator, with LogisticRegression and HistGradientBoosting.

Tables: make_classification 95/5 (4,000 rows) and 99/1 (10,000 rows); breast_cancer with
the malignant class cut to 30 rows; wine with one class cut to 10 rows; a mixed-type
adult-like table (``skadv.datasets.make_credit``, 3,000 rows, 10 % positive: int, float,
category, string and bool columns); a 50,000-row make_classification (97/3).

Protocol: 5-fold stratified cross-validation. In each fold the sampler resamples the
training rows only (as in ``imblearn.pipeline.make_pipeline(sampler, model)``), then
each classifier (one-hot + scaling for LogisticRegression, one-hot for gradient
boosting) is fitted on the result and scored on the fold's test rows: balanced accuracy,
F1 of the smallest class and its average precision, averaged over folds. Fit seconds are
the sampler's mean time per fold. CTGAN (``pip install ctgan``, not a dependency of
skadv) learns each minority class's rows with its defaults (300 epochs); skadv's
generators run with their defaults, and ``cgan`` and ``tvae`` also with
``filter="classifier"``. Prints one table per data set and a summary of where skadv wins
and loses against SMOTE / SMOTENC and CTGAN.

    python benchmarks/augmentation.py [--tables all] [--folds 5] [--threads 2]
        [--samplers "SMOTE,SMOTENC,skadv tvae"]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from imblearn.over_sampling import ADASYN, SMOTE, SMOTENC, RandomOverSampler
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.datasets import load_breast_cancer, load_wine, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skadv import GANAugmenter
from skadv.datasets import make_credit


def cut(X: Any, y: np.ndarray, label: Any, keep: int, seed: int = 0) -> tuple[Any, np.ndarray]:
    """Keep only ``keep`` rows of class ``label``."""
    rng = np.random.default_rng(seed)
    drop = rng.permutation(np.flatnonzero(y == label))[keep:]
    rows = np.setdiff1d(np.arange(len(y)), drop)
    return (X.iloc[rows] if hasattr(X, "iloc") else X[rows]), y[rows]


def tables() -> dict[str, tuple[Any, np.ndarray]]:
    frame = lambda X: pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])  # noqa: E731
    common = dict(n_features=20, n_informative=6, n_redundant=4, flip_y=0.01, class_sep=0.7)
    X95, y95 = make_classification(4000, weights=[0.95], random_state=0, **common)
    X99, y99 = make_classification(10_000, weights=[0.99], random_state=0, **common)
    X50k, y50k = make_classification(50_000, weights=[0.97], random_state=0, **common)
    cancer = load_breast_cancer(as_frame=True)
    wine = load_wine(as_frame=True)
    credit_X, credit_y = make_credit(3000, random_state=0, imbalance=0.1)
    return {
        "95/5": (frame(X95), y95),
        "99/1": (frame(X99), y99),
        "breast_cancer (30 malignant)": cut(cancer.data, cancer.target.to_numpy(), 0, 30),
        "wine (10-row class)": cut(wine.data, wine.target.to_numpy(), 2, 10),
        "mixed adult-like": (credit_X.reset_index(drop=True), credit_y),
        "50,000 rows": (frame(X50k), y50k),
    }


class CTGANSampler:
    """CTGAN learns each minority class's rows and samples the missing ones."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit_resample(self, X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        from ctgan import CTGAN

        counts = pd.Series(y).value_counts()
        parts, labels = [X], [y]
        discrete = [
            c
            for c in X.columns
            if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
        ]
        for label, count in counts.items():
            missing = counts.max() - count
            if not missing:
                continue
            model = CTGAN(enable_gpu=False)
            model.set_random_state(self.random_state)
            model.fit(X[y == label], discrete_columns=discrete)
            parts.append(model.sample(missing).astype(X.dtypes.to_dict()))
            labels.append(np.full(missing, label))
        return pd.concat(parts, ignore_index=True), np.concatenate(labels)


def samplers(X: pd.DataFrame) -> dict[str, Any]:
    categorical = [
        i
        for i, c in enumerate(X.columns)
        if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
    ]
    ways: dict[str, Any] = {"none": None, "RandomOverSampler": RandomOverSampler(random_state=0)}
    if categorical:
        ways["SMOTENC"] = SMOTENC(categorical_features=categorical, random_state=0)
    else:
        ways["SMOTE"] = SMOTE(random_state=0)
        ways["ADASYN"] = ADASYN(random_state=0)
    ways["CTGAN"] = CTGANSampler()
    for gan in ("cgan", "wgan-gp", "tabular", "tvae"):
        ways[f"skadv {gan}"] = GANAugmenter(gan=gan, random_state=0)
    for gan in ("cgan", "tvae"):
        ways[f"skadv {gan} + filter"] = GANAugmenter(gan=gan, filter="classifier", random_state=0)
    return ways


def models() -> dict[str, Any]:
    def preprocess(scale: bool) -> ColumnTransformer:
        numbers = StandardScaler() if scale else "passthrough"
        return ColumnTransformer(
            [
                (
                    "numbers",
                    numbers,
                    make_column_selector(dtype_include="number", dtype_exclude="bool"),
                ),
                (
                    "categories",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    make_column_selector(dtype_exclude="number"),
                ),
                ("flags", "passthrough", make_column_selector(dtype_include="bool")),
            ]
        )

    return {
        "LR": lambda: make_pipeline(preprocess(True), LogisticRegression(max_iter=2000)),
        "HGB": lambda: make_pipeline(
            preprocess(False), HistGradientBoostingClassifier(random_state=0)
        ),
    }


def scores(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, minority: Any) -> dict:
    predicted = classes[proba.argmax(axis=1)]
    column = list(classes).index(minority)
    return {
        "balanced accuracy": balanced_accuracy_score(y_true, predicted),
        "minority F1": f1_score(y_true == minority, predicted == minority),
        "minority AP": average_precision_score(y_true == minority, proba[:, column]),
    }


def run(
    name: str, X: pd.DataFrame, y: np.ndarray, folds: int, only: set[str] | None = None
) -> dict[tuple[str, str], dict]:
    minority = pd.Series(y).value_counts().idxmin()
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    results: dict[tuple[str, str], list] = {}
    for way, sampler in samplers(X).items():
        if only is not None and way not in only and way not in ("none", "CTGAN"):
            continue
        seconds = []
        for train, test in cv.split(X, y):
            X_train, y_train = X.iloc[train], y[train]
            start = time.perf_counter()
            if sampler is not None:
                try:
                    X_train, y_train = sampler.fit_resample(X_train, y_train)
                except (ValueError, RuntimeError) as exc:  # ADASYN on too few neighbours, say
                    print(f"  {way} failed on {name}: {exc}")
                    break
            seconds.append(time.perf_counter() - start)
            for model_name, make in models().items():
                model = make().fit(X_train, y_train)
                measured = scores(
                    y[test], model.predict_proba(X.iloc[test]), model.classes_, minority
                )
                results.setdefault((way, model_name), []).append(
                    {**measured, "seconds": seconds[-1]}
                )
    return {
        key: {m: float(np.mean([r[m] for r in rows])) for m in rows[0]}
        for key, rows in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--samplers",
        default="all",
        help="comma-separated sampler names to run besides none and CTGAN (default: all)",
    )
    args = parser.parse_args()
    only = None if args.samplers == "all" else set(args.samplers.split(","))
    torch.set_num_threads(args.threads)
    chosen = tables()
    if args.tables != "all":
        chosen = {k: v for k, v in chosen.items() if k in args.tables.split(",")}
    print(f"{args.folds}-fold CV, torch {torch.__version__} on {args.threads} threads")
    wins = {"SMOTE": [0, 0], "CTGAN": [0, 0]}
    for name, (X, y) in chosen.items():
        results = run(name, X, y, args.folds, only)
        ctgan_seconds = results[("CTGAN", "LR")]["seconds"]
        print(f"\n### {name} ({len(y)} rows, classes {np.bincount(pd.factorize(y)[0]).tolist()})")
        print(
            "| sampler | model | balanced accuracy | minority F1 | minority AP | fit s | "
            "vs CTGAN time |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for (way, model), r in results.items():
            print(
                f"| {way} | {model} | {r['balanced accuracy']:.3f} | {r['minority F1']:.3f} | "
                f"{r['minority AP']:.3f} | {r['seconds']:.2f} | "
                f"{r['seconds'] / ctgan_seconds:.2f} |"
            )
        smote = "SMOTENC" if ("SMOTENC", "LR") in results else "SMOTE"
        if (smote, "LR") not in results:
            continue
        for model in ("LR", "HGB"):
            best = max(
                (r for (w, m), r in results.items() if w.startswith("skadv") and m == model),
                key=lambda r: r["minority AP"] + r["balanced accuracy"],
            )
            for rival, key in ((smote, "SMOTE"), ("CTGAN", "CTGAN")):
                other = results[(rival, model)]
                beat = (
                    best["minority AP"] > other["minority AP"]
                    or best["balanced accuracy"] > other["balanced accuracy"]
                )
                wins[key][0] += beat
                wins[key][1] += 1
    for rival, (won, cells) in wins.items():
        print(
            f"skadv's best generator beats {rival} on AP or balanced accuracy in {won} of "
            f"{cells} (table x classifier) cells"
        )


if __name__ == "__main__":
    main()
