"""A conditional variational autoencoder for tables, in the style of TVAE: ``tvae``."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from skadv.gans.base import GANPair, GenerativeModel
from skadv.gans.encoders import StandardEncoder
from skadv.gans.mlp import mlp


class Decoder(torch.nn.Module):
    """Maps a latent vector and a one-hot class to a row: numbers as means with a learnt
    spread per column, categorical blocks as logits. Called as a generator it samples:
    the means plus Gaussian noise of that spread, one category per block."""

    def __init__(
        self,
        body: torch.nn.Module,
        n_numeric: int,
        widths: Sequence[int],
        latent_dim: int,
        n_classes: int,
    ):
        super().__init__()
        self.body = body
        self.n_numeric = n_numeric
        self.widths = list(widths)
        self.sigma = torch.nn.Parameter(torch.full((n_numeric,), 0.1))
        # the prior of each class: N(prior_mean[c], I), learnt through the KL term, so
        # codes drawn for a class decode to that class even when the code carries it
        self.prior_mean = torch.nn.Parameter(torch.zeros(n_classes, latent_dim))

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, y], dim=1))

    def forward(self, noise: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raw = self.decode(noise + y @ self.prior_mean, y)
        numbers = raw[:, : self.n_numeric]
        out = [numbers + self.sigma * torch.randn_like(numbers)]
        start = self.n_numeric
        for width in self.widths:
            out.append(F.gumbel_softmax(raw[:, start : start + width], tau=1.0, hard=True))
            start += width
        return torch.cat(out, dim=1)


class Encoder(torch.nn.Module):
    """Maps a row and its one-hot class to the mean and log-variance of its latent code."""

    def __init__(self, body: torch.nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.body(torch.cat([x, y], dim=1)).chunk(2, dim=1)
        return mean, log_var


class TVAE(GenerativeModel):
    """A conditional variational autoencoder for tables (after Xu et al. 2019's TVAE):
    ``tvae``.

    Numbers are standardized and categorical columns one-hot; the decoder gives each
    number a mean and a learnt spread (a Gaussian likelihood) and each categorical
    column a softmax (a categorical likelihood), and training maximizes the evidence
    lower bound, with the reconstruction weighted by ``loss_factor``. Each class has its
    own learnt prior mean, and weighs the same in every batch's loss, so that rows of a
    rare class are not pulled toward the common ones. Sampling draws a latent vector
    from the class's prior and decodes it, with the learnt noise. The pair's generator
    is the decoder, its second network the encoder; it is not adversarial, so the
    history's ``g_loss`` is the reconstruction term and ``d_loss`` the KL term.

    Parameters
    ----------
    latent_dim : int, default=128
        Size of the latent code.
    hidden : sequence of int, default=(128, 128)
        Hidden layer widths of the encoder and the decoder.
    loss_factor : float, default=2.0
        Weight of the reconstruction term against the KL term.

    Examples
    --------
    >>> from skadv.gans import TVAE
    >>> TVAE(latent_dim=16)
    TVAE(latent_dim=16)
    """

    learning_rate: ClassVar[float] = 1e-3
    default_steps: ClassVar[int] = 1000
    betas: ClassVar[tuple[float, float]] = (0.9, 0.999)
    _parameter_constraints: ClassVar[dict] = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden": [tuple, list],
        "loss_factor": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self, latent_dim: int = 128, hidden: Sequence[int] = (128, 128), loss_factor: float = 2.0
    ):
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.loss_factor = loss_factor

    def make_encoder(
        self, X: np.ndarray, random_state: int | None = None, categorical: Sequence[int] = ()
    ) -> Any:
        return StandardEncoder(categorical)

    def build(self, encoder: Any, n_classes: int) -> GANPair:
        dim, hidden = encoder.output_dim_, list(self.hidden)
        body = mlp([self.latent_dim + n_classes, *hidden, dim], norm=False)
        decoder = Decoder(body, len(encoder.numeric_), encoder.widths_, self.latent_dim, n_classes)
        encoder_net = Encoder(mlp([dim + n_classes, *hidden, 2 * self.latent_dim], norm=False))
        return GANPair(decoder, encoder_net)

    def training_step(
        self, net: Any, real: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        decoder, encoder = net.module_.generator, net.module_.discriminator
        mean, log_var = encoder(real, y)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        raw = decoder.decode(z, y)
        k = decoder.n_numeric
        sigma = decoder.sigma
        per_row = (((real[:, :k] - raw[:, :k]) ** 2) / (2 * sigma**2)).sum(dim=1) + torch.log(
            sigma
        ).sum()
        start = k
        for width in decoder.widths:
            target = real[:, start : start + width].argmax(dim=1)
            per_row = per_row + F.cross_entropy(
                raw[:, start : start + width], target, reduction="none"
            )
            start += width
        prior = y @ decoder.prior_mean
        kl = -0.5 * torch.sum(1 + log_var - (mean - prior) ** 2 - log_var.exp(), dim=1)
        # every class present weighs the same in the batch, so a rare class is learnt
        counts = y.sum(dim=0)
        weights = (y @ (1.0 / counts.clamp_min(1))) / (counts > 0).sum()
        reconstruction, kl = (weights * per_row).sum(), (weights * kl).sum()
        loss = self.loss_factor * reconstruction + kl
        net.optimizer_generator_.zero_grad()
        net.optimizer_discriminator_.zero_grad()
        net.backward(loss)
        net.optimizer_generator_.step()
        net.optimizer_discriminator_.step()
        with torch.no_grad():
            sigma.clamp_(0.01, 1.0)
        return kl.detach(), reconstruction.detach(), raw.detach()
