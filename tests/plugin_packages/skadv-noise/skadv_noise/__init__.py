"""A well-behaved test plugin: registers a random-noise attack."""

from skadv.attacks import Attack
from skadv.hookspecs import hookimpl


class UniformNoise(Attack):
    """Adds uniform noise of size eps: a baseline attack that needs no model."""

    def __init__(self, eps=0.1, norm="linf", targeted=False, clip_values=None, feature_mask=None):
        self.eps = eps
        self.norm = norm
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _run(self, ctx):
        return ctx.project(ctx.x + ctx.random_delta(self.eps))


@hookimpl
def skadv_register_attacks(register):
    register("uniform-noise", UniformNoise)
