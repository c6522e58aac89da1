"""Momentum iterative FGSM."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval

from skadv.attacks.base import Attack, AttackContext, iterate


class MIFGSM(Attack):
    """Momentum iterative FGSM (Dong et al. 2018), matching ART's ``MomentumIterativeMethod``.

    Parameters
    ----------
    eps : float, default=0.1
        Perturbation budget.
    norm : {"linf", "l2"}, default="linf"
        The norm of ``eps``.
    steps : int, default=10
        Number of gradient steps.
    step_size : float or None, default=None
        Size of each step; ``None`` means ``eps / steps``.
    decay : float, default=1.0
        Momentum decay factor (``mu`` in the paper).
    targeted : bool, default=False
        Move towards the classes in ``y`` instead of away from them.
    clip_values : tuple (min, max) or None, default=None
        Valid input range.
    feature_mask : array-like or None, default=None
        Zero where a feature may not change.
    early_stop : bool, default=False
        Stop moving a sample at the first iterate that fools the model (reaches the
        target class, when targeted) and return that iterate. Samples never fooled take
        the same path as without it, so robust accuracy can only go down, and the
        attack gets cheaper: each sample fooled early leaves the batch.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import MIFGSM
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> MIFGSM(eps=0.1, steps=3).perturb(model, x, y).shape
    torch.Size([8, 4])
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "early_stop": ["boolean"],
        "decay": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        steps: int = 10,
        step_size: float | None = None,
        decay: float = 1.0,
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
        early_stop: bool = False,
    ):
        self.eps = eps
        self.norm = norm
        self.steps = steps
        self.step_size = step_size
        self.decay = decay
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask
        self.early_stop = early_stop

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        step = ctx.feasible.eps / self.steps if self.step_size is None else self.step_size
        return iterate(
            ctx,
            steps=self.steps,
            step_size=step,
            random_start=False,
            decay=self.decay,
            early_stop=self.early_stop,
        )
