"""Auto-PGD (Croce & Hein 2020): APGD-CE, APGD-DLR and the targeted APGD-T."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions

from skadv.attacks.base import RANDOM_STATE, Attack, AttackContext


def _sorted(logits: torch.Tensor) -> torch.Tensor:
    """Logits in increasing order, padded below with the lowest one up to four classes
    (the DLR denominators read the 3rd and 4th largest)."""
    ordered, _ = logits.sort(dim=1)
    missing = 4 - ordered.shape[1]
    if missing > 0:
        ordered = torch.cat([ordered[:, :1].expand(-1, missing), ordered], dim=1)
    return ordered


def dlr_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The difference-of-logits-ratio loss, per sample (higher: closer to a mistake)."""
    ordered = _sorted(logits)
    true = logits.gather(1, y[:, None]).squeeze(1)
    top_is_true = (logits.argmax(dim=1) == y).to(logits.dtype)
    other = ordered[:, -2] * top_is_true + ordered[:, -1] * (1 - top_is_true)
    return -(true - other) / (ordered[:, -1] - ordered[:, -3] + 1e-12)


def targeted_dlr_loss(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The targeted DLR loss of APGD-T, per sample."""
    ordered = _sorted(logits)
    true = logits.gather(1, y[:, None]).squeeze(1)
    wanted = logits.gather(1, target[:, None]).squeeze(1)
    return -(true - wanted) / (ordered[:, -1] - 0.5 * (ordered[:, -3] + ordered[:, -4]) + 1e-12)


def top_classes(logits: torch.Tensor, rank: int) -> torch.Tensor:
    """The class with the ``rank``-th highest logit (``rank`` 2 is the runner-up)."""
    return logits.argsort(dim=1)[:, -rank]


def n_targets(requested: int, n_classes: int) -> int:
    """Target classes an attack can use against ``n_classes`` outputs."""
    return max(1, min(requested, n_classes - 1))


class APGD(Attack):
    """Auto-PGD (Croce & Hein 2020), with the paper's budget-free step-size schedule.

    The step size starts at ``2 * eps`` and is halved at checkpoints (after 22 % of the
    iterations, then at shrinking intervals of at least 6 %) when the loss rose in fewer
    than ``rho`` of the steps since the last one, or when it was not halved then and the
    best loss has not improved; the search then resumes from the best point. Steps use
    momentum 0.75. Restarts attack only the samples still classified correctly.

    Registered as ``apgd-ce`` (cross-entropy), ``apgd-dlr`` (difference of logits ratio)
    and ``apgd-t`` (targeted DLR against the ``n_target_classes`` most likely wrong
    classes, one after the other).

    Parameters
    ----------
    eps : float, default=0.1
        Perturbation budget.
    norm : {"linf", "l2"}, default="linf"
    loss : {"ce", "dlr"}, default="ce"
        The loss maximized (untargeted). With ``n_target_classes`` it is the targeted DLR.
    steps : int, default=100
        Iterations per restart (and per target class).
    n_restarts : int, default=1
        Runs from fresh random starts, on the samples still correct.
    n_target_classes : int or None, default=None
        None: untargeted. An int: APGD-T against that many of the most likely wrong
        classes (at most the number of classes minus one).
    rho : float, default=0.75
        Share of improving steps below which a checkpoint halves the step size.
    eot_iter : int, default=1
        Gradients averaged per step (expectation over transformation), for randomized
        models.
    targeted : bool, default=False
        With ``y`` holding target classes, minimize the cross-entropy to them (``loss``
        must be "ce").
    clip_values, feature_mask
        As in :class:`~skadv.attacks.Attack`.
    random_state : int, RandomState instance or None, default=None
        Seed of the random starts.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import APGD
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> x_adv = APGD(eps=0.1, steps=10, random_state=0).perturb(model, x, y)
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "loss": [StrOptions({"ce", "dlr"})],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "n_target_classes": [Interval(Integral, 1, None, closed="left"), None],
        "rho": [Interval(Real, 0, 1, closed="both")],
        "eot_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": RANDOM_STATE,
    }

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        loss: str = "ce",
        steps: int = 100,
        n_restarts: int = 1,
        n_target_classes: int | None = None,
        rho: float = 0.75,
        eot_iter: int = 1,
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
        random_state: int | None = None,
    ):
        self.eps = eps
        self.norm = norm
        self.loss = loss
        self.steps = steps
        self.n_restarts = n_restarts
        self.n_target_classes = n_target_classes
        self.rho = rho
        self.eot_iter = eot_iter
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.targeted and (self.loss != "ce" or self.n_target_classes is not None):
            raise ValueError(
                "APGD with targeted=True minimizes the cross-entropy to the targets in y: "
                "use loss='ce' and n_target_classes=None (APGD-T picks its own targets)."
            )

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        best = ctx.x.clone()
        robust = torch.ones(len(best), dtype=torch.bool, device=best.device)
        if self.n_target_classes is None:
            rounds = [None] * self.n_restarts
        else:
            logits = ctx.logits(ctx.x)
            count = n_targets(self.n_target_classes, logits.shape[1])
            rounds = [
                top_classes(logits, rank)
                for rank in range(2, count + 2)
                for _ in range(self.n_restarts)
            ]
        for target in rounds:
            index = robust.nonzero().squeeze(1)
            if not len(index):
                break
            sub = ctx.subset(robust)
            x_adv, fooled = self._single_run(sub, None if target is None else target[robust])
            best[index] = x_adv
            robust[index[fooled]] = False
        return best

    def _losses(self, ctx: AttackContext, logits: torch.Tensor, target: torch.Tensor | None):
        if target is not None:
            return targeted_dlr_loss(logits, ctx.y, target)
        if ctx.custom_loss:
            return ctx.loss_fn(logits, ctx.y)
        if self.loss == "dlr":
            return dlr_loss(logits, ctx.y)
        losses = F.cross_entropy(logits, ctx.y, reduction="none")
        return -losses if ctx.targeted else losses

    def _gradient(self, ctx: AttackContext, x: torch.Tensor, target: torch.Tensor | None):
        grads = []
        for _ in range(self.eot_iter):  # expectation over transformation: mean gradient
            x_req = x.detach().requires_grad_(True)
            logits = ctx.module(x_req)
            losses = self._losses(ctx, logits, target)
            grads.append(torch.autograd.grad(losses.sum(), x_req)[0])
        grad = grads[0] if len(grads) == 1 else torch.stack(grads).mean(0)
        return ctx.masked(grad), logits.detach(), losses.detach()

    def _single_run(
        self, ctx: AttackContext, target: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One APGD run on every sample of ``ctx``: the best point found (misclassified
        when one was found, else of highest loss) and whether it fools the model."""
        x0, feasible, n = ctx.x, ctx.feasible, len(ctx.x)
        shape = (n,) + (1,) * (x0.ndim - 1)
        x_adv = ctx.project(x0 + feasible.random_delta(x0, ctx.generator, on_boundary=True))
        grad, logits, loss = self._gradient(ctx, x_adv, target)
        fooled = self._fooled(ctx, x_adv, logits)
        best_adv = x_adv.clone()
        x_best, grad_best, loss_best = x_adv.clone(), grad.clone(), loss.clone()
        step = torch.full(shape, 2.0 * feasible.eps, device=x0.device, dtype=x0.dtype)
        x_prev = x_adv.clone()
        period = max(int(0.22 * self.steps), 1)
        decrease, minimum = max(int(0.03 * self.steps), 1), max(int(0.06 * self.steps), 1)
        since_check, increases = 0, torch.zeros(n, device=x0.device)
        reduced_before = torch.ones(n, dtype=torch.bool, device=x0.device)
        loss_at_check, last_loss = loss_best.clone(), loss.clone()
        for i in range(self.steps):
            momentum = 0.75 if i > 0 else 1.0
            z = ctx.project(x_adv + step * feasible.direction(grad))
            x_new = ctx.project(x_adv + momentum * (z - x_adv) + (1 - momentum) * (x_adv - x_prev))
            x_prev, x_adv = x_adv, x_new
            grad, logits, loss = self._gradient(ctx, x_adv, target)
            now_fooled = self._fooled(ctx, x_adv, logits) & ~fooled
            best_adv[now_fooled] = x_adv[now_fooled]
            fooled |= now_fooled
            increases += (loss > last_loss).to(increases.dtype)
            last_loss = loss
            improved = loss > loss_best
            x_best[improved], grad_best[improved] = x_adv[improved], grad[improved]
            loss_best = torch.where(improved, loss, loss_best)
            since_check += 1
            if since_check == period:
                oscillating = increases <= period * self.rho
                stalled = ~reduced_before & (loss_at_check >= loss_best)
                reduce = oscillating | stalled
                reduced_before, loss_at_check = reduce, loss_best.clone()
                step[reduce] /= 2.0
                x_adv[reduce], grad[reduce] = x_best[reduce], grad_best[reduce]
                period = max(period - decrease, minimum)
                since_check, increases = 0, torch.zeros_like(increases)
        result = torch.where(fooled.reshape(shape), best_adv, x_best)
        return ctx.repair(result), fooled

    def _fooled(self, ctx: AttackContext, x_adv: torch.Tensor, logits: torch.Tensor):
        """Whether each (repaired, when the threat model is discrete) point fools."""
        if ctx.feasible.discrete:
            logits = ctx.logits(ctx.repair(x_adv))
        if ctx.y.ndim != 1 or ctx.y.is_floating_point():  # a custom loss's targets
            return torch.zeros(len(x_adv), dtype=torch.bool, device=x_adv.device)
        return ctx.succeeded(logits)
