"""Adversarial training objectives: what loss a training batch contributes.

An objective is a small scikit-learn style object with one method,
``loss(net, X, y) -> (loss, y_pred)``, called by :class:`~skadv.AdversarialTrainer` for
every training batch with ``X`` and ``y`` already on the training device. It crafts
adversarial examples through ``net.craft(X, y, loss_fn=None)`` and computes predictions
through ``net.infer``. Objectives are registered by name through the
``skadv_register_objectives`` hook.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from numbers import Integral, Real
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from skadv.smoothing import SmoothedModule

__all__ = ["Objective", "Gaussian", "Madry", "SmoothAdv", "TRADES"]


class Objective(BaseEstimator, ABC):
    """Base class of training objectives."""

    _parameter_constraints: ClassVar[dict] = {}

    @abstractmethod
    def loss(self, net: Any, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the training loss of the batch and the predictions to log.

        Parameters
        ----------
        net : AdversarialTrainer
            The estimator being trained: :meth:`~skadv.AdversarialTrainer.craft` makes
            adversarial examples, ``net.infer`` runs the module, ``net.get_loss`` applies
            the criterion.
        X : torch.Tensor of shape (n_samples, ...)
            A training batch on the training device.
        y : torch.Tensor of shape (n_samples,)
            Its class indices.

        Returns
        -------
        loss : torch.Tensor
            A scalar to minimize.
        y_pred : torch.Tensor
            The module's output, for skorch's logging.
        """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        loss = cls.__dict__.get("loss")
        if loss is not None and not loss.__doc__:
            loss.__doc__ = Objective.loss.__doc__


class Madry(Objective):
    """Train on adversarial examples (Madry et al. 2018).

    Parameters
    ----------
    ratio : float, default=1.0
        Fraction of each batch replaced by adversarial examples; 1.0 is Madry et al.,
        0.5 mixes clean and adversarial samples half and half (Goodfellow et al. 2015).

    Examples
    --------
    >>> from skadv.objectives import Madry
    >>> Madry(ratio=0.5)
    Madry(ratio=0.5)
    """

    _parameter_constraints: ClassVar[dict] = {"ratio": [Interval(Real, 0, 1, closed="both")]}

    def __init__(self, ratio: float = 1.0):
        self.ratio = ratio

    def loss(self, net: Any, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n_adv = round(self.ratio * len(X))
        if n_adv:
            X = torch.cat([net.craft(X[:n_adv], y[:n_adv]), X[n_adv:]])
        y_pred = net.infer(X)
        return net.get_loss(y_pred, y, X=X, training=True), y_pred


class TRADES(Objective):
    """TRADES (Zhang et al. 2019): clean cross-entropy plus ``beta`` times the KL divergence
    between the predictions on clean and adversarial inputs.

    The attack maximizes that KL divergence, so it needs a random start (PGD's default).

    Parameters
    ----------
    beta : float, default=6.0
        Weight of the robustness term; larger trades clean accuracy for robustness.

    Examples
    --------
    >>> from skadv.objectives import TRADES
    >>> TRADES(beta=1.0)
    TRADES(beta=1.0)
    """

    _parameter_constraints: ClassVar[dict] = {"beta": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, beta: float = 6.0):
        self.beta = beta

    def loss(self, net: Any, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        module = net.module_
        module.eval()
        with torch.no_grad():
            p_clean = F.softmax(module(X), dim=1)
        module.train()

        def kl(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.kl_div(F.log_softmax(logits, dim=1), target, reduction="none").sum(dim=1)

        # the KL target travels as the "labels"; at X itself the KL and its gradient are
        # zero, so attacks without a random start begin at X + 0.001 N(0, 1), as the paper
        start = X + 0.001 * torch.randn_like(X)
        X_adv = net.craft(X, p_clean, loss_fn=kl, start=start)
        y_pred = net.infer(X)
        natural = net.get_loss(y_pred, y, X=X, training=True)
        robust = F.kl_div(
            F.log_softmax(module(X_adv), dim=1), F.softmax(y_pred, dim=1), reduction="batchmean"
        )
        return natural + self.beta * robust, y_pred


class Gaussian(Objective):
    """Gaussian data augmentation: train on ``X + sigma * N(0, 1)``, the base classifier
    that randomized smoothing needs (Cohen et al. 2019).

    No attack is run. Train with the ``sigma`` the
    :class:`~skadv.smoothing.RandomizedSmoothingClassifier` will use.

    Parameters
    ----------
    sigma : float, default=0.25
        Standard deviation of the noise, in the units of the training input.

    Examples
    --------
    >>> from skadv.objectives import Gaussian
    >>> Gaussian(sigma=0.5)
    Gaussian(sigma=0.5)
    """

    _parameter_constraints: ClassVar[dict] = {"sigma": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, sigma: float = 0.25):
        self.sigma = sigma

    def loss(self, net: Any, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noisy = X + self.sigma * torch.randn_like(X)
        y_pred = net.infer(noisy)
        return net.get_loss(y_pred, y, X=noisy, training=True), y_pred


class SmoothAdv(Objective):
    """SmoothAdv (Salman et al. 2019): train the base classifier of randomized smoothing
    on noisy copies of adversarial examples of the *smoothed* classifier.

    The trainer's attack runs on the smoothed soft classifier (the mean softmax over
    ``n_draws`` Gaussian draws, :class:`~skadv.smoothing.SmoothedModule`), inside the
    trainer's threat model: state an L2 budget, e.g. ``AdversarialTrainer(...,
    objective="smoothadv", attack="pgd", attack__norm="l2", eps=0.5)``. The loss is the
    cross-entropy on ``n_draws`` noisy copies of each adversarial example. Train with
    the ``sigma`` the :class:`~skadv.smoothing.RandomizedSmoothingClassifier` will use.

    Parameters
    ----------
    sigma : float, default=0.25
        Standard deviation of the noise, in the units of the training input.
    n_draws : int, default=4
        Noise draws per example, for the attack's expectation and for the loss.

    Examples
    --------
    >>> from skadv.objectives import SmoothAdv
    >>> SmoothAdv(sigma=0.5, n_draws=2)
    SmoothAdv(n_draws=2, sigma=0.5)
    """

    _parameter_constraints: ClassVar[dict] = {
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, sigma: float = 0.25, n_draws: int = 4):
        self.sigma = sigma
        self.n_draws = n_draws

    def loss(self, net: Any, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from skadv.plugins import plugin_errors  # the registry imports this module

        smoothed = SmoothedModule(net.attack_module(), self.sigma, self.n_draws)
        with plugin_errors(net.attack_):
            X_adv = net.attack_.run(
                smoothed, X, y, feasible=net.feasible_, module_mode=net.craft_mode
            )
        noisy = X_adv.repeat_interleave(self.n_draws, dim=0)
        noisy = noisy + self.sigma * torch.randn_like(noisy)
        logits = net.infer(noisy)
        loss = net.get_loss(logits, y.repeat_interleave(self.n_draws), X=noisy, training=True)
        per_example = logits.reshape(len(X), self.n_draws, -1).mean(dim=1)
        return loss, per_example
