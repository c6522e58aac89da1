"""
Harden a classifier inside a Pipeline
=====================================

Harden a classifier inside a Pipeline, with the threat model in the data's own columns.

Breast-cancer data (scikit-learn's bundled copy, as a DataFrame): MinMaxScaler then an
MLP trained with PGD adversarial training. ``skadv.make_pipeline`` crafts the adversarial
examples in the raw measurements, so the budget is stated there: 5 % of each feature's
range (``scale="range"``), every value inside the range seen in training, and two
measurements the clinic cannot change ("worst radius" and "worst perimeter", treated as
fixed lab values) named as immutable. Compared with the same pipeline trained without
defence, both judged by the same raw-space attack.

    python examples/harden_pipeline.py [--quick]
"""

import sys

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

import skadv
from skadv import AdversarialTrainer, ThreatModel, robust_accuracy
from skadv.modules import MLP


def main(quick: bool = False) -> dict:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    threat = ThreatModel(scale="range", immutable=["worst radius", "worst perimeter"])
    epochs = 10 if quick else 40
    results = {}
    for name, ratio in [("undefended", 0.0), ("adversarially trained", 1.0)]:
        pipe = skadv.make_pipeline(
            MinMaxScaler(),
            AdversarialTrainer(
                MLP,
                module__hidden=(64,),
                attack="pgd",
                eps=0.05,
                ratio=ratio,
                threat_model=threat,
                max_epochs=epochs,
                lr=0.005,
                train_split=None,
                verbose=0,
                random_state=0,
            ),
        )
        pipe.fit(X_train, y_train)
        results[name] = {
            "clean": pipe.score(X_test, y_test),
            # judged in the raw measurements, under the threat model the pipeline was
            # trained with (bounds from the training data)
            "robust": robust_accuracy(pipe, X_test, y_test, "pgd", steps=20, random_state=0),
        }
        print(
            f"{name:<22} clean {results[name]['clean']:.3f}  "
            f"PGD-20, 5 % of each range {results[name]['robust']:.3f}"
        )
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
