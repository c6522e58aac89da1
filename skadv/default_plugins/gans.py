"""Registers the built-in GAN architectures."""

from skadv.gans import DCGAN, TVAE, WGANGP, ConditionalGAN, TabularGAN
from skadv.hookspecs import hookimpl


@hookimpl
def skadv_register_gans(register):
    register("cgan", ConditionalGAN)
    register("wgan-gp", WGANGP)
    register("dcgan", DCGAN)
    register("tabular", TabularGAN)
    register("tvae", TVAE)
