"""ThreatModel: what an attacker may change, stated in the user's own columns and units."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from skadv.tables import TableSchema
from skadv.threat.constraints import LinearConstraints, as_constraint
from skadv.threat.feasible import FeasibleSet
from skadv.validation import Number

# a default that misfires: warn when eps covers more than this share of a feature's
# range, or less than the second number; or when spreads differ more than the third
HUGE_EPS, TINY_EPS, SPREAD_RATIO = 1.0, 1e-3, 100.0
MAX_CODES = 10


class ThreatModelWarning(UserWarning):
    """A threat-model default is likely to misfire on this data (eps against the spread of
    the features, one scale over very different features, codes attacked as numbers)."""


def _names_to_positions(value: Any, names: list[Any], parameter: str) -> list[int]:
    positions = []
    for item in value:
        if item in names:
            positions.append(names.index(item))
        elif isinstance(item, (int, np.integer)) and 0 <= item < len(names):
            positions.append(int(item))
        else:
            raise ValueError(
                f"{parameter} names column {item!r}, which X does not have; its columns "
                f"are {names[:20]}."
            )
    return positions


class ThreatModel(BaseEstimator):
    """What an attacker may change, in the units and columns of the X you pass.

    A threat model is resolved against data with :meth:`fit` (the estimators do it with
    their training data): it then knows each column's kind, bounds and spread, and
    :meth:`feasible_set` gives the set every attack projects onto.

    Parameters
    ----------
    eps : float or None, default=None
        Budget of a perturbation, in units of ``scale``. ``None`` takes the estimator's
        ``eps`` (or the attack's).
    norm : {"linf", "l2"} or None, default=None
        Norm of the budget; ``None`` takes the attack's.
    scale : "absolute", "std", "range", mapping or array-like, default="absolute"
        Unit of ``eps`` per feature: the feature's own units, its standard deviation or
        its range in the training data, or a number per column (a mapping from column to
        unit; unnamed columns get 1).
    bounds : "data", (low, high), mapping or None, default="data"
        Valid values: per column from the training data (``"data"``; for images, the
        data's overall minimum and maximum), one (low, high) pair for every feature, a
        mapping from column to (low, high) (other columns from the data), or no bounds.
        A clean value outside the bounds may always stay where it is.
    immutable : sequence of column names or positions, default=()
        Columns the attacker cannot change.
    integer : "auto" or sequence, default="auto"
        Columns that stay integral; ``"auto"`` takes integer dtypes.
    categorical : "auto" or sequence, default="auto"
        Categorical columns; ``"auto"`` takes object, string, category and bool columns
        of a DataFrame (and columns a pipeline's encoders read).
    switchable : "all" or sequence, default=()
        Categorical columns whose category the attacker may switch, to any category
        seen in fit (never to a fraction); the others stay fixed.
    constraints : sequence of str or Constraint, default=()
        Linear relations between numeric columns that every adversarial row keeps,
        such as ``"debt <= 10 * income"`` or ``"total == part_a + part_b"``.

    Attributes
    ----------
    schema_ : TableSchema
        Column kinds, bounds and categories of the data the model was fitted on.
    feasible_ : FeasibleSet
        The resolved set, on the CPU, in the encoded space of ``schema_``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skadv import ThreatModel
    >>> X = pd.DataFrame({"age": [25, 40, 61], "income": [2.0, 3.5, 1.0],
    ...                   "job": ["eng", "art", "eng"]})
    >>> threat = ThreatModel(eps=0.5, immutable=["age"], scale="std").fit(X)
    >>> threat.feasible_.mask.tolist()
    [0.0, 1.0, 0.0, 0.0]
    """

    _parameter_constraints: ClassVar[dict] = {
        "eps": [Number(Real, 0, None, closed="left"), None],
        "norm": [StrOptions({"linf", "l2"}), None],
        "scale": [StrOptions({"absolute", "std", "range"}), Mapping, "array-like"],
        "bounds": [StrOptions({"data"}), tuple, list, Mapping, None],
        "immutable": ["array-like"],
        "integer": [StrOptions({"auto"}), "array-like"],
        "categorical": [StrOptions({"auto"}), "array-like"],
        "switchable": [StrOptions({"all"}), "array-like"],
        "constraints": [list, tuple],
    }

    def __init__(
        self,
        eps: float | None = None,
        norm: str | None = None,
        *,
        scale: Any = "absolute",
        bounds: Any = "data",
        immutable: Sequence[Any] = (),
        integer: Any = "auto",
        categorical: Any = "auto",
        switchable: Any = (),
        constraints: Sequence[Any] = (),
    ):
        self.eps = eps
        self.norm = norm
        self.scale = scale
        self.bounds = bounds
        self.immutable = immutable
        self.integer = integer
        self.categorical = categorical
        self.switchable = switchable
        self.constraints = constraints

    def fit(self, X: Any, y: Any = None, *, encoded_categorical: Sequence[int] = ()) -> ThreatModel:
        """Resolve the threat model against training data ``X``.

        Parameters
        ----------
        X : DataFrame or array-like
            The data in the space the attacker works in.
        y : ignored
        encoded_categorical : sequence of int, default=()
            Positions of further categorical columns (those a pipeline's encoders read).

        Returns
        -------
        self
        """
        self._validate_params()
        for constraint in self.constraints:
            as_constraint(constraint)
        categorical = [] if isinstance(self.categorical, str) else list(self.categorical)
        if len(encoded_categorical):
            names = list(X.columns) if hasattr(X, "columns") else list(range(np.shape(X)[1]))
            categorical += [names[i] for i in encoded_categorical]
        self.schema_ = TableSchema(categorical=categorical, integer=self.integer).fit(X)
        self.feasible_ = self._resolve(np.asarray(self.schema_.encode(X), dtype=np.float64))
        return self

    def _resolve(self, Z: np.ndarray) -> FeasibleSet:
        schema = self.schema_
        columns = schema.columns_
        names = [c.name for c in columns]
        image = len(schema.sample_shape_) > 1
        Z = Z.reshape(len(Z), -1)
        d = Z.shape[1]
        numeric = np.zeros(d, dtype=bool)
        integer = np.zeros(d, dtype=bool)
        mask = np.ones(d)
        for column, where in zip(columns, schema.slices_, strict=True):
            numeric[where] = column.kind != "categorical"
            integer[where] = column.kind == "integer"
        for position in _names_to_positions(self.immutable, names, "immutable"):
            mask[schema.slices_[position]] = 0
        switchable = set(
            range(len(columns))
            if isinstance(self.switchable, str)
            else _names_to_positions(self.switchable, names, "switchable")
        )
        categories = []
        for position, (column, where) in enumerate(zip(columns, schema.slices_, strict=True)):
            if column.kind != "categorical":
                continue
            moves = position in switchable and mask[where.start] == 1
            mask[where] = 1.0 if moves else 0.0
            categories.append((torch.arange(where.start, where.stop), moves))
        low, high = self._bounds(Z, names, numeric, image)
        scale = self._scale(Z, names, numeric, low, high)
        self._warn_about_defaults(Z, numeric, integer, mask, scale, low, high, image)
        constraints = None
        if len(self.constraints):
            constraints = LinearConstraints.resolve(self.constraints, schema.index(), d)
        shape = schema.sample_shape_ if image else (d,)

        def tensor(values: np.ndarray | None) -> torch.Tensor | None:
            return None if values is None else torch.as_tensor(values.reshape(shape))

        return FeasibleSet(
            self.eps if self.eps is not None else 0.0,
            self.norm or "linf",
            scale=tensor(scale),
            low=tensor(low),
            high=tensor(high),
            mask=None if mask.all() else tensor(mask),
            integer=torch.as_tensor(integer.reshape(shape)),
            categories=categories,
            constraints=constraints,
        )

    def _bounds(
        self, Z: np.ndarray, names: list[Any], numeric: np.ndarray, image: bool
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.bounds is None:
            return None, None
        d = Z.shape[1]
        if isinstance(self.bounds, (tuple, list)):
            if len(self.bounds) != 2:
                raise ValueError(f"bounds must be (low, high), got {self.bounds!r}.")
            low, high = (
                np.broadcast_to(np.asarray(b, dtype=np.float64), d).copy() for b in self.bounds
            )
        elif image:
            low, high = np.full(d, np.nanmin(Z)), np.full(d, np.nanmax(Z))
        else:
            low, high = np.nanmin(Z, axis=0), np.nanmax(Z, axis=0)
        low, high = np.where(numeric, low, 0.0), np.where(numeric, high, 1.0)
        if isinstance(self.bounds, Mapping):
            index = self.schema_.index()
            for name, pair in self.bounds.items():
                position = _names_to_positions([name], names, "bounds")[0]
                if name not in index and position not in index:
                    raise ValueError(f"bounds names column {name!r}, which is not numeric.")
                low[index.get(name, position)], high[index.get(name, position)] = pair
        if np.any(low > high):
            raise ValueError("bounds must have low <= high for every column.")
        return low, high

    def _scale(
        self,
        Z: np.ndarray,
        names: list[Any],
        numeric: np.ndarray,
        low: np.ndarray | None,
        high: np.ndarray | None,
    ) -> np.ndarray | None:
        scale = self.scale
        if isinstance(scale, str):
            if scale == "absolute":
                return None
            spread = np.nanstd(Z, axis=0) if scale == "std" else np.nanmax(Z, 0) - np.nanmin(Z, 0)
            return np.where(numeric, spread, 1.0)
        if isinstance(scale, Mapping):
            units = np.ones(Z.shape[1])
            index = self.schema_.index()
            for name, unit in scale.items():
                position = _names_to_positions([name], names, "scale")[0]
                units[index.get(name, position)] = unit
            return units
        units = np.asarray(scale, dtype=np.float64).reshape(-1)
        if units.size != Z.shape[1] or not np.all(np.isfinite(units)) or np.any(units < 0):
            raise ValueError(
                f"scale must hold {Z.shape[1]} finite numbers >= 0, one per encoded "
                f"feature; got {units.size}."
            )
        return units

    def _warn_about_defaults(
        self,
        Z: np.ndarray,
        numeric: np.ndarray,
        integer: np.ndarray,
        mask: np.ndarray,
        scale: np.ndarray | None,
        low: np.ndarray | None,
        high: np.ndarray | None,
        image: bool,
    ) -> None:
        moving = numeric & (mask > 0)
        spread = np.nanmax(Z, axis=0) - np.nanmin(Z, axis=0)
        varying = moving & (spread > 0)
        if self.eps is not None and self.eps > 0 and varying.any():
            radius = self.eps * (1.0 if scale is None else scale)
            share = float(np.median((radius * np.ones_like(spread))[varying] / spread[varying]))
            if share > HUGE_EPS or share < TINY_EPS:
                verdict = "beyond the whole range" if share > HUGE_EPS else "a negligible move"
                warnings.warn(
                    f"eps={self.eps} is {share:.3g} times the typical range of the features "
                    f"({verdict}); state eps in the units of X, or use scale='std' or "
                    "'range'.",
                    ThreatModelWarning,
                    stacklevel=3,
                )
        if not image and varying.sum() > 1:
            ratio = float(spread[varying].max() / max(np.median(spread[varying]), 1e-12))
            global_bounds = isinstance(self.bounds, (tuple, list))
            if ratio > SPREAD_RATIO and (global_bounds or scale is None):
                what = "one (low, high) range" if global_bounds else "eps in absolute units"
                warnings.warn(
                    f"The features' ranges differ {ratio:.0f}-fold, and the threat model uses "
                    f"{what} for all of them; use bounds='data' (per feature) and "
                    "scale='std' or 'range'.",
                    ThreatModelWarning,
                    stacklevel=3,
                )
        codes = [
            j
            for j in np.flatnonzero(moving)
            if 2 < len(np.unique(Z[:, j])) <= MAX_CODES and np.all(Z[:, j] == np.round(Z[:, j]))
        ]
        if codes and not image:
            names = [self.schema_.columns_[j].name for j in codes[:5]]
            warnings.warn(
                f"Columns {names} hold a few integer codes each but are attacked as numbers; "
                "if they are categories, declare them: ThreatModel(categorical=[...]).",
                ThreatModelWarning,
                stacklevel=3,
            )

    def check(self, X: Any, X_adv: Any) -> dict[str, float]:
        """The feasibility checker: how many rows of ``X_adv`` keep each promise.

        Parameters
        ----------
        X : DataFrame or array-like
            Clean rows, in the space the model was fitted on.
        X_adv : DataFrame or array-like
            Their adversarial versions, row by row. Both are compared in float32, with
            the tolerance for its rounding.

        Returns
        -------
        dict
            Per promise (``finite``, ``ball``, ``bounds``, ``mask``, ``integer``,
            ``categorical``, ``constraints``), the share of rows that keep it, and
            ``feasible``, the share that keep them all.
        """
        check_is_fitted(self, "feasible_")
        schema = self.schema_
        unseen = np.zeros(len(X_adv), dtype=bool)
        X_adv = X_adv.copy() if schema.is_frame_ else np.array(X_adv, copy=True)
        for column in schema.columns_:
            if column.kind != "categorical":
                continue
            clean = np.asarray(X[column.name] if schema.is_frame_ else X[:, column.name])
            if schema.is_frame_:
                bad = ~X_adv[column.name].isin(column.categories).to_numpy()
                X_adv.loc[bad, column.name] = clean[bad]
            else:
                bad = ~np.isin(X_adv[:, column.name], column.categories)
                X_adv[bad, column.name] = clean[bad]
            unseen |= bad  # an unseen category is a broken promise; encode the clean one
        # in float32, the precision attacks run in: a float64 check would call rounding
        # of the clean values a broken promise
        Z = torch.as_tensor(schema.encode(X), dtype=torch.float32)
        Z_adv = torch.as_tensor(schema.encode(X_adv), dtype=torch.float32)
        feasible = self.feasible_set().to(Z)
        problems = feasible.problems(Z_adv.reshape(Z.shape), Z)
        if self.feasible_.categories or unseen.any():
            problems["categorical"] = problems.get(
                "categorical", torch.zeros(len(Z), dtype=torch.bool)
            ) | torch.as_tensor(unseen)
        shares = {name: 1.0 - float(rows.double().mean()) for name, rows in problems.items()}
        shares["feasible"] = 1.0 - float(
            torch.stack(list(problems.values())).any(0).double().mean()
        )
        return shares

    def feasible_set(self, eps: float | None = None, norm: str | None = None) -> FeasibleSet:
        """The resolved feasible set, with ``eps`` and ``norm`` filled in.

        Parameters
        ----------
        eps : float or None, default=None
            Overrides the model's ``eps``; one of the two must be set.
        norm : {"linf", "l2"} or None, default=None
            Used when the model's own ``norm`` is None (default "linf").

        Returns
        -------
        FeasibleSet
        """
        check_is_fitted(self, "feasible_")
        feasible = copy.copy(self.feasible_)
        feasible.eps = float(eps if eps is not None else (self.eps or 0.0))
        feasible.norm = self.norm or norm or "linf"
        return feasible
