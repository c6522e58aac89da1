"""Robust accuracy, adversarial examples and robust scorers for model selection.

Every evaluation happens in the raw input space of the estimator: the X the user passes.
For a Pipeline, the attack crafts through the torch view of its fitted transformers, and
eps, bounds and immutable or categorical columns are those of the threat model, stated in
the units and columns of that X.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.validation import column_or_1d
from tqdm.auto import tqdm

from skadv.metrics.target import Target, attack_target
from skadv.plugins import plugin_errors, resolve_attack
from skadv.precision import PRECISIONS, autocast, placement
from skadv.threat.feasible import FeasibleSet
from skadv.threat.model import ThreatModel
from skadv.validation import Number, check_fitted_classifier, unique_labels


def class_indices(estimator: Any, y: Any) -> np.ndarray:
    """Map labels ``y`` to column indices of ``estimator.classes_``.

    Parameters
    ----------
    estimator : fitted classifier
        Has ``classes_``.
    y : array-like of shape (n_samples,)
        Labels the estimator knows.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    classes = np.asarray(estimator.classes_)
    y = np.asarray(y)
    unseen = np.setdiff1d(unique_labels(y), classes)
    if unseen.size:
        raise ValueError(
            f"y contains labels never seen in fit: {unseen.tolist()[:10]}; "
            f"the estimator knows {classes.tolist()[:20]}."
        )
    return np.searchsorted(classes, y)


def _precision(estimator: Any, precision: str) -> str:
    if precision == "auto":
        own = getattr(estimator, "precision", "fp32")
        return own if own in PRECISIONS else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be 'auto' or one of {', '.join(PRECISIONS)}, got {precision!r}."
        )
    return precision


def _check_scoring_params(eps: Any, batch_size: Any, threat_model: Any, caller: str) -> None:
    validate_parameter_constraints(
        {
            "eps": [Number(Real, 0, None, closed="left"), None],
            "batch_size": [Interval(Integral, 1, None, closed="left")],
            "threat_model": [ThreatModel, None],
        },
        {"eps": eps, "batch_size": batch_size, "threat_model": threat_model},
        caller_name=caller,
    )


def _check_attack_params(attack_params: dict) -> None:
    stated_elsewhere = sorted({"clip_values", "feature_mask"} & set(attack_params))
    if stated_elsewhere:
        raise TypeError(
            f"{', '.join(stated_elsewhere)} belong to the threat model here: pass "
            "threat_model=ThreatModel(bounds=..., immutable=[...]) instead."
        )


def _check_input_shape(estimator: Any, X: Any) -> None:
    """Refuse samples of another shape than the estimator was fitted on."""
    fitted = getattr(estimator, "sample_shape_", None)
    shape = tuple(np.shape(X)[1:])
    if fitted is None:
        n_features = getattr(estimator, "n_features_in_", None)
        fitted = None if n_features is None or len(shape) != 1 else (n_features,)
    if fitted is not None and shape != tuple(fitted):
        raise ValueError(
            f"X has samples of shape {shape}, but {type(estimator).__name__} was fitted "
            f"on samples of shape {tuple(fitted)}; pass X in the shape used in fit."
        )


@dataclass
class Evaluation:
    """One evaluation, validated: the target, the configured attack and its feasible set."""

    target: Target
    attack: Any
    feasible: FeasibleSet
    y: np.ndarray
    precision: str

    @property
    def white_box(self) -> bool:
        """Whether the attack uses the target's torch module (else only its predictions)."""
        return getattr(self.attack, "needs_gradients", True) or self.target.module is not None

    def batches(
        self, batch_size: int, verbose: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Adversarial batches of the target's inputs, in its encoded raw space."""
        return _adversarial_batches(
            self.target.module,
            self.target.X,
            self.y,
            self.attack,
            self.feasible,
            batch_size=batch_size,
            precision=self.precision,
            channels_last=self.target.channels_last,
            verbose=verbose,
        )


def evaluation(
    estimator: Any,
    X: Any,
    y: Any,
    attack: Any,
    *,
    eps: float | None,
    threat_model: ThreatModel | None,
    batch_size: int,
    precision: str,
    attack_params: dict,
    caller: str,
) -> Evaluation:
    """Validate an evaluation and resolve its threat model in the raw input space."""
    check_fitted_classifier(estimator)
    _check_scoring_params(eps, batch_size, threat_model, caller)
    _check_attack_params(attack_params)
    if not (hasattr(X, "columns") and hasattr(X, "dtypes")):
        X = check_array(X, allow_nd=True, dtype=np.float32, input_name="X")
    _check_input_shape(estimator, X)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    targets = class_indices(estimator, y)
    attack_ = resolve_attack(attack, **attack_params)
    target = attack_target(
        estimator, X, threat_model, needs_module=getattr(attack_, "needs_gradients", True)
    )
    threat = target.threat
    budget = eps if eps is not None else threat.eps if threat.eps is not None else attack_.eps
    norm = threat.norm or getattr(attack_, "norm", "linf")
    attack_.set_params(eps=budget, **({"norm": norm} if "norm" in attack_.get_params() else {}))
    attack_._validate_params()
    return Evaluation(
        target,
        attack_,
        target.feasible_set(budget, norm),
        targets,
        _precision(target.final, precision),
    )


def _adversarial_batches(
    module: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    attack: Any,
    feasible: FeasibleSet | None,
    *,
    batch_size: int,
    precision: str,
    channels_last: bool,
    verbose: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Adversarial batches of ``X`` (on the module's device) and their class indices,
    with a progress bar over the batches when ``verbose`` (or over the attacks of an
    ensemble that batches itself)."""
    device, dtype = placement(module)
    targets = torch.as_tensor(y, device=device)
    if feasible is not None:
        feasible = feasible.to(torch.empty(0, device=device, dtype=dtype))
    memory_format = torch.channels_last if channels_last and X.ndim == 4 else None
    if getattr(attack, "batches_itself", False):
        attack.set_params(batch_size=batch_size)
        if verbose and "verbose" in attack.get_params():
            attack.set_params(verbose=True)
        batch_size, verbose = max(len(X), 1), False
    starts = range(0, len(X), batch_size)
    for start in tqdm(starts, desc=type(attack).__name__, unit="batch", disable=not verbose):
        xb = torch.as_tensor(X[start : start + batch_size], device=device, dtype=dtype)
        if memory_format is not None:
            xb = xb.contiguous(memory_format=memory_format)
        yb = targets[start : start + batch_size]
        with autocast(device, precision), plugin_errors(attack):
            yield attack.run(module, xb, yb, feasible=feasible), yb


def _count_correct(module: torch.nn.Module, batches: Any, precision: str) -> int:
    correct = 0
    for x_adv, yb in batches:
        with torch.no_grad(), autocast(x_adv.device, precision):
            correct += int((module(x_adv).argmax(dim=1) == yb).sum())
    return correct


def _black_box(ev: Evaluation) -> np.ndarray:
    """A gradient-free attack's adversarial rows (encoded), checked like any attack's."""
    target = ev.target
    with plugin_errors(ev.attack):
        X_adv = ev.attack.attack_estimator(target.predict_proba, target.X, ev.y, ev.feasible)
    ev.attack._check_output(
        torch.as_tensor(np.asarray(X_adv, dtype=target.X.dtype)),
        torch.as_tensor(target.X),
        ev.feasible,
    )
    return np.asarray(X_adv, dtype=target.X.dtype)


def accuracy_under_attack(ev: Evaluation, batch_size: int, verbose: bool = False) -> float:
    """The share of an evaluation's samples the attack does not fool."""
    if not ev.white_box:
        proba = ev.target.predict_proba(_black_box(ev))
        return float(np.mean(np.argmax(proba, axis=1) == ev.y))
    batches = ev.batches(batch_size, verbose)
    return _count_correct(ev.target.module, batches, ev.precision) / len(ev.y)


def robust_accuracy(
    estimator: Any,
    X: Any,
    y: Any,
    attack: Any = "pgd",
    *,
    eps: float | None = None,
    threat_model: ThreatModel | None = None,
    batch_size: int = 256,
    precision: str = "auto",
    verbose: bool = False,
    **attack_params: Any,
) -> float:
    """Accuracy of a fitted classifier on adversarial versions of ``X``.

    The attack works in the space of the ``X`` you pass: for a Pipeline it crafts through
    the preprocessing (scalers, imputers, encoders, ``ColumnTransformer``, PCA ...), so
    ``eps`` and the bounds are in the units of ``X``, and its columns can be named.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline
        A torch classifier (skorch net, skadv estimator) for gradient attacks, alone or
        at the end of a Pipeline; any classifier with ``predict_proba`` for gradient-free
        attacks (``needs_gradients = False``).
    X : DataFrame or array-like of shape (n_samples, ...)
        Clean raw inputs.
    y : array-like of shape (n_samples,)
        True labels.
    attack : str or Attack, default="pgd"
        A registered attack name (see :func:`skadv.list_attacks`) or an attack object.
    eps : float or None, default=None
        Budget; ``None`` takes the threat model's, else the attack's own.
    threat_model : ThreatModel or None, default=None
        What the attacker may change, fitted here on ``X``. ``None`` takes the threat
        model the estimator was trained with in this space (bounds from its training
        data), else ``ThreatModel()`` on ``X``: per-feature bounds of ``X``, every
        column mutable, categorical columns fixed.
    batch_size : int, default=256
        Samples attacked at once; memory stays flat however large ``X`` is.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype of the attack's and the final prediction's forward passes.
        ``"auto"`` takes the estimator's own ``precision`` (an
        :class:`~skadv.AdversarialTrainer` trained in bf16 is judged in bf16) and is
        fp32 for anything else; the estimator's ``channels_last`` is followed too.
    verbose : bool, default=False
        Show a progress bar over the batches (over the attacks, for AutoAttack).
    **attack_params
        Further attack parameters, such as ``steps=20``, or ``early_stop=True`` for the
        iterative attacks, which is faster and finds at least the same adversarial
        examples.

    Returns
    -------
    float
        Fraction of samples still classified correctly after the attack.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skadv import robust_accuracy
    >>> X = np.random.RandomState(0).rand(60, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(np.int64)
    >>> net = NeuralNetClassifier(torch.nn.Linear, module__in_features=4,
    ...     module__out_features=2, criterion=torch.nn.CrossEntropyLoss,
    ...     max_epochs=5, verbose=0, train_split=None).fit(X, y)
    >>> 0.0 <= robust_accuracy(net, X, y, "fgsm", eps=0.05) <= 1.0
    True
    """
    ev = evaluation(
        estimator,
        X,
        y,
        attack,
        eps=eps,
        threat_model=threat_model,
        batch_size=batch_size,
        precision=precision,
        attack_params=attack_params,
        caller="robust_accuracy",
    )
    return accuracy_under_attack(ev, batch_size, verbose)


def adversarial_examples(
    estimator: Any,
    X: Any,
    y: Any,
    attack: Any = "pgd",
    *,
    eps: float | None = None,
    threat_model: ThreatModel | None = None,
    batch_size: int = 256,
    precision: str = "auto",
    **attack_params: Any,
) -> Any:
    """Adversarial versions of ``X`` for a fitted classifier, in the type of ``X``.

    A DataFrame comes back as a DataFrame with the same columns, dtypes, categories and
    index; every row keeps the threat model's promises (bounds, immutable columns,
    integers, seen categories, relations).

    Parameters
    ----------
    estimator, X, y, attack, eps, threat_model, batch_size, precision, **attack_params
        As for :func:`robust_accuracy`.

    Returns
    -------
    DataFrame or ndarray

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skadv import ThreatModel, adversarial_examples
    >>> X = np.random.RandomState(0).rand(60, 3).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(np.int64)
    >>> net = NeuralNetClassifier(torch.nn.Linear, module__in_features=3,
    ...     module__out_features=2, criterion=torch.nn.CrossEntropyLoss,
    ...     max_epochs=5, verbose=0, train_split=None).fit(X, y)
    >>> X_adv = adversarial_examples(net, X, y, "pgd", eps=0.1,
    ...     threat_model=ThreatModel(immutable=[2]))
    >>> bool(np.all(X_adv[:, 2] == X[:, 2]))
    True
    """
    ev = evaluation(
        estimator,
        X,
        y,
        attack,
        eps=eps,
        threat_model=threat_model,
        batch_size=batch_size,
        precision=precision,
        attack_params=attack_params,
        caller="adversarial_examples",
    )
    if not ev.white_box:
        return ev.target.decode(_black_box(ev))
    parts = [x_adv.float().cpu().numpy() for x_adv, _ in ev.batches(batch_size)]
    return ev.target.decode(np.concatenate(parts))


def attacked_accuracy(
    module: torch.nn.Module,
    X: np.ndarray,
    targets: np.ndarray,
    attack: Any,
    batch_size: int,
    *,
    feasible: FeasibleSet | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
) -> float:
    """Accuracy of ``module`` on ``attack``'s versions of validated ``X``, in batches.

    For callers that hold the module and the encoded inputs already, such as the
    :class:`~skadv.RobustScoring` callback.

    Parameters
    ----------
    module : torch.nn.Module
        Returns logits.
    X : ndarray of shape (n_samples, ...)
        Finite float inputs, already validated.
    targets : ndarray of shape (n_samples,)
        Class indices.
    attack : Attack
        A configured attack object.
    batch_size : int
        Samples attacked at once.
    feasible : FeasibleSet or None, default=None
        The threat model; None uses the attack's own parameters.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Autocast dtype of the forward passes.
    channels_last : bool, default=False
        Hand 4-D batches to the module in channels-last memory format.

    Returns
    -------
    float
    """
    attack._validate_params()
    batches = _adversarial_batches(
        module,
        np.asarray(X),
        np.asarray(targets),
        attack,
        feasible,
        batch_size=batch_size,
        precision=precision,
        channels_last=channels_last,
    )
    return _count_correct(module, batches, precision) / len(X)


class RobustScorer:
    """Scorer returning :func:`robust_accuracy`; made by :func:`make_robust_scorer`.

    Parameters
    ----------
    attack : str or Attack
        The attack.
    eps : float or None
        Budget.
    threat_model : ThreatModel or None
        What the attacker may change.
    batch_size : int
        Samples attacked at once.
    precision : str
        Autocast dtype.
    attack_params : dict
        Further attack parameters.
    """

    def __init__(
        self,
        attack: Any,
        eps: float | None,
        threat_model: ThreatModel | None,
        batch_size: int,
        precision: str,
        attack_params: dict,
    ):
        self.attack = attack
        self.eps = eps
        self.threat_model = threat_model
        self.batch_size = batch_size
        self.precision = precision
        self.attack_params = attack_params

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        return robust_accuracy(
            estimator,
            X,
            y,
            self.attack,
            eps=self.eps,
            threat_model=self.threat_model,
            batch_size=self.batch_size,
            precision=self.precision,
            **self.attack_params,
        )

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.attack_params.items())
        if self.threat_model is not None:
            params += f", threat_model={self.threat_model!r}"
        if self.precision != "auto":
            params += f", precision={self.precision!r}"
        return f"make_robust_scorer({self.attack!r}, eps={self.eps!r}{params})"


class CertifiedScorer:
    """Scorer returning certified accuracy at ``radius``; made by :func:`make_robust_scorer`.

    Parameters
    ----------
    radius : float
        L2 radius, in the units of ``X``.
    """

    def __init__(self, radius: float):
        self.radius = radius

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        if not hasattr(estimator, "certify"):
            raise TypeError(
                f"certified_radius scores a RandomizedSmoothingClassifier; "
                f"{type(estimator).__name__} has no certify method."
            )
        from skadv.smoothing import certified_accuracy

        labels, radii = estimator.certify(X)
        return certified_accuracy(y, labels, radii, self.radius)

    def __repr__(self) -> str:
        return f"make_robust_scorer(certified_radius={self.radius!r})"


def make_robust_scorer(
    attack: Any = "pgd",
    *,
    eps: float | None = None,
    threat_model: ThreatModel | None = None,
    batch_size: int = 256,
    precision: str = "auto",
    random_state: int | None = None,
    certified_radius: float | None = None,
    **attack_params: Any,
) -> Any:
    """Make a scorer of robust accuracy for ``cross_val_score`` and ``GridSearchCV``.

    With ``certified_radius``, the scorer instead gives the certified accuracy at that
    L2 radius of a :class:`~skadv.smoothing.RandomizedSmoothingClassifier` (the share of
    rows predicted correctly and certified at least that far), so a search can choose
    ``sigma``; no attack is run.

    Parameters
    ----------
    attack : str or Attack, default="pgd"
        A registered attack name or an attack object.
    eps : float or None, default=None
        Budget; ``None`` takes the threat model's, else the attack's own.
    threat_model : ThreatModel or None, default=None
        As for :func:`robust_accuracy`; fitted on each scored fold.
    batch_size : int, default=256
        Samples attacked at once.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype of the attack, as in :func:`robust_accuracy`.
    random_state : int or None, default=None
        Seed of the attack's random starts, for attacks that have them: every call then
        scores the same way, so a search's refit is reproducible.
    certified_radius : float or None, default=None
        Score certified accuracy at this L2 radius, in the units of ``X``.
    **attack_params
        Further attack parameters, such as ``steps=20``.

    Returns
    -------
    RobustScorer or CertifiedScorer
        Callable as ``scorer(estimator, X, y)``; greater is better.

    Examples
    --------
    >>> from skadv import make_robust_scorer
    >>> make_robust_scorer("pgd", eps=0.1, steps=20)
    make_robust_scorer('pgd', eps=0.1, steps=20)
    """
    if certified_radius is not None:
        if not (isinstance(certified_radius, Real) and certified_radius >= 0):
            raise ValueError(f"certified_radius must be a number >= 0, got {certified_radius!r}.")
        return CertifiedScorer(float(certified_radius))
    _check_scoring_params(eps, batch_size, threat_model, "make_robust_scorer")
    _check_attack_params(attack_params)
    # fail now, not as NaN scores inside a search, on a bad name or parameter
    made = resolve_attack(attack, eps=eps, **attack_params)
    made._validate_params()
    if random_state is not None and "random_state" in made.get_params():
        attack_params = {**attack_params, "random_state": random_state}
    _precision(None, precision)
    return RobustScorer(attack, eps, threat_model, batch_size, precision, attack_params)
