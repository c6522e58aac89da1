"""skorch callbacks: robust accuracy per epoch, to guard against robust overfitting."""

from __future__ import annotations

from typing import Any

import numpy as np
from skorch.callbacks import Callback
from skorch.utils import data_from_dataset, to_numpy
from tqdm.auto import tqdm

from skadv.metrics import attacked_accuracy
from skadv.plugins import resolve_attack


class RobustScoring(Callback):
    """Record robust accuracy on the validation split after every epoch.

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
        self.attack = attack
        self.eps = eps
        self.name = name
        self.on_train = on_train
        self.batch_size = batch_size
        self.attack_params = attack_params

    def initialize(self) -> RobustScoring:
        self.best_score_ = -np.inf
        return self

    def on_epoch_end(
        self, net: Any, dataset_train: Any = None, dataset_valid: Any = None, **kwargs: Any
    ) -> None:
        dataset = dataset_train if self.on_train else dataset_valid
        if dataset is None:
            return
        X, y = data_from_dataset(dataset)
        eps = self.eps if self.eps is not None else getattr(net, "eps", None)
        attack = resolve_attack(self.attack, **(self.attack_params or {}), eps=eps)
        threat = getattr(net, "threat_", None)
        feasible = None
        if threat is not None:
            feasible = threat.feasible_set(eps=attack.eps, norm=getattr(attack, "norm", None))
        module = net.attack_module() if hasattr(net, "attack_module") else net.module_
        score = attacked_accuracy(
            module,
            np.asarray(X),
            to_numpy(y),
            attack,
            self.batch_size,
            feasible=feasible,
            precision=getattr(net, "precision", "fp32"),
            channels_last=bool(getattr(net, "channels_last", False)),
        )
        is_best = score > self.best_score_
        if is_best:
            self.best_score_ = score
        net.history.record(self.name, score)
        net.history.record(self.name + "_best", bool(is_best))


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
        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, unit="epoch", leave=False)

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        self.bar_.update(1)

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        self.bar_.close()
