"""What an evaluation attacks: a fitted estimator seen from the X the user passes.

For a Pipeline, the fitted transformers become a torch view (:mod:`skadv.differentiable`)
composed with the final torch module, so every attack crafts in the pipeline's raw input
space, where the threat model states its budget, bounds and columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from skadv.differentiable import NotTranslatableError, encoded_categorical, torch_view
from skadv.exceptions import NotDifferentiableError
from skadv.plugins import get_registry
from skadv.precision import placement
from skadv.tables import TableSchema
from skadv.threat.feasible import FeasibleSet
from skadv.threat.model import ThreatModel


class _LogProbabilities(torch.nn.Module):
    """Turns a module that outputs probabilities into one that outputs log-probabilities.

    Cross-entropy on log-probabilities equals the negative log-likelihood the module was
    trained with, so attacks can treat the output as logits.
    """

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.module(x).clamp_min(1e-12))


def gradient_free_attacks() -> list[str]:
    """Names of the registered attacks that need no gradients."""
    components = get_registry().components["attack"]
    return sorted(
        name for name, c in components.items() if not getattr(c.factory, "needs_gradients", True)
    )


def _served_by() -> str:
    free = gradient_free_attacks()
    if free:
        return f"Gradient-free attacks that could serve it: {', '.join(free)}."
    return "No gradient-free attack is installed."


def logits_module(estimator: Any) -> torch.nn.Module:
    """The fitted torch module of ``estimator``, returning logits (or log-probabilities).

    Parameters
    ----------
    estimator : skorch NeuralNetClassifier or skadv estimator
        A fitted classifier with a ``module_`` attribute.

    Returns
    -------
    torch.nn.Module
    """
    module = getattr(estimator, "module_", None)
    if not isinstance(module, torch.nn.Module):
        check_is_fitted(estimator)
        raise NotDifferentiableError(
            f"{type(estimator).__name__} has no torch module, so gradient-based attacks "
            f"cannot compute its input gradients. {_served_by()}"
        )
    if isinstance(getattr(estimator, "criterion_", None), torch.nn.NLLLoss):
        return _LogProbabilities(module)
    return module


def _split(estimator: Any) -> tuple[list[tuple[str, Any]], Any]:
    """The transforming steps of a pipeline (samplers act in fit only) and its last step."""
    if not isinstance(estimator, Pipeline):
        return [], estimator
    steps = [
        (name, step)
        for name, step in estimator.steps[:-1]
        if not hasattr(step, "fit_resample") and step not in (None, "passthrough")
    ]
    return steps, estimator.steps[-1][1]


@dataclass
class Target:
    """A fitted classifier as an attack sees it.

    Attributes
    ----------
    estimator : estimator
        What the user passed.
    final : estimator
        The classifier at its end.
    threat : ThreatModel
        The fitted threat model in the raw input space.
    X : ndarray
        The encoded raw inputs (float32), in the shape the module takes.
    index : Any
        The row index of a DataFrame input, kept for decoding.
    module : torch.nn.Module or None
        Encoded raw input -> logits; None for estimators without a torch module.
    """

    estimator: Any
    final: Any
    threat: ThreatModel
    X: np.ndarray
    index: Any
    module: torch.nn.Module | None

    @property
    def schema(self) -> TableSchema:
        """Column kinds, bounds and categories of the raw input."""
        return self.threat.schema_

    def feasible_set(self, eps: float | None, norm: str) -> FeasibleSet:
        """The feasible set with the budget and norm of this evaluation."""
        return self.threat.feasible_set(eps=eps, norm=norm)

    def decode(self, Z: np.ndarray) -> Any:
        """Encoded rows back to the user's type (a DataFrame keeps its index)."""
        return self.schema.decode(Z, index=self.index)

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        """Class probabilities of encoded rows, from the estimator itself."""
        return self.estimator.predict_proba(self.decode(Z))

    @property
    def channels_last(self) -> bool:
        """Whether the final estimator keeps images channels-last."""
        return bool(getattr(self.final, "channels_last", False))


def _fitted_threat(final: Any, transformers: list) -> ThreatModel | None:
    """The threat model the final estimator was trained with, if it lives in the raw space."""
    threat = getattr(final, "threat_", None)
    if threat is None or (transformers and not getattr(final, "raw_space_", False)):
        return None
    return threat


def attack_target(
    estimator: Any, X: Any, threat_model: ThreatModel | None, *, needs_module: bool
) -> Target:
    """The target of an evaluation of ``estimator`` on ``X`` under ``threat_model``.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
    X : DataFrame or array-like
        Raw inputs, as the estimator takes them.
    threat_model : ThreatModel or None
        Fitted here on ``X`` when given. None takes the threat model the estimator was
        trained with in this space (its bounds come from the training data), or else a
        default ``ThreatModel()`` fitted on ``X``.
    needs_module : bool
        Whether the attack needs gradients (then a torch module is required).

    Returns
    -------
    Target
    """
    transformers, final = _split(estimator)
    n_columns = X.shape[1] if np.ndim(X) >= 2 else 0
    categorical = encoded_categorical([step for _, step in transformers], n_columns)
    threat = None if threat_model is not None else _fitted_threat(final, transformers)
    if threat is None:
        threat = clone(threat_model if threat_model is not None else ThreatModel())
        threat.fit(X, encoded_categorical=categorical)
    Z = threat.schema_.encode(X)
    if np.isnan(Z).any():
        raise ValueError(
            "X holds missing values (NaN); attacks need complete rows. Impute them before "
            "the evaluation."
        )
    module = None
    if needs_module or hasattr(final, "module_"):
        module = logits_module(final)
        if transformers:
            view = _view(transformers, threat.schema_)
            module = torch.nn.Sequential(view.to(placement(module)[0]), module)
    index = X.index if hasattr(X, "index") and hasattr(X, "columns") else None
    return Target(estimator, final, threat, Z, index, module)


def _view(transformers: list[tuple[str, Any]], schema: TableSchema) -> torch.nn.Module:
    """The torch view of a pipeline's transformers, on the final module's device."""
    try:
        view, _ = torch_view(Pipeline(transformers), schema.columns_)
    except NotTranslatableError as exc:
        raise NotTranslatableError(
            f"Gradient attacks cannot reach this pipeline's raw input: {exc} {_served_by()}"
        ) from None
    return view
