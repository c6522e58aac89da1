"""Certified robustness by randomized smoothing (Cohen, Rosenfeld & Kolter 2019).

The smoothed classifier predicts the class the base classifier returns most often under
Gaussian noise of standard deviation ``sigma``; where that class has probability at
least ``p_A`` under the noise, no L2 perturbation smaller than ``sigma * Phi^-1(p_A)``
changes its prediction. ``certify`` estimates ``p_A`` from Monte-Carlo samples with a
Clopper-Pearson bound that holds with probability ``1 - alpha``.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.stats import beta, binomtest, norm
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from skadv.precision import placement

__all__ = [
    "RandomizedSmoothingClassifier",
    "SmoothedModule",
    "certified_accuracy",
    "clopper_pearson_lower",
]


class RandomizedSmoothingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier smoothed by Gaussian noise, with certified L2 radii.

    ``fit`` fits a clone of ``estimator`` (wrap a fitted one in scikit-learn's
    ``FrozenEstimator`` to smooth it as it is; train it for smoothing with
    ``AdversarialTrainer(objective="gaussian")``). ``predict`` is Cohen et al.'s PREDICT:
    ``n_samples`` noisy copies of each row vote, and the top class is returned only when
    a binomial test says it beats the runner-up at level ``alpha``; otherwise the row gets
    ``abstain_label``. ``certify`` is their CERTIFY: ``n_select`` votes choose the class,
    ``n_samples`` fresh votes bound its probability ``p_A`` from below, and the certified
    radius is ``sigma * Phi^-1(p_A)``.

    ``score`` is the accuracy of ``predict``, an abstention counting as an error. The
    noise is added to ``X`` as you pass it (for a Pipeline, its raw input), so
    ``sigma`` and the radii are in the units of ``X``; it suits continuous inputs such as
    pixels, not category codes.

    Parameters
    ----------
    estimator : classifier
        The base classifier: anything with ``fit`` and ``predict`` (a skadv or skorch
        net, a Pipeline, a scikit-learn model).
    sigma : float, default=0.25
        Standard deviation of the Gaussian noise, in the units of ``X``.
    n_samples : int, default=1000
        Noisy copies per row for the vote of ``predict`` and the estimate of ``certify``.
    n_select : int, default=100
        Noisy copies per row that choose the class in ``certify``.
    alpha : float, default=0.001
        Failure probability: a certificate (or a prediction) is wrong with probability at
        most ``alpha`` over the noise.
    batch_size : int, default=10000
        Noisy rows given to the base classifier at once.
    abstain_label : object, default=-1
        What ``predict`` and ``certify`` return for a row where the vote is not
        significant; pick a value that is not a class label.
    random_state : int, RandomState instance or None, default=None
        Seeds the noise.

    Attributes
    ----------
    estimator_ : classifier
        The fitted base classifier.
    classes_ : ndarray of shape (n_classes,)
        Its classes.
    n_features_in_ : int
        Features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skadv.smoothing import RandomizedSmoothingClassifier
    >>> X = np.random.RandomState(0).rand(100, 2); y = (X[:, 0] > 0.5).astype(int)
    >>> smooth = RandomizedSmoothingClassifier(LogisticRegression(), sigma=0.1,
    ...     n_samples=200, n_select=20, random_state=0).fit(X, y)
    >>> labels, radii = smooth.certify(X[:3])
    >>> labels.shape, bool((radii >= 0).all())
    ((3,), True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"])],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_select": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "abstain_label": [None, str, Integral, Real],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator: Any,
        *,
        sigma: float = 0.25,
        n_samples: int = 1000,
        n_select: int = 100,
        alpha: float = 0.001,
        batch_size: int = 10000,
        abstain_label: Any = -1,
        random_state: int | np.random.RandomState | None = None,
    ):
        self.estimator = estimator
        self.sigma = sigma
        self.n_samples = n_samples
        self.n_select = n_select
        self.alpha = alpha
        self.batch_size = batch_size
        self.abstain_label = abstain_label
        self.random_state = random_state

    def fit(self, X: Any, y: Any, **fit_params: Any) -> RandomizedSmoothingClassifier:
        """Fit a clone of the base classifier on ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training input, finite numbers.
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params
            Passed to the base classifier's ``fit``.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, allow_nd=True, dtype=np.float32)
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.classes_ = np.asarray(self.estimator_.classes_)
        if self.abstain_label in set(self.classes_.tolist()):
            raise ValueError(
                f"abstain_label={self.abstain_label!r} is also a class label; pick a value "
                "that is not one, such as -1 for non-negative integer labels."
            )
        return self

    def vote_counts(self, X: Any, n: int | None = None) -> np.ndarray:
        """How many of ``n`` noisy copies of each row the base classifier puts in each
        class.

        Parameters
        ----------
        X : array-like of shape (n_rows, ...)
            Rows to smooth.
        n : int or None, default=None
            Noisy copies per row; ``n_samples`` when None.

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Integer counts in the order of ``classes_``.
        """
        return self._counts(X, self.n_samples if n is None else n, purpose=0)

    def _counts(self, X: Any, n: int, purpose: int) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=np.float32)
        rng = self._noise(purpose)
        counts = np.zeros((len(X), len(self.classes_)), dtype=np.int64)
        rows_per_batch = max(1, self.batch_size // n)
        for start in range(0, len(X), rows_per_batch):
            rows = X[start : start + rows_per_batch]
            noisy = np.repeat(rows, n, axis=0)
            noisy += self.sigma * rng.standard_normal(noisy.shape, dtype=np.float32)
            labels = self._base_indices(noisy)
            np.add.at(counts, (start + np.repeat(np.arange(len(rows)), n), labels), 1)
        return counts

    def _base_indices(self, noisy: np.ndarray) -> np.ndarray:
        """The base classifier's class index of each noisy row: straight from its torch
        module's logits when it has one (what ``predict`` of a skorch net computes, without
        its data loader), else from ``predict``."""
        fitted = getattr(self.estimator_, "estimator", self.estimator_)
        module = getattr(fitted, "module_", None)
        if isinstance(module, torch.nn.Module) and not isinstance(fitted, Pipeline):
            device, dtype = placement(module)
            was_training = module.training
            module.eval()
            try:
                with torch.no_grad():
                    logits = module(torch.as_tensor(noisy, device=device, dtype=dtype))
            finally:
                module.train(was_training)
            if logits.ndim == 2 and logits.shape[1] == len(self.classes_):
                return logits.argmax(dim=1).cpu().numpy()
        return np.searchsorted(self.classes_, self.estimator_.predict(noisy))

    def _noise(self, purpose: int) -> np.random.Generator:
        """A generator for one call: the same integer ``random_state`` gives the same
        noise for the same call, and the selection and estimation votes of
        :meth:`certify` (``purpose`` 1 and 2) independent noise, as the paper requires."""
        if self.random_state is None:
            return np.random.default_rng()
        if isinstance(self.random_state, np.random.RandomState):
            return np.random.default_rng(self.random_state.randint(np.iinfo(np.int32).max))
        return np.random.default_rng([int(self.random_state), purpose])

    def predict(self, X: Any) -> np.ndarray:
        """The smoothed prediction, or ``abstain_label`` where the vote is not significant.

        Parameters
        ----------
        X : array-like of shape (n_rows, ...)
            Rows to classify.

        Returns
        -------
        ndarray of shape (n_rows,)
        """
        counts = self.vote_counts(X)
        order = np.argsort(-counts, axis=1, kind="stable")
        top, second = order[:, 0], order[:, 1] if counts.shape[1] > 1 else order[:, 0]
        n_top = counts[np.arange(len(counts)), top]
        n_second = counts[np.arange(len(counts)), second] if counts.shape[1] > 1 else 0
        out = np.empty(len(counts), dtype=object)
        for i, (a, b) in enumerate(zip(n_top, n_second, strict=True)):
            significant = binomtest(int(a), int(a + b), 0.5).pvalue <= self.alpha
            out[i] = self.classes_[top[i]] if significant else self.abstain_label
        return _as_label_array(out, self.classes_, self.abstain_label)

    def certify(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed prediction of each row and the L2 radius it is certified for.

        Parameters
        ----------
        X : array-like of shape (n_rows, ...)
            Rows to certify.

        Returns
        -------
        labels : ndarray of shape (n_rows,)
            The class, or ``abstain_label`` where its probability under the noise cannot
            be shown to exceed one half.
        radii : ndarray of shape (n_rows,)
            Certified L2 radius in the units of ``X``; 0 where the row abstains. With
            probability at least ``1 - alpha``, no perturbation of smaller L2 norm
            changes the smoothed classifier's prediction of the row.
        """
        selected = self._counts(X, self.n_select, purpose=1).argmax(axis=1)
        counts = self._counts(X, self.n_samples, purpose=2)
        hits = counts[np.arange(len(counts)), selected]
        p_lower = clopper_pearson_lower(hits, self.n_samples, self.alpha)
        certified = p_lower > 0.5
        radii = np.where(certified, self.sigma * norm.ppf(np.clip(p_lower, 0.5, 1.0)), 0.0)
        labels = np.empty(len(counts), dtype=object)
        labels[:] = self.abstain_label
        labels[certified] = self.classes_[selected[certified]]
        return _as_label_array(labels, self.classes_, self.abstain_label), radii

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


def _as_label_array(values: np.ndarray, classes: np.ndarray, abstain: Any) -> np.ndarray:
    """Labels in the dtype of ``classes`` when the abstain label fits it, else objects."""
    try:
        return values.astype(np.result_type(classes.dtype, np.asarray([abstain]).dtype))
    except (TypeError, ValueError):
        return values


def clopper_pearson_lower(hits: Any, n: int, alpha: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound of a binomial proportion, at level ``alpha``.

    Parameters
    ----------
    hits : array-like of int
        Successes out of ``n`` trials.
    n : int
        Trials.
    alpha : float
        The bound fails with probability at most ``alpha``.

    Returns
    -------
    ndarray
        Lower bounds in [0, 1]; 0 where there is no success.
    """
    hits = np.asarray(hits)
    bound = beta.ppf(alpha, np.maximum(hits, 1), n - hits + 1)
    return np.where(hits > 0, bound, 0.0)


def certified_accuracy(y_true: Any, labels: Any, radii: Any, radius: float) -> float:
    """The share of rows predicted correctly and certified at least at ``radius``.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,)
        True labels.
    labels, radii : array-like of shape (n_rows,)
        What :meth:`RandomizedSmoothingClassifier.certify` returned.
    radius : float
        The L2 radius, in the units of ``X``.

    Returns
    -------
    float
    """
    y_true, labels, radii = (np.asarray(a) for a in (y_true, labels, radii))
    return float(np.mean((labels == y_true) & (radii >= radius)))


class SmoothedModule(torch.nn.Module):
    """A torch module's smoothed soft classifier, for adaptive attacks on smoothing.

    Returns the log of the mean softmax over ``n_draws`` Gaussian noise draws of standard
    deviation ``sigma``: the expectation over the noise that an attack must follow
    (Salman et al. 2019). Any skadv attack run on it is an EOT attack on the smoothed
    classifier.

    Parameters
    ----------
    module : torch.nn.Module
        The base classifier's module; returns logits.
    sigma : float
        Standard deviation of the noise.
    n_draws : int, default=32
        Noise draws per forward pass.
    """

    def __init__(self, module: torch.nn.Module, sigma: float, n_draws: int = 32):
        super().__init__()
        self.module = module
        self.sigma = sigma
        self.n_draws = n_draws

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log mean softmax of the base module over noisy copies of ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, ...)
            A batch.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_classes)
        """
        noisy = x.repeat_interleave(self.n_draws, dim=0)
        noisy = noisy + self.sigma * torch.randn_like(noisy)
        probs = torch.softmax(self.module(noisy), dim=1)
        probs = probs.reshape(len(x), self.n_draws, -1).mean(dim=1)
        return torch.log(probs.clamp_min(1e-12))
