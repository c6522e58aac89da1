"""Black-box judging of scikit-learn models: skadv's Square on forests and boosted trees.

Square needs only ``predict_proba``, so ``robust_accuracy`` judges any classifier; every
query step is one ``predict_proba`` call on all samples still classified correctly. Two
data sets (digits in [0, 1], eps 0.1, Linf, pixels bounded to [0, 1]; breast_cancer,
standardized by the pipeline, eps 0.3 standard deviations of each raw feature), two models
(RandomForestClassifier, HistGradientBoostingClassifier), 500 test points (all of the
test split when it is smaller), 1,000 queries.

    python benchmarks/blackbox_square.py [--queries 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skadv import ThreatModel, robust_accuracy

CASES = {
    "digits": (ThreatModel(eps=0.1, bounds=(0.0, 1.0)), 500),
    "breast_cancer": (ThreatModel(eps=0.3, scale="std"), 500),
}


def data(name: str) -> tuple[np.ndarray, ...]:
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    else:
        X, y = load_breast_cancer(return_X_y=True)
    return tuple(train_test_split(X, y, test_size=0.4, random_state=0, stratify=y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"Square, {args.queries} queries, {args.threads} threads, torch {torch.__version__}")
    print("| data | model | points | clean | robust | seconds | predict_proba calls/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, (threat, n_points) in CASES.items():
        X_train, X_test, y_train, y_test = data(name)
        X_test, y_test = X_test[:n_points], y_test[:n_points]
        for label, model in {
            "RandomForest": RandomForestClassifier(n_estimators=100, random_state=0),
            "HistGradientBoosting": HistGradientBoostingClassifier(random_state=0),
        }.items():
            pipe = make_pipeline(StandardScaler(), model).fit(X_train, y_train)
            calls = []
            original = pipe.predict_proba

            def counted(X, original=original, calls=calls):
                calls.append(len(X))
                return original(X)

            pipe.predict_proba = counted
            start = time.perf_counter()
            robust = robust_accuracy(
                pipe,
                X_test,
                y_test,
                "square",
                n_queries=args.queries,
                threat_model=threat,
                random_state=0,
            )
            seconds = time.perf_counter() - start
            print(
                f"| {name} | {label} | {len(y_test)} | {pipe.score(X_test, y_test):.3f} | "
                f"{robust:.3f} | {seconds:.1f} | {len(calls) / seconds:.0f} |"
            )


if __name__ == "__main__":
    main()
