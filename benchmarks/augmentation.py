"""Minority oversampling four ways: none, SMOTE, CTGAN and GANAugmenter.

Set-up: make_classification(4000, 20 features, 6 informative, 4 redundant, 95/5, flip_y
0.01, class_sep 0.7, random_state 0), split 50/50 stratified, LogisticRegression
downstream, balanced accuracy on the test half. CTGAN (``pip install ctgan``; not a
dependency of skadv) trains 300 epochs on the minority rows; GANAugmenter's cgan trains
300 epochs, then a short schedule of 100. Every run gets a fresh process. Prints scores,
fit times and speed ratios.

    python benchmarks/augmentation.py [--device cuda] [--seeds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

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


def ctgan(X, y, device, seed, epochs=300):
    import pandas as pd
    from ctgan import CTGAN

    minority = X[y == 1]
    model = CTGAN(epochs=epochs, enable_gpu=device.startswith("cuda"))
    model.set_random_state(seed)
    model.fit(pd.DataFrame(minority, columns=[f"x{i}" for i in range(X.shape[1])]))
    synthetic = model.sample(int((y == 0).sum() - (y == 1).sum())).to_numpy()
    return np.concatenate([X, synthetic]), np.concatenate([y, np.ones(len(synthetic), int)])


def skadv_cgan(X, y, device, seed, max_epochs=300):
    return GANAugmenter(
        gan="cgan", batch_size=16, max_epochs=max_epochs, device=device, random_state=seed
    ).fit_resample(X, y)


def skadv_cgan_short(X, y, device, seed):
    return skadv_cgan(X, y, device, seed, max_epochs=100)


WAYS = {
    "no augmentation": none,
    "SMOTE": smote,
    "CTGAN": ctgan,
    "GANAugmenter(cgan)": skadv_cgan,
    "GANAugmenter(cgan, 100)": skadv_cgan_short,
}


def measure(name: str, device: str, seed: int) -> tuple[float, float] | None:
    """Score and fit seconds of one way and seed, after a one-epoch warm-up of its library.

    Runs in a fresh process: training CTGAN leaves its process about 25 % slower for any
    torch work that follows, so no way may run after another in the same process.
    """
    X_train, X_test, y_train, y_test = imbalanced_data(seed=0)
    try:
        if name == "CTGAN":
            ctgan(X_train[:40], y_train[:40] * 0 + np.arange(40) % 2, device, seed, epochs=1)
        else:
            GANAugmenter(max_epochs=1, device=device).fit_resample(X_train, y_train)
        start = time.perf_counter()
        X_res, y_res = WAYS[name](X_train, y_train, device, seed)
    except ImportError:
        return None
    seconds = time.perf_counter() - start
    model = LogisticRegression(max_iter=1000).fit(X_res, y_res)
    return balanced_accuracy_score(y_test, model.predict(X_test)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in WAYS}
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn, max_tasks_per_child=1) as pool:
        for seed in range(args.seeds):  # seeds outside, ways inside: side by side in time
            for name in WAYS:
                outcome = pool.submit(measure, name, args.device, seed).result()
                if outcome is not None:
                    results[name].append(outcome)
    minority = int(imbalanced_data(seed=0)[2].sum())
    print(f"device {args.device}, {args.seeds} seeds, minority rows {minority}")
    print(f"{'way':<25}{'balanced acc':>14}{'(min-max)':>15}{'fit s':>8}")
    times = {}
    for name, outcomes in results.items():
        if not outcomes:
            print(f"{name:<25}  skipped: pip install ctgan to compare")
            continue
        scores = [score for score, _ in outcomes]
        times[name] = statistics.median(seconds for _, seconds in outcomes)
        print(
            f"{name:<25}{statistics.mean(scores):>14.3f}"
            f"{f'({min(scores):.3f}-{max(scores):.3f})':>15}{times[name]:>8.2f}"
        )
    if "CTGAN" in times:
        for name in ("GANAugmenter(cgan)", "GANAugmenter(cgan, 100)"):
            print(f"{name} is {times['CTGAN'] / times[name]:.2f}x faster than CTGAN")


if __name__ == "__main__":
    main()
