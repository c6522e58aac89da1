"""Robust accuracy and scorers, the robustness curve display, and synthetic-data quality."""

from skadv.metrics.display import (
    CertifiedAccuracyDisplay,
    DetectionCurveDisplay,
    RobustnessCurveDisplay,
)
from skadv.metrics.report import RobustnessReport, robustness_report
from skadv.metrics.robust import (
    CertifiedScorer,
    RobustScorer,
    adversarial_examples,
    attacked_accuracy,
    class_indices,
    make_robust_scorer,
    robust_accuracy,
)
from skadv.metrics.synthetic import (
    class_coverage,
    memorization_rate,
    synthetic_report,
    train_synthetic_test_real,
)
from skadv.metrics.target import logits_module

__all__ = [
    "RobustScorer",
    "RobustnessReport",
    "CertifiedAccuracyDisplay",
    "CertifiedScorer",
    "DetectionCurveDisplay",
    "RobustnessCurveDisplay",
    "adversarial_examples",
    "attacked_accuracy",
    "class_coverage",
    "class_indices",
    "logits_module",
    "make_robust_scorer",
    "memorization_rate",
    "robust_accuracy",
    "robustness_report",
    "synthetic_report",
    "train_synthetic_test_real",
]
