"""The base classes of the generators GANAugmenter trains, and the two adversarial
losses the built-in GANs use."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import partial
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval


class GANPair(torch.nn.Module):
    """The generator and the discriminator of a GAN, trained together as one skorch module.

    Both are reached through ``forward`` (``part="generator"`` or ``"discriminator"``), so
    a data-parallel wrapper around the pair sees, and synchronizes, every call.

    Parameters
    ----------
    generator : torch.nn.Module
        Maps ``(z, y_onehot)`` to encoded samples.
    discriminator : torch.nn.Module
        Maps ``(x, y_onehot)`` to one logit or critic score per sample.
    """

    def __init__(self, generator: torch.nn.Module, discriminator: torch.nn.Module):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor, y: torch.Tensor, part: str = "generator") -> torch.Tensor:
        """Run one part of the pair.

        Parameters
        ----------
        x : torch.Tensor
            Latent vectors for the generator, samples for the discriminator.
        y : torch.Tensor of shape (n_samples, n_classes)
            One-hot class conditions.
        part : {"generator", "discriminator"}, default="generator"
            Which part to run.

        Returns
        -------
        torch.Tensor
            Encoded samples (generator) or one score per sample (discriminator).
        """
        return getattr(self, part)(x, y)


class GenerativeModel(BaseEstimator, ABC):
    """Base class of the generators :class:`~skadv.GANAugmenter` trains (registered as
    ``gan`` plugins): a conditional generator and a second network trained with it.

    An architecture is a scikit-learn style object whose parameters are its
    hyperparameters (``latent_dim``, layer widths, ...). :class:`~skadv.GANAugmenter`
    calls :meth:`make_encoder` on the training data, :meth:`build` for the modules, and
    :meth:`training_step` on every batch. Generators take ``(z, y_onehot)`` and return
    encoded samples. Adversarial architectures derive from :class:`GAN`, which
    implements :meth:`training_step` from two losses; others (the ``tvae`` autoencoder)
    implement it themselves.

    Subclasses set the class attribute ``input_ndim``: 2 for tabular (n_samples,
    n_features) input, 4 for images (n_samples, C, H, W). They may set ``learning_rate``
    and ``betas`` (the Adam settings :class:`~skadv.GANAugmenter` uses with
    ``lr="auto"``) and ``default_steps`` (its training steps with ``max_steps="auto"``;
    None is 1,000 for tables and 2,000 for images). Methods they implement without a
    docstring take the base class's.
    """

    input_ndim: ClassVar[int] = 2
    learning_rate: ClassVar[float] = 2e-4
    betas: ClassVar[tuple[float, float]] = (0.5, 0.9)
    default_steps: ClassVar[int | None] = None
    _parameter_constraints: ClassVar[dict] = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in (
            "make_encoder",
            "build",
            "training_step",
            "discriminator_loss",
            "generator_loss",
        ):
            method = cls.__dict__.get(name)
            if method is None or method.__doc__:
                continue
            for base in cls.__mro__[1:]:
                documented = getattr(base.__dict__.get(name), "__doc__", None)
                if documented:
                    method.__doc__ = documented
                    break

    @abstractmethod
    def make_encoder(
        self, X: np.ndarray, random_state: int | None = None, categorical: Sequence[int] = ()
    ) -> Any:
        """Return an unfitted encoder (``fit``/``transform``/``inverse_transform``) for ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features) or (n_samples, C, H, W)
            The rows the GAN will learn, numerically coded.
        random_state : int or None, default=None
            Seed for encoders that fit anything random (mixture models).
        categorical : sequence of int, default=()
            Columns that hold category codes 0..k-1, which decoded rows must keep
            integral.

        Returns
        -------
        encoder
        """

    @abstractmethod
    def build(self, encoder: Any, n_classes: int) -> GANPair:
        """Return the generator and discriminator for data encoded by ``encoder``.

        Parameters
        ----------
        encoder : fitted encoder
            The output of :meth:`make_encoder`, fitted.
        n_classes : int
            Number of classes the pair is conditioned on.

        Returns
        -------
        GANPair
        """

    @abstractmethod
    def training_step(
        self, net: Any, real: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimization step on a batch.

        Parameters
        ----------
        net : GANNet
            The training net: ``net.module_`` (the :class:`GANPair`), its optimizers
            ``net.optimizer_generator_`` and ``net.optimizer_discriminator_``,
            ``net.noise(n)`` (latent vectors) and ``net.backward(loss)``.
        real : torch.Tensor
            A batch of encoded real samples.
        y : torch.Tensor of shape (n_samples, n_classes)
            Their one-hot classes.

        Returns
        -------
        d_loss, g_loss : torch.Tensor
            Scalars recorded in the history as ``d_loss`` and ``g_loss``.
        fake : torch.Tensor
            The batch generated in the step.
        """


class GAN(GenerativeModel):
    """Base class of GAN architectures: a conditional generator and discriminator pair.

    Discriminators take ``(x, y_onehot)`` and return one logit or critic score per
    sample. :meth:`training_step` takes ``n_critic`` discriminator steps on
    :meth:`discriminator_loss`, then one generator step on :meth:`generator_loss`;
    subclasses implement the two losses (the built-ins take them from a loss mixin).
    See :class:`GenerativeModel` for the rest of the contract.
    """

    _parameter_constraints: ClassVar[dict] = {
        **GenerativeModel._parameter_constraints,
        "n_critic": [Interval(Integral, 1, None, closed="left")],
    }

    def training_step(
        self, net: Any, real: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        generator = partial(net.module_, part="generator")
        discriminator = partial(net.module_, part="discriminator")
        for _ in range(self.n_critic):
            with torch.no_grad():  # the discriminator step needs no generator graph
                fake = generator(net.noise(len(real)), y)
            d_loss = self.discriminator_loss(discriminator, real, fake, y)
            net.optimizer_discriminator_.zero_grad()
            net.backward(d_loss)
            net.optimizer_discriminator_.step()
        fake = generator(net.noise(len(real)), y)
        g_loss = self.generator_loss(discriminator, fake, y)
        net.optimizer_generator_.zero_grad()
        net.backward(g_loss)
        net.optimizer_generator_.step()
        return d_loss, g_loss, fake

    @abstractmethod
    def discriminator_loss(
        self,
        discriminator: torch.nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        y: torch.Tensor,
    ) -> torch.Tensor:
        """Loss the discriminator minimizes on a batch of real and generated samples.

        Parameters
        ----------
        discriminator : callable
            ``discriminator(x, y_onehot)``, one score per sample.
        real : torch.Tensor
            Encoded real samples.
        fake : torch.Tensor
            Generated samples, same shape.
        y : torch.Tensor of shape (n_samples, n_classes)
            One-hot class conditions.

        Returns
        -------
        torch.Tensor
            A scalar.
        """

    @abstractmethod
    def generator_loss(
        self, discriminator: torch.nn.Module, fake: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """Loss the generator minimizes on a batch of generated samples.

        Parameters
        ----------
        discriminator : callable
            ``discriminator(x, y_onehot)``, one score per sample.
        fake : torch.Tensor
            Generated samples.
        y : torch.Tensor of shape (n_samples, n_classes)
            One-hot class conditions.

        Returns
        -------
        torch.Tensor
            A scalar.
        """


class NonSaturatingLoss:
    """The original GAN loss with the non-saturating generator objective."""

    def discriminator_loss(self, discriminator, real, fake, y):
        # one pass over both halves: half the per-layer overhead of two passes
        real_logits, fake_logits = discriminator(
            torch.cat([real, fake]), torch.cat([y, y])
        ).chunk(2)
        return F.binary_cross_entropy_with_logits(
            real_logits, torch.ones_like(real_logits)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))

    def generator_loss(self, discriminator, fake, y):
        logits = discriminator(fake, y)
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


class WassersteinGPLoss:
    """The Wasserstein loss with a gradient penalty of weight ``gp_weight`` (Gulrajani 2017)."""

    def discriminator_loss(self, discriminator, real, fake, y):
        alpha = torch.rand((len(real),) + (1,) * (real.ndim - 1), device=real.device)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(mixed, y).sum(), mixed, create_graph=True)
        penalty = ((grad.reshape(len(grad), -1).norm(dim=1) - 1) ** 2).mean()
        wasserstein = discriminator(fake, y).mean() - discriminator(real, y).mean()
        return wasserstein + self.gp_weight * penalty

    def generator_loss(self, discriminator, fake, y):
        return -discriminator(fake, y).mean()
