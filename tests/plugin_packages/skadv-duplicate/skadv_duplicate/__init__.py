"""A test plugin that registers a name a built-in already has."""

from skadv.attacks import FGSM
from skadv.hookspecs import hookimpl


@hookimpl
def skadv_register_attacks(register):
    register("fgsm", FGSM)
    register("fgsm-copy", FGSM)
