"""skadv: adversarial robustness and GAN data augmentation as scikit-learn estimators."""

from importlib.metadata import version

from skadv.attacks import FGSM, MIFGSM, PGD, Attack, FGSMRandomStart
from skadv.callbacks import RobustScoring
from skadv.detection import AdversarialDetector
from skadv.metrics import (
    RobustnessCurveDisplay,
    adversarial_examples,
    make_robust_scorer,
    robust_accuracy,
)
from skadv.pipeline import Pipeline, make_pipeline
from skadv.plugins import (
    get_attack,
    get_gan,
    get_objective,
    list_attacks,
    list_gans,
    list_objectives,
    register_plugin,
)
from skadv.sampling import GANAugmenter
from skadv.smoothing import RandomizedSmoothingClassifier
from skadv.threat import ThreatModel
from skadv.trainer import AdversarialTrainer

__version__ = version("skadv")

__all__ = [
    "AdversarialDetector",
    "AdversarialTrainer",
    "Attack",
    "FGSM",
    "FGSMRandomStart",
    "GANAugmenter",
    "MIFGSM",
    "Pipeline",
    "PGD",
    "RandomizedSmoothingClassifier",
    "RobustScoring",
    "RobustnessCurveDisplay",
    "adversarial_examples",
    "get_attack",
    "get_gan",
    "get_objective",
    "list_attacks",
    "list_gans",
    "list_objectives",
    "make_pipeline",
    "make_robust_scorer",
    "register_plugin",
    "robust_accuracy",
    "ThreatModel",
]
