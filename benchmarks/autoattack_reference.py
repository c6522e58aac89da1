"""skadv's standard AutoAttack against the reference implementation, on digits MLPs.

The reference (https://github.com/fra31/auto-attack) is not a dependency: check it out
anywhere outside this repository and pass its path. Three MLPs (undefended, Madry PGD-7,
TRADES; 20 epochs on 1,257 digits as 1x8x8 images, pixels in [0, 1]) are judged on the
540 test digits at eps 0.1 and 0.2 (Linf), standard version, seed 0, by PGD-20, skadv's
``autoattack`` and the reference; with wall-clock seconds of both.

    python benchmarks/autoattack_reference.py --reference /path/to/auto-attack [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skadv import AdversarialTrainer, ThreatModel, robust_accuracy
from skadv.modules import MLP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.reference)
    from autoattack import AutoAttack as Reference

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    common = dict(
        eps=0.1,
        attack="pgd",
        attack__steps=7,
        max_epochs=20,
        lr=1e-2,
        batch_size=32,
        train_split=None,
        verbose=0,
        random_state=0,
        threat_model=ThreatModel(bounds=(0, 1)),
    )
    models = {
        "undefended": AdversarialTrainer(MLP, ratio=0.0, **common),
        "Madry PGD-7": AdversarialTrainer(MLP, **common),
        "TRADES": AdversarialTrainer(MLP, objective="trades", **common),
    }
    print(f"torch {torch.__version__} on {args.threads} threads, {len(y_test)} test digits")
    print(
        "| model | eps | PGD-20 | skadv autoattack | reference | difference | skadv s | "
        "reference s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, model in models.items():
        model.fit(X_train, y_train)
        module = model.module_.eval()
        for eps in (0.1, 0.2):
            start = time.perf_counter()
            ours = robust_accuracy(model, X_test, y_test, "autoattack", eps=eps, random_state=0)
            ours_seconds = time.perf_counter() - start
            reference = Reference(
                module,
                norm="Linf",
                eps=eps,
                version="standard",
                device="cpu",
                seed=0,
                verbose=False,
            )
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x_adv = reference.run_standard_evaluation(
                    torch.as_tensor(X_test), torch.as_tensor(y_test), bs=256
                )
            reference_seconds = time.perf_counter() - start
            with torch.no_grad():
                theirs = float((module(x_adv).argmax(1).numpy() == y_test).mean())
            pgd = robust_accuracy(model, X_test, y_test, "pgd", eps=eps, steps=20, random_state=0)
            print(
                f"| {name} | {eps} | {pgd:.3f} | {ours:.3f} | {theirs:.3f} | "
                f"{ours - theirs:+.3f} | {ours_seconds:.1f} | {reference_seconds:.1f} |"
            )


if __name__ == "__main__":
    main()
