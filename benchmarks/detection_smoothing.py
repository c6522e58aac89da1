"""Randomized smoothing and adversarial-input detection against ART, on digits.

Every comparison uses the same base module and the same inputs for both libraries, and
times them side by side in one process (threads pinned, stated in the output):

- smoothing: ``RandomizedSmoothingClassifier.certify`` against ART's
  ``PyTorchRandomizedSmoothing.certify`` (same module, sigma, alpha, n and n0): certified
  accuracy at several L2 radii, and time;
- feature squeezing: the squeeze score of ``AdversarialDetector(method="squeeze")``
  against the same score computed with ART's ``FeatureSqueezing`` preprocessor and ART's
  classifier: largest score difference, and time;
- binary detector: ``AdversarialDetector(method="binary")`` against ART's
  ``BinaryInputDetector`` (the same 64-64 MLP, epochs, batch and learning rate, the same
  PGD rows to learn from): ROC AUC on held-out clean and PGD rows, and fit time.

A second table is skadv's own: :func:`skadv.detection.detection_report` for the three
detectors in front of one undefended MLP, under PGD-20 at eps 0.1 in pixel units, the
attacker ignoring the detector (non-adaptive) and knowing it (adaptive).

    python benchmarks/detection_smoothing.py [--threads 1] [--n-test 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from art.defences.detector.evasion import BinaryInputDetector
from art.defences.preprocessor import FeatureSqueezing
from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing
from art.estimators.classification import PyTorchClassifier
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skadv import (
    AdversarialDetector,
    AdversarialTrainer,
    RandomizedSmoothingClassifier,
    ThreatModel,
    adversarial_examples,
)
from skadv.detection import detection_report
from skadv.formatting import format_table
from skadv.modules import MLP
from skadv.smoothing import certified_accuracy

SIGMA, N, N_SELECT, ALPHA = 0.25, 500, 50, 0.001
EPOCHS, BATCH, LR = 20, 64, 1e-3


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def smoothing_rows(X_train, y_train, X, y) -> list[list]:
    base = AdversarialTrainer(
        MLP,
        objective="gaussian",
        objective__sigma=SIGMA,
        max_epochs=20,
        lr=1e-2,
        train_split=None,
        verbose=0,
        random_state=0,
    ).fit(X_train, y_train)
    smooth = RandomizedSmoothingClassifier(
        FrozenEstimator(base),
        sigma=SIGMA,
        n_samples=N,
        n_select=N_SELECT,
        alpha=ALPHA,
        random_state=0,
    ).fit(X_train, y_train)
    art = PyTorchRandomizedSmoothing(
        model=base.module_,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=X.shape[1:],
        nb_classes=10,
        device_type="cpu",
        sample_size=N_SELECT,
        scale=SIGMA,
        alpha=ALPHA,
    )
    np.random.seed(0)
    (ours, ours_s) = timed(lambda: smooth.certify(X))
    (theirs, art_s) = timed(lambda: art.certify(X, n=N, batch_size=N))
    rows = []
    for radius in (0.0, 0.25, 0.5):
        a = certified_accuracy(y, *ours, radius)
        b = certified_accuracy(y, *theirs, radius)
        rows.append([f"smoothing, certified acc. at r={radius}", f"{a:.3f}", f"{b:.3f}", "", ""])
    rows.append(
        [
            "smoothing, certify time",
            "",
            "",
            f"{ours_s:.2f} / {art_s:.2f} s",
            f"{art_s / ours_s:.2f}x",
        ]
    )
    return rows


def art_classifier(module: torch.nn.Module, n_classes: int) -> PyTorchClassifier:
    return PyTorchClassifier(
        model=module,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(64,),
        nb_classes=n_classes,
        clip_values=(0, 1),
        device_type="cpu",
        optimizer=torch.optim.Adam(module.parameters(), lr=LR),
    )


def squeeze_rows(X_train, y_train, X, X_adv) -> list[list]:
    detector = AdversarialDetector(
        AdversarialTrainer(
            MLP, ratio=0.0, max_epochs=20, lr=1e-2, train_split=None, verbose=0, random_state=0
        ),
        method="squeeze",
        threat_model=ThreatModel(bounds=(0, 1)),
        bits=4,
        random_state=0,
    ).fit(X_train, y_train)
    classifier = art_classifier(detector.estimator_.module_, 10)
    squeeze = FeatureSqueezing(clip_values=(0, 1), bit_depth=4)
    inputs = np.concatenate([X, X_adv])

    def art_score():
        p = torch.softmax(torch.as_tensor(classifier.predict(inputs)), 1).numpy()
        q = torch.softmax(
            torch.as_tensor(classifier.predict(squeeze(inputs)[0].astype(np.float32))), 1
        ).numpy()
        return np.abs(p - q).sum(axis=1)

    ours, ours_s = timed(lambda: detector.decision_function(inputs))
    theirs, art_s = timed(art_score)
    return [
        ["squeeze, largest score difference", f"{np.abs(ours - theirs).max():.1e}", "", "", ""],
        ["squeeze, score time", "", "", f"{ours_s:.3f} / {art_s:.3f} s", f"{art_s / ours_s:.2f}x"],
    ]


def binary_rows(X_train, y_train, X, X_adv) -> list[list]:
    base = AdversarialTrainer(
        MLP, ratio=0.0, max_epochs=20, lr=1e-2, train_split=None, verbose=0, random_state=0
    ).fit(X_train, y_train)
    ours, ours_s = timed(
        lambda: AdversarialDetector(
            FrozenEstimator(base),
            method="binary",
            eps=0.1,
            threat_model=ThreatModel(bounds=(0, 1)),
            max_epochs=EPOCHS,
            attack_params={"steps": 20},
            random_state=0,
        ).fit(X_train, y_train)
    )
    # ART learns from the same PGD rows (crafting them is part of our fit time; ART's
    # time below adds the same crafting, done once here)
    X_train_adv, craft_s = timed(
        lambda: adversarial_examples(
            base,
            X_train,
            y_train,
            "pgd",
            eps=0.1,
            steps=20,
            random_state=0,
            threat_model=ThreatModel(bounds=(0, 1)),
        )
    )
    torch.manual_seed(0)
    art = BinaryInputDetector(art_classifier(MLP(n_features=64, n_classes=2, hidden=(64, 64)), 2))
    inputs = np.concatenate([X_train, X_train_adv])
    labels = np.eye(2)[np.r_[np.zeros(len(X_train), int), np.ones(len(X_train), int)]]
    _, art_s = timed(lambda: art.fit(inputs, labels, nb_epochs=EPOCHS, batch_size=BATCH))
    art_s += craft_s
    truth = np.r_[np.zeros(len(X)), np.ones(len(X_adv))]
    test = np.concatenate([X, X_adv])
    logits = art.detector.predict(test)
    auc_ours = roc_auc_score(truth, ours.decision_function(test))
    auc_art = roc_auc_score(truth, logits[:, 1] - logits[:, 0])
    return [
        ["binary, ROC AUC (held-out PGD)", f"{auc_ours:.3f}", f"{auc_art:.3f}", "", ""],
        ["binary, fit time", "", "", f"{ours_s:.2f} / {art_s:.2f} s", f"{art_s / ours_s:.2f}x"],
    ]


def report_rows(X_train, y_train, X, y) -> list[list]:
    rows = []
    for method in ("binary", "squeeze", "mahalanobis"):
        detector = AdversarialDetector(
            AdversarialTrainer(
                MLP, ratio=0.0, max_epochs=20, lr=1e-2, train_split=None, verbose=0, random_state=0
            ),
            method=method,
            eps=0.1,
            threat_model=ThreatModel(bounds=(0, 1)),
            random_state=0,
        ).fit(X_train, y_train)
        report = detection_report(detector, X, y, steps=20)
        non, ada = report["non_adaptive"], report["adaptive"]
        rows.append(
            [
                method,
                f"{report['false_positive_rate']:.3f}",
                f"{1 - non['attack_success']:.3f}",
                f"{non['detection_rate']:.3f}",
                f"{non['guarded_robust_accuracy']:.3f}",
                f"{ada['detection_rate']:.3f}",
                f"{ada['guarded_robust_accuracy']:.3f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-test", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    victim = AdversarialTrainer(
        MLP, ratio=0.0, max_epochs=20, lr=1e-2, train_split=None, verbose=0, random_state=0
    ).fit(X_train, y_train)
    X_adv = adversarial_examples(
        victim,
        X_test,
        y_test,
        "pgd",
        eps=0.1,
        steps=20,
        random_state=0,
        threat_model=ThreatModel(bounds=(0, 1)),
    )
    rows = smoothing_rows(X_train, y_train, X_test, y_test)
    rows += squeeze_rows(X_train, y_train, X_test, X_adv)
    rows += binary_rows(X_train, y_train, X_test, X_adv)
    print(
        f"digits, {len(X_test)} test rows, torch threads {args.threads}, "
        f"smoothing sigma {SIGMA} n {N} n0 {N_SELECT} alpha {ALPHA}; PGD-20 eps 0.1"
    )
    print(format_table(["measure", "skadv", "ART", "time skadv / ART", "ART / skadv"], rows))
    print()
    print(
        format_table(
            [
                "detector",
                "clean FPR",
                "robust acc. alone",
                "non-adaptive detection",
                "non-adaptive guarded",
                "adaptive detection",
                "adaptive guarded",
            ],
            report_rows(X_train, y_train, X_test, y_test),
        )
    )


if __name__ == "__main__":
    main()
