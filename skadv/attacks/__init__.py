"""Attacks: the base class and the built-in attacks."""

from skadv.attacks.apgd import APGD
from skadv.attacks.autoattack import AutoAttack
from skadv.attacks.base import Attack, AttackContext
from skadv.attacks.fab import FAB
from skadv.attacks.fgsm import FGSM, FGSMRandomStart
from skadv.attacks.momentum import MIFGSM
from skadv.attacks.pgd import PGD
from skadv.attacks.square import Square

__all__ = [
    "APGD",
    "Attack",
    "AttackContext",
    "AutoAttack",
    "FAB",
    "FGSM",
    "FGSMRandomStart",
    "MIFGSM",
    "PGD",
    "Square",
]
