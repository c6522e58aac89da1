"""
Write your own attack plugin
============================

Write your own attack and plug it into skadv.

A plugin is a module (or any object) with hook implementations. Installed packages are
found through the ``skadv`` entry-point group (see README, "Write, test and publish a
plugin"); in a script or notebook, ``skadv.register_plugin`` adds one in-process. Once
registered, the attack works by name everywhere: in ``get_attack``, in
``AdversarialTrainer(attack=...)`` and in ``make_robust_scorer``.

    python examples/custom_attack_plugin.py [--quick]
"""

import sys
import types

import numpy as np
import torch
from sklearn.datasets import load_digits

import skadv
from skadv.attacks import Attack
from skadv.hookspecs import hookimpl
from skadv.modules import MLP
from skadv.testing import check_attack


class SignNoise(Attack):
    """A random corner of the eps-ball: the gradient-free baseline every attack must beat."""

    def __init__(self, eps=0.1, norm="linf", targeted=False, clip_values=None, feature_mask=None):
        self.eps = eps
        self.norm = norm
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _run(self, ctx):
        corner = torch.randint(0, 2, ctx.x.shape, device=ctx.x.device).to(ctx.x.dtype) * 2 - 1
        step = corner * self.eps if self.norm == "linf" else ctx.random_delta(self.eps)
        return ctx.project(ctx.x + step)  # onto the threat model: ball, bounds, mask


plugin = types.ModuleType("sign_noise_plugin")


@hookimpl
def skadv_register_attacks(register):
    register("sign-noise", SignNoise)


plugin.skadv_register_attacks = skadv_register_attacks


def main(quick: bool = False) -> dict:
    check_attack(SignNoise)  # the same contract the built-ins pass
    skadv.register_plugin(plugin)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    clf = skadv.AdversarialTrainer(
        MLP,
        ratio=0.0,
        max_epochs=5 if quick else 20,
        lr=0.01,
        train_split=None,
        verbose=0,
        random_state=0,
    ).fit(X, y)
    results = {
        name: skadv.robust_accuracy(clf, X[:500], y[:500], name, eps=0.1)
        for name in ("sign-noise", "pgd")
    }
    for name, acc in results.items():
        print(f"{name:<11} robust accuracy at eps=0.1: {acc:.3f}")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
