"""Built-in attacks: norm bounds, clipping, masks, side effects, validation, agreement with ART."""

import numpy as np
import pytest
import torch
from art.attacks.evasion import (
    FastGradientMethod,
    MomentumIterativeMethod,
    ProjectedGradientDescent,
)
from art.estimators.classification import PyTorchClassifier
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

import skadv
from skadv.attacks import FGSM, MIFGSM, PGD, FGSMRandomStart

ALL = [FGSM, FGSMRandomStart, PGD, MIFGSM]


@pytest.fixture
def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(10, 32), torch.nn.Dropout(0.3), torch.nn.ReLU(), torch.nn.Linear(32, 3)
    )


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(1)
    return torch.rand(64, 10, generator=gen), torch.randint(0, 3, (64,), generator=gen)


def loss(model, x, y):
    model.eval()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(x), y).item()


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_norm_bound_clipping_and_loss_increase(cls, norm, model, batch):
    x, y = batch
    eps = 0.1 if norm == "linf" else 0.5
    attack = cls(eps=eps, norm=norm, clip_values=(0.0, 1.0))
    x_adv = attack.perturb(model, x, y)
    delta = (x_adv - x).reshape(len(x), -1)
    size = delta.abs().max(dim=1).values if norm == "linf" else delta.norm(dim=1)
    assert size.max() <= eps + 1e-5
    assert size.max() > 0.5 * eps  # it moved
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert loss(model, x_adv, y) > loss(model, x, y)


@pytest.mark.parametrize("cls", ALL)
def test_clip_values_per_feature_and_mask(cls, model, batch):
    x, y = batch
    low, high = np.zeros(10), np.full(10, 0.6)
    x = x.clamp(max=0.6)
    mask = np.ones(10)
    mask[[0, 3]] = 0
    x_adv = cls(eps=0.3, clip_values=(low, high), feature_mask=mask).perturb(model, x, y)
    assert torch.equal(x_adv[:, [0, 3]], x[:, [0, 3]])
    assert x_adv.max() <= 0.6 + 1e-7
    assert not torch.equal(x_adv, x)


@pytest.mark.parametrize("cls", ALL)
def test_no_side_effects_on_module_or_input(cls, model, batch):
    x, y = batch
    x_before = x.clone()
    model.train()
    cls(eps=0.1).perturb(model, x, y)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(x, x_before)
    model.eval()
    x_adv = cls(eps=0.1).perturb(model, x, y)
    assert not model.training
    assert x_adv.device == x.device and x_adv.dtype == x.dtype and not x_adv.requires_grad


def test_eval_mode_during_attack_makes_dropout_deterministic(model, batch):
    x, y = batch
    model.train()
    a = PGD(eps=0.1, random_start=False).perturb(model, x, y)
    b = PGD(eps=0.1, random_start=False).perturb(model, x, y)
    assert torch.equal(a, b)


def test_targeted_moves_towards_target(model, batch):
    x, _ = batch
    target = torch.full((len(x),), 2)
    x_adv = PGD(eps=0.3, steps=20, targeted=True).perturb(model, x, target)
    assert loss(model, x_adv, target) < loss(model, x, target)


def test_random_state_reproducible(model, batch):
    x, y = batch
    a = PGD(eps=0.1, random_state=3).perturb(model, x, y)
    b = PGD(eps=0.1, random_state=3).perturb(model, x, y)
    c = PGD(eps=0.1, random_state=4).perturb(model, x, y)
    assert torch.equal(a, b) and not torch.equal(a, c)


class CountingModule(torch.nn.Module):
    """Runs ``module`` and counts the samples it was run on."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.samples = 0

    def forward(self, x):
        self.samples += len(x)
        return self.module(x)


@pytest.mark.parametrize("cls", [PGD, MIFGSM])
@pytest.mark.parametrize("targeted", [False, True])
def test_early_stop_keeps_every_adversarial_example_at_lower_cost(cls, targeted, model, batch):
    x, y = batch
    y = (y + 1) % 3 if targeted else y
    params = dict(eps=0.1, steps=10, targeted=targeted, clip_values=(0.0, 1.0))
    if cls is PGD:
        params["random_state"] = 0
    counted = CountingModule(model)
    plain = cls(**params).perturb(counted, x, y)
    plain_cost, counted.samples = counted.samples, 0
    early = cls(early_stop=True, **params).perturb(counted, x, y)
    model.eval()
    with torch.no_grad():
        plain_pred, early_pred = model(plain).argmax(1), model(early).argmax(1)
    plain_hit = plain_pred == y if targeted else plain_pred != y
    early_hit = early_pred == y if targeted else early_pred != y
    assert 0 < int(early_hit.sum()) < len(x)
    assert counted.samples < plain_cost
    assert bool((early_hit | ~plain_hit).all())  # whatever plain finds, early stop finds
    # samples never fooled took the full, identical path
    torch.testing.assert_close(early[~early_hit], plain[~early_hit], atol=1e-6, rtol=0)
    assert (early - x).abs().max() <= 0.1 + 1e-6 and early.min() >= 0 and early.max() <= 1


def test_early_stop_needs_class_index_targets(model, batch):
    x, _ = batch
    soft = torch.softmax(torch.randn(len(x), 3), dim=1)

    def kl(logits, p):
        return torch.nn.functional.kl_div(logits.log_softmax(1), p, reduction="sum")

    with pytest.raises(ValueError, match="early_stop needs class-index targets"):
        PGD(early_stop=True).run(model, x, soft, loss_fn=kl)
    assert PGD().run(model, x, soft, loss_fn=kl).shape == x.shape


@pytest.mark.parametrize("cls", ALL)
def test_sklearn_params_clone_and_registry(cls):
    attack = cls(eps=0.2)
    params = attack.get_params()
    assert params["eps"] == 0.2
    copy = clone(attack).set_params(eps=0.3)
    assert copy.eps == 0.3 and attack.eps == 0.2
    assert (
        type(
            skadv.get_attack(
                {FGSM: "fgsm", FGSMRandomStart: "fgsm-rs", PGD: "pgd", MIFGSM: "mi-fgsm"}[cls]
            )
        )
        is cls
    )


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"eps": -0.1}, "'eps' parameter of PGD must be a float in the range \\[0.0, inf\\)"),
        ({"norm": "l3"}, "'norm' parameter of PGD must be a str among"),
        ({"steps": 0}, "'steps' parameter of PGD"),
    ],
)
def test_invalid_parameters_name_the_parameter(params, match, model, batch):
    with pytest.raises(InvalidParameterError, match=match):
        PGD(**params).perturb(model, *batch)


def test_bad_inputs(model, batch):
    x, y = batch
    with pytest.raises(TypeError, match="x must be a floating-point torch.Tensor"):
        PGD().perturb(model, x.numpy(), y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        PGD().perturb(model, torch.where(x > 0.9, torch.nan, x), y)
    with pytest.raises(ValueError, match=r"y must have shape \(64,\)"):
        PGD().perturb(model, x, y[:10])
    with pytest.raises(ValueError, match="batch dimension"):
        PGD().perturb(model, x[0], y[:1])
    with pytest.raises(ValueError, match="feature_mask of shape \\(3,\\) does not broadcast"):
        PGD(feature_mask=[1, 0, 1]).perturb(model, x, y)
    with pytest.raises(ValueError, match="min <= max"):
        PGD(clip_values=(1.0, 0.0)).perturb(model, x, y)
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        PGD().perturb(lambda t: t, x, y)


def art_classifier(model):
    return PyTorchClassifier(
        model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(10,),
        nb_classes=3,
        clip_values=(0.0, 1.0),
    )


@pytest.mark.parametrize(("norm", "eps", "step"), [("linf", 0.1, 0.025), ("l2", 0.5, 0.1)])
@pytest.mark.parametrize("targeted", [False, True])
def test_agrees_with_art(norm, eps, step, targeted, model, batch):
    x, y = batch
    model.eval()
    clf = art_classifier(model)
    art_norm = np.inf if norm == "linf" else 2
    mask = (np.arange(10) % 3 != 0).astype(np.float32)
    common = {"norm": norm, "eps": eps, "targeted": targeted, "clip_values": (0.0, 1.0)}

    expected = FastGradientMethod(clf, norm=art_norm, eps=eps, targeted=targeted).generate(
        x.numpy(), y=y.numpy()
    )
    got = FGSM(**common).perturb(model, x, y).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)

    expected = ProjectedGradientDescent(
        clf,
        norm=art_norm,
        eps=eps,
        eps_step=step,
        max_iter=10,
        num_random_init=0,
        targeted=targeted,
        verbose=False,
    ).generate(x.numpy(), y=y.numpy(), mask=mask)
    got = PGD(**common, steps=10, step_size=step, random_start=False, feature_mask=mask)
    np.testing.assert_allclose(got.perturb(model, x, y).numpy(), expected, atol=1e-5)

    expected = MomentumIterativeMethod(
        clf,
        norm=art_norm,
        eps=eps,
        eps_step=step,
        max_iter=10,
        decay=1.0,
        targeted=targeted,
        verbose=False,
    ).generate(x.numpy(), y=y.numpy())
    got = MIFGSM(**common, steps=10, step_size=step, decay=1.0).perturb(model, x, y).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
