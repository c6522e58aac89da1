"""skadv's FAB and Square against torchattacks' ports, on the digits MLPs of the tests.

The undefended and Madry PGD-7 MLPs of ``tests/test_autoattack.py`` (10 epochs on the
first 1,200 digits as 1x8x8 images, pixels in [0, 1]) are judged on the next 540 digits.
FAB and FAB-T (100 steps, one run from the clean point) in Linf at eps 0.1 and L2 at eps
0.5; Square (300 queries) in Linf at eps 0.1 and L2 at eps 1.0, as the mean robust
accuracy over ``--seeds`` seeds a side, with its standard error, for skadv's
``placement="reference"`` and ``"uniform"``.

    python benchmarks/port_agreement.py [--seeds 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
import torchattacks
from sklearn.datasets import load_digits

from skadv import AdversarialTrainer, ThreatModel, robust_accuracy
from skadv.modules import MLP


def port_accuracy(module, attack, X, y) -> float:
    with torch.no_grad():
        adv = attack(torch.as_tensor(X), torch.as_tensor(y))
        return float((module(adv).argmax(1).numpy() == y).mean())


def mean_and_error(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1) / np.sqrt(len(values)):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    common = dict(
        eps=0.1,
        attack="pgd",
        attack__steps=7,
        max_epochs=10,
        lr=0.01,
        batch_size=32,
        train_split=None,
        verbose=0,
        random_state=0,
        threat_model=ThreatModel(bounds=(0.0, 1.0)),
    )
    models = {
        name: AdversarialTrainer(MLP, ratio=ratio, **common).fit(X[:1200], y[:1200])
        for name, ratio in (("undefended", 0.0), ("Madry PGD-7", 1.0))
    }
    X_eval, y_eval = X[1200:1740], y[1200:1740]
    print(f"torch {torch.__version__} on {args.threads} threads, {len(y_eval)} digits")
    print("\n| model | attack | norm | eps | skadv | torchattacks | difference |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, model in models.items():
        module = model.module_.eval()
        for name in ("fab", "fab-t"):
            for norm, eps in (("linf", 0.1), ("l2", 0.5)):
                ours = robust_accuracy(
                    model, X_eval, y_eval, name, eps=eps, norm=norm, random_state=0
                )
                port = torchattacks.FAB(
                    module,
                    norm=norm.capitalize(),
                    eps=eps,
                    steps=100,
                    multi_targeted=name == "fab-t",
                    n_classes=10,
                    seed=0,
                )
                theirs = port_accuracy(module, port, X_eval, y_eval)
                print(
                    f"| {label} | {name} | {norm} | {eps} | {ours:.4f} | {theirs:.4f} "
                    f"| {ours - theirs:+.4f} |"
                )
    seeds = range(args.seeds)
    print(f"\nSquare, 300 queries, mean ± standard error over {args.seeds} seeds a side:")
    print("| model | norm | eps | skadv reference | torchattacks | difference | skadv uniform |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, model in models.items():
        module = model.module_.eval()
        for norm, eps in (("linf", 0.1), ("l2", 1.0)):
            port = [
                port_accuracy(
                    module,
                    torchattacks.Square(
                        module,
                        norm=norm.capitalize(),
                        eps=eps,
                        n_queries=300,
                        resc_schedule=False,
                        seed=seed,
                    ),
                    X_eval,
                    y_eval,
                )
                for seed in seeds
            ]
            ours = {
                placement: [
                    robust_accuracy(
                        model,
                        X_eval,
                        y_eval,
                        "square",
                        eps=eps,
                        norm=norm,
                        n_queries=300,
                        placement=placement,
                        random_state=seed,
                    )
                    for seed in seeds
                ]
                for placement in ("reference", "uniform")
            }
            print(
                f"| {label} | {norm} | {eps} | {mean_and_error(ours['reference'])} "
                f"| {mean_and_error(port)} | {np.mean(ours['reference']) - np.mean(port):+.4f} "
                f"| {mean_and_error(ours['uniform'])} |"
            )


if __name__ == "__main__":
    main()
