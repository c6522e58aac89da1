"""Memory of AdversarialTrainer's epoch snapshots on a PreAct ResNet-18.

The snapshot is a copy of the module's state dict kept after every epoch, so that an
interrupted run goes back to its last finished epoch. This script prints its size (the
bytes of every weight and buffer) and the peak resident memory of a short fit with
``epoch_snapshots=True`` and ``False``, each in a fresh process, on synthetic 3x32x32
images (FGSM-RS, one epoch of 256 images, batch 64).

    python benchmarks/snapshot_memory.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import numpy as np
import torch

from skadv import AdversarialTrainer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from gpu_throughput import PreActResNet18  # noqa: E402


def fit(snapshots: bool, threads: int) -> dict:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X = rng.random((256, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, 256)
    net = AdversarialTrainer(
        PreActResNet18,
        attack="fgsm-rs",
        eps=8 / 255,
        epoch_snapshots=snapshots,
        max_epochs=1,
        batch_size=64,
        train_split=None,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    state = net.module_.state_dict().values()
    return {
        "state_mb": sum(t.numel() * t.element_size() for t in state) / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fit(args.child == "on", args.threads)))
        return
    results = {}
    for mode in ("off", "on"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--threads", str(args.threads)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"PreAct ResNet-18, torch {torch.__version__}, {args.threads} threads, CPU")
    print(f"snapshot size (weights and buffers): {results['on']['state_mb']:.1f} MB")
    print("| epoch_snapshots | peak RSS MB |\n| --- | --- |")
    for mode in ("off", "on"):
        print(f"| {mode == 'on'} | {results[mode]['peak_rss_mb']:.0f} |")
    extra = results["on"]["peak_rss_mb"] - results["off"]["peak_rss_mb"]
    print(f"difference: {extra:.0f} MB")


if __name__ == "__main__":
    main()
