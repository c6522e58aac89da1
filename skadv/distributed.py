"""Data-parallel (multi-GPU) training through Hugging Face accelerate and skorch.

skorch's :class:`~skorch.hf.AccelerateMixin` runs a net under an
``accelerate.Accelerator``: ``accelerate launch train.py`` then trains on every GPU of the
machine (or several machines), with mixed precision if the accelerator asks for it.
:class:`AcceleratedAdversarialTrainer` is :class:`~skadv.AdversarialTrainer` on that
footing; :class:`~skadv.GANAugmenter` takes ``accelerator=`` for its GAN.

    from accelerate import Accelerator
    clf = AcceleratedAdversarialTrainer(MLP, accelerator=Accelerator(), attack="pgd")
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from skorch.exceptions import DeviceWarning
from skorch.hf import AccelerateMixin

from skadv.gans.training import GANNet
from skadv.seeding import torch_seeded
from skadv.skorch_compat import AcceleratorPreparation, set_training
from skadv.trainer import AdversarialTrainer

__all__ = ["AcceleratedAdversarialTrainer", "quiet"]


def quiet(*args: Any, **kwargs: Any) -> None:
    """A print-log sink that discards the log.

    Parameters
    ----------
    *args, **kwargs
        Whatever skorch's ``PrintLog`` hands its sink; ignored.
    """


class AcceleratedNet(AcceleratorPreparation):
    """What skadv's accelerated nets add to skorch's ``AccelerateMixin``."""

    def __setstate__(self, state: dict) -> None:
        """Keep ``device=None`` through pickling: skorch's unpickler would set ``"cpu"``,
        which the accelerate path then refuses on the next ``fit``."""
        placed_by_accelerator = state.get("device") is None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)
        if placed_by_accelerator:
            self.device = None


class AcceleratedAdversarialTrainer(AcceleratedNet, AccelerateMixin, AdversarialTrainer):
    """:class:`~skadv.AdversarialTrainer` trained through an ``accelerate.Accelerator``.

    Batches are placed and sharded by the accelerator (leave ``device=None``); each
    process crafts adversarial examples for its own shard on its own GPU, through the
    unwrapped module, and gradients are averaged by the accelerator. The epoch log goes
    to ``accelerator.print`` whatever ``verbose`` says (skorch's rule for custom sinks);
    ``callbacks__print_log__sink=quiet`` silences it.

    Parameters
    ----------
    *args
        The module, as for :class:`~skadv.AdversarialTrainer`.
    accelerator : accelerate.Accelerator
        Places the batches, wraps the module for data parallelism and averages the
        gradients.
    device : None, default=None
        Leave None: the accelerator places everything.
    callbacks__print_log__sink : callable or "auto", default="auto"
        Where the epoch log goes; ``"auto"`` is ``accelerator.print``.
    unwrap_after_train : bool, default=True
        Unwrap the module from its data-parallel wrapper after ``fit``.
    **kwargs
        Every :class:`~skadv.AdversarialTrainer` and skorch parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from accelerate import Accelerator
    >>> from skadv.distributed import AcceleratedAdversarialTrainer, quiet
    >>> from skadv.modules import MLP
    >>> X = np.random.RandomState(0).rand(64, 4).astype(np.float32); y = np.arange(64) % 2
    >>> clf = AcceleratedAdversarialTrainer(MLP, accelerator=Accelerator(cpu=True),
    ...     attack="fgsm", max_epochs=1, train_split=None, callbacks__print_log__sink=quiet)
    >>> clf = clf.fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    def initialize(self) -> AcceleratedAdversarialTrainer:
        """:meth:`AdversarialTrainer.initialize`, through the accelerator: skorch's
        ``AccelerateMixin`` replaces ``initialize`` rather than extending it.

        Returns
        -------
        self
        """
        self._forget_data()
        with torch_seeded(self.random_state):
            return super().initialize()

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict:
        """One step on the objective's loss, under the accelerator's autocast.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` from the training iterator.
        **fit_params
            Extra forward arguments (not supported).

        Returns
        -------
        dict
            ``{"loss": loss, "y_pred": y_pred}``.
        """
        set_training(self, True)
        with self.accelerator.autocast():
            loss, y_pred = self.objective_loss(batch)
            self.accelerator.backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def attack_module(self) -> torch.nn.Module:
        """The module without its data-parallel wrapper, so attacks need no gradient sync.

        Returns
        -------
        torch.nn.Module
        """
        return self.accelerator.unwrap_model(self.module_)


class AcceleratedGANNet(AcceleratedNet, AccelerateMixin, GANNet):
    """:class:`~skadv.gans.training.GANNet` trained through an ``accelerate.Accelerator``.

    Each training step runs a discriminator step and a generator step, so under
    multi-GPU data parallelism the accelerator needs
    ``DistributedDataParallelKwargs(find_unused_parameters=True)``.
    """

    def pair(self) -> Any:
        """The generator and discriminator without the data-parallel wrapper."""
        return self.accelerator.unwrap_model(self.module_)

    def backward(self, loss: torch.Tensor) -> None:
        """Back-propagate through the accelerator (gradient scaling, sync)."""
        self.accelerator.backward(loss)
