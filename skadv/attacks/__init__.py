"""Attacks: the base class and the built-in gradient attacks."""

from skadv.attacks.base import Attack, AttackContext
from skadv.attacks.fgsm import FGSM, FGSMRandomStart
from skadv.attacks.momentum import MIFGSM
from skadv.attacks.pgd import PGD

__all__ = ["Attack", "AttackContext", "FGSM", "FGSMRandomStart", "MIFGSM", "PGD"]
