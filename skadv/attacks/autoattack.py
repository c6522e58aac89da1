"""AutoAttack (Croce & Hein 2020): the ensemble the field reports robust accuracy with."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from numbers import Integral
from typing import Any, ClassVar

import torch
from sklearn.utils._param_validation import Interval, Options, StrOptions
from tqdm.auto import tqdm

from skadv.attacks.apgd import APGD
from skadv.attacks.base import RANDOM_STATE, Attack, AttackContext
from skadv.attacks.fab import FAB
from skadv.attacks.square import Square

logger = logging.getLogger("skadv")

VERSIONS = {
    # the paper's budgets: 100 iterations, 9 target classes, 5,000 queries
    "standard": ("apgd-ce", "apgd-t", "fab-t", "square"),
    "plus": ("apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"),
    "rand": ("apgd-ce", "apgd-dlr"),
}


class AutoAttack(Attack):
    """AutoAttack (Croce & Hein 2020), with the budgets of the reference implementation.

    ``version="standard"`` runs APGD-CE, APGD-T (9 target classes), FAB-T (9 target
    classes) and Square (5,000 queries), each on the samples still classified correctly
    after the previous ones, so the result is the per-sample worst case. ``"plus"`` adds
    APGD-DLR and untargeted FAB and uses 5 restarts for APGD and FAB; ``"rand"`` runs
    APGD-CE and APGD-DLR with 20-fold expectation over transformation, for randomized
    defences. Every attack projects onto the threat model.

    After a run, ``log_`` holds, per attack, the number of samples it was given and
    the number still correct after it, summed over the batches of the run, and
    :meth:`settings` gives the version, eps, norm, budgets and seed.

    Parameters
    ----------
    eps : float, default=0.1
    norm : {"linf", "l2"}, default="linf"
    version : {"standard", "plus", "rand", "custom"}, default="standard"
        ``"custom"`` runs ``attacks`` in order, with the standard budgets.
    steps : int, default=100
        Iterations of APGD and FAB.
    n_queries : int, default=5000
        Queries of Square.
    n_target_classes : int, default=9
        Target classes of APGD-T and FAB-T.
    attacks : sequence of str or None, default=None
        The ensemble of ``version="custom"``, from "apgd-ce", "apgd-dlr", "apgd-t", "fab",
        "fab-t" and "square".
    batch_size : int or None, default=None
        Samples each attack takes at once. The evaluation gives AutoAttack all its
        samples and this batch size, so after each attack the samples still correct are
        batched afresh, as the reference implementation does.
    targeted : False
    clip_values, feature_mask
        As in :class:`~skadv.attacks.Attack`.
    random_state : int, RandomState instance or None, default=0
        Seed of every attack of the ensemble.
    verbose : bool, default=False
        Show a progress bar over the attacks and their batches. Whatever it says, each
        attack's result is logged at INFO level on the ``"skadv"`` logger.

    Examples
    --------
    >>> import torch
    >>> from skadv.attacks import AutoAttack
    >>> model = torch.nn.Linear(4, 3)
    >>> x, y = torch.rand(8, 4), torch.zeros(8, dtype=torch.long)
    >>> attack = AutoAttack(eps=0.1, steps=5, n_queries=20)
    >>> x_adv = attack.perturb(model, x, y)
    >>> list(attack.log_)
    ['apgd-ce', 'apgd-t', 'fab-t', 'square']
    """

    batches_itself: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict] = {
        **Attack._parameter_constraints,
        "version": [StrOptions({*VERSIONS, "custom"})],
        "attacks": [list, tuple, None],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "n_queries": [Interval(Integral, 1, None, closed="left")],
        "n_target_classes": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "targeted": [Options(bool, {False})],
        "random_state": RANDOM_STATE,
        "verbose": ["boolean"],
    }

    def __init__(
        self,
        eps: float = 0.1,
        norm: str = "linf",
        version: str = "standard",
        steps: int = 100,
        n_queries: int = 5000,
        n_target_classes: int = 9,
        attacks: Any = None,
        batch_size: int | None = None,
        targeted: bool = False,
        clip_values: tuple | None = None,
        feature_mask=None,
        random_state: int | None = 0,
        verbose: bool = False,
    ):
        self.eps = eps
        self.norm = norm
        self.version = version
        self.steps = steps
        self.n_queries = n_queries
        self.n_target_classes = n_target_classes
        self.attacks = attacks
        self.batch_size = batch_size
        self.targeted = targeted
        self.clip_values = clip_values
        self.feature_mask = feature_mask
        self.random_state = random_state
        self.verbose = verbose

    def _names(self) -> tuple[str, ...]:
        if self.version != "custom":
            return VERSIONS[self.version]
        unknown = set(self.attacks or ()) - {name for names in VERSIONS.values() for name in names}
        if not self.attacks or unknown:
            raise ValueError(
                "version='custom' runs attacks=[...] from apgd-ce, apgd-dlr, apgd-t, fab, "
                f"fab-t and square; got {self.attacks!r}."
            )
        return tuple(self.attacks)

    def ensemble(self) -> Iterator[tuple[str, Attack]]:
        """The attacks of the ensemble, by name, configured as the version says."""
        restarts = 5 if self.version == "plus" else 1
        eot = 20 if self.version == "rand" else 1
        common = {"eps": self.eps, "norm": self.norm, "random_state": self.random_state}
        made = {
            "apgd-ce": APGD(loss="ce", steps=self.steps, n_restarts=restarts, eot_iter=eot),
            "apgd-dlr": APGD(loss="dlr", steps=self.steps, n_restarts=restarts, eot_iter=eot),
            "apgd-t": APGD(loss="dlr", steps=self.steps, n_target_classes=self.n_target_classes),
            "fab": FAB(steps=self.steps, n_restarts=restarts),
            "fab-t": FAB(steps=self.steps, n_target_classes=self.n_target_classes),
            "square": Square(n_queries=self.n_queries),
        }
        for name in self._names():
            yield name, made[name].set_params(**common)

    def settings(self) -> dict[str, Any]:
        """What a report needs to say about this evaluation: version, budgets, seed.

        Returns
        -------
        dict
        """
        return {
            "attack": "AutoAttack",
            "version": self.version,
            "attacks": list(self._names()),
            "eps": float(self.eps),
            "norm": self.norm,
            "steps": self.steps,
            "n_queries": self.n_queries,
            "n_target_classes": self.n_target_classes,
            "seed": self.random_state,
        }

    def _run(self, ctx: AttackContext) -> torch.Tensor:
        log = self.__dict__.setdefault("log_", {})
        x_adv = ctx.x.clone()
        robust = ~ctx.succeeded(ctx.logits(ctx.x))
        names = self._names()
        with tqdm(total=len(names), desc="AutoAttack", disable=not self.verbose) as bar:
            for name, attack in self.ensemble():
                start = time.perf_counter()
                remaining = robust.nonzero().squeeze(1)
                attempted = len(remaining)
                chunks = remaining.split(self.batch_size or max(attempted, 1))
                for chunk in chunks:
                    keep = torch.zeros_like(robust)
                    keep[chunk] = True
                    sub = ctx.subset(keep)
                    found = attack._run(sub)
                    fooled = sub.succeeded(sub.logits(found))
                    x_adv[chunk[fooled]] = found[fooled]
                    robust[chunk[fooled]] = False
                    bar.update(1 / len(chunks))
                given, left = log.get(name, (0, 0))
                log[name] = (given + attempted, left + int(robust.sum()))
                bar.set_postfix_str(f"{name}: {int(robust.sum())} of {len(robust)} robust")
                logger.info(
                    "AutoAttack %s: %d of %d samples still robust (%.1f s)",
                    name,
                    int(robust.sum()),
                    len(robust),
                    time.perf_counter() - start,
                )
        return x_adv
