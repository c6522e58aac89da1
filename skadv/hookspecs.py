"""Hook markers and hook specifications of the ``skadv`` plugin system."""

import pluggy

__all__ = [
    "hookimpl",
    "hookspec",
    "skadv_register_attacks",
    "skadv_register_gans",
    "skadv_register_objectives",
]

hookspec = pluggy.HookspecMarker("skadv")
hookimpl = pluggy.HookimplMarker("skadv")


@hookspec
def skadv_register_attacks(register):
    """Register attacks by calling ``register(name, attack_class)`` once per attack.

    Parameters
    ----------
    register : callable
        ``register(name, factory)``: ``name`` is the string users pass (``attack="pgd"``),
        ``factory`` a class (or callable) that makes the component from keyword
        parameters.
    """


@hookspec
def skadv_register_gans(register):
    """Register GAN architectures by calling ``register(name, gan_class)`` once per architecture.

    Parameters
    ----------
    register : callable
        ``register(name, factory)``: ``name`` is the string users pass (``attack="pgd"``),
        ``factory`` a class (or callable) that makes the component from keyword
        parameters.
    """


@hookspec
def skadv_register_objectives(register):
    """Register adversarial training objectives by calling ``register(name, objective_class)``.

    Parameters
    ----------
    register : callable
        ``register(name, factory)``: ``name`` is the string users pass (``attack="pgd"``),
        ``factory`` a class (or callable) that makes the component from keyword
        parameters.
    """
