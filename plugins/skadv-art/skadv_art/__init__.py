"""skadv-art: registers ART's evasion attacks as skadv attacks, named ``art-*``."""

from skadv.hookspecs import hookimpl
from skadv_art.attacks import (
    ARTAutoAttack,
    ARTAutoPGD,
    ARTCarliniL2,
    ARTCarliniLinf,
    ARTDeepFool,
    ARTHopSkipJump,
    ARTSquare,
)

ATTACKS = {
    "art-cw-l2": ARTCarliniL2,
    "art-cw-linf": ARTCarliniLinf,
    "art-deepfool": ARTDeepFool,
    "art-apgd": ARTAutoPGD,
    "art-square": ARTSquare,
    "art-autoattack": ARTAutoAttack,
    "art-hopskipjump": ARTHopSkipJump,
}


@hookimpl
def skadv_register_attacks(register):
    for name, attack in ATTACKS.items():
        register(name, attack)
