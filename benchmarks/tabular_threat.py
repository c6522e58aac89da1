"""Constrained vs unconstrained attacks on a hardened tabular pipeline.

A generated credit-style table (``skadv.datasets.make_credit``: integer, categorical,
string and bool columns; ``age`` and ``region`` immutable; ``debt <= 2 * income`` and
``loan_total == loan_a + loan_b``) goes through a ColumnTransformer (StandardScaler,
OneHotEncoder) into an MLP, trained plain and with PGD-7 adversarial training by
``skadv.make_pipeline`` under the constrained threat model (eps 0.5 standard deviations,
``job`` switchable). Both are attacked on the test split with PGD-20 two ways:

- constrained: skadv's ``robust_accuracy`` under that threat model, projected onto the
  feasible set at every step (CPGD-style) and repaired at the end;
- unconstrained: the same PGD with the same per-feature budget but nothing else, in the
  encoded space the pipeline reads (one-hot blocks move as numbers, counts go
  fractional, immutable columns and the relations are ignored).

For each, the share of adversarial rows that keep every promise (the threat model's
feasibility checker) and the robust accuracy; and the clean-accuracy cost of hardening.

    python benchmarks/tabular_threat.py [--n-samples 4000] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skadv
from skadv import PGD, AdversarialTrainer, ThreatModel, robust_accuracy
from skadv.datasets import CREDIT_CONSTRAINTS, make_credit
from skadv.metrics.target import attack_target
from skadv.modules import MLP
from skadv.threat.feasible import FeasibleSet

EPS, STEPS = 0.5, 20
THREAT = ThreatModel(
    eps=EPS,
    scale="std",
    immutable=["age", "region"],
    switchable=["job"],
    constraints=list(CREDIT_CONSTRAINTS),
)


def pipeline(ratio: float, epochs: int) -> skadv.Pipeline:
    preprocess = ColumnTransformer(
        [
            ("numbers", StandardScaler(), make_column_selector(dtype_include="number")),
            ("categories", OneHotEncoder(sparse_output=False), ["job", "region", "owner"]),
        ]
    )
    net = AdversarialTrainer(
        MLP,
        module__hidden=(64,),
        eps=EPS,
        threat_model=THREAT,
        ratio=ratio,
        attack="pgd",
        attack__steps=7,
        max_epochs=epochs,
        lr=0.005,
        batch_size=64,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    return skadv.make_pipeline(preprocess, net)


def unconstrained(pipe: skadv.Pipeline, X, y) -> tuple[float, float]:
    """Robust accuracy and feasible share under PGD with the per-feature budget alone."""
    target = attack_target(pipe, X, None, needs_module=True)
    strict = target.threat.feasible_set()
    naive = FeasibleSet(EPS, "linf", scale=strict.scale)
    Z = torch.as_tensor(target.X)
    targets = torch.as_tensor(np.searchsorted(pipe.classes_, y))
    attack = PGD(eps=EPS, steps=STEPS, random_state=0)
    Z_adv = attack.perturb(target.module, Z, targets, feasible=naive)
    with torch.no_grad():
        accuracy = float((target.module(Z_adv).argmax(1) == targets).double().mean())
    feasible = float(strict.to(Z).contains(Z_adv, Z).double().mean())
    return accuracy, feasible


def constrained(pipe: skadv.Pipeline, X, y) -> tuple[float, float]:
    X_adv = skadv.adversarial_examples(pipe, X, y, "pgd", steps=STEPS, random_state=0)
    accuracy = robust_accuracy(pipe, X, y, "pgd", steps=STEPS, random_state=0)
    return accuracy, pipe[-1].threat_.check(X, X_adv)["feasible"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = make_credit(args.n_samples, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    print(
        f"make_credit: {args.n_samples} rows ({len(X_test)} attacked), PGD-{STEPS}, "
        f"eps {EPS} std, torch {torch.__version__} on {args.threads} CPU threads"
    )
    print("| model | clean | attack | feasible rows | robust accuracy |")
    print("| --- | --- | --- | --- | --- |")
    for name, ratio in [("undefended", 0.0), ("hardened", 1.0)]:
        start = time.perf_counter()
        pipe = pipeline(ratio, args.epochs).fit(X_train, y_train)
        seconds = time.perf_counter() - start
        clean = pipe.score(X_test, y_test)
        for attack, run in [("unconstrained", unconstrained), ("constrained", constrained)]:
            accuracy, feasible = run(pipe, X_test, y_test)
            print(
                f"| {name} (fit {seconds:.0f} s) | {clean:.3f} | {attack} | {feasible:.1%} "
                f"| {accuracy:.3f} |"
            )


if __name__ == "__main__":
    main()
