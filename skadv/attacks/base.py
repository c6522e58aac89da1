"""The attack base class and the tensor operations the built-in attacks share."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions

from skadv.exceptions import OutOfMemoryWarning, PluginError
from skadv.plugins import describe, origin
from skadv.seeding import int_seed
from skadv.threat.feasible import FeasibleSet, from_attack_params, per_sample_norm
from skadv.validation import Number, check_feature_mask

RANDOM_STATE = ["random_state"]
# loss_fn(logits, y) -> one loss per sample, shape (n_samples,), for the attack to maximize
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class AttackContext:
    """What an attack needs while it runs: the model, the batch and the feasible set.

    Built by :meth:`Attack.perturb`; attack implementations use its methods rather than
    touching the module or the constraints directly, so the threat model (budget, bounds,
    immutable, integer and categorical features, relations) is handled once.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a batch to logits.
    x : torch.Tensor of shape (n_samples, ...)
        The clean batch.
    y : torch.Tensor of shape (n_samples,)
        Class indices (true, or targets when ``targeted``), or any per-sample targets
        of ``loss_fn``.
    targeted : bool
        Whether the attacker moves towards ``y`` rather than away from it.
    loss_fn : callable or None
        ``loss_fn(logits, y)``, one loss per sample; cross-entropy when None.
    feasible : FeasibleSet
        Where adversarial inputs may lie.
    generator : torch.Generator or None
        Source of randomness for random starts.
    start : torch.Tensor or None, default=None
        Where attacks without a random start begin; ``x`` when None.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        targeted: bool,
        loss_fn: LossFn | None,
        feasible: FeasibleSet,
        generator: torch.Generator | None,
        start: torch.Tensor | None = None,
    ):
        self.module = module
        self.x = x
        self.y = y
        self.targeted = targeted
        self.custom_loss = loss_fn is not None
        self.loss_fn = loss_fn or _cross_entropy
        self.feasible = feasible
        self.generator = generator
        self.start = x if start is None else start

    def gradient(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Gradient of the loss at ``x_adv`` in the direction that helps the attacker.

        Parameters
        ----------
        x_adv : torch.Tensor of shape (n_samples, ...)
            Current adversarial batch.

        Returns
        -------
        torch.Tensor
        """
        return self.gradient_and_logits(x_adv)[0]

    def gradient_and_logits(self, x_adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`gradient` at ``x_adv``, and the (detached) logits it was computed from.

        Parameters
        ----------
        x_adv : torch.Tensor of shape (n_samples, ...)
            Current adversarial batch.

        Returns
        -------
        grad, logits : torch.Tensor
        """
        x_adv = x_adv.detach().requires_grad_(True)
        logits = self.module(x_adv)
        (grad,) = torch.autograd.grad(self.loss_fn(logits, self.y).sum(), x_adv)
        if self.targeted:
            grad = -grad
        return self.masked(grad), logits.detach()

    def succeeded(self, logits: torch.Tensor) -> torch.Tensor:
        """Per sample, whether ``logits`` already meet the attacker's goal.

        Untargeted: the predicted class differs from ``y``; targeted: it equals ``y``.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
            The module's output on the current adversarial batch.

        Returns
        -------
        torch.Tensor of shape (n_samples,)
            Boolean.
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
        """The context restricted to some samples.

        Parameters
        ----------
        keep : torch.Tensor of shape (n_samples,)
            Boolean: the samples to keep.

        Returns
        -------
        AttackContext
        """
        return AttackContext(
            self.module,
            self.x[keep],
            self.y[keep],
            targeted=self.targeted,
            loss_fn=self.loss_fn if self.custom_loss else None,
            feasible=self.feasible,
            generator=self.generator,
            start=self.start[keep],
        )

    def masked(self, t: torch.Tensor) -> torch.Tensor:
        """Zero ``t`` wherever the threat model forbids changes.

        Parameters
        ----------
        t : torch.Tensor of shape (n_samples, ...)
            A perturbation or gradient.

        Returns
        -------
        torch.Tensor
        """
        return self.feasible.masked(t)

    def clip(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Clip ``x_adv`` to the valid input range (the clean values always stay valid).

        Parameters
        ----------
        x_adv : torch.Tensor of shape (n_samples, ...)
            Current adversarial batch.

        Returns
        -------
        torch.Tensor
        """
        return self.feasible.clip(x_adv, self.x)

    def random_delta(self, eps: float) -> torch.Tensor:
        """A random perturbation drawn uniformly from the ball of radius ``eps`` (in the
        threat model's norm and per-feature scale).

        Parameters
        ----------
        eps : float
            Radius of the ball.

        Returns
        -------
        torch.Tensor
        """
        return self.feasible.random_delta(self.x, self.generator, eps)

    def project(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Project ``x_adv`` onto the (relaxed) feasible set around the clean batch.

        Parameters
        ----------
        x_adv : torch.Tensor of shape (n_samples, ...)
            Current adversarial batch.

        Returns
        -------
        torch.Tensor
        """
        return self.feasible.project(x_adv, self.x)

    def step(self, x_adv: torch.Tensor, grad: torch.Tensor, step_size: float) -> torch.Tensor:
        """One projected steepest-ascent step of ``step_size`` along ``grad``.

        Parameters
        ----------
        x_adv : torch.Tensor of shape (n_samples, ...)
            Current adversarial batch.
        grad : torch.Tensor
            Gradient from :meth:`gradient`, same shape.
        step_size : float
            Step length in the threat model's norm.

        Returns
        -------
        torch.Tensor
        """
        return self.project(x_adv + step_size * self.feasible.direction(grad))

    def repair(self, x_adv: torch.Tensor) -> torch.Tensor:
        """Make ``x_adv`` exactly feasible (integral, one category, relations hold); a row
        that cannot be repaired falls back to its clean version.

        Parameters
        ----------
        x_adv : torch.Tensor of shape (n_samples, ...)
            Current adversarial batch.

        Returns
        -------
        torch.Tensor
        """
        return self.feasible.repair(x_adv, self.x)

    def logits(self, x_adv: torch.Tensor) -> torch.Tensor:
        """The module's logits at ``x_adv``, without gradients.

        Parameters
        ----------
        x_adv : torch.Tensor of shape (n_samples, ...)
            Current adversarial batch.

        Returns
        -------
        torch.Tensor
        """
        with torch.no_grad():
            return self.module(x_adv)


def iterate(
    ctx: AttackContext,
    *,
    steps: int,
    step_size: float,
    random_start: bool,
    decay: float | None = None,
    early_stop: bool = False,
) -> torch.Tensor:
    """Projected gradient steps from ``ctx.x``: the loop shared by FGSM-RS, PGD and MI-FGSM.

    Each step moves ``step_size`` along the normalized (momentum) gradient and projects
    back onto the feasible set around the clean input; the result is repaired to be
    exactly feasible. With ``early_stop``, a sample leaves the batch at the first
    (repaired) iterate that meets the attacker's goal, and that iterate is its result;
    the others step on as before.
    """
    x0 = ctx.x
    x_adv = ctx.project(x0 + ctx.random_delta(ctx.feasible.eps)) if random_start else ctx.start
    momentum = torch.zeros_like(x0) if decay is not None else None
    discrete = ctx.feasible.discrete
    if early_stop:
        result, index = x_adv.clone(), torch.arange(len(x0), device=x0.device)
    for _ in range(steps):
        grad, logits = ctx.gradient_and_logits(x_adv)
        if early_stop:
            candidate = ctx.repair(x_adv) if discrete else x_adv
            keep = ~ctx.succeeded(ctx.logits(candidate) if discrete else logits)
            if not bool(keep.all()):
                result[index[~keep]] = candidate[~keep]
                index, ctx, x_adv, grad = index[keep], ctx.subset(keep), x_adv[keep], grad[keep]
                momentum = momentum[keep] if momentum is not None else None
                if not len(index):
                    return result
        if momentum is not None:
            l1 = per_sample_norm(grad, 1)
            momentum = decay * momentum + grad / torch.where(l1 == 0, torch.ones_like(l1), l1)
            grad = momentum
        x_adv = ctx.step(x_adv, grad, step_size)
    x_adv = ctx.repair(x_adv)
    if not early_stop:
        return x_adv
    result[index] = x_adv
    return result


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y, reduction="none")


class Attack(BaseEstimator, ABC):
    """Base class of skadv attacks: a clonable, grid-searchable evasion attack.

    Subclasses set ``_parameter_constraints`` and implement ``_run(ctx)``, which returns
    the adversarial batch computed with the helpers of :class:`AttackContext`. The base
    class checks what every attack returns: the same shape, dtype and device as the
    input, finite values, inside the feasible set (the eps-ball, the bounds, the feature
    mask and any threat-model promise). A violation raises a
    :class:`~skadv.exceptions.PluginError` that names the attack and its plugin.

    Every built-in attack takes these parameters (subclasses list their own):

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
        Array that broadcasts to one sample's shape, with values in [0, 1]; features
        where it is zero are never changed (immutable features of tabular data).
        ``None`` lets every feature change.

    Notes
    -----
    Attacks with a random start also take ``random_state`` (int or None): the seed of
    a generator made on the attack's first run and advanced by every later batch, so
    each batch gets a fresh start and the whole run is reproducible; ``None`` draws
    from torch's global generator.

    Gradient-free (black-box) attacks set the class attribute ``needs_gradients = False``
    and implement ``attack_estimator(estimator, X, y) -> X_adv`` on NumPy arrays, so
    :func:`~skadv.robust_accuracy` can judge any scikit-learn classifier with them.
    """

    needs_gradients: ClassVar[bool] = True
    # an ensemble that re-batches the samples itself takes all of them at once, with
    # the evaluation's batch size as its ``batch_size`` parameter
    batches_itself: ClassVar[bool] = False

    _parameter_constraints: ClassVar[dict] = {
        "eps": [Number(Real, 0, None, closed="left")],
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
        feasible: FeasibleSet | None = None,
        start: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return adversarial versions of ``x`` for ``module``, on ``x``'s device.

        The module's train/eval mode is restored afterwards and no gradient is left on
        its parameters.

        Parameters
        ----------
        module : torch.nn.Module
            Maps a batch to logits of shape (n_samples, n_classes).
        x : torch.Tensor of shape (n_samples, ...)
            Clean floating-point inputs, in the dtype of the module's weights.
        y : torch.Tensor of shape (n_samples,)
            True class indices, or target class indices when ``targeted``.
        loss_fn : callable, default=None
            ``loss_fn(logits, y)`` returning one loss per sample, to maximize; defaults
            to the cross-entropy. With a custom ``loss_fn``, ``y`` may be any per-sample
            target tensor.
        feasible : FeasibleSet or None, default=None
            The threat model resolved against the data (see
            :meth:`skadv.ThreatModel.feasible_set`); it replaces the attack's own
            ``eps``, ``norm``, ``clip_values`` and ``feature_mask``.
        start : torch.Tensor or None, default=None
            Where attacks without a random start begin (the clean ``x`` when None);
            the ball stays centred on ``x``.

        Returns
        -------
        torch.Tensor
            Adversarial inputs, same shape, dtype and device as ``x``.
        """
        self._validate_params()
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}.")
        x, y = check_batch(x, y)
        _check_against_module(module, x, y if loss_fn is None else None)
        return self.run(module, x, y, loss_fn=loss_fn, feasible=feasible, start=start)

    def run(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        loss_fn: LossFn | None = None,
        feasible: FeasibleSet | None = None,
        start: torch.Tensor | None = None,
        module_mode: str = "eval",
    ) -> torch.Tensor:
        """Like :meth:`perturb`, without validating the parameters and the batch again.

        For callers that validated both once, such as a training loop calling the
        attack on every batch. When the device runs out of memory, the batch is split
        in halves and attacked piece by piece (with a warning);
        ``y`` and ``loss_fn`` must therefore work on any slice of the batch.
        ``module_mode`` is the mode the module runs in while crafting: ``"eval"`` (the
        default), or ``"train"`` (batch norm uses batch statistics and updates its running
        ones, as fast adversarial training does).

        Parameters
        ----------
        module : torch.nn.Module
            Maps a batch to logits of shape (n_samples, n_classes).
        x : torch.Tensor of shape (n_samples, ...)
            Clean inputs.
        y : torch.Tensor of shape (n_samples,)
            Class indices (targets when ``targeted``), or per-sample targets of ``loss_fn``.
        loss_fn : callable or None, default=None
            ``loss_fn(logits, y)``, one loss per sample to maximize; cross-entropy if None.
        feasible : FeasibleSet or None, default=None
            The resolved threat model; the attack's own parameters when None.
        start : torch.Tensor or None, default=None
            Where attacks without a random start begin.
        module_mode : {"eval", "train"}, default="eval"
            The module's mode while crafting.

        Returns
        -------
        torch.Tensor
            Adversarial inputs, same shape, dtype and device as ``x``.
        """
        if not len(x):
            return x.detach().clone()
        try:
            return self._run_batch(module, x, y, loss_fn, feasible, start, module_mode)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if not _is_out_of_memory(exc) or len(x) < 2:
                raise
        if x.is_cuda:
            torch.cuda.empty_cache()
        half = len(x) // 2
        warnings.warn(
            f"{type(self).__name__} ran out of memory on a batch of {len(x)}; retrying in "
            f"batches of {half} and {len(x) - half}.",
            OutOfMemoryWarning,
            stacklevel=2,
        )
        parts = [slice(None, half), slice(half, None)]
        return torch.cat(
            [
                self.run(
                    module,
                    x[part],
                    y[part],
                    loss_fn=loss_fn,
                    feasible=feasible,
                    start=None if start is None else start[part],
                    module_mode=module_mode,
                )
                for part in parts
            ]
        )

    def feasible_set(self, x: torch.Tensor) -> FeasibleSet:
        """The feasible set of this attack's own ``eps``, ``norm``, ``clip_values`` and
        ``feature_mask``, for a batch like ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            A batch: the set's device, dtype and sample shape.

        Returns
        -------
        FeasibleSet
        """
        if self.clip_values is not None:
            if len(self.clip_values) != 2:
                raise ValueError(
                    f"clip_values must be a pair (min, max), got {self.clip_values!r}."
                )
            low, high = (np.asarray(v, dtype=np.float64) for v in self.clip_values)
            if not (np.isfinite(low).all() and np.isfinite(high).all()):
                raise ValueError(f"clip_values must be finite, got {self.clip_values!r}.")
            if np.any(low > high):
                raise ValueError(
                    f"clip_values must be (min, max) with min <= max, got {self.clip_values!r}."
                )
        mask = self.feature_mask
        if mask is not None:
            mask = check_feature_mask(mask, tuple(x.shape[1:]))
        return from_attack_params(
            self.eps, getattr(self, "norm", "linf"), self.clip_values, mask, x
        )

    def _generator(self, device: torch.device) -> torch.Generator | None:
        """The attack's generator: seeded once from ``random_state``, then advanced."""
        seed = getattr(self, "random_state", None)
        if seed is None:
            return None
        generator = self.__dict__.get("_generator_")
        if generator is None or generator.device != device:
            generator = torch.Generator(device=device).manual_seed(int_seed(seed))
            self.__dict__["_generator_"] = generator
        return generator

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_generator_", None)  # a torch generator holds no picklable state
        return state

    def _run_batch(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        loss_fn: LossFn | None,
        feasible: FeasibleSet | None,
        start: torch.Tensor | None,
        module_mode: str,
    ) -> torch.Tensor:
        x = x.detach()
        feasible = (feasible or self.feasible_set(x)).to(x)
        ctx = AttackContext(
            module,
            x,
            y,
            targeted=self.targeted,
            loss_fn=loss_fn,
            feasible=feasible,
            generator=self._generator(x.device),
            start=None if start is None else feasible.project(start.detach(), x),
        )
        was_training = module.training
        module.train(module_mode == "train")
        try:
            with torch.enable_grad():
                x_adv = self._run(ctx)
        finally:
            module.train(was_training)
        self._check_output(x_adv, x, feasible)
        return x_adv.detach()

    @abstractmethod
    def _run(self, ctx: AttackContext) -> torch.Tensor:
        """Compute the adversarial batch for ``ctx``."""

    def _check_output(self, x_adv: Any, x: torch.Tensor, feasible: FeasibleSet) -> None:
        """Refuse an adversarial batch that breaks the attack contract."""
        if not isinstance(x_adv, torch.Tensor):
            problem = f"a {type(x_adv).__name__}, not a torch.Tensor"
        elif x_adv.shape != x.shape or x_adv.dtype != x.dtype or x_adv.device != x.device:
            problem = (
                f"a batch of dtype {x_adv.dtype}, shape {tuple(x_adv.shape)} on "
                f"{x_adv.device}, for an input of dtype {x.dtype}, shape {tuple(x.shape)} on "
                f"{x.device}"
            )
        else:
            problem = _first_problem(feasible.problems(x_adv.detach(), x), feasible)
        if problem is None:
            return
        component = origin(self)
        name = describe(component) if component else f"attack {type(self).__name__}"
        raise PluginError(f"{name} returned {problem}")


PROMISES = {
    "finite": "NaN or infinite values",
    "ball": "points outside the eps-ball (eps={eps}, {norm})",
    "bounds": "points outside the valid input range",
    "mask": "changes to immutable features",
    "integer": "fractional values in integer features",
    "categorical": "a categorical block that is not one seen category",
    "constraints": "points that break a relation between features",
}


def _first_problem(problems: dict[str, torch.Tensor], feasible: FeasibleSet) -> str | None:
    counts = {name: int(rows.sum()) for name, rows in problems.items()}
    for name, count in counts.items():
        if count:
            what = PROMISES[name].format(eps=feasible.eps, norm=feasible.norm)
            return f"{what} in {count} of {len(next(iter(problems.values())))} samples"
    return None


def _is_out_of_memory(exc: BaseException) -> bool:
    message = str(exc)
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        "out of memory" in message or "can't allocate memory" in message
    )


def _check_against_module(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> None:
    """Refuse a batch in another dtype than the module's weights, or labels outside its
    outputs (``y`` is None for a custom loss, whose targets may be anything)."""
    param = next(module.parameters(), None)
    if param is not None and param.is_floating_point() and x.dtype != param.dtype:
        raise TypeError(
            f"x is {x.dtype} but the module's weights are {param.dtype}; pass "
            f"x.to({param.dtype}) (or convert the module)."
        )
    if y is None or not len(y):
        return
    was_training = module.training
    module.eval()
    with torch.no_grad():
        n_classes = module(x[:1]).shape[-1]
    module.train(was_training)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"y holds class indices from {low} to {high}, but the module returns "
            f"{n_classes} logits: indices must lie in [0, {n_classes - 1}]."
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
