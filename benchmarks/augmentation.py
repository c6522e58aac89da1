"""Minority oversampling four ways: none, SMOTE, CTGAN and GANAugmenter.

Set-up: make_classification(4000, 20 features, 6 informative, 4 redundant, 95/5, flip_y
0.01, class_sep 0.7, random_state 0), split 50/50 stratified, LogisticRegression
downstream, balanced accuracy on the test half. CTGAN (``pip install ctgan``; not a
dependency of skadv) trains 300 epochs on the minority rows. Prints scores and fit times.

    python benchmarks/augmentation.py [--device cuda] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from imblearn.over_sampling import SMOTE
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from skadv import GANAugmenter
from skadv.demo.augmentation import imbalanced_data


def none(X, y, device, seed):
    return X, y


def smote(X, y, device, seed):
    return SMOTE(random_state=seed).fit_resample(X, y)


def ctgan(X, y, device, seed):
    import pandas as pd
    from ctgan import CTGAN

    minority = X[y == 1]
    model = CTGAN(epochs=300, cuda=device.startswith("cuda"))
    model.set_random_state(seed)
    model.fit(pd.DataFrame(minority, columns=[f"x{i}" for i in range(X.shape[1])]))
    synthetic = model.sample(int((y == 0).sum() - (y == 1).sum())).to_numpy()
    return np.concatenate([X, synthetic]), np.concatenate([y, np.ones(len(synthetic), int)])


def skadv_cgan(X, y, device, seed):
    return GANAugmenter(gan="cgan", batch_size=16, device=device, random_state=seed).fit_resample(
        X, y
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    X_train, X_test, y_train, y_test = imbalanced_data(seed=0)
    ways = {
        "no augmentation": none,
        "SMOTE": smote,
        "CTGAN": ctgan,
        "GANAugmenter(cgan)": skadv_cgan,
    }
    GANAugmenter(max_epochs=1).fit_resample(X_train, y_train)  # one-time torch imports
    print(f"device {args.device}, {args.seeds} seeds, minority rows {int(y_train.sum())}")
    print(f"{'way':<22}{'balanced acc':>14}{'(min-max)':>15}{'fit s':>8}")
    times = {}
    for name, resample in ways.items():
        scores, seconds = [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            try:
                X_res, y_res = resample(X_train, y_train, args.device, seed)
            except ImportError:
                break
            seconds.append(time.perf_counter() - start)
            model = LogisticRegression(max_iter=1000).fit(X_res, y_res)
            scores.append(balanced_accuracy_score(y_test, model.predict(X_test)))
        if not scores:
            print(f"{name:<22}  skipped: pip install ctgan to compare")
            continue
        times[name] = statistics.median(seconds)
        print(
            f"{name:<22}{statistics.mean(scores):>14.3f}"
            f"{f'({min(scores):.3f}-{max(scores):.3f})':>15}{times[name]:>8.2f}"
        )
    if "CTGAN" in times:
        print(
            f"GANAugmenter is {times['CTGAN'] / times['GANAugmenter(cgan)']:.2f}x faster than CTGAN"
        )


if __name__ == "__main__":
    main()
