"""
Choose eps and the attack by robust accuracy
============================================

Choose eps and the attack by cross-validated robust accuracy, not clean accuracy.

GridSearchCV over AdversarialTrainer's threat model and training attack, scored on both
accuracy and PGD robust accuracy, refitting the most robust model.

    python examples/grid_search_robustness.py [--quick]
"""

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from skadv import AdversarialTrainer, make_robust_scorer, robust_accuracy
from skadv.modules import MLP


def main(quick: bool = False) -> GridSearchCV:
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    if quick:
        X_train, y_train = X_train[:500], y_train[:500]
    search = GridSearchCV(
        AdversarialTrainer(
            MLP,
            max_epochs=5 if quick else 15,
            lr=0.01,
            batch_size=32,
            train_split=None,
            verbose=0,
            random_state=0,
        ),
        {"eps": [0.05, 0.1], "attack": ["fgsm-rs", "pgd"]},
        scoring={"accuracy": "accuracy", "robust": make_robust_scorer("pgd", eps=0.1, steps=10)},
        refit="robust",
        cv=2 if quick else 3,
        n_jobs=2,
    )
    search.fit(X_train, y_train)
    for params, acc, rob in zip(
        search.cv_results_["params"],
        search.cv_results_["mean_test_accuracy"],
        search.cv_results_["mean_test_robust"],
        strict=True,
    ):
        print(f"{params}  accuracy {acc:.3f}  robust {rob:.3f}")
    best = search.best_estimator_
    print(
        f"best: {search.best_params_}; held-out accuracy {best.score(X_test, y_test):.3f}, "
        f"PGD-20 {robust_accuracy(best, X_test, y_test, eps=0.1, steps=20):.3f}"
    )
    return search


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
