"""Robust evaluation, PGD-20 over 10,000 digits: skadv's robust_accuracy vs ART's PGD.

Two models from ``adversarial_training.py``'s set-up (the same MLP, digits scaled to
[0, 1]): an undefended one and a Madry PGD-7 one. The 540 test digits are tiled to
``--n-samples``; every way runs PGD-20 (eps 0.1, step 0.025, no random start) in batches
of 256 and reports samples per second, the ratio to ART, and the robust accuracy it
measured. skadv (``attacked_accuracy``, the loop under ``robust_accuracy``) runs four
ways: like ART (fp32), ``early_stop=True`` (a sample leaves the batch once fooled), bf16
autocast, and both.

    python benchmarks/robust_evaluation.py [--device cuda] [--n-samples 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from adversarial_training import EPS, STEP, digits_split, judge, train_skadv

from skadv import PGD
from skadv.metrics import attacked_accuracy

BATCH, STEPS = 256, 20
SKADV_WAYS = {
    "skadv fp32": {},
    "skadv early_stop": {"early_stop": True},
    "skadv bf16": {"precision": "bf16"},
    "skadv bf16 + early_stop": {"precision": "bf16", "early_stop": True},
}


def timed(device: str, run, *args, **kwargs) -> tuple[float, float]:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    accuracy = run(*args, **kwargs)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, accuracy


def skadv_accuracy(module, X, y, precision="fp32", **attack_params) -> float:
    attack = PGD(eps=EPS, steps=STEPS, step_size=STEP, random_start=False, **attack_params)
    attack.set_params(clip_values=(0.0, 1.0))
    return attacked_accuracy(module, X, y, attack, BATCH, precision=precision)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-samples", type=int, default=10_000)
    args = parser.parse_args()
    X_train, X_test, y_train, y_test = digits_split()
    index = np.resize(np.arange(len(X_test)), args.n_samples)
    X_eval, y_eval = X_test[index], y_test[index]
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"device {args.device} ({name}), torch {torch.__version__}, {args.n_samples} samples")
    models = {
        "undefended": train_skadv(X_train, y_train, args.device, seed=0, ratio=0.0),
        "Madry PGD-7": train_skadv(X_train, y_train, args.device, seed=0),
    }
    for label, module in models.items():
        skadv_accuracy(module, X_eval[:BATCH], y_eval[:BATCH])  # warm-up
        results = {"ART": timed(args.device, judge, module, X_eval, y_eval, args.device, BATCH)}
        for way, extra in SKADV_WAYS.items():
            results[way] = timed(args.device, skadv_accuracy, module, X_eval, y_eval, **extra)
        print(f"\n{label}: {'way':<26}{'samples/s':>11}{'vs ART':>9}{'robust acc':>12}")
        art_seconds = results["ART"][0]
        for way, (seconds, accuracy) in results.items():
            print(
                f"{'':<{len(label) + 2}}{way:<26}{args.n_samples / seconds:>11.0f}"
                f"{art_seconds / seconds:>8.2f}x{accuracy:>12.3f}"
            )


if __name__ == "__main__":
    main()
