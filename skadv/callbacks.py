"""skorch callbacks: robust accuracy per epoch, to guard against robust overfitting."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from skorch.callbacks import Callback, EpochScoring
from skorch.utils import data_from_dataset, is_dataset, to_numpy
from tqdm.auto import tqdm

from skadv.metrics import attacked_accuracy
from skadv.plugins import resolve_attack

__all__ = ["EpochProgress", "RobustScoring"]


class RobustScoring(EpochScoring):
    """Record robust accuracy on the validation split after every epoch.

    skorch's ``EpochScoring`` with robust accuracy as its score: the score goes into the
    history under ``name``, with ``name + "_best"`` marking the best epoch so far.

    Robust accuracy is measured under the net's threat model (its bounds, immutable and
    categorical columns; in the raw space for a net trained by :class:`skadv.Pipeline`).
    The score goes into ``net.history`` under ``name``, with ``name + "_best"`` marking
    the best epoch so far, so skorch's ``EarlyStopping(monitor=name,
    lower_is_better=False)`` and ``Checkpoint(monitor=name + "_best")`` keep the most
    robust epoch and catch catastrophic or robust overfitting.

    Parameters
    ----------
    attack : str or Attack, default="pgd"
        The attack that judges robustness.
    eps : float or None, default=None
        Perturbation budget; ``None`` uses the net's ``eps``.
    name : str, default="valid_robust_acc"
        History key.
    on_train : bool, default=False
        Score the training split instead of the validation split.
    batch_size : int, default=256
        Samples attacked at once.
    attack_params : dict or None, default=None
        Further attack parameters, such as ``{"steps": 10}``.

    Examples
    --------
    >>> from skadv import RobustScoring
    >>> RobustScoring("pgd", eps=0.1, attack_params={"steps": 5}).name
    'valid_robust_acc'
    """

    def __init__(
        self,
        attack: Any = "pgd",
        eps: float | None = None,
        name: str = "valid_robust_acc",
        on_train: bool = False,
        batch_size: int = 256,
        attack_params: dict | None = None,
    ):
        super().__init__(
            scoring=self.score,
            lower_is_better=False,
            on_train=on_train,
            name=name,
            use_caching=False,
        )
        self.attack = attack
        self.eps = eps
        self.batch_size = batch_size
        self.attack_params = attack_params

    def _get_param_names(self) -> list[str]:
        # skorch lists every attribute; the scoring settings above are fixed, not parameters
        return sorted(p for p in inspect.signature(type(self).__init__).parameters if p != "self")

    def score(self, net: Any, X: Any, y: Any) -> float:
        """Robust accuracy of ``net`` on ``X``, under the net's threat model.

        Parameters
        ----------
        net : AdversarialTrainer or skorch net
            The net being trained.
        X : array-like or skorch Dataset
            The split being scored.
        y : array-like of shape (n_samples,)
            Its class indices, as the net encodes them.

        Returns
        -------
        float
        """
        if is_dataset(X):
            X, y = data_from_dataset(X)
        eps = self.eps if self.eps is not None else getattr(net, "eps", None)
        attack = resolve_attack(self.attack, **(self.attack_params or {}), eps=eps)
        threat = getattr(net, "threat_", None)
        feasible = None
        if threat is not None:
            feasible = threat.feasible_set(eps=attack.eps, norm=getattr(attack, "norm", None))
        module = net.attack_module() if hasattr(net, "attack_module") else net.module_
        return attacked_accuracy(
            module,
            np.asarray(X),
            to_numpy(y),
            attack,
            self.batch_size,
            feasible=feasible,
            precision=getattr(net, "precision", "fp32"),
            channels_last=bool(getattr(net, "channels_last", False)),
        )


class EpochProgress(Callback):
    """A progress bar over epochs (skorch's ``ProgressBar`` counts batches instead).

    Parameters
    ----------
    desc : str, default="training"
        Label in front of the bar.

    Examples
    --------
    >>> from skadv.callbacks import EpochProgress
    >>> EpochProgress("GAN").desc
    'GAN'
    """

    def __init__(self, desc: str = "training"):
        self.desc = desc

    def on_train_begin(self, net: Any, **kwargs: Any) -> None:
        """Open a bar of ``net.max_epochs`` steps.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs
            Further arguments skorch passes to hooks.
        """
        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, unit="epoch", leave=False)

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Advance the bar by one epoch.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs
            Further arguments skorch passes to hooks.
        """
        self.bar_.update(1)

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """Close the bar.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs
            Further arguments skorch passes to hooks.
        """
        self.bar_.close()
