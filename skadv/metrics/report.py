"""The robustness report: standard AutoAttack, its per-attack breakdown, three checks for
gradient masking, and a record in the shape of a RobustBench model card."""

from __future__ import annotations

import logging
import platform
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from skadv.metrics.robust import accuracy_under_attack, evaluation, robust_accuracy
from skadv.threat.model import ThreatModel

# a check fails beyond these: accuracy left at the large budget, Square's gain over the
# white-box attacks (the reference implementation's 0.2 %), a rise of accuracy with eps
LARGE_EPS_ACCURACY, SQUARE_GAIN, RISE = 0.05, 0.002, 0.005
EPS_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
logger = logging.getLogger("skadv")


@dataclass
class Check:
    """One sanity check against gradient masking."""

    name: str
    passed: bool
    detail: str


@dataclass
class RobustnessReport:
    """What :func:`robustness_report` found; ``to_dict`` gives the JSON record.

    Parameters
    ----------
    clean_accuracy : float
        Accuracy on the clean inputs.
    robust_accuracy : float
        Accuracy under the AutoAttack ensemble.
    breakdown : dict
        Accuracy after each attack of the ensemble, in order (the last is the robust
        accuracy).
    curve : dict
        APGD-CE accuracy at multiples of eps (for the monotonicity check).
    checks : list of Check
        The gradient-masking checks and whether each passed.
    settings : dict
        Attack version, eps, norm, budgets, seed.
    n_samples : int
        Number of samples judged.
    threat_model : dict, default={}
        The threat model's parameters, for the record.
    """

    clean_accuracy: float
    robust_accuracy: float
    breakdown: dict[str, float]
    curve: dict[str, float]
    checks: list[Check]
    settings: dict[str, Any]
    n_samples: int
    threat_model: dict[str, Any] = field(default_factory=dict)

    @property
    def flagged(self) -> list[str]:
        """Names of the checks that failed (empty when the evaluation looks sound)."""
        return [check.name for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record in the shape of a RobustBench model card.

        Returns
        -------
        dict
        """
        return {
            "clean_acc": round(100 * self.clean_accuracy, 2),
            "autoattack_acc": round(100 * self.robust_accuracy, 2),
            "eps": self.settings["eps"],
            "norm": {"linf": "Linf", "l2": "L2"}[self.settings["norm"]],
            "attack": self.settings,
            "n_samples": self.n_samples,
            "seed": self.settings["seed"],
            "breakdown": {k: round(100 * v, 2) for k, v in self.breakdown.items()},
            "eps_curve": {k: round(100 * v, 2) for k, v in self.curve.items()},
            "checks": [asdict(check) for check in self.checks],
            "threat_model": self.threat_model,
            "versions": {
                name: version(name) for name in ("skadv", "torch", "scikit-learn", "skorch")
            },
            "python": platform.python_version(),
        }


def robustness_report(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    eps: float,
    norm: str = "linf",
    threat_model: ThreatModel | None = None,
    version: str = "standard",
    random_state: int = 0,
    large_eps: float | None = None,
    batch_size: int = 256,
    verbose: bool = False,
    **attack_params: Any,
) -> RobustnessReport:
    """Judge ``estimator`` with AutoAttack and check the judgement for gradient masking.

    Three checks, each flagged when it fails (Carlini et al. 2019; Croce & Hein 2020):
    at ``large_eps`` APGD-CE brings accuracy to about zero (at most 5 %); Square, a
    black-box attack, fools no more than 0.2 % of the samples that the white-box attacks
    before it could not; APGD-CE accuracy does not rise with eps over 0.25, 0.5, 1, 2
    and 4 times ``eps``.

    Parameters
    ----------
    estimator : fitted torch classifier or Pipeline ending in one
    X : DataFrame or array-like
    y : array-like of shape (n_samples,)
    eps : float
        Budget, in the units of ``X`` (times the threat model's ``scale``).
    norm : {"linf", "l2"}, default="linf"
    threat_model : ThreatModel or None, default=None
        As for :func:`~skadv.robust_accuracy`.
    version : {"standard", "plus", "rand"}, default="standard"
    random_state : int, default=0
    large_eps : float or None, default=None
        Budget of the first check; None means 16 times ``eps``.
    batch_size : int, default=256
    verbose : bool, default=False
        Show progress bars: AutoAttack's over its attacks, then one over the checks.
        The stages are also logged at INFO level on the ``"skadv"`` logger.
    **attack_params
        Further AutoAttack parameters (``steps``, ``n_queries``, ``n_target_classes``),
        to shrink budgets for quick looks; reports then say so in ``settings``.

    Returns
    -------
    RobustnessReport

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skadv.metrics import robustness_report
    >>> X = np.random.RandomState(0).rand(60, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(np.int64)
    >>> net = NeuralNetClassifier(torch.nn.Linear, module__in_features=4,
    ...     module__out_features=2, criterion=torch.nn.CrossEntropyLoss,
    ...     max_epochs=5, verbose=0, train_split=None).fit(X, y)
    >>> report = robustness_report(net, X, y, eps=0.05, steps=5, n_queries=20)
    >>> list(report.breakdown)
    ['clean', 'apgd-ce', 'apgd-t', 'fab-t', 'square']
    """
    params = {"norm": norm, "version": version, "random_state": random_state, **attack_params}
    ev = evaluation(
        estimator,
        X,
        y,
        "autoattack",
        eps=eps,
        threat_model=threat_model,
        batch_size=batch_size,
        precision="auto",
        attack_params=params,
        caller="robustness_report",
    )
    robust = accuracy_under_attack(ev, batch_size, verbose)
    n = len(ev.y)
    clean = float(np.mean(np.argmax(estimator.predict_proba(X), axis=1) == ev.y))
    log = ev.attack.log_
    breakdown = {"clean": clean, **{name: left / n for name, (_, left) in log.items()}}
    logger.info("robustness report: AutoAttack robust accuracy %.4f", robust)
    large = 16 * eps if large_eps is None else large_eps
    judged = {}
    budgets = [*(factor * eps for factor in EPS_FACTORS), large]
    for budget in tqdm(budgets, desc="APGD-CE over eps", disable=not verbose):
        judged[budget] = robust_accuracy(
            estimator,
            X,
            y,
            "apgd-ce",
            eps=budget,
            norm=norm,
            threat_model=threat_model,
            random_state=random_state,
            batch_size=batch_size,
            steps=ev.attack.steps,
        )
        logger.info("robustness report: APGD-CE at eps %g: %.4f", budget, judged[budget])
    curve = {f"{factor:g} eps": judged[factor * eps] for factor in EPS_FACTORS}
    at_large = judged[large]
    values = list(curve.values())
    rise = max((b - a for a, b in zip(values, values[1:], strict=False)), default=0.0)
    white = [v for k, v in breakdown.items() if k not in ("clean", "square")]
    gain = (min(white) - breakdown["square"]) if "square" in breakdown and white else 0.0
    checks = [
        Check(
            "large eps brings accuracy to zero",
            at_large <= LARGE_EPS_ACCURACY,
            f"APGD-CE accuracy {at_large:.3f} at eps {large:g}",
        ),
        Check(
            "black-box not stronger than white-box",
            gain <= SQUARE_GAIN,
            f"Square fooled {gain:.1%} of the samples beyond the white-box attacks",
        ),
        Check(
            "accuracy falls with eps",
            rise <= RISE,
            f"largest rise of APGD-CE accuracy between budgets: {rise:+.3f}",
        ),
    ]
    threat = ev.target.threat.get_params()
    return RobustnessReport(
        clean_accuracy=clean,
        robust_accuracy=robust,
        breakdown=breakdown,
        curve=curve,
        checks=checks,
        settings=ev.attack.settings(),
        n_samples=n,
        threat_model={name: repr(value) for name, value in threat.items()},
    )
