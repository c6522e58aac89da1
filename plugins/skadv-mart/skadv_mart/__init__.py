"""skadv-mart: the MART training objective, registered as ``"mart"``."""

from numbers import Real
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from skadv.hookspecs import hookimpl
from skadv.objectives import Objective


class MART(Objective):
    """Misclassification-aware adversarial training (Wang et al. 2020).

    A boosted cross-entropy on adversarial examples plus ``beta`` times a KL term between
    clean and adversarial predictions, weighted towards samples the model gets wrong.

    Parameters
    ----------
    beta : float, default=6.0
        Weight of the misclassification-aware KL term.

    Examples
    --------
    >>> from skadv_mart import MART
    >>> MART(beta=5.0)
    MART(beta=5.0)
    """

    _parameter_constraints: ClassVar[dict] = {"beta": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, beta: float = 6.0):
        self.beta = beta

    def loss(self, net: Any, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        X_adv = net.craft(X, y)
        logits_adv = net.infer(X_adv)
        logits_clean = net.infer(X)
        adv_probs = F.softmax(logits_adv, dim=1)
        top2 = adv_probs.argsort(dim=1)[:, -2:]
        runner_up = torch.where(top2[:, -1] == y, top2[:, -2], top2[:, -1])
        boosted = F.cross_entropy(logits_adv, y) + F.nll_loss(
            torch.log(1.0001 - adv_probs + 1e-12), runner_up
        )
        clean_probs = F.softmax(logits_clean, dim=1)
        true_probs = clean_probs.gather(1, y[:, None]).squeeze(1)
        kl = F.kl_div(torch.log(adv_probs + 1e-12), clean_probs, reduction="none").sum(dim=1)
        return boosted + self.beta * (kl * (1.0000001 - true_probs)).mean(), logits_clean


@hookimpl
def skadv_register_objectives(register):
    register("mart", MART)
