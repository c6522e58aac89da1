"""Every use of skorch's private API in skadv, in one place.

skadv extends skorch through its public extension points (``initialize``,
``get_default_callbacks``, ``fit_loop``, ``get_split_datasets``, ``on_train_begin``,
``train_step_single``...). A few behaviours have no public door; each helper below names
the skorch behaviour it relies on, so a skorch release that changes one breaks here, and
the floors test in ``.ci/run`` (the oldest declared skorch) catches it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn.modules.lazy import LazyModuleMixin

# Attributes skorch's ``NeuralNet.initialize()`` creates afresh: a saved net does not
# store them, ``initialize()`` rebuilds them on load.
REBUILT_BY_INITIALIZE = frozenset(
    {"callbacks_", "prefixes_", "cuda_dependent_attributes_", "init_context_", "virtual_params_"}
)


def component_names(net: Any) -> list[str]:
    """The fitted attribute names (``module_``, ``criterion_``, ``optimizer_``...) of the
    torch components of ``net``.

    Relies on skorch registering every module, criterion and optimizer it initializes in
    the lists ``_modules``, ``_criteria`` and ``_optimizers``.
    """
    return [name + "_" for name in net._modules + net._criteria + net._optimizers]


def optimizer_names(net: Any) -> list[str]:
    """Names of ``net``'s optimizers without the trailing underscore (``_optimizers``)."""
    return list(net._optimizers)


def set_training(net: Any, training: bool) -> None:
    """Put every module and criterion of ``net`` in train or eval mode.

    Relies on ``NeuralNet._set_training``, which skorch's own ``train_step_single`` calls
    first; skadv's training steps replace that method and keep the call.
    """
    net._set_training(training)


def set_classes(net: Any, classes: np.ndarray) -> None:
    """Set the classes a ``NeuralNetClassifier`` reports as ``classes_``.

    Relies on ``NeuralNetClassifier.classes_`` returning ``classes_inferred_`` when the
    ``classes`` parameter is None; skorch sets it from ``y`` in ``check_data``, which
    skadv replaces because it encodes the labels itself.
    """
    net.classes_inferred_ = np.asarray(classes)


def inferred_classes(net: Any) -> np.ndarray | None:
    """The classes :func:`set_classes` (or skorch's ``check_data``) set, or None."""
    return net.__dict__.get("classes_inferred_")


class GradScalerStep:
    """Mixin: optimizer steps through ``net.grad_scaler_`` (float16 training) when set.

    Relies on ``NeuralNet.train_step`` calling ``_step_optimizer(step_fn)`` once per
    batch with a closure that computes the loss and its gradients: a ``GradScaler``
    cannot take the step as a closure, so the closure runs first and every optimizer in
    ``_optimizers`` then steps through the scaler.
    """

    def _step_optimizer(self, step_fn: Any) -> None:
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super()._step_optimizer(step_fn)
        step_fn()
        for name in self._optimizers:
            scaler.step(getattr(self, name + "_"))
        scaler.update()
        return None


class AcceleratorPreparation:
    """Mixin for skorch's ``AccelerateMixin``: refuse lazy modules in multi-process runs,
    and hand the accelerator only the criteria that have trainable parameters.

    DistributedDataParallel needs every parameter at the start, which lazy layers do not
    have yet. On multi-process CPU runs accelerate wraps every prepared module in
    DistributedDataParallel, which refuses a parameter-less criterion such as
    cross-entropy (multi-GPU runs skip those already), so those are moved to the
    accelerator's device instead. Relies on ``AccelerateMixin._initialize_accelerator``
    preparing the components named in ``_modules``, ``_criteria`` and ``_optimizers``.
    """

    def initialize(self) -> Any:
        """Initialize, and prepare the fresh components for the accelerator.

        Relies on ``AccelerateMixin.initialize`` skipping the preparation once
        ``_wrapped_with_accelerator`` is set: a second ``initialize`` (a refit, or a module
        rebuilt for the data's number of classes) would leave the new module unwrapped,
        its gradients never averaged across processes.
        """
        self._wrapped_with_accelerator = False
        return super().initialize()

    def _initialize_accelerator(self) -> Any:
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


def has_uninitialized_params(module: torch.nn.Module) -> bool:
    """Whether any lazy layer of ``module`` still waits for its first input."""
    return any(
        isinstance(m, LazyModuleMixin) and m.has_uninitialized_params() for m in module.modules()
    )
