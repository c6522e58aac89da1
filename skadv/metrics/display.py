"""The robustness curve display, in the shape of scikit-learn's displays."""

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
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        label = name if name is not None else self.name
        line_kwargs = {"marker": "o", "label": label, **kwargs}
        (self.line_,) = ax.plot(self.eps, self.accuracy, **line_kwargs)
        attack = f" ({self.attack_name})" if self.attack_name else ""
        ax.set(xlabel=f"eps{attack}", ylabel="robust accuracy", ylim=(-0.02, 1.02))
        if label is not None:
            ax.legend(loc="lower left")
        self.ax_ = ax
        self.figure_ = ax.figure
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
