"""The robustness, certified-accuracy and detection curve displays, in the shape of
scikit-learn's displays."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from skadv.metrics.robust import robust_accuracy


def _check_eps_grid(eps: Any) -> list[float]:
    if isinstance(eps, (str, bytes)) or not isinstance(eps, Iterable):
        raise TypeError(f"eps must be a sequence of budgets, such as [0, 0.05, 0.1]; got {eps!r}.")
    values = list(eps)
    if not values or not all(
        isinstance(e, Real) and not isinstance(e, bool) and np.isfinite(e) and e >= 0
        for e in values
    ):
        raise ValueError(
            f"eps must be a non-empty sequence of finite numbers >= 0, such as "
            f"[0, 0.05, 0.1]; got {eps!r}."
        )
    return [float(e) for e in values]


def _draw_line(
    display: Any,
    ax: Any,
    x: Any,
    y: Any,
    *,
    label: str | None,
    line_kwargs: dict,
    legend_loc: str,
    **axes_settings: Any,
) -> Any:
    """Draw a display's labelled line on ``ax`` (a new figure when None), set the axes and
    the legend, and store ``line_``, ``ax_`` and ``figure_`` on the display."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    (display.line_,) = ax.plot(x, y, **line_kwargs)
    ax.set(**axes_settings)
    if label is not None:
        ax.legend(loc=legend_loc)
    display.ax_ = ax
    display.figure_ = ax.figure
    return ax


class RobustnessCurveDisplay:
    """Accuracy against perturbation budget, in the shape of scikit-learn's displays.

    Create it with :meth:`from_estimator`; ``plot`` draws it.

    Parameters
    ----------
    eps : array-like of shape (n_points,)
        Perturbation budgets.
    accuracy : array-like of shape (n_points,)
        Robust accuracy at each budget.
    name : str or None, default=None
        Legend label.
    attack_name : str or None, default=None
        Name of the attack, shown on the x axis.

    Attributes
    ----------
    line_ : matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skadv import RobustnessCurveDisplay
    >>> disp = RobustnessCurveDisplay(eps=[0, 0.1], accuracy=[0.9, 0.4]).plot()
    >>> disp.line_.get_ydata().tolist()
    [0.9, 0.4]
    """

    def __init__(
        self,
        *,
        eps: Sequence[float],
        accuracy: Sequence[float],
        name: str | None = None,
        attack_name: str | None = None,
    ):
        self.eps = eps
        self.accuracy = accuracy
        self.name = name
        self.attack_name = attack_name

    def plot(
        self, ax: Any = None, *, name: str | None = None, **kwargs: Any
    ) -> RobustnessCurveDisplay:
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure is made when None.
        name : str or None, default=None
            Legend label, overriding ``self.name``.
        **kwargs
            Passed to matplotlib's ``ax.plot`` (``color``, ``linestyle`` ...).

        Returns
        -------
        RobustnessCurveDisplay
        """
        label = name if name is not None else self.name
        attack = f" ({self.attack_name})" if self.attack_name else ""
        _draw_line(
            self,
            ax,
            self.eps,
            self.accuracy,
            label=label,
            line_kwargs={"marker": "o", "label": label, **kwargs},
            legend_loc="lower left",
            xlabel=f"eps{attack}",
            ylabel="robust accuracy",
            ylim=(-0.02, 1.02),
        )
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: Any,
        y: Any,
        *,
        eps: Sequence[float],
        attack: Any = "pgd",
        attack_params: dict | None = None,
        threat_model: Any = None,
        batch_size: int = 256,
        name: str | None = None,
        ax: Any = None,
        **kwargs: Any,
    ) -> RobustnessCurveDisplay:
        """Measure robust accuracy at each ``eps`` and plot it.

        Parameters
        ----------
        estimator : fitted classifier or Pipeline
            As for :func:`~skadv.robust_accuracy`.
        X : DataFrame or array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,)
        eps : sequence of float
            Perturbation budgets to evaluate, in the units of ``X``.
        attack : str or Attack, default="pgd"
        attack_params : dict or None, default=None
            Further attack parameters, such as ``{"steps": 20}``.
        threat_model : ThreatModel or None, default=None
            As for :func:`~skadv.robust_accuracy`; its ``eps`` is replaced by each budget.
        batch_size : int, default=256
        name : str or None, default=None
            Legend label; defaults to the estimator's class name.
        ax : matplotlib Axes or None, default=None
        **kwargs
            Passed to matplotlib's ``ax.plot``.

        Returns
        -------
        RobustnessCurveDisplay
        """
        eps = _check_eps_grid(eps)
        accuracy = [
            robust_accuracy(
                estimator,
                X,
                y,
                attack,
                eps=e,
                threat_model=threat_model,
                batch_size=batch_size,
                **(attack_params or {}),
            )
            for e in eps
        ]
        display = cls(
            eps=eps,
            accuracy=accuracy,
            name=name or type(estimator).__name__,
            attack_name=attack if isinstance(attack, str) else type(attack).__name__,
        )
        return display.plot(ax=ax, **kwargs)


class CertifiedAccuracyDisplay:
    """Certified accuracy against L2 radius, for randomized smoothing.

    The share of rows that the smoothed classifier predicts correctly and certifies at
    least at each radius; it falls from the smoothed classifier's certified clean
    accuracy (radius 0) to zero. Create it with :meth:`from_estimator` or
    :meth:`from_certificates`; ``plot`` draws it.

    Parameters
    ----------
    radii : array-like of shape (n_points,)
        L2 radii, in the units of ``X``.
    accuracy : array-like of shape (n_points,)
        Certified accuracy at each radius.
    name : str or None, default=None
        Legend label.

    Attributes
    ----------
    line_ : matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from skadv.metrics import CertifiedAccuracyDisplay
    >>> disp = CertifiedAccuracyDisplay.from_certificates(
    ...     [0, 1, 1], [0, 1, -1], [0.5, 0.2, 0.0], radii=[0, 0.25, 0.5])
    >>> disp.accuracy
    [0.6666666666666666, 0.3333333333333333, 0.3333333333333333]
    """

    def __init__(
        self, *, radii: Sequence[float], accuracy: Sequence[float], name: str | None = None
    ):
        self.radii = radii
        self.accuracy = accuracy
        self.name = name

    def plot(
        self, ax: Any = None, *, name: str | None = None, **kwargs: Any
    ) -> CertifiedAccuracyDisplay:
        """Draw the curve as a step function of the radius.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure is made when None.
        name : str or None, default=None
            Legend label, overriding ``self.name``.
        **kwargs
            Passed to matplotlib's ``ax.plot``.

        Returns
        -------
        CertifiedAccuracyDisplay
        """
        label = name if name is not None else self.name
        _draw_line(
            self,
            ax,
            self.radii,
            self.accuracy,
            label=label,
            line_kwargs={"drawstyle": "steps-post", "label": label, **kwargs},
            legend_loc="upper right",
            xlabel="L2 radius",
            ylabel="certified accuracy",
            ylim=(-0.02, 1.02),
        )
        return self

    @classmethod
    def from_certificates(
        cls,
        y_true: Any,
        labels: Any,
        certified_radii: Any,
        *,
        radii: Sequence[float] | None = None,
        name: str | None = None,
        ax: Any = None,
        **kwargs: Any,
    ) -> CertifiedAccuracyDisplay:
        """Plot the certified accuracy of certificates already computed.

        Parameters
        ----------
        y_true : array-like of shape (n_rows,)
            True labels.
        labels, certified_radii : array-like of shape (n_rows,)
            What :meth:`~skadv.smoothing.RandomizedSmoothingClassifier.certify` returned.
        radii : sequence of float or None, default=None
            Radii to evaluate; 50 points from 0 to the largest certified radius if None.
        name : str or None, default=None
            Legend label.
        ax : matplotlib Axes or None, default=None
            Axes to draw on.
        **kwargs
            Passed to matplotlib's ``ax.plot``.

        Returns
        -------
        CertifiedAccuracyDisplay
        """
        from skadv.smoothing import certified_accuracy

        if radii is None:
            top = float(np.max(certified_radii, initial=0.0))
            radii = np.linspace(0.0, top * 1.05 or 1.0, 50).tolist()
        radii = _check_eps_grid(radii)
        accuracy = [certified_accuracy(y_true, labels, certified_radii, r) for r in radii]
        return cls(radii=radii, accuracy=accuracy, name=name).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: Any,
        y: Any,
        *,
        radii: Sequence[float] | None = None,
        name: str | None = None,
        ax: Any = None,
        **kwargs: Any,
    ) -> CertifiedAccuracyDisplay:
        """Certify ``X`` with a fitted smoothed classifier and plot its certified accuracy.

        Parameters
        ----------
        estimator : RandomizedSmoothingClassifier
            Fitted.
        X : array-like of shape (n_rows, ...)
            Rows to certify.
        y : array-like of shape (n_rows,)
            True labels.
        radii : sequence of float or None, default=None
            As in :meth:`from_certificates`.
        name : str or None, default=None
            Legend label.
        ax : matplotlib Axes or None, default=None
            Axes to draw on.
        **kwargs
            Passed to matplotlib's ``ax.plot``.

        Returns
        -------
        CertifiedAccuracyDisplay
        """
        if not hasattr(estimator, "certify"):
            raise TypeError(
                f"{type(estimator).__name__} has no certify method; certified accuracy "
                "needs a skadv.smoothing.RandomizedSmoothingClassifier."
            )
        labels, certified = estimator.certify(X)
        return cls.from_certificates(y, labels, certified, radii=radii, name=name, ax=ax, **kwargs)


class DetectionCurveDisplay:
    """Detection rate against false-positive rate of an adversarial-input detector.

    The ROC curve of the detector's score on clean rows (negatives) and adversarial rows
    (positives), with the detector's own operating point (its threshold) marked. It
    says how well the score separates the rows it is given: against adversarial rows
    from an attack that ignores the detector it overstates what the detector is worth
    (see :func:`skadv.detection.detection_report`).

    Parameters
    ----------
    fpr, tpr : array-like of shape (n_points,)
        False-positive and detection rates at each threshold.
    operating_point : tuple of float or None, default=None
        ``(fpr, tpr)`` at the detector's threshold.
    name : str or None, default=None
        Legend label.

    Attributes
    ----------
    line_ : matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from skadv.metrics import DetectionCurveDisplay
    >>> disp = DetectionCurveDisplay(fpr=[0, 0.1, 1], tpr=[0, 0.8, 1]).plot()
    >>> disp.line_.get_ydata().tolist()
    [0.0, 0.8, 1.0]
    """

    def __init__(
        self,
        *,
        fpr: Sequence[float],
        tpr: Sequence[float],
        operating_point: tuple[float, float] | None = None,
        name: str | None = None,
    ):
        self.fpr = fpr
        self.tpr = tpr
        self.operating_point = operating_point
        self.name = name

    def plot(
        self, ax: Any = None, *, name: str | None = None, **kwargs: Any
    ) -> DetectionCurveDisplay:
        """Draw the curve and the operating point.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; a new figure is made when None.
        name : str or None, default=None
            Legend label, overriding ``self.name``.
        **kwargs
            Passed to matplotlib's ``ax.plot``.

        Returns
        -------
        DetectionCurveDisplay
        """
        label = name if name is not None else self.name
        ax = _draw_line(
            self,
            ax,
            np.asarray(self.fpr, dtype=float),
            np.asarray(self.tpr, dtype=float),
            label=label,
            line_kwargs={"drawstyle": "steps-post", "label": label, **kwargs},
            legend_loc="lower right",
            xlabel="false-positive rate (clean rows flagged)",
            ylabel="detection rate (adversarial rows flagged)",
            xlim=(-0.02, 1.02),
            ylim=(-0.02, 1.02),
        )
        if self.operating_point is not None:
            ax.plot(*self.operating_point, "o", color=self.line_.get_color())
        return self

    @classmethod
    def from_detector(
        cls,
        detector: Any,
        X: Any,
        X_adv: Any,
        *,
        name: str | None = None,
        ax: Any = None,
        **kwargs: Any,
    ) -> DetectionCurveDisplay:
        """Score clean rows ``X`` and adversarial rows ``X_adv`` and plot the ROC curve.

        Parameters
        ----------
        detector : AdversarialDetector
            Fitted.
        X : array-like of shape (n_rows, ...)
            Clean rows.
        X_adv : array-like of shape (n_adv, ...)
            Adversarial rows (for example from :func:`skadv.adversarial_examples`).
        name : str or None, default=None
            Legend label.
        ax : matplotlib Axes or None, default=None
            Axes to draw on.
        **kwargs
            Passed to matplotlib's ``ax.plot``.

        Returns
        -------
        DetectionCurveDisplay
        """
        from sklearn.metrics import roc_curve

        clean, adversarial = detector.decision_function(X), detector.decision_function(X_adv)
        scores = np.concatenate([clean, adversarial])
        truth = np.r_[np.zeros(len(clean)), np.ones(len(adversarial))]
        fpr, tpr, _ = roc_curve(truth, scores)
        point = (
            float(np.mean(clean > detector.threshold_)),
            float(np.mean(adversarial > detector.threshold_)),
        )
        return cls(fpr=fpr, tpr=tpr, operating_point=point, name=name).plot(ax=ax, **kwargs)
