"""
Generate digits with a conditional DCGAN
========================================

Generate digit images with the conditional DCGAN and augment a small image data set.

Trains on 10 % of scikit-learn's digits, as images (n, 1, 8, 8); adds 50 generated digits
per class; compares a classifier trained with and without them on the remaining 90 %.

    python examples/dcgan_images.py [--quick]
"""

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skadv import GANAugmenter


def main(quick: bool = False) -> dict:
    X, y = load_digits(return_X_y=True)
    images = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_small, X_test, y_small, y_test = train_test_split(
        images, y, train_size=0.1, random_state=0, stratify=y
    )
    counts = {c: int((y_small == c).sum()) + 50 for c in range(10)}
    aug = GANAugmenter(
        gan="dcgan",
        sampling_strategy=counts,
        max_steps=300 if quick else "auto",  # "auto": 2,000 steps for images
        random_state=0,
    )
    X_aug, y_aug = aug.fit_resample(X_small, y_small)
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    scores = {
        "real only": LogisticRegression(max_iter=2000)
        .fit(flat(X_small), y_small)
        .score(flat(X_test), y_test),
        "real + DCGAN": LogisticRegression(max_iter=2000)
        .fit(flat(X_aug), y_aug)
        .score(flat(X_test), y_test),
    }
    print(f"{len(X_small)} real digits, {len(X_aug) - len(X_small)} generated")
    for name, score in scores.items():
        print(f"{name:<13} accuracy on {len(X_test)} held-out digits: {score:.3f}")
    return scores


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
