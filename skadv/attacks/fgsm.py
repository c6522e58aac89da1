"""Fast gradient sign method, plain and with a random start."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval

from skadv.attacks.base import RANDOM_STATE, Attack, AttackContext, iterate


class FGSM(Attack):
    """Fast gradient (sign) method: one step of size ``eps`` (Goodfellow et al. 2015).

    Under ``norm="linf"`` this is FGSM, under ``"l2"`` the fast gradient method with an
    L2-normalized gradient, matching ART's ``FastGradientMethod``.

    Parameters
    ----------
    eps : float, default=0.1
        Step size, which is also the perturbation budget.
    norm : {"linf", "l2"}, default="linf"
        The norm of ``eps``.
    targeted : bool, default=False
        Move towards the classes in ``y`` instead of away from them.
    clip_values : tuple (min, max) or None, default=None
        Valid input range (see :class:`~skadv.attacks.Attack`).
    feature_mask : array-like or None, default=None
        Zero where a feature may not change.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import FGSM
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> x_adv = FGSM(eps=0.1, clip_values=(0.0, 1.0)).perturb(model, x, y)
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
    True
    """

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
    ):
        self.eps = eps
        self.norm = norm
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        return ctx.repair(ctx.step(ctx.start, ctx.gradient(ctx.start), ctx.feasible.eps))


class FGSMRandomStart(Attack):
    """FGSM from a random point of the eps-ball: "fast adversarial training" (Wong et al. 2020).

    Parameters
    ----------
    eps : float, default=0.1
        Perturbation budget.
    norm : {"linf", "l2"}, default="linf"
        The norm of ``eps``.
    step_size : float or None, default=None
        Size of the gradient step; ``None`` means ``1.25 * eps`` as in the paper.
    targeted : bool, default=False
        Move towards the classes in ``y`` instead of away from them.
    clip_values : tuple (min, max) or None, default=None
        Valid input range.
    feature_mask : array-like or None, default=None
        Zero where a feature may not change.
    random_state : int, RandomState instance or None, default=None
        Seed of the random start.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import FGSMRandomStart
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> x_adv = FGSMRandomStart(eps=0.1, random_state=0).perturb(model, x, y)
    >>> x_adv.shape
    torch.Size([8, 4])
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": RANDOM_STATE,
    }

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        step_size: float | None = None,
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
        random_state: int | None = None,
    ):
        self.eps = eps
        self.norm = norm
        self.step_size = step_size
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask
        self.random_state = random_state

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        step = 1.25 * ctx.feasible.eps if self.step_size is None else self.step_size
        return iterate(ctx, steps=1, step_size=step, random_start=True)
