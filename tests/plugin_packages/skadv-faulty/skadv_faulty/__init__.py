"""A test plugin that loads fine but whose attack and GAN raise when used."""

from skadv.attacks import Attack
from skadv.gans import ConditionalGAN
from skadv.hookspecs import hookimpl


class Faulty(Attack):
    def __init__(self, eps=0.1, norm="linf", targeted=False, clip_values=None, feature_mask=None):
        self.eps = eps
        self.norm = norm
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _run(self, ctx):
        raise ZeroDivisionError("bug in the plugin")


class FaultyGAN(ConditionalGAN):
    def build(self, encoder, n_classes):
        raise KeyError("bug in the GAN plugin")


@hookimpl
def skadv_register_attacks(register):
    register("faulty", Faulty)


@hookimpl
def skadv_register_gans(register):
    register("faulty-gan", FaultyGAN)


class FaultyInit(Faulty):
    def __init__(self, eps=0.1, norm="linf", targeted=False, clip_values=None, feature_mask=None):
        raise TypeError("bug in __init__")


class Outside(Faulty):
    """Returns points far outside the eps-ball."""

    def _run(self, ctx):
        return ctx.x + 10


class NaNs(Faulty):
    """Returns NaN."""

    def _run(self, ctx):
        return ctx.x * float("nan")


class HalfPrecision(Faulty):
    """Returns the batch in another dtype."""

    def _run(self, ctx):
        return ctx.x.half()


ATTACKS = {"faulty-init": FaultyInit, "outside": Outside, "nans": NaNs, "half": HalfPrecision}


@hookimpl(specname="skadv_register_attacks")
def register_more_attacks(register):
    for name, attack in ATTACKS.items():
        register(name, attack)
