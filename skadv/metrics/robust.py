"""Robust accuracy and robust scorers for model selection."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted, column_or_1d

from skadv.exceptions import NotDifferentiableError
from skadv.plugins import get_registry, plugin_errors, resolve_attack
from skadv.precision import PRECISIONS, autocast
from skadv.validation import Number, check_fitted_classifier, unique_labels


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


def _gradient_free_attacks() -> list[str]:
    components = get_registry().components["attack"]
    return sorted(
        name for name, c in components.items() if not getattr(c.factory, "needs_gradients", True)
    )


def _split_pipeline(estimator: Any, X: Any) -> tuple[Any, Any]:
    """For a Pipeline, attack the final step in its own input space."""
    if isinstance(estimator, Pipeline):
        return estimator[-1], estimator[:-1].transform(X)
    return estimator, X


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
        free = _gradient_free_attacks()
        served = (
            f"Gradient-free attacks that could serve it: {', '.join(free)}."
            if free
            else "No gradient-free attack is installed; a black-box attack plugin "
            "(such as skadv-art's HopSkipJump) could serve it."
        )
        raise NotDifferentiableError(
            f"{type(estimator).__name__} has no torch module, so gradient-based attacks "
            f"cannot compute its input gradients. {served}"
        )
    if isinstance(getattr(estimator, "criterion_", None), torch.nn.NLLLoss):
        return _LogProbabilities(module)
    return module


def class_indices(estimator: Any, y: Any) -> np.ndarray:
    """Map labels ``y`` to column indices of ``estimator.classes_``."""
    classes = np.asarray(estimator.classes_)
    y = np.asarray(y)
    unseen = np.setdiff1d(unique_labels(y), classes)
    if unseen.size:
        raise ValueError(
            f"y contains labels never seen in fit: {unseen.tolist()[:10]}; "
            f"the estimator knows {classes.tolist()[:20]}."
        )
    return np.searchsorted(classes, y)


def _default_clip_values(estimator: Any, X: np.ndarray) -> tuple[float, float]:
    fitted = getattr(estimator, "clip_values_", None)
    if fitted is not None:
        return fitted
    return float(X.min()), float(X.max())


def _precision(estimator: Any, precision: str) -> str:
    if precision == "auto":
        own = getattr(estimator, "precision", "fp32")
        return own if own in PRECISIONS else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be 'auto' or one of {', '.join(PRECISIONS)}, got {precision!r}."
        )
    return precision


def robust_accuracy(
    estimator: Any,
    X: Any,
    y: Any,
    attack: Any = "pgd",
    *,
    eps: float | None = None,
    clip_values: tuple | str | None = "auto",
    batch_size: int = 256,
    precision: str = "auto",
    **attack_params: Any,
) -> float:
    """Accuracy of a fitted torch classifier on adversarial versions of ``X``.

    Parameters
    ----------
    estimator : skorch NeuralNetClassifier, skadv estimator, or Pipeline ending in one
        The fitted classifier. For a Pipeline the attack works in the input space of its
        final step, so ``eps`` is measured after the preceding transforms. Any other
        scikit-learn classifier works with a gradient-free attack (``needs_gradients =
        False``, such as skadv-art's ``art-hopskipjump``).
    X : array-like of shape (n_samples, ...)
        Clean inputs.
    y : array-like of shape (n_samples,)
        True labels.
    attack : str or Attack, default="pgd"
        A registered attack name (see :func:`skadv.list_attacks`) or an attack object.
    eps : float or None, default=None
        Perturbation budget; ``None`` keeps the attack's own ``eps``.
    clip_values : "auto", tuple (min, max) or None, default="auto"
        Valid input range. ``"auto"`` takes the estimator's ``clip_values_`` when it has
        one, else the range of ``X``; ``None`` disables clipping.
    batch_size : int, default=256
        Samples attacked at once; memory stays flat however large ``X`` is.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype of the attack's and the final prediction's forward passes.
        ``"auto"`` takes the estimator's own ``precision`` (an
        :class:`~skadv.AdversarialTrainer` trained in bf16 is judged in bf16) and is
        fp32 for anything else; the estimator's ``channels_last`` is followed too.
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
    check_fitted_classifier(estimator)
    _check_scoring_params(eps, batch_size, "robust_accuracy")
    estimator, X = _split_pipeline(estimator, X)
    precision = _precision(estimator, precision)
    X = check_array(X, allow_nd=True, dtype=np.float32, input_name="X")
    _check_input_shape(estimator, X)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    if isinstance(clip_values, str):
        if clip_values != "auto":
            raise ValueError(
                f"clip_values must be 'auto', (min, max) or None, got {clip_values!r}."
            )
        clip_values = _default_clip_values(estimator, X)
    attack_ = resolve_attack(attack, eps=eps, **attack_params)
    if clip_values is not None:
        attack_.set_params(clip_values=tuple(clip_values))
    attack_._validate_params()
    targets = class_indices(estimator, y)
    if not getattr(attack_, "needs_gradients", True) and not hasattr(estimator, "module_"):
        with plugin_errors(attack_):
            X_adv = attack_.attack_estimator(estimator, X, targets)
        return float(np.mean(class_indices(estimator, estimator.predict(X_adv)) == targets))
    return attacked_accuracy(
        logits_module(estimator),
        X,
        targets,
        attack_,
        batch_size,
        precision=precision,
        channels_last=bool(getattr(estimator, "channels_last", False)),
    )


def _check_scoring_params(eps: Any, batch_size: Any, caller: str) -> None:
    validate_parameter_constraints(
        {
            "eps": [Number(Real, 0, None, closed="left"), None],
            "batch_size": [Interval(Integral, 1, None, closed="left")],
        },
        {"eps": eps, "batch_size": batch_size},
        caller_name=caller,
    )


def _check_input_shape(estimator: Any, X: np.ndarray) -> None:
    """Refuse samples of another shape than the estimator was fitted on."""
    fitted = getattr(estimator, "sample_shape_", None)
    if fitted is None:
        n_features = getattr(estimator, "n_features_in_", None)
        fitted = None if n_features is None or X.ndim != 2 else (n_features,)
    if fitted is not None and X.shape[1:] != tuple(fitted):
        raise ValueError(
            f"X has samples of shape {X.shape[1:]}, but {type(estimator).__name__} was fitted "
            f"on samples of shape {tuple(fitted)}; pass X in the shape used in fit."
        )


def attacked_accuracy(
    module: torch.nn.Module,
    X: np.ndarray,
    targets: np.ndarray,
    attack: Any,
    batch_size: int,
    *,
    precision: str = "fp32",
    channels_last: bool = False,
) -> float:
    """Accuracy of ``module`` on ``attack``'s versions of validated ``X``, in batches.

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
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Autocast dtype of the forward passes.
    channels_last : bool, default=False
        Hand 4-D batches to the module in channels-last memory format.

    Returns
    -------
    float
    """
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    targets = torch.as_tensor(targets, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    attack._validate_params()
    memory_format = torch.channels_last if channels_last and X.ndim == 4 else None
    for start in range(0, len(X), batch_size):
        xb = torch.as_tensor(X[start : start + batch_size], device=device, dtype=dtype)
        if memory_format is not None:
            xb = xb.contiguous(memory_format=memory_format)
        yb = targets[start : start + batch_size]
        with autocast(device, precision):
            with plugin_errors(attack):
                x_adv = attack.run(module, xb, yb)
            with torch.no_grad():
                correct += (module(x_adv).argmax(dim=1) == yb).sum()
    return correct.item() / len(X)


class RobustScorer:
    """Scorer returning :func:`robust_accuracy`; made by :func:`make_robust_scorer`."""

    def __init__(
        self,
        attack: Any,
        eps: float | None,
        batch_size: int,
        precision: str,
        attack_params: dict,
    ):
        self.attack = attack
        self.eps = eps
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
            batch_size=self.batch_size,
            precision=self.precision,
            **self.attack_params,
        )

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.attack_params.items())
        if self.precision != "auto":
            params += f", precision={self.precision!r}"
        return f"make_robust_scorer({self.attack!r}, eps={self.eps!r}{params})"


def make_robust_scorer(
    attack: Any = "pgd",
    *,
    eps: float | None = None,
    batch_size: int = 256,
    precision: str = "auto",
    **attack_params: Any,
) -> RobustScorer:
    """Make a scorer of robust accuracy for ``cross_val_score`` and ``GridSearchCV``.

    Parameters
    ----------
    attack : str or Attack, default="pgd"
        A registered attack name or an attack object.
    eps : float or None, default=None
        Perturbation budget; ``None`` keeps the attack's own ``eps``.
    batch_size : int, default=256
        Samples attacked at once.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype of the attack, as in :func:`robust_accuracy`.
    **attack_params
        Further attack parameters, such as ``steps=20``.

    Returns
    -------
    RobustScorer
        Callable as ``scorer(estimator, X, y)``; greater is better.

    Examples
    --------
    >>> from skadv import make_robust_scorer
    >>> make_robust_scorer("pgd", eps=0.1, steps=20)
    make_robust_scorer('pgd', eps=0.1, steps=20)
    """
    _check_scoring_params(eps, batch_size, "make_robust_scorer")
    # fail now, not as NaN scores inside a search, on a bad name or parameter
    resolve_attack(attack, eps=eps, **attack_params)._validate_params()
    _precision(None, precision)
    return RobustScorer(attack, eps, batch_size, precision, attack_params)
