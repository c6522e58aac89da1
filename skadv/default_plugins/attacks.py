"""Registers the built-in attacks."""

from skadv.attacks import FGSM, MIFGSM, PGD, FGSMRandomStart
from skadv.hookspecs import hookimpl


@hookimpl
def skadv_register_attacks(register):
    register("fgsm", FGSM)
    register("fgsm-rs", FGSMRandomStart)
    register("pgd", PGD)
    register("mi-fgsm", MIFGSM)
