"""
Certify a classifier, and guard one with a detector
===================================================

Two defences beyond adversarial training, on scikit-learn's digits (pixels in [0, 1]).

Certified robustness: an MLP is trained on Gaussian-noised digits
(``objective="gaussian"``) and smoothed by ``RandomizedSmoothingClassifier``. Its
``certify`` gives each test digit a class and an L2 radius within which, with
probability 0.999 over the noise, no perturbation changes the smoothed prediction. A
search over ``sigma`` scores certified accuracy at radius 0.25 with
``make_robust_scorer(certified_radius=0.25)``.

Detection: ``AdversarialDetector`` puts a binary detector (trained on PGD digits) in
front of an undefended MLP, inside a Pipeline that takes raw 0-16 pixel values, and
flagged digits come out as the reject label. ``detection_report`` then attacks it twice:
ignoring the detector (the number detectors are usually published with) and knowing it
(the number the guard is worth).

    python examples/certify_and_detect.py [--quick]
"""

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skadv import (
    AdversarialDetector,
    AdversarialTrainer,
    RandomizedSmoothingClassifier,
    ThreatModel,
    make_robust_scorer,
)
from skadv.detection import detection_report
from skadv.modules import MLP
from skadv.smoothing import certified_accuracy

REJECTED = -1


def net(**params) -> AdversarialTrainer:
    return AdversarialTrainer(
        MLP, max_epochs=20, lr=1e-2, train_split=None, verbose=0, random_state=0, **params
    )


def main(quick: bool = False) -> dict:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    pixels_train, pixels_test = X_train / 16, X_test / 16
    n_test = 150 if quick else len(X_test)

    search = GridSearchCV(
        RandomizedSmoothingClassifier(
            net(objective="gaussian"), n_samples=200 if quick else 1000, random_state=0
        ),
        [{"sigma": [s], "estimator__objective__sigma": [s]} for s in (0.12, 0.25, 0.5)],
        scoring=make_robust_scorer(certified_radius=0.25),
        cv=3,
    ).fit(pixels_train, y_train)
    smooth = search.best_estimator_
    labels, radii = smooth.certify(pixels_test[:n_test])
    print(f"sigma chosen by certified accuracy at radius 0.25: {smooth.sigma}")
    for radius in (0.0, 0.25, 0.5, 0.75):
        accuracy = certified_accuracy(y_test[:n_test], labels, radii, radius)
        print(f"certified accuracy at L2 radius {radius:.2f}: {accuracy:.3f}")

    guarded = make_pipeline(
        FunctionTransformer(lambda X: X / 16),
        AdversarialDetector(
            net(ratio=0.0),
            method="binary",
            eps=0.1,
            threat_model=ThreatModel(bounds=(0, 1)),
            reject_label=REJECTED,
            random_state=0,
        ),
    ).fit(X_train, y_train)
    rejected = np.mean(guarded.predict(X_test) == REJECTED)
    print(f"clean test digits rejected: {rejected:.3f}")
    report = detection_report(guarded[-1], pixels_test[:n_test], y_test[:n_test], steps=20)
    for kind in ("non_adaptive", "adaptive"):
        row = report[kind]
        print(
            f"{kind:>12} PGD-20 eps 0.1: detection rate {row['detection_rate']:.3f}, "
            f"guarded robust accuracy {row['guarded_robust_accuracy']:.3f}"
        )
    return {"search": search, "report": report}


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
