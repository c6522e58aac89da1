"""Projected gradient descent under the Linf and L2 norms."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval

from skadv.attacks.base import RANDOM_STATE, Attack, AttackContext, iterate


class PGD(Attack):
    """Projected gradient descent (Madry et al. 2018) under the Linf or L2 norm.

    Parameters
    ----------
    eps : float, default=0.1
        Perturbation budget.
    norm : {"linf", "l2"}, default="linf"
        The norm of ``eps``.
    steps : int, default=10
        Number of gradient steps.
    step_size : float or None, default=None
        Size of each step; ``None`` means ``2.5 * eps / steps``.
    random_start : bool, default=True
        Start from a uniform random point of the eps-ball instead of the clean input.
    targeted : bool, default=False
        Move towards the classes in ``y`` instead of away from them.
    clip_values : tuple (min, max) or None, default=None
        Valid input range.
    feature_mask : array-like or None, default=None
        Zero where a feature may not change.
    random_state : int, RandomState instance or None, default=None
        Seed of the random start.
    early_stop : bool, default=False
        Stop moving a sample at the first iterate that fools the model (reaches the
        target class, when targeted) and return that iterate. Samples never fooled take
        the same path as without it, so robust accuracy can only go down, and the
        attack gets cheaper: each sample fooled early leaves the batch.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import PGD
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> x_adv = PGD(eps=0.5, norm="l2", steps=5, random_state=0).perturb(model, x, y)
    >>> bool((x_adv - x).norm(dim=1).max() <= 0.5 + 1e-5)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "early_stop": ["boolean"],
        "random_state": RANDOM_STATE,
        "random_start": ["boolean"],
    }

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        steps: int = 10,
        step_size: float | None = None,
        random_start: bool = True,
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
        random_state: int | None = None,
        early_stop: bool = False,
    ):
        self.eps = eps
        self.norm = norm
        self.steps = steps
        self.step_size = step_size
        self.random_start = random_start
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask
        self.random_state = random_state
        self.early_stop = early_stop

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        step = 2.5 * ctx.feasible.eps / self.steps if self.step_size is None else self.step_size
        return iterate(
            ctx,
            steps=self.steps,
            step_size=step,
            random_start=self.random_start,
            early_stop=self.early_stop,
        )
