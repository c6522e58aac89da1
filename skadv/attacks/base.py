"""The attack base class and the tensor operations the built-in attacks share."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

RANDOM_STATE = [Interval(Integral, 0, 2**32 - 1, closed="both"), None]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _per_sample_norm(t: torch.Tensor, p: float) -> torch.Tensor:
    flat = t.reshape(len(t), -1)
    return torch.linalg.vector_norm(flat, ord=p, dim=1).reshape((-1,) + (1,) * (t.ndim - 1))


def normalize(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Steepest-ascent direction of unit ``norm`` for ``grad``, per sample."""
    if norm == "linf":
        return grad.sign()
    size = _per_sample_norm(grad, 2)
    return grad / torch.where(size == 0, torch.ones_like(size), size)


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project perturbations onto the ``norm`` ball of radius ``eps``, per sample."""
    if norm == "linf":
        return delta.clamp(-eps, eps)
    size = _per_sample_norm(delta, 2)
    scale = torch.where(size == 0, torch.ones_like(size), (eps / size).clamp(max=1.0))
    return delta * scale


class AttackContext:
    """What an attack needs while it runs: the model, the batch and the constraints.

    Built by :meth:`Attack.perturb`; attack implementations use its methods rather than
    touching the module directly, so masking, clipping and targeting are handled once.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        targeted: bool,
        loss_fn: LossFn,
        clip: tuple[torch.Tensor, torch.Tensor] | None,
        mask: torch.Tensor | None,
        generator: torch.Generator | None,
    ):
        self.module = module
        self.x = x
        self.y = y
        self.targeted = targeted
        self.loss_fn = loss_fn
        self._clip = clip
        self.mask = mask
        self.generator = generator

    def gradient(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Gradient of the loss at ``x_adv`` in the direction that helps the attacker."""
        return self.gradient_and_logits(x_adv)[0]

    def gradient_and_logits(self, x_adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`gradient` at ``x_adv``, and the (detached) logits it was computed from."""
        x_adv = x_adv.detach().requires_grad_(True)
        logits = self.module(x_adv)
        (grad,) = torch.autograd.grad(self.loss_fn(logits, self.y), x_adv)
        if self.targeted:
            grad = -grad
        return self.masked(grad), logits.detach()

    def succeeded(self, logits: torch.Tensor) -> torch.Tensor:
        """Per sample, whether ``logits`` already meet the attacker's goal.

        Untargeted: the predicted class differs from ``y``; targeted: it equals ``y``.
        """
        if self.y.ndim != 1 or self.y.is_floating_point():
            raise ValueError(
                "early_stop needs class-index targets, one per sample; this attack was "
                f"given targets of shape {tuple(self.y.shape)} and dtype {self.y.dtype} "
                "(a custom loss such as TRADES'). Set early_stop=False."
            )
        predicted = logits.argmax(dim=1)
        return predicted == self.y if self.targeted else predicted != self.y

    def subset(self, keep: torch.Tensor) -> AttackContext:
        """The context restricted to the samples where the boolean ``keep`` is True."""
        return AttackContext(
            self.module,
            self.x[keep],
            self.y[keep],
            targeted=self.targeted,
            loss_fn=self.loss_fn,
            clip=self._clip,
            mask=self.mask,
            generator=self.generator,
        )

    def masked(self, t: torch.Tensor) -> torch.Tensor:
        """Zero ``t`` wherever the feature mask forbids changes."""
        return t if self.mask is None else t * self.mask

    def clip(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Clip ``x_adv`` to the valid input range, if one is set."""
        if self._clip is None:
            return x_adv
        return torch.minimum(torch.maximum(x_adv, self._clip[0]), self._clip[1])

    def random_delta(self, eps: float, norm: str) -> torch.Tensor:
        """A random perturbation drawn uniformly from the ``norm`` ball of radius ``eps``."""
        x = self.x
        if norm == "linf":
            u = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
            delta = (2 * u - 1) * eps
        else:
            direction = torch.randn(
                x.shape, generator=self.generator, device=x.device, dtype=x.dtype
            )
            direction = normalize(direction, "l2")
            dim = x[0].numel()
            u = torch.rand(
                (len(x),) + (1,) * (x.ndim - 1),
                generator=self.generator,
                device=x.device,
                dtype=x.dtype,
            )
            delta = direction * eps * u ** (1.0 / dim)
        return self.masked(delta)


def iterate(
    ctx: AttackContext,
    *,
    eps: float,
    norm: str,
    steps: int,
    step_size: float,
    random_start: bool,
    decay: float | None = None,
    early_stop: bool = False,
) -> torch.Tensor:
    """Projected gradient steps from ``ctx.x``: the loop shared by FGSM-RS, PGD and MI-FGSM.

    Each step moves ``step_size`` along the normalized (momentum) gradient, clips to the
    valid range, then projects back onto the ``eps`` ball around the clean input. With
    ``early_stop``, a sample leaves the batch at the first iterate that meets the
    attacker's goal, and that iterate is its result; the others step on as before.
    """
    x0 = ctx.x
    x_adv = ctx.clip(x0 + ctx.random_delta(eps, norm)) if random_start else x0
    momentum = torch.zeros_like(x0) if decay is not None else None
    if early_stop:
        result, index = x_adv.clone(), torch.arange(len(x0), device=x0.device)
    for _ in range(steps):
        grad, logits = ctx.gradient_and_logits(x_adv)
        if early_stop:
            keep = ~ctx.succeeded(logits)
            if not bool(keep.all()):
                result[index[~keep]] = x_adv[~keep]
                index, ctx, x_adv, grad = index[keep], ctx.subset(keep), x_adv[keep], grad[keep]
                x0 = ctx.x
                momentum = momentum[keep] if momentum is not None else None
                if not len(index):
                    return result
        if momentum is not None:
            l1 = _per_sample_norm(grad, 1)
            momentum = decay * momentum + grad / torch.where(l1 == 0, torch.ones_like(l1), l1)
            grad = momentum
        x_adv = ctx.clip(x_adv + step_size * normalize(grad, norm))
        x_adv = x0 + project(x_adv - x0, eps, norm)
    if not early_stop:
        return x_adv
    result[index] = x_adv
    return result


def _sum_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y, reduction="sum")


class Attack(BaseEstimator, ABC):
    """Base class of skadv attacks: a clonable, grid-searchable evasion attack.

    Subclasses set ``_parameter_constraints`` and implement ``_run(ctx)``, which returns
    the adversarial batch computed with the helpers of :class:`AttackContext`.

    Parameters
    ----------
    eps : float, default=0.1
        Radius of the perturbation ball in the attack's ``norm``.
    norm : {"linf", "l2"}, default="linf"
        The norm in which ``eps`` is measured.
    targeted : bool, default=False
        If True, ``y`` holds target classes and the attack moves towards them.
    clip_values : tuple (min, max) or None, default=None
        Valid input range; each bound is a float or an array broadcastable to one
        sample. ``None`` means no clipping here; the skadv estimators and metrics fill it
        from the data the model was fitted on.
    feature_mask : array-like or None, default=None
        Array broadcastable to one sample's shape; features where it is zero are never
        changed (immutable features of tabular data). ``None`` lets every feature change.

    Attacks with a random start also take ``random_state`` (int or None): the seed of
    the start, or ``None`` to draw from torch's global generator.

    Gradient-free (black-box) attacks set the class attribute ``needs_gradients = False``
    and implement ``attack_estimator(estimator, X, y) -> X_adv`` on NumPy arrays, so
    :func:`~skadv.robust_accuracy` can judge any scikit-learn classifier with them.
    """

    needs_gradients: ClassVar[bool] = True

    _parameter_constraints: ClassVar[dict] = {
        "eps": [Interval(Real, 0, None, closed="left")],
        "norm": [StrOptions({"linf", "l2"})],
        "targeted": ["boolean"],
        "clip_values": [tuple, list, None],
        "feature_mask": ["array-like", None],
    }

    def perturb(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        loss_fn: LossFn | None = None,
    ) -> torch.Tensor:
        """Return adversarial versions of ``x`` for ``module``, on ``x``'s device.

        The module's train/eval mode is restored afterwards and no gradient is left on
        its parameters.

        Parameters
        ----------
        module : torch.nn.Module
            Maps a batch to logits of shape (n_samples, n_classes).
        x : torch.Tensor of shape (n_samples, ...)
            Clean floating-point inputs.
        y : torch.Tensor of shape (n_samples,)
            True class indices, or target class indices when ``targeted``.
        loss_fn : callable, default=None
            ``loss_fn(logits, y)`` to maximize; defaults to summed cross-entropy.
            With a custom ``loss_fn``, ``y`` may be any per-sample target tensor.

        Returns
        -------
        torch.Tensor
            Adversarial inputs, same shape, dtype and device as ``x``.
        """
        self._validate_params()
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}.")
        x, y = check_batch(x, y)
        return self.run(module, x, y, loss_fn=loss_fn)

    def run(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        loss_fn: LossFn | None = None,
    ) -> torch.Tensor:
        """Like :meth:`perturb`, without validating the parameters and the batch again.

        For callers that validated both once, such as a training loop calling the
        attack on every batch. When the device runs out of memory, the batch is split
        in halves and attacked piece by piece (with a :class:`ResourceWarning`);
        ``y`` and ``loss_fn`` must therefore work on any slice of the batch.
        """
        try:
            return self._run_batch(module, x, y, loss_fn)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if not _is_out_of_memory(exc) or len(x) < 2:
                raise
        if x.is_cuda:
            torch.cuda.empty_cache()
        half = len(x) // 2
        warnings.warn(
            f"{type(self).__name__} ran out of memory on a batch of {len(x)}; retrying in "
            f"batches of {half} and {len(x) - half}.",
            ResourceWarning,
            stacklevel=2,
        )
        return torch.cat(
            [
                self.run(module, x[:half], y[:half], loss_fn=loss_fn),
                self.run(module, x[half:], y[half:], loss_fn=loss_fn),
            ]
        )

    def _run_batch(
        self, module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn | None
    ) -> torch.Tensor:
        seed = getattr(self, "random_state", None)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=x.device).manual_seed(int(seed))
        ctx = AttackContext(
            module,
            x.detach(),
            y,
            targeted=self.targeted,
            loss_fn=loss_fn or _sum_cross_entropy,
            clip=self._clip_tensors(x),
            mask=self._mask_tensor(x),
            generator=generator,
        )
        was_training = module.training
        module.eval()
        try:
            with torch.enable_grad():
                x_adv = self._run(ctx)
        finally:
            module.train(was_training)
        return x_adv.detach()

    @abstractmethod
    def _run(self, ctx: AttackContext) -> torch.Tensor:
        """Compute the adversarial batch for ``ctx``."""

    def _clip_tensors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.clip_values is None:
            return None
        if len(self.clip_values) != 2:
            raise ValueError(f"clip_values must be a pair (min, max), got {self.clip_values!r}.")
        low, high = (np.asarray(v, dtype=np.float64) for v in self.clip_values)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError(f"clip_values must be finite, got {self.clip_values!r}.")
        if np.any(low > high):
            raise ValueError(
                f"clip_values must be (min, max) with min <= max, got {self.clip_values!r}."
            )
        return (
            torch.as_tensor(low, dtype=x.dtype, device=x.device),
            torch.as_tensor(high, dtype=x.dtype, device=x.device),
        )

    def _mask_tensor(self, x: torch.Tensor) -> torch.Tensor | None:
        if self.feature_mask is None:
            return None
        mask = torch.as_tensor(
            np.asarray(self.feature_mask, dtype=np.float64), dtype=x.dtype, device=x.device
        )
        try:
            torch.broadcast_shapes(mask.shape, x.shape[1:])
        except RuntimeError:
            raise ValueError(
                f"feature_mask of shape {tuple(mask.shape)} does not broadcast to one sample "
                f"of shape {tuple(x.shape[1:])}; give one entry per feature."
            ) from None
        return mask


def _is_out_of_memory(exc: BaseException) -> bool:
    message = str(exc)
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        "out of memory" in message or "can't allocate memory" in message
    )


def check_batch(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch for an attack: floating, finite ``x`` and matching integer ``y``."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            "x must be a floating-point torch.Tensor, got "
            f"{getattr(x, 'dtype', type(x).__name__)}; convert it with "
            "torch.as_tensor(x, dtype=torch.float32)."
        )
    if x.ndim < 2:
        raise ValueError(
            f"x must have a batch dimension, shape (n_samples, ...), got shape {tuple(x.shape)}."
        )
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinity; attacks need finite inputs.")
    y = torch.as_tensor(y, device=x.device)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"y must have shape ({len(x)},), one class index per sample of x, "
            f"got shape {tuple(y.shape)}."
        )
    if y.is_floating_point():
        raise TypeError("y must hold integer class indices, got floating-point values.")
    return x, y.long()
