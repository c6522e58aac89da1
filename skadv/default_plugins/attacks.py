"""Registers the built-in attacks."""

from functools import partial

from skadv.attacks import APGD, FAB, FGSM, MIFGSM, PGD, AutoAttack, FGSMRandomStart, Square
from skadv.hookspecs import hookimpl


@hookimpl
def skadv_register_attacks(register):
    register("fgsm", FGSM)
    register("fgsm-rs", FGSMRandomStart)
    register("pgd", PGD)
    register("mi-fgsm", MIFGSM)
    register("apgd-ce", APGD)
    register("apgd-dlr", partial(APGD, loss="dlr"))
    register("apgd-t", partial(APGD, loss="dlr", n_target_classes=9))
    register("fab", FAB)
    register("fab-t", partial(FAB, n_target_classes=9))
    register("square", Square)
    register("autoattack", AutoAttack)
