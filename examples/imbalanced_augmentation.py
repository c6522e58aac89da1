"""
GAN augmentation inside imbalanced-learn's Pipeline
===================================================

GAN augmentation of an imbalanced data set inside imbalanced-learn's Pipeline.

The GAN is fitted inside each cross-validation fold, on that fold's training rows only:
synthetic rows never leak into a test fold. Compared with no augmentation and SMOTE.

    python examples/imbalanced_augmentation.py [--quick]
"""

import sys

from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from skadv import GANAugmenter


def main(quick: bool = False) -> dict:
    X, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=6,
        n_redundant=4,
        weights=[0.95],
        flip_y=0.01,
        class_sep=0.7,
        random_state=0,
    )
    samplers = {
        "none": "passthrough",
        "SMOTE": SMOTE(random_state=0),
        "GANAugmenter": GANAugmenter(
            gan="cgan", max_steps=300 if quick else "auto", random_state=0
        ),
    }
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scores = {}
    for name, sampler in samplers.items():
        pipe = Pipeline(
            [
                ("scale", StandardScaler()),
                ("augment", sampler),
                ("clf", LogisticRegression(max_iter=1000)),
            ]
        )
        scores[name] = cross_val_score(pipe, X, y, cv=cv, scoring="balanced_accuracy").mean()
        print(f"{name:<13} balanced accuracy {scores[name]:.3f}")
    return scores


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
