"""Robust accuracy and scorers, the robustness curve display, and synthetic-data quality."""

from skadv.metrics.display import RobustnessCurveDisplay
from skadv.metrics.robust import (
    RobustScorer,
    attacked_accuracy,
    class_indices,
    logits_module,
    make_robust_scorer,
    robust_accuracy,
)
from skadv.metrics.synthetic import class_coverage, memorization_rate, train_synthetic_test_real

__all__ = [
    "RobustScorer",
    "RobustnessCurveDisplay",
    "attacked_accuracy",
    "class_coverage",
    "class_indices",
    "logits_module",
    "make_robust_scorer",
    "memorization_rate",
    "robust_accuracy",
    "train_synthetic_test_real",
]
