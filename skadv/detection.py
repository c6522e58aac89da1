"""Adversarial-input detection as a guard in front of a classifier, judged adaptively.

A detector that holds only against attacks that ignore it is no defence (Carlini &
Wagner 2017; Tramèr et al. 2020): :func:`detection_report` therefore attacks the
classifier alone and then the classifier and the detector jointly, and reports both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetClassifier

from skadv.metrics.robust import adversarial_examples, class_indices
from skadv.metrics.target import logits_module
from skadv.modules import MLP
from skadv.plugins import resolve_attack
from skadv.precision import placement
from skadv.seeding import int_seed, torch_seeded
from skadv.threat.model import ThreatModel

__all__ = ["AdversarialDetector", "GuardModule", "detection_report"]

METHODS = ("binary", "squeeze", "mahalanobis")


class _BitDepth(torch.nn.Module):
    """Bit-depth reduction over ``[low, high]``, with the straight-through gradient
    (BPDA, Athalye et al. 2018): rounding in the forward pass, the identity backwards."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor, bits: int):
        super().__init__()
        self.register_buffer("low", low)
        self.register_buffer("span", torch.clamp(high - low, min=1e-12))
        self.levels = 2**bits - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in float64, so that a value exactly between two levels (x + eps at a bound)
        # rounds as it does in numpy
        low, span = self.low.double(), self.span.double()
        unit = ((x.double() - low) / span).clamp(0, 1)
        squeezed = (torch.round(unit * self.levels) / self.levels * span + low).to(x.dtype)
        return x + (squeezed - x).detach()


class _MedianFilter(torch.nn.Module):
    """A 2x2 median filter over each channel of (N, C, H, W) images (Xu et al. 2018)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (0, 1, 0, 1), mode="replicate")
        windows = padded.unfold(2, 2, 1).unfold(3, 2, 1)
        return windows.reshape(*windows.shape[:4], 4).median(dim=-1).values


class _SqueezeScore(torch.nn.Module):
    """Largest L1 distance between the softmax on ``x`` and on each squeezed ``x``."""

    def __init__(self, module: torch.nn.Module, squeezers: list[torch.nn.Module]):
        super().__init__()
        self.module = module
        self.squeezers = torch.nn.ModuleList(squeezers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(self.module(x), dim=1)
        gaps = [
            (p - torch.softmax(self.module(squeeze(x)), dim=1)).abs().sum(dim=1)
            for squeeze in self.squeezers
        ]
        return torch.stack(gaps).max(dim=0).values


class _MahalanobisScore(torch.nn.Module):
    """Smallest Mahalanobis distance of the features feeding the module's last linear
    layer to the class means, with one covariance shared by the classes (Lee et al. 2018)."""

    def __init__(self, module: torch.nn.Module, layer: torch.nn.Module):
        super().__init__()
        self.module = module
        self.layer = layer

    def features(self, x: torch.Tensor) -> torch.Tensor:
        seen: list[torch.Tensor] = []
        handle = self.layer.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0]))
        try:
            self.module(x)
        finally:
            handle.remove()
        return seen[0].flatten(1)

    def fit(self, x: torch.Tensor, y: torch.Tensor, n_classes: int) -> _MahalanobisScore:
        with torch.no_grad():
            h = self.features(x).double()
        means = torch.stack([h[y == c].mean(dim=0) for c in range(n_classes)])
        centred = h - means[y]
        cov = centred.T @ centred / len(h)
        cov += 1e-6 * torch.eye(len(cov), dtype=cov.dtype) * cov.diagonal().mean()
        self.register_buffer("means", means)
        self.register_buffer("precision", torch.linalg.pinv(cov))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in float64: the precision of a near-singular covariance has large entries, and
        # float32 sums of them depend on the batch
        diff = self.features(x).double()[:, None, :] - self.means[None]
        distances = torch.einsum("ncd,de,nce->nc", diff, self.precision, diff)
        return distances.min(dim=1).values.to(x.dtype)


class _BinaryScore(torch.nn.Module):
    """The logit of "adversarial" of a detector network trained on the inputs."""

    def __init__(self, detector: torch.nn.Module):
        super().__init__()
        self.detector = detector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.detector(x.flatten(1))
        return logits[:, 1] - logits[:, 0]


class GuardModule(torch.nn.Module):
    """The classifier's logits with the detector's calibrated score as one more column.

    The last column is ``(score - threshold) / scale``: above zero the input is flagged.
    Adaptive attacks differentiate through it (BPDA where the detector rounds).

    Parameters
    ----------
    module : torch.nn.Module
        The classifier's module; returns logits.
    score : torch.nn.Module
        The detector's score; one value per sample, larger is more suspicious.
    threshold, scale : float
        The flagging threshold and the spread of scores on clean data.
    """

    def __init__(
        self, module: torch.nn.Module, score: torch.nn.Module, threshold: float, scale: float
    ):
        super().__init__()
        self.module = module
        self.score = score
        self.threshold = threshold
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits and the calibrated score.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            A batch.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_classes + 1)
        """
        calibrated = (self.score(x) - self.threshold) / self.scale
        return torch.cat([self.module(x), calibrated[:, None]], dim=1)


class AdversarialDetector(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier guarded by a detector of adversarial inputs.

    ``fit`` fits a clone of ``estimator`` (wrap a fitted one in scikit-learn's
    ``FrozenEstimator`` to guard it as it is), then the detector, and sets the
    threshold so that a share ``fpr`` of the clean training rows is flagged.
    ``predict`` returns the classifier's label, or ``reject_label`` for a flagged row;
    ``decision_function`` is the detector's score (larger is more suspicious). As the
    last step of a Pipeline it rejects or routes flagged rows.

    Three detectors:

    - ``"binary"``: a network trained to tell clean rows from adversarial ones crafted
      by ``attack`` (any registered attack) against the classifier (Metzen et al. 2017);
    - ``"squeeze"``: feature squeezing (Xu et al. 2018), the largest L1 change of the
      classifier's softmax when the input is reduced to ``bits`` bits per feature (and,
      for images, 2x2 median filtered);
    - ``"mahalanobis"``: the smallest Mahalanobis distance of the classifier's
      penultimate activations to the class means (Lee et al. 2018).

    A detector is only as good as its score under attacks that know it: judge it with
    :func:`detection_report`, which also runs the adaptive attack.

    Parameters
    ----------
    estimator : torch classifier
        A skadv or skorch classifier (its torch module is needed for the scores).
    method : {"binary", "squeeze", "mahalanobis"}, default="mahalanobis"
        The detector.
    fpr : float, default=0.05
        Share of clean training rows flagged: sets the threshold.
    reject_label : object, default=-1
        What ``predict`` returns for a flagged row; not a class label.
    attack : str or Attack, default="pgd"
        The attack that crafts the adversarial rows the binary detector learns.
    eps : float, default=0.1
        Its budget, in the units of ``X``.
    attack_params : dict or None, default=None
        Further parameters of that attack.
    threat_model : ThreatModel or None, default=None
        Where the inputs live (their bounds): the range feature squeezing quantizes, and
        the attacker's freedom in :func:`detection_report`. ``None`` means
        ``ThreatModel()``, each feature's range in the training data; state pixels as
        ``ThreatModel(bounds=(0, 1))``.
    bits : int, default=4
        Bits per feature kept by feature squeezing.
    max_epochs : int, default=30
        Training epochs of the binary detector.
    random_state : int, RandomState instance or None, default=None
        Seeds the binary detector and its adversarial rows.

    Attributes
    ----------
    estimator_ : classifier
        The fitted classifier.
    classes_ : ndarray of shape (n_classes,)
        Its classes.
    threat_ : ThreatModel
        The threat model fitted on the training rows.
    threshold_ : float
        Scores above it are flagged.
    scale_ : float
        Standard deviation of the scores of the clean training rows.
    detector_ : skorch NeuralNetClassifier or None
        The binary detector (``method="binary"``).
    n_features_in_ : int
        Features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from skadv import AdversarialDetector, AdversarialTrainer
    >>> from skadv.modules import MLP
    >>> X = np.random.RandomState(0).rand(200, 4).astype(np.float32)
    >>> y = (X[:, 0] > 0.5).astype(int)
    >>> guard = AdversarialDetector(AdversarialTrainer(MLP, max_epochs=5, verbose=0,
    ...     train_split=None, random_state=0), method="mahalanobis").fit(X, y)
    >>> guard.predict(X[:4]).shape
    (4,)
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"])],
        "method": [StrOptions(set(METHODS))],
        "fpr": [Interval(Real, 0, 1, closed="neither")],
        "reject_label": [None, str, Integral, Real],
        "attack": [str, HasMethods(["perturb"])],
        "eps": [Interval(Real, 0, None, closed="left")],
        "attack_params": [dict, None],
        "threat_model": [ThreatModel, None],
        "bits": [Interval(Integral, 1, 16, closed="both")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: Any,
        *,
        method: str = "mahalanobis",
        fpr: float = 0.05,
        reject_label: Any = -1,
        attack: Any = "pgd",
        eps: float = 0.1,
        attack_params: dict | None = None,
        threat_model: ThreatModel | None = None,
        bits: int = 4,
        max_epochs: int = 30,
        random_state: int | np.random.RandomState | None = None,
    ):
        self.estimator = estimator
        self.method = method
        self.fpr = fpr
        self.reject_label = reject_label
        self.attack = attack
        self.eps = eps
        self.attack_params = attack_params
        self.threat_model = threat_model
        self.bits = bits
        self.max_epochs = max_epochs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> AdversarialDetector:
        """Fit the classifier, then the detector and its threshold, on clean rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Clean training input, finite numbers.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, allow_nd=True, dtype=np.float32)
        seed = int_seed(self.random_state)
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = np.asarray(self.estimator_.classes_)
        if self.reject_label in set(self.classes_.tolist()):
            raise ValueError(
                f"reject_label={self.reject_label!r} is also a class label; pick a value "
                "that is not one."
            )
        module = logits_module(self.estimator_).eval()
        x = torch.as_tensor(X, device=placement(module)[0])
        threat = clone(self.threat_model) if self.threat_model is not None else ThreatModel()
        self.threat_ = threat.set_params(eps=self.eps).fit(X)
        self.detector_ = None
        if self.method == "squeeze":
            feasible = self.threat_.feasible_set(eps=self.eps, norm="linf").to(x)
            low = feasible.low if feasible.low is not None else x.min(dim=0).values
            high = feasible.high if feasible.high is not None else x.max(dim=0).values
            squeezers: list[torch.nn.Module] = [_BitDepth(low, high, self.bits)]
            if X.ndim == 4:
                squeezers.append(_MedianFilter())
            score = _SqueezeScore(module, squeezers)
        elif self.method == "mahalanobis":
            layer = _last_linear(module)
            targets = torch.as_tensor(class_indices(self.estimator_, y), device=x.device)
            score = _MahalanobisScore(module, layer).fit(x, targets, len(self.classes_))
        else:
            score = _BinaryScore(self._fit_binary(X, y, seed))
        self.score_module_ = score.eval()
        scores = self._scores(x)
        self.threshold_ = float(np.quantile(scores, 1 - self.fpr))
        self.scale_ = float(np.std(scores)) or 1.0
        return self

    def _fit_binary(self, X: np.ndarray, y: np.ndarray, seed: int | None) -> torch.nn.Module:
        params = dict(self.attack_params or {})
        if seed is not None and "random_state" in resolve_attack(self.attack).get_params():
            params.setdefault("random_state", seed)
        X_adv = adversarial_examples(
            self.estimator_, X, y, self.attack, eps=self.eps, threat_model=self.threat_, **params
        )
        inputs = np.concatenate([X, X_adv]).reshape(2 * len(X), -1)
        labels = np.r_[np.zeros(len(X), dtype=np.int64), np.ones(len(X), dtype=np.int64)]
        with torch_seeded(seed):
            self.detector_ = NeuralNetClassifier(
                MLP,
                module__n_classes=2,
                module__hidden=(64, 64),
                module__n_features=inputs.shape[1],
                criterion=torch.nn.CrossEntropyLoss,
                optimizer=torch.optim.Adam,
                lr=1e-3,
                max_epochs=self.max_epochs,
                batch_size=64,
                iterator_train__shuffle=True,
                train_split=None,
                verbose=0,
                device=str(placement(logits_module(self.estimator_))[0]),
            ).fit(inputs, labels)
        return self.detector_.module_.eval()

    def _scores(self, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                out.append(self.score_module_(x[start : start + batch_size]).float().cpu())
        return torch.cat(out).numpy()

    def decision_function(self, X: Any) -> np.ndarray:
        """The detector's score per row; above ``threshold_`` the row is flagged.

        Parameters
        ----------
        X : array-like of shape (n_rows, ...)
            Rows to check.

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        check_is_fitted(self, "threshold_")
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=np.float32)
        return self._scores(torch.as_tensor(X, device=placement(self.score_module_)[0]))

    def is_adversarial(self, X: Any) -> np.ndarray:
        """Whether the detector flags each row.

        Parameters
        ----------
        X : array-like of shape (n_rows, ...)
            Rows to check.

        Returns
        -------
        ndarray of shape (n_rows,)
            Boolean.
        """
        return self.decision_function(X) > self.threshold_

    def predict(self, X: Any) -> np.ndarray:
        """The classifier's label, or ``reject_label`` where the detector flags the row.

        Parameters
        ----------
        X : array-like of shape (n_rows, ...)
            Rows to classify.

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        flagged = self.is_adversarial(X)
        labels = np.asarray(self.estimator_.predict(np.asarray(X, dtype=np.float32)))
        try:
            out = labels.astype(np.result_type(labels.dtype, np.asarray([self.reject_label])))
        except (TypeError, ValueError):
            out = labels.astype(object)
        out[flagged] = self.reject_label
        return out

    def guard_module(self) -> GuardModule:
        """The classifier and the detector as one torch module, for adaptive attacks.

        Returns
        -------
        GuardModule
            Logits of the classifier, then the calibrated detector score (above zero:
            flagged).
        """
        check_is_fitted(self, "threshold_")
        module = logits_module(self.estimator_).eval()
        return GuardModule(module, self.score_module_, self.threshold_, self.scale_)


def _last_linear(module: torch.nn.Module) -> torch.nn.Module:
    linear = [m for m in module.modules() if isinstance(m, torch.nn.Linear | torch.nn.LazyLinear)]
    if not linear:
        raise ValueError(
            f"method='mahalanobis' reads the input of the module's last linear layer, and "
            f"{type(module).__name__} has none; use method='squeeze' or 'binary'."
        )
    return linear[-1]


def detection_report(
    detector: AdversarialDetector,
    X: Any,
    y: Any,
    *,
    attack: str = "pgd",
    eps: float | None = None,
    weights: tuple[float, ...] = (1.0, 10.0, 100.0),
    **attack_params: Any,
) -> dict[str, Any]:
    """How the guarded classifier fares against an attacker who ignores the detector,
    and against one who knows it.

    Both attackers run ``attack`` with budget ``eps`` on the held-out rows ``X``, inside
    the detector's threat model. The non-adaptive one attacks the classifier alone (what
    detectors are usually trained and reported against). The adaptive one maximizes the
    classifier's cross-entropy minus a weight times the detector's calibrated score above
    its threshold, through the detector (straight-through gradients where feature
    squeezing rounds), once per weight in ``weights``; a row counts as evaded if any of
    these attacks, or the non-adaptive one, leaves it misclassified and not flagged.

    Parameters
    ----------
    detector : AdversarialDetector
        Fitted.
    X : array-like of shape (n_rows, ...)
        Held-out clean rows.
    y : array-like of shape (n_rows,)
        Their labels.
    attack : str, default="pgd"
        A gradient attack that takes a custom loss (``"pgd"``, ``"mi-fgsm"``, ``"fgsm"``).
    eps : float or None, default=None
        Budget, in the units of ``X``; the detector's ``eps`` when None.
    weights : tuple of float, default=(1.0, 10.0, 100.0)
        Weights of the detector term of the adaptive loss, each tried.
    **attack_params
        Further attack parameters (``steps=40``...).

    Returns
    -------
    dict
        ``clean_accuracy`` (classifier alone), ``false_positive_rate`` (clean rows
        flagged), and for ``"non_adaptive"`` and ``"adaptive"``: ``attack_success``
        (rows the attack leaves misclassified), ``detection_rate`` (of those, the share
        flagged) and ``guarded_robust_accuracy`` (rows left correctly classified or
        flagged: what the classifier with its guard keeps). A detector is worth what
        its adaptive ``guarded_robust_accuracy`` says, not its non-adaptive
        ``detection_rate``.
    """
    check_is_fitted(detector, "threshold_")
    X = validate_data(detector, X, reset=False, allow_nd=True, dtype=np.float32)
    y = np.asarray(y)
    eps = detector.eps if eps is None else eps
    guard = detector.guard_module()
    device = placement(guard.module)[0]
    x = torch.as_tensor(X, device=device)
    targets = torch.as_tensor(class_indices(detector.estimator_, y), device=device)
    norm = attack_params.pop("norm", "linf")
    feasible = detector.threat_.feasible_set(eps=eps, norm=norm).to(x)
    made = resolve_attack(attack, eps=eps, **attack_params)
    n_classes = len(detector.classes_)

    def classifier_loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out[:, :n_classes], t, reduction="none")

    def adaptive_loss(weight: float) -> Any:
        def loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return classifier_loss(out, t) - weight * F.relu(out[:, n_classes] + 0.1)

        return loss

    def judge(x_adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            out = guard(x_adv)
        return out[:, :n_classes].argmax(dim=1) != targets, out[:, n_classes] > 0

    def summary(wrong: torch.Tensor, flagged: torch.Tensor) -> dict[str, float]:
        return {
            "attack_success": float(wrong.float().mean()),
            "detection_rate": float(flagged[wrong].float().mean()) if wrong.any() else 1.0,
            "guarded_robust_accuracy": float((~wrong | flagged).float().mean()),
        }

    clean_wrong, clean_flagged = judge(x)
    report: dict[str, Any] = {
        "clean_accuracy": float(1 - clean_wrong.float().mean()),
        "false_positive_rate": float(clean_flagged.float().mean()),
        "attack": attack,
        "eps": float(eps),
        "weights": [float(w) for w in weights],
    }
    wrong, flagged = judge(
        made.perturb(guard, x, targets, loss_fn=classifier_loss, feasible=feasible)
    )
    report["non_adaptive"] = summary(wrong, flagged)
    weighted = (
        made.perturb(guard, x, targets, loss_fn=adaptive_loss(weight), feasible=feasible)
        for weight in weights
    )
    squeezing = _squeezer_candidates(detector, made, x, targets, feasible)
    for candidate in itertools.chain(weighted, squeezing):
        more_wrong, more_flagged = judge(candidate)
        replace = (more_wrong & ~more_flagged) & ~(wrong & ~flagged)
        wrong, flagged = (
            torch.where(replace, more_wrong, wrong),
            torch.where(replace, more_flagged, flagged),
        )
    report["adaptive"] = summary(wrong, flagged)
    return report


class _Squeezed(torch.nn.Module):
    """The classifier on squeezed input, with the squeezer's straight-through gradient."""

    def __init__(self, module: torch.nn.Module, squeeze: torch.nn.Module):
        super().__init__()
        self.module = module
        self.squeeze = squeeze

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(self.squeeze(x))


def _squeezer_candidates(
    detector: AdversarialDetector,
    made: Any,
    x: torch.Tensor,
    targets: torch.Tensor,
    feasible: Any,
) -> Iterator[torch.Tensor]:
    """Feature squeezing's own adaptive attack: fool the classifier on squeezed input
    (BPDA), then round each feature to a squeezer level inside the budget. On the
    squeezer's grid the squeezed input is the input, so the score is zero. Made one at
    a time, after the weighted attacks (the order the random starts are drawn in)."""
    score = detector.score_module_
    squeezers = score.squeezers if isinstance(score, _SqueezeScore) else []
    for squeeze in squeezers:
        if not isinstance(squeeze, _BitDepth):
            continue
        x_adv = made.perturb(_Squeezed(score.module, squeeze), x, targets, feasible=feasible)
        step = squeeze.span / squeeze.levels
        nearest = squeeze.low + torch.round((x_adv - squeeze.low) / step) * step
        reach = feasible.eps * (feasible.scale if feasible.scale is not None else 1.0)
        snapped = x_adv
        for level in (nearest + step, nearest - step, nearest):
            allowed = feasible.clip(level, x) == level
            if feasible.norm == "linf":
                allowed &= (level - x).abs() <= reach
            snapped = torch.where(allowed, level, snapped)
        keep = feasible.contains(snapped, x).reshape(-1, *[1] * (x.ndim - 1))
        yield torch.where(keep, snapped, x_adv)
