"""ART evasion attacks behind skadv's attack interface.

Each attack runs through ART's ``PyTorchClassifier`` on a torch module; HopSkipJump
also attacks any classifier with ``predict_proba`` through ART's ``BlackBoxClassifier``.
Every result, minimal-perturbation attacks (Carlini-Wagner, DeepFool, HopSkipJump)
included, is projected onto the threat model's feasible set afterwards (the eps-ball,
bounds, immutable features), so robust accuracy always means the same threat model.
"""

from __future__ import annotations

from abc import abstractmethod
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from art.attacks.evasion import (
    AutoAttack,
    AutoProjectedGradientDescent,
    CarliniL2Method,
    CarliniLInfMethod,
    DeepFool,
    HopSkipJump,
    SquareAttack,
)
from art.estimators.classification import BlackBoxClassifier, PyTorchClassifier
from sklearn.utils._param_validation import Interval, Options

from skadv.attacks import Attack

ART_NORMS = {"linf": np.inf, "l2": 2}
POSITIVE = [Interval(Real, 0, None, closed="neither")]
COUNT = [Interval(Integral, 1, None, closed="left")]
UNTARGETED = [Options(bool, {False})]
WITHOUT_NORM = {k: v for k, v in Attack._parameter_constraints.items() if k != "norm"}


class _CastInput(torch.nn.Module):
    """Casts ART's (often float64) arrays to the module's dtype before the forward pass."""

    def __init__(self, module: torch.nn.Module, dtype: torch.dtype):
        super().__init__()
        self.module = module
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(self.dtype))


def _clip_values(feasible: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """ART's clip range for ``X``: the feasible set's bounds, widened to the clean values."""
    if feasible.low is None or feasible.high is None:
        return None
    low = np.minimum(feasible.low.cpu().numpy(), X.min(axis=0))
    high = np.maximum(feasible.high.cpu().numpy(), X.max(axis=0))
    # ART needs min < max for every feature: a constant one gets a sliver of room, which
    # the projection onto the feasible set takes back
    sliver = 1e-3 * float(high.max() - low.min()) + 1e-6
    return low.astype(X.dtype), np.where(high > low, high, low + sliver).astype(X.dtype)


class ARTAttack(Attack):
    """Base of the ART wrappers: build the ART classifier, generate, then project the
    result onto the threat model's feasible set."""

    fixed_norm: ClassVar[str | None] = None

    @abstractmethod
    def _art_attack(self, classifier: Any) -> Any:
        """The configured ART attack for ``classifier``."""

    def _norm(self) -> str:
        return self.fixed_norm or self.norm

    def _run(self, ctx):
        x = ctx.x
        with torch.no_grad():
            n_classes = ctx.module(x[:1]).shape[1]
        classifier = PyTorchClassifier(
            _CastInput(ctx.module, x.dtype),
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=tuple(x.shape[1:]),
            nb_classes=n_classes,
            clip_values=_clip_values(ctx.feasible, x.cpu().numpy()),
            device_type="gpu" if x.is_cuda else "cpu",
        )
        params = list(ctx.module.parameters())
        saved = [p.grad for p in params]
        try:
            x_adv = self._art_attack(classifier).generate(x.cpu().numpy(), y=ctx.y.cpu().numpy())
        finally:
            for p, grad in zip(params, saved, strict=True):
                p.grad = grad
        x_adv = torch.as_tensor(x_adv, device=x.device, dtype=x.dtype)
        return ctx.repair(ctx.project(x_adv))


class ARTBlackBoxAttack(ARTAttack):
    """An ART attack that only queries predictions, so any classifier can be attacked."""

    needs_gradients: ClassVar[bool] = False

    def attack_estimator(
        self, predict_proba: Any, X: np.ndarray, y: np.ndarray, feasible: Any
    ) -> np.ndarray:
        """Adversarial versions of ``X`` for a classifier known by its predictions only.

        Parameters
        ----------
        predict_proba : callable
            Maps rows like ``X`` to class probabilities.
        X : ndarray of shape (n_samples, ...)
            Clean (encoded) rows.
        y : ndarray of shape (n_samples,)
            Class indices into the columns of ``predict_proba``'s output.
        feasible : FeasibleSet
            The threat model; the result is projected onto it.

        Returns
        -------
        ndarray
        """
        self._validate_params()
        classifier = BlackBoxClassifier(
            predict_fn=predict_proba,
            input_shape=X.shape[1:],
            nb_classes=predict_proba(X[:1]).shape[1],
            clip_values=_clip_values(feasible, X),
        )
        x_adv = self._art_attack(classifier).generate(X, y=y)
        x0 = torch.as_tensor(X)
        feasible = feasible.to(x0)
        projected = feasible.project(torch.as_tensor(x_adv, dtype=x0.dtype), x0)
        return feasible.repair(projected, x0).numpy()


class ARTCarliniL2(ARTAttack):
    """Carlini-Wagner L2 (ART's ``CarliniL2Method``), projected onto the L2 ``eps``-ball.

    Parameters
    ----------
    eps : float, default=0.5
    confidence : float, default=0.0
    learning_rate : float, default=0.01
    binary_search_steps : int, default=5
    max_iter : int, default=10
    targeted : bool, default=False
    clip_values : tuple or None, default=None
    feature_mask : array-like or None, default=None
    """

    fixed_norm = "l2"
    _parameter_constraints: ClassVar[dict] = {
        **WITHOUT_NORM,
        "confidence": [Interval(Real, 0, None, closed="left")],
        "learning_rate": POSITIVE,
        "binary_search_steps": COUNT,
        "max_iter": COUNT,
    }

    def __init__(
        self,
        eps=0.5,
        confidence=0.0,
        learning_rate=0.01,
        binary_search_steps=5,
        max_iter=10,
        targeted=False,
        clip_values=None,
        feature_mask=None,
    ):
        self.eps = eps
        self.confidence = confidence
        self.learning_rate = learning_rate
        self.binary_search_steps = binary_search_steps
        self.max_iter = max_iter
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _art_attack(self, classifier):
        return CarliniL2Method(
            classifier,
            confidence=self.confidence,
            targeted=self.targeted,
            learning_rate=self.learning_rate,
            binary_search_steps=self.binary_search_steps,
            max_iter=self.max_iter,
            batch_size=256,
            verbose=False,
        )


class ARTCarliniLinf(ARTAttack):
    """Carlini-Wagner Linf (ART's ``CarliniLInfMethod``), projected onto the Linf ball.

    Parameters
    ----------
    eps : float, default=0.1
    confidence : float, default=0.0
    learning_rate : float, default=0.01
    max_iter : int, default=10
    targeted : bool, default=False
    clip_values : tuple or None, default=None
    feature_mask : array-like or None, default=None
    """

    fixed_norm = "linf"
    _parameter_constraints: ClassVar[dict] = {
        **WITHOUT_NORM,
        "confidence": [Interval(Real, 0, None, closed="left")],
        "learning_rate": POSITIVE,
        "max_iter": COUNT,
    }

    def __init__(
        self,
        eps=0.1,
        confidence=0.0,
        learning_rate=0.01,
        max_iter=10,
        targeted=False,
        clip_values=None,
        feature_mask=None,
    ):
        self.eps = eps
        self.confidence = confidence
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _art_attack(self, classifier):
        return CarliniLInfMethod(
            classifier,
            confidence=self.confidence,
            targeted=self.targeted,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            batch_size=256,
            verbose=False,
        )


class ARTDeepFool(ARTAttack):
    """DeepFool (ART's ``DeepFool``), projected onto the ``eps``-ball; untargeted only.

    Parameters
    ----------
    eps : float, default=0.5
    norm : {"linf", "l2"}, default="l2"
        The norm of the ``eps``-ball the result is projected onto.
    max_iter : int, default=50
    overshoot : float, default=0.02
    nb_grads : int, default=10
    targeted : False
    clip_values : tuple or None, default=None
    feature_mask : array-like or None, default=None
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "max_iter": COUNT,
        "overshoot": [Interval(Real, 0, None, closed="left")],
        "nb_grads": COUNT,
        "targeted": UNTARGETED,
    }

    def __init__(
        self,
        eps=0.5,
        norm="l2",
        max_iter=50,
        overshoot=0.02,
        nb_grads=10,
        targeted=False,
        clip_values=None,
        feature_mask=None,
    ):
        self.eps = eps
        self.norm = norm
        self.max_iter = max_iter
        self.overshoot = overshoot
        self.nb_grads = nb_grads
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _art_attack(self, classifier):
        return DeepFool(
            classifier,
            max_iter=self.max_iter,
            epsilon=self.overshoot,
            nb_grads=self.nb_grads,
            batch_size=256,
            verbose=False,
        )


class ARTAutoPGD(ARTAttack):
    """Auto-PGD (ART's ``AutoProjectedGradientDescent``, Croce & Hein 2020).

    Parameters
    ----------
    eps : float, default=0.1
    norm : {"linf", "l2"}, default="linf"
    eps_step : float or None, default=None
        Initial step; None means ``eps / 4``.
    max_iter : int, default=50
    nb_random_init : int, default=1
    loss_type : {"cross_entropy", "difference_logits_ratio"}, default="cross_entropy"
    targeted : bool, default=False
    clip_values : tuple or None, default=None
    feature_mask : array-like or None, default=None
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "eps_step": POSITIVE + [None],
        "max_iter": COUNT,
        "nb_random_init": COUNT,
        "loss_type": [Options(str, {"cross_entropy", "difference_logits_ratio"})],
    }

    def __init__(
        self,
        eps=0.1,
        norm="linf",
        eps_step=None,
        max_iter=50,
        nb_random_init=1,
        loss_type="cross_entropy",
        targeted=False,
        clip_values=None,
        feature_mask=None,
    ):
        self.eps = eps
        self.norm = norm
        self.eps_step = eps_step
        self.max_iter = max_iter
        self.nb_random_init = nb_random_init
        self.loss_type = loss_type
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _art_attack(self, classifier):
        return AutoProjectedGradientDescent(
            classifier,
            norm=ART_NORMS[self.norm],
            eps=self.eps,
            eps_step=self.eps_step or self.eps / 4,
            max_iter=self.max_iter,
            targeted=self.targeted,
            nb_random_init=self.nb_random_init,
            batch_size=256,
            loss_type=self.loss_type,
            verbose=False,
        )


class ARTSquare(ARTAttack):
    """Square Attack (ART's ``SquareAttack``): query-based; untargeted only.

    ART runs it on image data (n_samples, C, H, W) of torch modules only; skadv's native
    ``square`` judges any classifier with ``predict_proba``.

    Parameters
    ----------
    eps : float, default=0.1
    norm : {"linf", "l2"}, default="linf"
    max_iter : int, default=100
    p_init : float, default=0.8
    nb_restarts : int, default=1
    targeted : False
    clip_values : tuple or None, default=None
    feature_mask : array-like or None, default=None
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "max_iter": COUNT,
        "p_init": [Interval(Real, 0, 1, closed="right")],
        "nb_restarts": COUNT,
        "targeted": UNTARGETED,
    }

    def __init__(
        self,
        eps=0.1,
        norm="linf",
        max_iter=100,
        p_init=0.8,
        nb_restarts=1,
        targeted=False,
        clip_values=None,
        feature_mask=None,
    ):
        self.eps = eps
        self.norm = norm
        self.max_iter = max_iter
        self.p_init = p_init
        self.nb_restarts = nb_restarts
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _art_attack(self, classifier):
        return SquareAttack(
            classifier,
            norm=ART_NORMS[self.norm],
            max_iter=self.max_iter,
            eps=self.eps,
            p_init=self.p_init,
            nb_restarts=self.nb_restarts,
            batch_size=256,
            verbose=False,
        )


class ARTAutoAttack(ARTAttack):
    """AutoAttack (ART's ``AutoAttack``): the worst case over APGD-CE, APGD-DLR, DeepFool
    and Square, each run for ``max_iter`` iterations. ART runs it on images only.

    Parameters
    ----------
    eps : float, default=0.1
    norm : {"linf", "l2"}, default="linf"
    eps_step : float or None, default=None
        None means ``eps / 4``.
    max_iter : int, default=100
        Iterations of each attack of the ensemble.
    targeted : bool, default=False
    clip_values : tuple or None, default=None
    feature_mask : array-like or None, default=None
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "eps_step": POSITIVE + [None],
        "max_iter": COUNT,
    }

    def __init__(
        self,
        eps=0.1,
        norm="linf",
        eps_step=None,
        max_iter=100,
        targeted=False,
        clip_values=None,
        feature_mask=None,
    ):
        self.eps = eps
        self.norm = norm
        self.eps_step = eps_step
        self.max_iter = max_iter
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _art_attack(self, classifier):
        norm, step = ART_NORMS[self.norm], self.eps_step or self.eps / 4
        ensemble = [
            AutoProjectedGradientDescent(
                classifier,
                norm=norm,
                eps=self.eps,
                eps_step=step,
                max_iter=self.max_iter,
                targeted=self.targeted,
                nb_random_init=1,
                batch_size=256,
                loss_type=loss,
                verbose=False,
            )
            for loss in ("cross_entropy", "difference_logits_ratio")
        ]
        ensemble.append(DeepFool(classifier, max_iter=self.max_iter, batch_size=256, verbose=False))
        ensemble.append(
            SquareAttack(
                classifier,
                norm=norm,
                max_iter=self.max_iter,
                eps=self.eps,
                batch_size=256,
                verbose=False,
            )
        )
        return AutoAttack(
            classifier,
            norm=norm,
            eps=self.eps,
            eps_step=step,
            attacks=ensemble,
            targeted=self.targeted,
            batch_size=256,
        )


class ARTHopSkipJump(ARTBlackBoxAttack):
    """HopSkipJump (ART's ``HopSkipJump``): black-box, decision-based, projected onto the
    ``eps``-ball.

    Parameters
    ----------
    eps : float, default=0.5
    norm : {"linf", "l2"}, default="l2"
    max_iter : int, default=10
    max_eval : int, default=1000
    init_eval : int, default=50
    init_size : int, default=50
    targeted : bool, default=False
    clip_values : tuple or None, default=None
    feature_mask : array-like or None, default=None
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "max_iter": COUNT,
        "max_eval": COUNT,
        "init_eval": COUNT,
        "init_size": COUNT,
    }

    def __init__(
        self,
        eps=0.5,
        norm="l2",
        max_iter=10,
        max_eval=1000,
        init_eval=50,
        init_size=50,
        targeted=False,
        clip_values=None,
        feature_mask=None,
    ):
        self.eps = eps
        self.norm = norm
        self.max_iter = max_iter
        self.max_eval = max_eval
        self.init_eval = init_eval
        self.init_size = init_size
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _art_attack(self, classifier):
        return HopSkipJump(
            classifier,
            targeted=self.targeted,
            norm=ART_NORMS[self.norm],
            max_iter=self.max_iter,
            max_eval=self.max_eval,
            init_eval=self.init_eval,
            init_size=self.init_size,
            batch_size=256,
            verbose=False,
        )
