"""Square Attack (Andriushchenko et al. 2020): score-based, no gradients needed."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options, StrOptions

from skadv.attacks.base import RANDOM_STATE, Attack, AttackContext
from skadv.threat.feasible import FeasibleSet, normalize, per_sample_norm

Scores = Callable[[torch.Tensor], torch.Tensor]
# the paper's schedule of the share of features a square covers, by iteration
SCHEDULE = (
    (10, 1),
    (50, 2),
    (200, 4),
    (500, 8),
    (1000, 16),
    (2000, 32),
    (4000, 64),
    (6000, 128),
    (8000, 256),
)


def share(p_init: float, iteration: int) -> float:
    """The paper's piecewise-constant schedule of ``p``."""
    for bound, divisor in SCHEDULE:
        if iteration <= bound:
            return p_init / divisor
    return p_init / 512


def margins(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Score of the true class minus the best other score (<= 0: misclassified)."""
    true = scores.gather(1, y[:, None]).squeeze(1)
    others = scores.scatter(1, y[:, None], -math.inf).amax(dim=1)
    return true - others


def _rectangle(h: int, w: int) -> torch.Tensor:
    """Concentric rectangles of weight 1 / k^2 around the centre, unit L2 norm."""
    delta = torch.zeros(h, w)
    top, left = h // 2, w // 2
    for k in range(max(h // 2 + 1, w // 2 + 1)):
        delta[max(top - k, 0) : top + k + 1, max(left - k, 0) : left + k + 1] += 1.0 / (k + 1) ** 2
    return delta / delta.norm()


@functools.lru_cache(maxsize=64)
def _profile(s: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The L2 window of the paper, side ``s``: a positive and a negative half, unit norm."""
    delta = torch.cat([_rectangle(s // 2, s), -_rectangle(s - s // 2, s)])
    return (delta / delta.norm()).to(device=device, dtype=dtype)


def _eta(s: int, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """The paper's L2 window, transposed at random."""
    delta = _profile(s, like.device, like.dtype)
    flip = torch.rand(1, generator=generator, device=like.device) > 0.5
    return delta.T if bool(flip) else delta


class Square(Attack):
    """Square Attack (Andriushchenko et al. 2020): a random search that needs only scores.

    Each query changes a random square window of an image (a random set of features of
    a table) to a corner of the eps-ball (Linf) or moves L2 mass into it, and keeps the
    change when the margin loss falls; the window shrinks on the paper's schedule. It
    judges a torch module through its logits, and any classifier with ``predict_proba``
    through :func:`~skadv.robust_accuracy` (log-probabilities serve as scores), with every
    query of a step batched over all samples still correct.

    Parameters
    ----------
    eps : float, default=0.1
    norm : {"linf", "l2"}, default="linf"
    n_queries : int, default=5000
        Queries per sample (AutoAttack's budget).
    p_init : float, default=0.8
        Initial share of the features a window covers.
    n_restarts : int, default=1
        Runs from fresh starts, on the samples still correct.
    placement : {"uniform", "reference"}, default="uniform"
        Where the windows of an image go. "uniform" draws every position with the same
        probability and starts L2 at a random point of the sphere. "reference" draws
        them as the reference implementation (fra31/auto-attack) and its ports do: a
        window never covers the last row or column unless it spans the image, and L2
        starts from the reference's grid of signed blocks. "uniform" is the stronger;
        "reference" reproduces the reference's numbers. Flat samples (tables) draw
        random feature sets either way.
    targeted : False
        Untargeted only.
    clip_values, feature_mask
        As in :class:`~skadv.attacks.Attack`.
    random_state : int, RandomState instance or None, default=None
        Seed of the random search.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import Square
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> x_adv = Square(eps=0.1, n_queries=50, random_state=0).perturb(model, x, y)
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
    True
    """

    needs_gradients: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "n_queries": [Interval(Integral, 1, None, closed="left")],
        "p_init": [Interval(Real, 0, 1, closed="right")],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "placement": [StrOptions({"uniform", "reference"})],
        "targeted": [Options(bool, {False})],
        "random_state": RANDOM_STATE,
    }

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        n_queries: int = 5000,
        p_init: float = 0.8,
        n_restarts: int = 1,
        placement: str = "uniform",
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
        random_state: int | None = None,
    ):
        self.eps = eps
        self.norm = norm
        self.n_queries = n_queries
        self.p_init = p_init
        self.n_restarts = n_restarts
        self.placement = placement
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask
        self.random_state = random_state

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        return self.search(ctx.logits, ctx.x, ctx.y, ctx.feasible, ctx.generator)

    def attack_estimator(
        self, predict_proba: Any, X: np.ndarray, y: np.ndarray, feasible: FeasibleSet
    ) -> np.ndarray:
        """Adversarial versions of ``X`` for a classifier known by ``predict_proba`` only.

        Parameters
        ----------
        predict_proba : callable
            Maps rows like ``X`` to class probabilities.
        X : ndarray of shape (n_samples, ...)
        y : ndarray of shape (n_samples,)
            Class indices into the columns of ``predict_proba``'s output.
        feasible : FeasibleSet
            The threat model.

        Returns
        -------
        ndarray
        """
        self._validate_params()
        x0 = torch.as_tensor(X)

        def scores(x: torch.Tensor) -> torch.Tensor:
            proba = np.asarray(predict_proba(x.cpu().numpy()), dtype=np.float64)
            return torch.log(torch.as_tensor(proba).clamp_min(1e-12))

        found = self.search(
            scores, x0, torch.as_tensor(y), feasible.to(x0), self._generator(x0.device)
        )
        return found.numpy()

    def search(
        self,
        scores: Scores,
        x0: torch.Tensor,
        y: torch.Tensor,
        feasible: FeasibleSet,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """The random search on ``x0`` with class indices ``y``, restarts included.

        Parameters
        ----------
        scores : callable
            Maps a batch to class scores (logits or probabilities).
        x0 : torch.Tensor of shape (n_samples, ...)
            Clean inputs.
        y : torch.Tensor of shape (n_samples,)
            True class indices.
        feasible : FeasibleSet
            Where the adversarial inputs may lie.
        generator : torch.Generator or None
            Source of randomness.

        Returns
        -------
        torch.Tensor
            The adversarial inputs.
        """
        best = x0.clone()
        robust = margins(scores(x0), y) > 0
        for _ in range(self.n_restarts):
            index = robust.nonzero().squeeze(1)
            if not len(index):
                break
            x_adv, margin = self._single_run(scores, x0[index], y[index], feasible, generator)
            best[index] = x_adv
            robust[index] = margin > 0
        return best

    def _settle(self, feasible: FeasibleSet, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Candidates made feasible before they are queried."""
        projected = feasible.project(x, x0)
        return feasible.repair(projected, x0) if feasible.discrete else projected

    def _single_run(
        self,
        scores: Scores,
        x0: torch.Tensor,
        y: torch.Tensor,
        feasible: FeasibleSet,
        generator: torch.Generator | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image = x0.ndim == 4
        x_best = self._settle(feasible, x0 + self._start(feasible, x0, generator), x0)
        margin = margins(scores(x_best), y)
        # the samples still correct, kept compact until one of them is fooled
        index = (margin > 0).nonzero().squeeze(1)
        x, base, label, best = x0[index], x_best[index], y[index], margin[index]
        for iteration in range(self.n_queries):
            if not len(index):
                break
            p = share(self.p_init, iteration)
            if feasible.norm == "linf":
                candidate = self._linf_candidate(feasible, x, base, p, image, generator)
            else:
                candidate = self._l2_candidate(feasible, x, base, p, image, generator)
            candidate = self._settle(feasible, candidate, x)
            new = margins(scores(candidate), label)
            # an active margin is > 0, so a fooling query is always an improvement
            improved = (new < best).reshape((-1,) + (1,) * (x.ndim - 1))
            base = torch.where(improved, candidate, base)
            best = torch.minimum(new, best)
            fooled = best <= 0
            if bool(fooled.any()):
                x_best[index], margin[index] = base, best
                kept = fooled.logical_not()
                index, x, base, label, best = (t[kept] for t in (index, x, base, label, best))
        x_best[index], margin[index] = base, best
        return x_best, margin

    def _start(
        self, feasible: FeasibleSet, x0: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Vertical stripes of +-eps (Linf images), or a point of the L2 sphere: a random
        one, or the reference's grid of signed blocks."""
        if feasible.norm == "linf":
            shape = (x0.shape[0], x0.shape[1], 1, x0.shape[3]) if x0.ndim == 4 else x0.shape
            signs = self._random_signs(shape, x0, generator).expand_as(x0)
            return feasible.eps * feasible._unscaled(signs)
        if self.placement == "uniform":
            return feasible.random_delta(x0, generator, on_boundary=True)
        if x0.ndim != 4:
            signs = self._random_signs(x0.shape, x0, generator)
            return feasible.eps * feasible._unscaled(normalize(signs, "l2"))
        n, c, h, w = x0.shape
        s = max(h // 5, 1)
        first = max((h - 5 * s) // 2, 0)  # the reference needs h >= 5; smaller images start at 0
        delta = torch.zeros_like(x0)
        for top in range(first, first + h // s * s, s):
            for left in range(first, first + w // s * s, s):
                block = _eta(s, x0, generator)
                signs = self._random_signs((n, c, 1, 1), x0, generator)
                delta[:, :, top : top + s, left : left + s] += block * signs
        return feasible.eps * feasible._unscaled(normalize(delta, "l2"))

    @staticmethod
    def _random_signs(shape: Any, like: torch.Tensor, generator: Any) -> torch.Tensor:
        u = torch.rand(shape, generator=generator, device=like.device)
        return 2 * (u > 0.5).to(like.dtype) - 1

    def _window(
        self, x: torch.Tensor, p: float, image: bool, generator: Any, odd: bool = False
    ) -> tuple:
        """Which features the query changes, as an index into ``x`` (an image batch) or
        into its flat view (other batches): one square per image (all channels), at a
        uniformly random position, or a random set of about ``p`` of the features of a flat
        sample. ``odd`` windows (L2) have an odd side of at least 3, as in the paper."""
        if image:
            h, w = x.shape[2:]
            s = max(int(round(math.sqrt(p * h * w))), 3 if odd else 1)
            s = min(s + (1 if odd and s % 2 == 0 else 0), h, w)
            top, left = self._offset(h - s, generator, x), self._offset(w - s, generator, x)
            return (slice(None), slice(None), slice(top, top + s), slice(left, left + s))
        d = x[0].numel()
        k = min(max(int(round(p * d)), 1), d)
        return (slice(None), torch.rand(d, generator=generator, device=x.device).argsort()[:k])

    def _offset(self, room: int, generator: Any, like: torch.Tensor) -> int:
        """Where a window starts when ``room`` positions are spare: any of the ``room + 1``,
        or, as the reference draws it, ``floor(room * u)``, which never reaches ``room``."""
        if self.placement == "reference":
            return int(room * torch.rand(1, generator=generator, device=like.device))
        return int(torch.randint(0, room + 1, (1,), generator=generator, device=like.device))

    @staticmethod
    def _part(x: torch.Tensor, image: bool) -> torch.Tensor:
        """The view of ``x`` that a window from :meth:`_window` indexes."""
        return x if image else x.reshape(len(x), -1)

    def _mask(self, x: torch.Tensor, window: tuple, image: bool) -> torch.Tensor:
        mask = torch.zeros_like(x, dtype=torch.bool)
        self._part(mask, image)[window] = True
        return mask

    def _linf_candidate(
        self,
        feasible: FeasibleSet,
        x0: torch.Tensor,
        base: torch.Tensor,
        p: float,
        image: bool,
        generator: Any,
    ) -> torch.Tensor:
        """A corner of the eps-ball inside a new window, ``base`` elsewhere."""
        window = self._window(base, p, image, generator)
        if image:  # one random sign per image channel, as the paper
            signs = self._random_signs((len(x0), x0.shape[1], 1, 1), x0, generator)
        else:
            signs = self._random_signs(x0.shape, x0, generator)
        corner = x0 + feasible.eps * feasible._unscaled(signs)
        candidate = base.clone()
        self._part(candidate, image)[window] = self._part(corner, image)[window]
        return candidate

    def _l2_candidate(
        self,
        feasible: FeasibleSet,
        x0: torch.Tensor,
        base: torch.Tensor,
        p: float,
        image: bool,
        generator: Any,
    ) -> torch.Tensor:
        """Move L2 mass of the perturbation into a new window, as the paper does (for
        images, per channel, as the reference does)."""
        delta = feasible._scaled(base - x0)
        first_at = self._window(base, p, image, generator, odd=True)
        second_at = self._window(base, p, image, generator, odd=True)
        first, second = self._mask(base, first_at, image), self._mask(base, second_at, image)
        if image:
            n, c = x0.shape[:2]
            side = first_at[2].stop - first_at[2].start
            profile = _eta(side, x0, generator)
            fresh = torch.zeros_like(delta)
            fresh[first_at] = profile * self._random_signs((n, c, 1, 1), x0, generator)
        else:
            c = 1
            fresh = torch.where(
                first,
                torch.randn(delta.shape, generator=generator, device=x0.device, dtype=x0.dtype),
                0,
            )
        dims = (2, 3) if image else tuple(range(1, x0.ndim))

        def size(t: torch.Tensor) -> torch.Tensor:
            return (t**2).sum(dim=dims, keepdim=True).sqrt()

        def unit(t: torch.Tensor) -> torch.Tensor:
            return t / (size(t) + 1e-12)

        both = first | second
        spare = (feasible.eps**2 - per_sample_norm(delta, 2) ** 2).clamp_min(0) / c
        mass = (spare + size(delta * both) ** 2).sqrt()
        fresh = unit(fresh + unit(delta * first)) * mass
        delta = torch.where(both, 0, delta) + fresh * first
        return x0 + feasible._unscaled(normalize(delta, "l2") * feasible.eps)
