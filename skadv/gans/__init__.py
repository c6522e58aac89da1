"""GAN architectures (the base class and the built-ins, and the ``tvae`` autoencoder that
shares their interface) and the GAN training loop."""

from skadv.gans.base import GAN, GANPair, GenerativeModel
from skadv.gans.dcgan import DCGAN
from skadv.gans.mlp import WGANGP, ConditionalGAN
from skadv.gans.tabular import TabularGAN
from skadv.gans.tvae import TVAE

__all__ = [
    "DCGAN",
    "GAN",
    "GANPair",
    "GenerativeModel",
    "ConditionalGAN",
    "TabularGAN",
    "TVAE",
    "WGANGP",
]
