"""Hook markers and hook specifications of the ``skadv`` plugin system."""

import pluggy

hookspec = pluggy.HookspecMarker("skadv")
hookimpl = pluggy.HookimplMarker("skadv")


@hookspec
def skadv_register_attacks(register):
    """Register attacks by calling ``register(name, attack_class)`` once per attack."""


@hookspec
def skadv_register_gans(register):
    """Register GAN architectures by calling ``register(name, gan_class)`` once per architecture."""


@hookspec
def skadv_register_objectives(register):
    """Register adversarial training objectives by calling ``register(name, objective_class)``."""
