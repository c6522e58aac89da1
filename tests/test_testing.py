"""The plugin contract checks: every built-in passes, and broken components fail."""

import pytest
import torch

from skadv.attacks import FGSM, MIFGSM, PGD, Attack, FGSMRandomStart
from skadv.gans import DCGAN, TVAE, WGANGP, ConditionalGAN, TabularGAN
from skadv.objectives import TRADES, Gaussian, Madry, SmoothAdv
from skadv.testing import check_attack, check_gan, check_objective


@pytest.mark.parametrize("attack", [FGSM, FGSMRandomStart, PGD, MIFGSM])
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_builtin_attacks_pass(attack, norm):
    check_attack(attack, norms=(norm,))


@pytest.mark.parametrize(
    "gan",
    [
        ConditionalGAN(hidden=(16,)),
        WGANGP(hidden=(16,)),
        DCGAN(width=4),
        TabularGAN(hidden=(16,), max_modes=3),
        TVAE(hidden=(16,), latent_dim=8),
    ],
    ids=lambda g: type(g).__name__,
)
def test_builtin_gans_pass(gan):
    check_gan(gan)


@pytest.mark.parametrize(
    "objective", [Madry, Madry(ratio=0.5), TRADES, Gaussian, SmoothAdv(n_draws=2)]
)
def test_builtin_objectives_pass(objective):
    check_objective(objective)


class Unbounded(Attack):
    """Ignores eps: steps 10 times too far."""

    def __init__(self, eps=0.1, norm="linf", targeted=False, clip_values=None, feature_mask=None):
        self.eps = eps
        self.norm = norm
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _run(self, ctx):
        return ctx.clip(ctx.x + 10 * self.eps * ctx.gradient(ctx.x).sign())


class IgnoresMask(Unbounded):
    def _run(self, ctx):
        return ctx.clip(ctx.x + self.eps * torch.ones_like(ctx.x))


class LeavesGradients(Unbounded):
    def _run(self, ctx):
        ctx.module(ctx.x).sum().backward()
        return ctx.x


class BadGenerator(ConditionalGAN):
    def build(self, encoder, n_classes):
        pair = super().build(encoder, n_classes)
        pair.discriminator.body = torch.nn.Linear(encoder.output_dim_ + n_classes, 2)
        return pair


@pytest.mark.parametrize(
    ("attack", "message"),
    [
        (Unbounded, "Unbounded: attack Unbounded returned points outside the eps-ball"),
        (IgnoresMask, "returned changes to immutable features"),
        (LeavesGradients, "left gradients"),
    ],
)
def test_broken_attacks_fail(attack, message):
    with pytest.raises(AssertionError, match=message):
        check_attack(attack)


def test_broken_gan_fails():
    with pytest.raises(AssertionError, match="one score per sample"):
        check_gan(BadGenerator(hidden=(8,)))


class Frozen(Madry):
    """Returns a loss that does not depend on the model."""

    def loss(self, net, X, y):
        _, y_pred = super().loss(net, X, y)
        return torch.zeros((), requires_grad=True), y_pred


def test_broken_objective_fails():
    with pytest.raises(AssertionError, match="does not reach the module"):
        check_objective(Frozen)
