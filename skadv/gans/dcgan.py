"""A conditional DCGAN for small images: ``dcgan``."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from skadv.gans.base import GAN, GANPair, NonSaturatingLoss
from skadv.gans.encoders import RangeEncoder


def _upsamplings(size: int) -> int:
    """Stride-2 steps that take a base grid of at most 7 pixels to ``size``."""
    steps = 0
    while size > 7 and size % 2 == 0:
        size //= 2
        steps += 1
    if size > 7:
        raise ValueError(
            f"dcgan needs square images whose side halves down to 7 pixels or less "
            f"(8x8, 28x28, 32x32, 64x64...); got side {size * 2**steps}."
        )
    return steps


class DCGANGenerator(torch.nn.Module):
    def __init__(self, latent_dim: int, n_classes: int, channels: int, side: int, width: int):
        super().__init__()
        self.steps = _upsamplings(side)
        self.base = side // 2**self.steps
        self.width = width * 2**self.steps
        self.project = torch.nn.Sequential(
            torch.nn.Linear(latent_dim + n_classes, self.width * self.base**2),
            torch.nn.BatchNorm1d(self.width * self.base**2),
            torch.nn.ReLU(),
        )
        layers: list[torch.nn.Module] = []
        c = self.width
        for i in range(self.steps):
            last = i == self.steps - 1
            out = channels if last else c // 2
            layers.append(torch.nn.ConvTranspose2d(c, out, 4, stride=2, padding=1))
            if not last:
                layers += [torch.nn.BatchNorm2d(out), torch.nn.ReLU()]
            c = out
        if not layers:
            layers.append(torch.nn.Conv2d(c, channels, 3, padding=1))
        self.deconv = torch.nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, y], dim=1)).view(-1, self.width, self.base, self.base)
        return torch.tanh(self.deconv(h))


class DCGANDiscriminator(torch.nn.Module):
    def __init__(self, n_classes: int, channels: int, side: int, width: int):
        super().__init__()
        steps = _upsamplings(side)
        layers: list[torch.nn.Module] = []
        c = channels + n_classes
        for i in range(steps):
            out = width * 2**i
            layers += [torch.nn.Conv2d(c, out, 4, stride=2, padding=1), torch.nn.LeakyReLU(0.2)]
            c = out
        self.conv = torch.nn.Sequential(*layers, torch.nn.Flatten())
        self.head = torch.nn.Linear(c * (side // 2**steps) ** 2, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        maps = y[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.head(self.conv(torch.cat([x, maps], dim=1))).squeeze(1)


class DCGAN(NonSaturatingLoss, GAN):
    """A conditional DCGAN (Radford et al. 2016) for images of shape (C, H, W): ``dcgan``.

    The class enters the generator with the noise and the discriminator as constant
    feature maps. Square images whose side halves down to at most 7 pixels work:
    8x8 (scikit-learn's digits), 28x28, 32x32, 64x64.

    Parameters
    ----------
    latent_dim : int, default=64
        Size of the noise vector.
    width : int, default=32
        Channels of the discriminator's first convolution; the generator mirrors it.
    n_critic : int, default=1
        Discriminator steps per generator step.

    Examples
    --------
    >>> from skadv.gans import DCGAN
    >>> DCGAN(width=16)
    DCGAN(width=16)
    """

    input_ndim: ClassVar[int] = 4
    _parameter_constraints: ClassVar[dict] = {
        **GAN._parameter_constraints,
        "width": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, latent_dim: int = 64, width: int = 32, n_critic: int = 1):
        self.latent_dim = latent_dim
        self.width = width
        self.n_critic = n_critic

    def make_encoder(
        self, X: np.ndarray, random_state: int | None = None, categorical: Sequence[int] = ()
    ) -> Any:
        if X.shape[2] != X.shape[3]:
            raise ValueError(f"dcgan needs square images; got shape {X.shape[1:]}.")
        _upsamplings(X.shape[2])
        return RangeEncoder()

    def build(self, encoder: Any, n_classes: int) -> GANPair:
        channels, side, _ = encoder.shape_
        return GANPair(
            DCGANGenerator(self.latent_dim, n_classes, channels, side, self.width),
            DCGANDiscriminator(n_classes, channels, side, self.width),
        )
