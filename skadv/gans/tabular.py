"""A tabular GAN for multi-modal continuous and categorical columns: ``tabular``."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from skadv.gans.base import GAN, GANPair, WassersteinGPLoss
from skadv.gans.encoders import ModeSpecificEncoder
from skadv.gans.mlp import ConditionalDiscriminator, ConditionalGenerator, mlp


class Residual(torch.nn.Module):
    """CTGAN's generator block: its input concatenated with Linear-BatchNorm-ReLU of it."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.block = torch.nn.Sequential(
            torch.nn.Linear(n_in, n_out), torch.nn.BatchNorm1d(n_out), torch.nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.block(x), x], dim=1)


class TabularGAN(WassersteinGPLoss, GAN):
    """A conditional GAN for mixed tabular data, in the spirit of CTGAN (Xu et al. 2019).

    Continuous columns get mode-specific normalization (a Bayesian Gaussian mixture per
    column; a value is encoded as its mode and its offset within it), categorical columns
    a one-hot encoding; the generator emits tanh offsets and Gumbel-softmax modes and
    categories, and a Wasserstein critic with gradient penalty judges the rows.

    Categorical columns are those :class:`~skadv.GANAugmenter` detects or is told about
    (its ``categorical`` parameter); synthetic rows only take categories seen in them.

    Parameters
    ----------
    max_modes : int, default=10
        Largest number of modes per continuous column.
    latent_dim : int, default=64
        Size of the noise vector.
    hidden : sequence of int, default=(256, 256)
        Widths of the generator's residual blocks and the critic's layers.
    n_critic : int, default=1
        Critic steps per generator step.
    gp_weight : float, default=10.0
        Weight of the gradient penalty.

    Examples
    --------
    >>> from skadv.gans import TabularGAN
    >>> TabularGAN(max_modes=5)
    TabularGAN(max_modes=5)
    """

    _parameter_constraints: ClassVar[dict] = {
        **GAN._parameter_constraints,
        "max_modes": [Interval(Integral, 1, None, closed="left")],
        "hidden": [tuple, list],
        "gp_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        max_modes: int = 10,
        latent_dim: int = 64,
        hidden: Sequence[int] = (256, 256),
        n_critic: int = 1,
        gp_weight: float = 10.0,
    ):
        self.max_modes = max_modes
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.n_critic = n_critic
        self.gp_weight = gp_weight

    def make_encoder(
        self, X: np.ndarray, random_state: int | None = None, categorical: Sequence[int] = ()
    ) -> Any:
        return ModeSpecificEncoder(categorical, self.max_modes, random_state)

    def build(self, encoder: Any, n_classes: int) -> GANPair:
        dim = encoder.output_dim_
        blocks: list[torch.nn.Module] = []
        width = self.latent_dim + n_classes
        for units in self.hidden:
            blocks.append(Residual(width, units))
            width += units
        body = torch.nn.Sequential(*blocks, torch.nn.Linear(width, dim))
        critic = mlp([dim + n_classes, *self.hidden, 1], norm=False, dropout=0.5)
        return GANPair(
            ConditionalGenerator(body, encoder.activate), ConditionalDiscriminator(critic)
        )
