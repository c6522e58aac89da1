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
from torch.nn.modules.lazy import LazyModuleMixin

from skadv.gans.training import GANNet
from skadv.trainer import AdversarialTrainer


def quiet(*args: Any, **kwargs: Any) -> None:
    """A print-log sink that discards the log."""


def has_uninitialized_params(module: torch.nn.Module) -> bool:
    """Whether any lazy layer of ``module`` still waits for its first input."""
    return any(
        isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in module.modules()
    )


class AcceleratedNet:
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

    def _initialize_accelerator(self) -> Any:
        """Prepare the module and optimizers for the accelerator, refusing what DDP cannot take.

        Lazy modules are refused by name in multi-process runs: DistributedDataParallel
        needs their parameters at the start. Only criteria with trainable parameters go to
        the accelerator, the rest are moved to its device: on multi-process CPU runs
        accelerate wraps every prepared module in DistributedDataParallel, which refuses a
        parameter-less criterion such as cross-entropy (multi-GPU runs skip those already).
        """
        lazy = [
            name
            for name in self._modules
            if isinstance(getattr(self, name + "_"), torch.nn.Module)
            and has_uninitialized_params(getattr(self, name + "_"))
        ]
        if lazy and self.accelerator.num_processes > 1:
            raise ValueError(
                f"{type(self).__name__}: {', '.join(n + '_' for n in lazy)} has lazy layers "
                "whose parameters do not exist yet, and DistributedDataParallel needs them "
                "at the start. Give the module its input size (skadv.modules.MLP takes "
                "module__n_features) or use non-lazy layers."
            )
        criteria = self._criteria
        frozen = [
            name
            for name in criteria
            if isinstance(getattr(self, name + "_"), torch.nn.Module)
            and not any(p.requires_grad for p in getattr(self, name + "_").parameters())
        ]
        self._criteria = [name for name in criteria if name not in frozen]
        try:
            super()._initialize_accelerator()
        finally:
            self._criteria = criteria
        for name in frozen:
            getattr(self, name + "_").to(self.accelerator.device)
        return self


class AcceleratedAdversarialTrainer(AcceleratedNet, AccelerateMixin, AdversarialTrainer):
    """:class:`~skadv.AdversarialTrainer` trained through an ``accelerate.Accelerator``.

    Batches are placed and sharded by the accelerator (leave ``device=None``); each
    process crafts adversarial examples for its own shard on its own GPU, through the
    unwrapped module, and gradients are averaged by the accelerator. The epoch log goes
    to ``accelerator.print`` whatever ``verbose`` says (skorch's rule for custom sinks);
    ``callbacks__print_log__sink=quiet`` silences it.

    Parameters
    ----------
    module : torch module class or instance
    accelerator : accelerate.Accelerator
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

    def train_step_single(self, batch: Any, **fit_params: Any) -> dict:
        """One step on the objective's loss, under the accelerator's autocast."""
        self._set_training(True)
        with self.accelerator.autocast():
            loss, y_pred = self.objective_loss(batch)
            self.accelerator.backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def attack_module(self) -> torch.nn.Module:
        """The module without its data-parallel wrapper, so attacks need no gradient sync."""
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
