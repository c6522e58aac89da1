"""Contract checks for plugin authors, in the spirit of scikit-learn's ``check_estimator``.

Run them in your plugin's test suite::

    from skadv.testing import check_attack, check_gan

    def test_my_attack():
        check_attack(MyAttack)

Each check raises an ``AssertionError`` naming the broken promise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import clone

from skadv.exceptions import PluginError

__all__ = ["check_attack", "check_gan", "check_objective"]


def _instance(obj: Any, **params: Any) -> Any:
    return obj(**params) if isinstance(obj, type) else clone(obj).set_params(**params)


def _clonable_instance(obj: Any) -> tuple[Any, str]:
    """A fresh instance of ``obj`` and its class name, after checking that it clones."""
    base = _instance(obj)
    name = type(base).__name__
    assert clone(base).get_params().keys() == base.get_params().keys(), (
        f"{name}: clone changed the parameters"
    )
    return base, name


def _devices() -> list[str]:
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _model(n_features: int, device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(n_features, 16),
        torch.nn.Dropout(0.2),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 3),
    ).to(device)


def _norm_size(delta: torch.Tensor, norm: str) -> torch.Tensor:
    flat = delta.reshape(len(delta), -1)
    return flat.abs().max(dim=1).values if norm == "linf" else flat.norm(dim=1)


def _perturb(attack: Any, name: str, *args: Any) -> torch.Tensor:
    """``attack.perturb(*args)``, with the base class's output check as an assertion."""
    try:
        return attack.perturb(*args)
    except PluginError as exc:
        raise AssertionError(f"{name}: {exc}") from None


def check_attack(
    attack: Any, norms: tuple[str, ...] | None = None, sample_shape: tuple[int, ...] = (6,)
) -> None:
    """Check that an attack keeps skadv's attack contract.

    On a small torch classifier, on every available device: the attack is clonable and
    its parameters round-trip; the perturbation stays within ``eps`` in its norm; outputs
    respect ``clip_values`` and ``feature_mask``; outputs keep the input's shape, dtype and
    device; the input is not modified; no gradient is left on the model's parameters; the
    model's train/eval mode is restored.

    Parameters
    ----------
    attack : Attack class or instance
        Instances are cloned, never modified.
    norms : tuple of str or None, default=None
        Norms to check; None checks the attack's own ``norm`` (or ``"linf"``).
    sample_shape : tuple of int, default=(6,)
        Shape of one input sample, e.g. ``(1, 8, 8)`` for attacks that need images.

    Raises
    ------
    AssertionError
        Naming the first broken promise.

    Examples
    --------
    >>> from skadv.attacks import PGD
    >>> from skadv.testing import check_attack
    >>> check_attack(PGD)
    """
    base, name = _clonable_instance(attack)
    params = base.get_params()
    for key in ("eps", "clip_values", "feature_mask"):
        assert key in params, f"{name}: has no {key!r} parameter"
    norms = norms or (params.get("norm", "linf"),)
    gen = torch.Generator().manual_seed(0)
    x_cpu = 0.3 + 0.4 * torch.rand((24, *sample_shape), generator=gen)  # inside clip ranges
    y_cpu = torch.randint(0, 3, (24,), generator=gen)
    mask = (np.arange(int(np.prod(sample_shape))) % 3 != 2).astype(np.float32)
    mask = mask.reshape(sample_shape)
    for device in _devices():
        model = _model(mask.size, device)
        x, y = x_cpu.to(device), y_cpu.to(device)
        for norm in norms:
            eps = 0.1 if norm == "linf" else 0.3
            extra = {"norm": norm} if "norm" in params else {}
            instance = _instance(attack, eps=eps, clip_values=(0.0, 1.0), **extra)
            x_before = x.clone()
            model.train()
            x_adv = _perturb(instance, name, model, x, y)
            assert torch.equal(x, x_before), f"{name}: modified its input"
            assert model.training, f"{name}: did not restore train mode"
            assert all(p.grad is None for p in model.parameters()), (
                f"{name}: left gradients on the model's parameters"
            )
            assert x_adv.shape == x.shape and x_adv.dtype == x.dtype, f"{name}: shape/dtype"
            assert x_adv.device == x.device, f"{name}: moved the batch off {device}"
            assert not x_adv.requires_grad, f"{name}: returned a tensor that requires grad"
            size = _norm_size(x_adv - x, norm)
            assert float(size.max()) <= eps * (1 + 1e-4) + 1e-6, (
                f"{name}: perturbation {float(size.max()):.4f} exceeds eps={eps} ({norm})"
            )
            clipped = _instance(attack, eps=0.5, clip_values=(0.25, 0.75), **extra)
            out = _perturb(clipped, name, model.eval(), x, y)
            assert float(out.min()) >= 0.25 - 1e-6 and float(out.max()) <= 0.75 + 1e-6, (
                f"{name}: ignores clip_values"
            )
            masked = _instance(attack, eps=eps, clip_values=(0.0, 1.0), feature_mask=mask, **extra)
            out = _perturb(masked, name, model, x, y)
            frozen = torch.as_tensor(mask == 0, device=device).expand_as(x)
            assert torch.equal(out[frozen], x[frozen]), f"{name}: ignores feature_mask"


def check_gan(gan: Any, X: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
    """Check that a GAN architecture keeps skadv's GAN contract.

    The architecture is clonable; its encoder (``make_encoder(X, random_state,
    categorical)``) round-trips data shapes; ``build`` returns
    a generator that maps ``(z, y_onehot)`` to encoded samples and a discriminator that
    scores them one value per sample; both losses are finite scalars that reach the right
    module's parameters; and a short :class:`~skadv.GANAugmenter` run makes exactly the
    requested rows with finite losses. An architecture without the two losses (not
    adversarial, such as ``tvae``) is not held to the discriminator and loss checks.

    Parameters
    ----------
    gan : GAN class or instance
    X, y : arrays or None, default=None
        Training data in the architecture's input shape; None makes a small tabular set
        (or 8x8 images for architectures with ``input_ndim = 4``).

    Raises
    ------
    AssertionError
        Naming the first broken promise.

    Examples
    --------
    >>> from skadv.gans import ConditionalGAN
    >>> from skadv.testing import check_gan
    >>> check_gan(ConditionalGAN(hidden=(16,)))
    """
    from skadv.gans.base import GANPair
    from skadv.sampling import GANAugmenter

    base, name = _clonable_instance(gan)
    rng = np.random.default_rng(0)
    if X is None:
        shape = (1, 8, 8) if getattr(base, "input_ndim", 2) == 4 else (5,)
        X = rng.random((60,) + shape).astype(np.float32)
        y = np.repeat([0, 1], [40, 20])
    encoder = base.make_encoder(X, 0, ()).fit(X)
    Z = encoder.transform(X)
    assert len(Z) == len(X), f"{name}: encoder changed the number of rows"
    back = encoder.inverse_transform(Z)
    assert back.shape == X.shape, f"{name}: inverse_transform shape {back.shape} != {X.shape}"
    pair = base.build(encoder, 2)
    assert isinstance(pair, GANPair), f"{name}: build must return a GANPair"
    onehot = torch.eye(2)[torch.as_tensor(y[:8])]
    fake = pair.generator(torch.randn(8, base.latent_dim), onehot)
    assert fake.shape[1:] == torch.as_tensor(Z).shape[1:], f"{name}: generator output shape"
    if hasattr(base, "discriminator_loss"):  # adversarial: held to the GAN contract
        scores = pair.discriminator(fake, onehot)
        assert scores.shape == (8,), f"{name}: discriminator must return one score per sample"
        real = torch.as_tensor(Z[:8])
        d_loss = base.discriminator_loss(pair.discriminator, real, fake.detach(), onehot)
        assert d_loss.ndim == 0 and torch.isfinite(d_loss), f"{name}: discriminator loss"
        d_loss.backward()
        assert any(p.grad is not None for p in pair.discriminator.parameters()), (
            f"{name}: discriminator loss does not reach the discriminator"
        )
        g_loss = base.generator_loss(pair.discriminator, fake, onehot)
        assert g_loss.ndim == 0 and torch.isfinite(g_loss), f"{name}: generator loss"
        g_loss.backward()
        assert any(p.grad is not None for p in pair.generator.parameters()), (
            f"{name}: generator loss does not reach the generator"
        )
    counts = {c: int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)}
    wanted = {c: n + 7 for c, n in counts.items()}
    augmenter = GANAugmenter(
        gan=base, sampling_strategy=wanted, max_steps=4, batch_size=16, random_state=0
    )
    X_res, y_res = augmenter.fit_resample(X, y)
    history = augmenter.gan_net_.history
    losses = [history[-1, key] for key in ("d_loss", "g_loss")]
    assert np.all(np.isfinite(losses)), f"{name}: training_step losses are not finite"
    got = {c: int(n) for c, n in zip(*np.unique(y_res, return_counts=True), strict=True)}
    assert got == wanted, f"{name}: asked for {wanted} rows per class, got {got}"
    assert X_res.shape[1:] == X.shape[1:], f"{name}: synthetic rows have the wrong shape"
    assert np.all(np.isfinite(X_res)), f"{name}: synthetic rows hold NaN or infinity"


def check_objective(objective: Any) -> None:
    """Check that a training objective keeps skadv's objective contract.

    The objective is clonable; in a real :class:`~skadv.AdversarialTrainer` step its
    ``loss`` returns a finite scalar that reaches the module's parameters and predictions
    of shape (n_samples, n_classes); one epoch of training with it changes the model.

    Parameters
    ----------
    objective : Objective class or instance

    Raises
    ------
    AssertionError
        Naming the first broken promise.

    Examples
    --------
    >>> from skadv.objectives import TRADES
    >>> from skadv.testing import check_objective
    >>> check_objective(TRADES)
    """
    from skadv.modules import MLP
    from skadv.trainer import AdversarialTrainer

    base, name = _clonable_instance(objective)
    rng = np.random.default_rng(0)
    X = rng.random((64, 6), dtype=np.float32)
    y = np.arange(64) % 3
    net = AdversarialTrainer(
        MLP,
        module__hidden=(8,),
        module__n_features=6,
        objective=base,
        attack="pgd",
        attack__steps=2,
        max_epochs=1,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    net.fit(X, y)
    before = [p.detach().clone() for p in net.module_.parameters()]
    net.partial_fit(X, y)
    Xb, yb = torch.as_tensor(X[:16]), torch.as_tensor(y[:16])
    net.module_.zero_grad(set_to_none=True)
    loss, y_pred = net.objective_.loss(net, Xb, yb)
    assert loss.ndim == 0 and torch.isfinite(loss), f"{name}: loss must be a finite scalar"
    assert y_pred.shape == (16, 3), f"{name}: predictions of shape {tuple(y_pred.shape)}"
    loss.backward()
    assert any(p.grad is not None for p in net.module_.parameters()), (
        f"{name}: the loss does not reach the module's parameters"
    )
    after = list(net.module_.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), (
        f"{name}: an epoch of training left the module unchanged"
    )
