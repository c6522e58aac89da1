"""skadv: adversarial robustness and GAN data augmentation as scikit-learn estimators."""

from importlib.metadata import version

from skadv.attacks import FGSM, MIFGSM, PGD, Attack, FGSMRandomStart
from skadv.augment import GANAugmenter
from skadv.callbacks import RobustScoring
from skadv.metrics import RobustnessCurveDisplay, make_robust_scorer, robust_accuracy
from skadv.plugins import (
    get_attack,
    get_gan,
    get_objective,
    list_attacks,
    list_gans,
    list_objectives,
    register_plugin,
)
from skadv.trainer import AdversarialTrainer

__version__ = version("skadv")

__all__ = [
    "AdversarialTrainer",
    "Attack",
    "FGSM",
    "FGSMRandomStart",
    "GANAugmenter",
    "MIFGSM",
    "PGD",
    "RobustScoring",
    "RobustnessCurveDisplay",
    "get_attack",
    "get_gan",
    "get_objective",
    "list_attacks",
    "list_gans",
    "list_objectives",
    "make_robust_scorer",
    "register_plugin",
    "robust_accuracy",
]
