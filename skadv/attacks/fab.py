"""FAB (Croce & Hein 2020): the fast adaptive boundary attack, untargeted and targeted."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options

from skadv.attacks.apgd import n_targets, top_classes
from skadv.attacks.base import RANDOM_STATE, Attack, AttackContext
from skadv.threat.feasible import per_sample_norm


def row_order(t: torch.Tensor) -> torch.Tensor:
    """The argsort of each row. On the CPU numpy's vectorized sort is used: on rows of
    a few dozen floats it is several times faster than torch's."""
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        return torch.from_numpy(np.argsort(t.detach().numpy(), axis=1))
    return t.argsort(dim=1)


def hyperplane_step(
    w: torch.Tensor, c: torch.Tensor, low: torch.Tensor, high: torch.Tensor, norm: str
) -> torch.Tensor:
    """The smallest step ``d`` (in ``norm``) with ``w @ d == c`` and ``low <= d <= high``.

    Rows are flat samples, with ``low <= 0 <= high``. Each coordinate moves along the sign
    of its weight, up to its room: ``|d_i| = min(lam * r_i, room_i)`` where ``r_i`` is 1
    (Linf) or ``|w_i|`` (L2), and ``lam`` is one level per sample. ``w @ d`` then grows
    piecewise linearly with ``lam``; sorting the levels at which coordinates run out of
    room finds the ``lam`` that reaches ``c`` exactly. A row that cannot reach ``c`` inside
    the box moves as far as it can.
    """
    # for c < 0 solve (-w) @ d == -c instead
    w = torch.where(c[:, None] < 0, -w, w)
    c = c.abs()
    room = torch.where(w > 0, high, torch.where(w < 0, -low, 0)).clamp_min(0)
    a = w.abs()
    if norm == "linf":  # rate 1: a coordinate runs out of room at lam == room
        rate, level, slope = 1.0, room, a
    else:
        rate, slope = a, a * a
        level = torch.where(a > 0, room / a.clamp_min(torch.finfo(a.dtype).tiny), torch.inf)
    order = row_order(level)
    level_s = level.gather(1, order)
    cap_s = (a * room).gather(1, order)
    slope_s = slope.gather(1, order)
    cap_before = cap_s.cumsum(dim=1) - cap_s
    slope_from = slope_s.flip(1).cumsum(dim=1).flip(1)
    reach = torch.where(slope_from > 0, cap_before + level_s * slope_from, cap_before)
    count = (reach < c[:, None]).sum(dim=1, keepdim=True)
    k = count.clamp(max=w.shape[1] - 1)
    lam = (c - cap_before.gather(1, k).squeeze(1)) / slope_from.gather(1, k).squeeze(1).clamp_min(
        torch.finfo(a.dtype).tiny
    )
    # a row that cannot reach c: every coordinate to its room (a finite lam keeps 0 * lam
    # at 0 where a weight is 0)
    lam = torch.where(count.squeeze(1) == w.shape[1], torch.finfo(a.dtype).max, lam.clamp_min(0))
    return torch.minimum(lam[:, None] * rate, room).copysign(w)


class FAB(Attack):
    """FAB (Croce & Hein 2020): steps to the projection on the linearized decision
    boundary, biased back towards the clean point, keeping the smallest adversarial
    perturbation found; a result farther than ``eps`` does not count.

    Registered as ``fab`` (untargeted) and ``fab-t`` (targeted at the
    ``n_target_classes`` most likely wrong classes, one after the other). Each projection
    is exact for the threat model's norm (scaled per feature), bounds and immutable
    features; the result is projected onto the feasible set and repaired.

    Parameters
    ----------
    eps : float, default=0.1
        Budget: found perturbations larger than it are not kept, and restarts start
        within half of it.
    norm : {"linf", "l2"}, default="linf"
    steps : int, default=100
    n_restarts : int, default=1
        The first run starts at the clean point, later ones at random points.
    n_target_classes : int or None, default=None
        None: untargeted. An int: FAB-T against that many of the most likely wrong classes.
    alpha_max : float, default=0.1
        Largest weight of the step from the clean point.
    eta : float, default=1.05
        Overshoot of each projection.
    beta : float, default=0.9
        Backward step towards the clean point after each adversarial point.
    targeted : False
    clip_values, feature_mask
        As in :class:`~skadv.attacks.Attack`.
    random_state : int, RandomState instance or None, default=None
        Seed of the random restarts.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import FAB
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> x_adv = FAB(eps=0.3, steps=10, random_state=0).perturb(model, x, y)
    >>> bool((x_adv - x).abs().max() <= 0.3 + 1e-6)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "steps": [Interval(Integral, 1, None, closed="left")],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "n_target_classes": [Interval(Integral, 1, None, closed="left"), None],
        "alpha_max": [Interval(Real, 0, 1, closed="both")],
        "eta": [Interval(Real, 1, None, closed="left")],
        "beta": [Interval(Real, 0, 1, closed="both")],
        "targeted": [Options(bool, {False})],
        "random_state": RANDOM_STATE,
    }

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        steps: int = 100,
        n_restarts: int = 1,
        n_target_classes: int | None = None,
        alpha_max: float = 0.1,
        eta: float = 1.05,
        beta: float = 0.9,
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
        random_state: int | None = None,
    ):
        self.eps = eps
        self.norm = norm
        self.steps = steps
        self.n_restarts = n_restarts
        self.n_target_classes = n_target_classes
        self.alpha_max = alpha_max
        self.eta = eta
        self.beta = beta
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask
        self.random_state = random_state

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        best = ctx.x.clone()
        logits = ctx.logits(ctx.x)
        robust = ctx.succeeded(logits).logical_not()
        if self.n_target_classes is None:
            rounds = [(None, restart) for restart in range(self.n_restarts)]
        else:
            count = n_targets(self.n_target_classes, logits.shape[1])
            rounds = [
                (top_classes(logits, rank), restart)
                for rank in range(2, count + 2)
                for restart in range(self.n_restarts)
            ]
        for target, restart in rounds:
            index = robust.nonzero().squeeze(1)
            if not len(index):
                break
            sub = ctx.subset(robust)
            x_adv = self._single_run(sub, None if target is None else target[robust], restart > 0)
            x_adv = ctx.subset(robust).repair(sub.project(x_adv))
            fooled = sub.succeeded(sub.logits(x_adv))
            best[index[fooled]] = x_adv[fooled]
            robust[index[fooled]] = False
        return best

    def _boundary(
        self, ctx: AttackContext, x: torch.Tensor, target: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sample, the logit difference to the nearest (or target) class, and its
        gradient (masked)."""
        x_req = x.detach().requires_grad_(True)
        logits = ctx.module(x_req)
        true = logits.gather(1, ctx.y[:, None])
        if target is not None:
            diff = (logits.gather(1, target[:, None]) - true).squeeze(1)
            (grad,) = torch.autograd.grad(diff.sum(), x_req)
            return diff.detach(), ctx.masked(grad)
        diffs = logits - true
        grads = []
        for k in range(logits.shape[1]):
            (g,) = torch.autograd.grad(diffs[:, k].sum(), x_req, retain_graph=True)
            grads.append(ctx.masked(g))
        grads = torch.stack(grads, dim=1)  # (n, classes, ...)
        dual = 1 if ctx.feasible.norm == "linf" else 2
        scale = ctx.feasible.scale
        weighted = grads if scale is None else grads * scale
        size = torch.linalg.vector_norm(weighted.flatten(2), ord=dual, dim=2)
        distance = diffs.detach().abs() / (size + 1e-12)
        distance.scatter_(1, ctx.y[:, None], torch.inf)
        nearest = distance.argmin(dim=1)
        rows = torch.arange(len(x), device=x.device)
        return diffs.detach()[rows, nearest], grads[rows, nearest]

    @staticmethod
    def _project(
        norm: str,
        x: torch.Tensor,
        box: tuple[torch.Tensor, torch.Tensor],
        scale: torch.Tensor | None,
        grad: torch.Tensor,
        gap: torch.Tensor,
    ) -> torch.Tensor:
        """The smallest step from ``x`` onto ``{z: gap + grad @ (z - x) == 0}``, inside the
        ``box`` of bounds, in the threat model's ``norm`` (scaled per feature)."""
        n = len(x)
        low, high = box[0] - x, box[1] - x
        if scale is not None:
            grad, low, high = grad * scale, low / scale, high / scale
        step = hyperplane_step(
            grad.reshape(n, -1), -gap, low.reshape(n, -1), high.reshape(n, -1), norm
        ).reshape(x.shape)
        return step if scale is None else step * scale

    def _single_run(
        self, ctx: AttackContext, target: torch.Tensor | None, random_start: bool
    ) -> torch.Tensor:
        feasible, x0 = ctx.feasible, ctx.x
        n = len(x0)
        shape = (n,) + (1,) * (x0.ndim - 1)
        radius = torch.full((n,), torch.inf, device=x0.device, dtype=x0.dtype)
        best = x0.clone()
        x = x0.clone()
        if random_start:
            x = ctx.project(x0 + 0.5 * feasible.random_delta(x0, ctx.generator, on_boundary=True))
        norm = float("inf") if feasible.norm == "linf" else 2.0
        # projections from x and from x0 at once (one sort for the two), in the bounds
        twice = torch.cat([x0, x0])
        box = (
            feasible.clip(torch.full_like(twice, -torch.inf), twice),
            feasible.clip(torch.full_like(twice, torch.inf), twice),
        )
        scale = None if feasible.scale is None else feasible.scale.expand_as(twice)
        for _ in range(self.steps):
            gap, grad = self._boundary(ctx, x, target)
            gap_clean = gap + (grad * (x0 - x)).reshape(n, -1).sum(dim=1)
            both = self._project(
                feasible.norm,
                torch.cat([x, x0]),
                box,
                scale,
                torch.cat([grad, grad]),
                torch.cat([gap, gap_clean]),
            )
            d1, d2 = both[:n], both[n:]
            a1, a2 = per_sample_norm(feasible._scaled(both), norm).clamp_min(1e-8).split(n)
            alpha = (a1 / (a1 + a2)).clamp(0, self.alpha_max)
            x = (x + self.eta * d1) * (1 - alpha) + (x0 + self.eta * d2) * alpha
            x = feasible.clip(ctx.masked(x - x0) + x0, x0)
            fooled = ctx.succeeded(ctx.logits(x))
            size = per_sample_norm(feasible._scaled(x - x0), norm).reshape(-1)
            better = fooled & (size < radius)
            best = torch.where(better.reshape(shape), x, best)
            radius = torch.where(better, size, radius)
            x = torch.where(fooled.reshape(shape), x0 + (x - x0) * self.beta, x)
        # as the reference: a perturbation larger than eps does not count, even where its
        # projection onto the ball would still fool the model
        return torch.where((radius <= feasible.eps).reshape(shape), best, x0)
