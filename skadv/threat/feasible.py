"""The feasible set of an attack: where an adversarial version of a clean batch may lie.

A :class:`FeasibleSet` holds, as tensors on the batch's device, everything a threat model
says: the budget ``eps`` in a norm, scaled per feature; per-feature bounds; immutable
features; integer features; one-hot blocks of categorical columns; linear relations
between columns. Attacks move through :meth:`FeasibleSet.direction` and
:meth:`FeasibleSet.project` at every step (a continuous relaxation, as in CPGD / CAPGD),
:meth:`FeasibleSet.repair` makes the final batch exactly feasible, and
:meth:`FeasibleSet.problems` checks any batch against every promise.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch

from skadv.threat.constraints import LinearConstraints

# alternating projections onto the relations, the bounds and the ball: one sweep per
# attack step (a relaxation, as CAPGD's per-step repair), up to REPAIR_ROUNDS at the end
REPAIR_ROUNDS = 30


def per_sample_norm(t: torch.Tensor, p: float) -> torch.Tensor:
    """The ``p``-norm of each sample of ``t``, shaped to broadcast against ``t``."""
    flat = t.reshape(len(t), -1)
    # abs().amax() is an order of magnitude faster than vector_norm(ord=inf) on the CPU
    size = flat.abs().amax(dim=1) if p == math.inf else torch.linalg.vector_norm(flat, ord=p, dim=1)
    return size.reshape((-1,) + (1,) * (t.ndim - 1))


def normalize(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Steepest-ascent direction of unit ``norm`` for ``grad``, per sample."""
    if norm == "linf":
        return grad.sign()
    size = per_sample_norm(grad, 2)
    return grad / torch.where(size == 0, torch.ones_like(size), size)


def project_ball(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project perturbations onto the ``norm`` ball of radius ``eps``, per sample."""
    if norm == "linf":
        return delta.clamp(-eps, eps)
    size = per_sample_norm(delta, 2)
    scale = torch.where(size == 0, torch.ones_like(size), (eps / size).clamp(max=1.0))
    return delta * scale


def project_simplex(v: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row of ``v`` onto the probability simplex."""
    u, _ = torch.sort(v, dim=1, descending=True)
    cumulative = u.cumsum(dim=1) - 1
    k = torch.arange(1, v.shape[1] + 1, device=v.device, dtype=v.dtype)
    rho = (u - cumulative / k > 0).sum(dim=1, keepdim=True)
    theta = cumulative.gather(1, rho - 1) / rho.to(v.dtype)
    return (v - theta).clamp_min(0)


class FeasibleSet:
    """Where adversarial versions of a clean batch ``x0`` may lie.

    Every per-feature tensor has the shape of one sample (or broadcasts to it).

    Parameters
    ----------
    eps : float
        Budget of the perturbation in ``norm``, in units of ``scale``.
    norm : {"linf", "l2"}
    scale : torch.Tensor or None, default=None
        Per-feature unit of ``eps``: feature ``j`` may move ``eps * scale[j]`` (Linf), or
        the perturbation divided by ``scale`` has L2 norm at most ``eps``.
    low, high : torch.Tensor or None, default=None
        Per-feature bounds. A clean value outside them is allowed to stay where it is.
    mask : torch.Tensor or None, default=None
        1 where a feature may change, 0 where it is immutable.
    integer : torch.Tensor of bool or None, default=None
        Features that must stay integral.
    categories : sequence of (torch.Tensor of int, bool), default=()
        One-hot blocks of categorical columns (flat samples only): the block's feature
        indices, and whether the attacker may switch the category (then any category
        seen in fit is allowed and the block is outside the norm ball) or not.
    constraints : LinearConstraints or None, default=None
        Linear relations between features (flat samples only).
    """

    def __init__(
        self,
        eps: float,
        norm: str,
        *,
        scale: torch.Tensor | None = None,
        low: torch.Tensor | None = None,
        high: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        integer: torch.Tensor | None = None,
        categories: Sequence[tuple[torch.Tensor, bool]] = (),
        constraints: LinearConstraints | None = None,
    ):
        self.eps = float(eps)
        self.norm = norm
        self.scale = scale
        self.low = low
        self.high = high
        self.mask = mask
        self.integer = integer if integer is not None and bool(integer.any()) else None
        self.categories = list(categories)
        self.constraints = constraints
        self._ball = self._ball_mask()

    @property
    def discrete(self) -> bool:
        """Whether :meth:`repair` does more than :meth:`project` (integers, categories,
        relations)."""
        return bool(self.integer is not None or self.categories or self.constraints is not None)

    def _ball_mask(self) -> torch.Tensor | None:
        """1 on features inside the norm ball; 0 on categorical blocks that may switch."""
        movable = [index for index, moves in self.categories if moves]
        if not movable:
            return None
        sizes = [t.numel() for t in (self.scale, self.low, self.high, self.mask) if t is not None]
        if self.constraints is not None:
            sizes.append(self.constraints.A.shape[1])
        sizes += [int(index.max()) + 1 for index in movable]
        ball = torch.ones(max(sizes), device=movable[0].device)
        for index in movable:
            ball[index] = 0
        return ball

    def to(self, x: torch.Tensor) -> FeasibleSet:
        """This set with every tensor on ``x``'s device and in its dtype.

        Parameters
        ----------
        x : torch.Tensor
            Any tensor on the target device, in the target floating dtype.

        Returns
        -------
        FeasibleSet
        """

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            return t.to(x.device) if t.dtype == torch.bool else t.to(x.device, x.dtype)

        moved = copy.copy(self)
        moved.__dict__.pop("_bounds_for", None)
        for name in ("scale", "low", "high", "mask", "integer", "_ball"):
            setattr(moved, name, move(getattr(self, name)))
        moved.categories = [(index.to(x.device), moves) for index, moves in self.categories]
        if self.constraints is not None:
            moved.constraints = self.constraints.to(x.device, x.dtype)
        return moved

    # ------------------------------------------------------------ moving

    def masked(self, t: torch.Tensor) -> torch.Tensor:
        """Zero ``t`` wherever the mask forbids changes.

        Parameters
        ----------
        t : torch.Tensor of shape (n_samples, ...)
            A perturbation or gradient.

        Returns
        -------
        torch.Tensor
        """
        return t if self.mask is None else t * self.mask

    def _frozen_back(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """``x``, with immutable features put back to their clean values ``x0``."""
        return x if self.mask is None else torch.where(self.mask == 0, x0, x)

    def _widened(self, x0: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The bounds widened to hold ``x0``; kept for the batch an attack projects around
        at every step."""
        cached = self.__dict__.get("_bounds_for")
        if cached is not None and cached[0] is x0:
            return cached[1], cached[2]
        low = None if self.low is None else torch.minimum(self.low, x0)
        high = None if self.high is None else torch.maximum(self.high, x0)
        self._bounds_for = (x0, low, high)
        return low, high

    def clip(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Clip ``x`` to the bounds (widened to hold the clean values ``x0``).

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            Candidate inputs.
        x0 : torch.Tensor
            The clean batch the perturbation is measured from, same shape as ``x``.

        Returns
        -------
        torch.Tensor
        """
        low, high = self._widened(x0)
        if low is not None:
            x = torch.maximum(x, low)
        if high is not None:
            x = torch.minimum(x, high)
        return x

    def _scaled(self, delta: torch.Tensor) -> torch.Tensor:
        return delta if self.scale is None else delta / self.scale

    def _unscaled(self, delta: torch.Tensor) -> torch.Tensor:
        return delta if self.scale is None else delta * self.scale

    def _in_ball(self, t: torch.Tensor) -> torch.Tensor:
        return t if self._ball is None else t * self._ball

    def random_delta(
        self,
        x0: torch.Tensor,
        generator: torch.Generator | None,
        eps: float | None = None,
        *,
        on_boundary: bool = False,
    ) -> torch.Tensor:
        """A random perturbation drawn uniformly from the (scaled) ball of radius ``eps``.

        Parameters
        ----------
        x0 : torch.Tensor of shape (n_samples, ...)
            The clean batch: the perturbation's shape, device and dtype.
        generator : torch.Generator or None
            Source of randomness; torch's global generator when None.
        eps : float or None, default=None
            Radius; the set's ``eps`` when None.
        on_boundary : bool, default=False
            Rescale to the ball's surface (APGD's and FAB's starts).

        Returns
        -------
        torch.Tensor
            A perturbation that is zero where the mask forbids changes.
        """
        eps = self.eps if eps is None else eps
        if self.norm == "linf":
            u = torch.rand(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
            u = 2 * u - 1
            if on_boundary:
                top = per_sample_norm(self._in_ball(u), float("inf"))
                u = u / torch.where(top == 0, torch.ones_like(top), top)
            delta = u * eps
        else:
            direction = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
            direction = normalize(self._in_ball(direction), "l2")
            dim = x0[0].numel()
            u = torch.rand(
                (len(x0),) + (1,) * (x0.ndim - 1),
                generator=generator,
                device=x0.device,
                dtype=x0.dtype,
            )
            delta = direction * eps * (1.0 if on_boundary else u ** (1.0 / dim))
        return self.masked(self._in_ball(self._unscaled(delta)))

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """The steepest-ascent step of unit (scaled) norm for ``grad``.

        Categorical blocks that may switch take a sign step of ``1 / eps`` (so a step of
        ``eps`` moves them by one unit of the simplex).

        Parameters
        ----------
        grad : torch.Tensor of shape (n_samples, ...)
            Gradient of the attacker's loss.

        Returns
        -------
        torch.Tensor
        """
        grad = self.masked(grad)
        if self.scale is not None and self.norm == "l2":
            step = self.scale * normalize(self._in_ball(grad * self.scale), "l2")
        else:
            step = self._unscaled(normalize(self._in_ball(grad), self.norm))
        if self._ball is not None and self.eps > 0:
            step = step + (1 - self._ball) * grad.sign() / self.eps
        return self.masked(step)

    def _project_once(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        x = self.clip(self._frozen_back(x, x0), x0)
        delta = self._in_ball(x - x0)
        inside = x0 + self._unscaled(project_ball(self._scaled(delta), self.eps, self.norm))
        x = inside if self._ball is None else torch.where(self._ball.bool(), inside, x)
        for index, moves in self.categories:
            x[:, index] = project_simplex(x[:, index]) if moves else x0[:, index]
        return x

    def project(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Project ``x`` onto the (relaxed) feasible set around ``x0``: mask, bounds,
        ball, categorical simplices and one sweep of projections onto the relations.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            Candidate inputs.
        x0 : torch.Tensor
            The clean batch the perturbation is measured from, same shape as ``x``.

        Returns
        -------
        torch.Tensor
        """
        x = self._project_once(x, x0)
        if self.constraints is None:
            return x
        return self._project_once(self.constraints.project(x, self._free(discrete=False)), x0)

    def _free(self, *, discrete: bool) -> torch.Tensor:
        """Features a relation may move: mutable, not categorical, and (when ``discrete``)
        not integer."""
        free = torch.ones(self.constraints.A.shape[1], device=self.constraints.A.device)
        if self.mask is not None:
            free = free * self.mask.reshape(-1)
        for index, _ in self.categories:
            free[index] = 0
        if discrete and self.integer is not None:
            free = free * (~self.integer.reshape(-1)).to(free.dtype)
        return free.to(self.constraints.A.dtype)

    def repair(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Make ``x`` exactly feasible: integers rounded (towards ``x0`` where rounding
        would leave the ball), one category per block, relations re-projected over the
        continuous features; a row that still breaks a promise falls back to ``x0``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            Candidate inputs, usually the output of :meth:`project`.
        x0 : torch.Tensor
            The clean batch the perturbation is measured from, same shape as ``x``.

        Returns
        -------
        torch.Tensor
        """
        if not self.discrete:
            return x
        x = x.clone()
        if self.integer is not None:
            rounded = torch.where(self.integer, x.round(), x)
            toward = torch.where(self.integer, x0 + (x - x0).trunc(), x)
            outside = self._ball_excess(rounded, x0) > 0
            x = torch.where(outside.reshape((-1,) + (1,) * (x.ndim - 1)), toward, rounded)
        for index, moves in self.categories:
            if moves:
                block = x[:, index]
                x[:, index] = torch.zeros_like(block).scatter_(
                    1, block.argmax(dim=1, keepdim=True), 1
                )
        if self.constraints is not None:
            free = self._free(discrete=True)
            for _ in range(REPAIR_ROUNDS):
                if bool(self.constraints.satisfied(x, rtol=1e-6).all()):  # tighter than checked
                    break
                x = self.constraints.project(x, free)
                x = torch.where(free.bool(), self._project_once(x, x0), x)
        feasible = self.contains(x, x0)
        return torch.where(feasible.reshape((-1,) + (1,) * (x.ndim - 1)), x, x0)

    # ------------------------------------------------------------ checking

    def _tolerance(self, x0: torch.Tensor) -> torch.Tensor:
        machine = torch.finfo(x0.dtype).eps
        return 8 * machine * (x0.abs() + 1)

    def _ball_excess(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Per row, how far the perturbation lies outside the ball, beyond rounding."""
        delta = self._scaled(self._in_ball(x - x0))
        slack = self._scaled(self._in_ball(self._tolerance(x0))) + 1e-4 * self.eps
        if self.norm == "linf":
            return (delta.abs() - self.eps - slack).clamp_min(0).reshape(len(x), -1).amax(dim=1)
        size = per_sample_norm(delta, 2).reshape(-1)
        return (size - self.eps - per_sample_norm(slack, 2).reshape(-1)).clamp_min(0)

    def problems(self, x: torch.Tensor, x0: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per promise, a boolean per row that is True where ``x`` breaks it.

        Promises: ``finite``, ``ball`` (the eps-ball), ``bounds``, ``mask``, ``integer``,
        ``categorical`` and ``constraints``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            Candidate inputs.
        x0 : torch.Tensor
            The clean batch the perturbation is measured from, same shape as ``x``.

        Returns
        -------
        dict of str to torch.Tensor
            Boolean tensors of shape (n_samples,).
        """
        n = len(x)
        flat = x.reshape(n, -1)
        tol = self._tolerance(x0)
        found = {"finite": ~torch.isfinite(flat).all(dim=1), "ball": self._ball_excess(x, x0) > 0}
        out_of_bounds = torch.zeros_like(x, dtype=torch.bool)
        low, high = self._widened(x0)
        if low is not None:
            out_of_bounds |= x < low - tol
        if high is not None:
            out_of_bounds |= x > high + tol
        found["bounds"] = out_of_bounds.reshape(n, -1).any(dim=1)
        if self.mask is not None:
            frozen = (self.mask == 0).expand_as(x)
            found["mask"] = ((x != x0) & frozen).reshape(n, -1).any(dim=1)
        if self.integer is not None:
            fractional = (x != x.round()) & self.integer & (x != x0)
            found["integer"] = fractional.reshape(n, -1).any(dim=1)
        if self.categories:
            bad = torch.zeros(n, dtype=torch.bool, device=x.device)
            for index, moves in self.categories:
                block, clean = x[:, index], x0[:, index]
                if moves:
                    one_hot = ((block == 0) | (block == 1)).all(dim=1) & (block.sum(dim=1) == 1)
                    bad |= ~one_hot & (block != clean).any(dim=1)
                else:
                    bad |= (block != clean).any(dim=1)
            found["categorical"] = bad
        if self.constraints is not None:
            unchanged = (x == x0).reshape(n, -1).all(dim=1)
            found["constraints"] = ~self.constraints.satisfied(x) & ~unchanged
        return found

    def contains(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Per row, whether ``x`` keeps every promise (a clean row always does).

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            Candidate inputs.
        x0 : torch.Tensor
            The clean batch the perturbation is measured from, same shape as ``x``.

        Returns
        -------
        torch.Tensor of shape (n_samples,)
            Boolean.
        """
        problems = self.problems(x, x0)
        return ~torch.stack(list(problems.values())).any(dim=0)


def from_attack_params(
    eps: float, norm: str, clip_values: Any, feature_mask: Any, x: torch.Tensor
) -> FeasibleSet:
    """The feasible set of an attack's own parameters: a global or per-feature clip range
    and a feature mask, on ``x``'s device."""
    low = high = mask = None
    if clip_values is not None:
        low, high = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in clip_values)
    if feature_mask is not None:
        mask = torch.as_tensor(feature_mask, dtype=x.dtype, device=x.device)
    return FeasibleSet(eps, norm, low=low, high=high, mask=mask)
