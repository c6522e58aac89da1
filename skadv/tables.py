"""What kind each column is: one home for the threat model and the GAN sampler.

:class:`TableSchema` reads a table as users bring it, a pandas DataFrame with float,
integer, bool, category and string columns or a NumPy array, and learns per column its
kind (``"continuous"``, ``"integer"`` or ``"categorical"``), its bounds and its
categories. It encodes the table to floats (numbers as they are, each categorical column
as a one-hot block over the categories seen in fit) and decodes floats back to the same
DataFrame: same columns, order, dtypes and categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Column", "TableSchema"]

KINDS = ("continuous", "integer", "categorical")


@dataclass
class Column:
    """One column of a table: its name, kind, dtype, bounds and categories.

    Parameters
    ----------
    name : object
        The column's name (its position for arrays).
    kind : {"continuous", "integer", "categorical"}
        How the column is encoded and attacked.
    dtype : str
        The dtype's name (``"int64"``, ``"category"``, ``"bool"``, ``"str"`` ...).
    low, high : float, default=nan
        The column's range in the fitted data (numeric and integer columns).
    categories : ndarray or None, default=None
        The categories seen in the fitted data, in code order.
    dtype_categories : ndarray or None, default=None
        A pandas categorical dtype's declared categories, so that a decoded column has
        the very dtype of the fitted one.
    ordered : bool, default=False
        Whether that categorical dtype is ordered.
    """

    name: Any
    kind: str
    dtype: str
    low: float = np.nan
    high: float = np.nan
    categories: np.ndarray | None = None
    dtype_categories: np.ndarray | None = None
    ordered: bool = False

    @property
    def width(self) -> int:
        """Encoded features of the column: one, or one per category."""
        return len(self.categories) if self.kind == "categorical" else 1

    def pandas_dtype(self) -> Any:
        """The column's dtype, as pandas takes it.

        Returns
        -------
        str or pandas.CategoricalDtype
        """
        import pandas as pd

        if self.dtype == "category":
            return pd.CategoricalDtype(self.dtype_categories, ordered=self.ordered)
        return self.dtype


def _column(name: Any, kind: str, dtype: Any, **fields: Any) -> Column:
    """A Column, with ``dtype`` reduced to its name (and a categorical dtype's categories)."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        fields.update(
            dtype_categories=np.asarray(dtype.categories, dtype=object), ordered=dtype.ordered
        )
    return Column(name, kind, str(dtype), **fields)


def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "dtypes")


def _kind_of(dtype: Any) -> str:
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(dtype):
        return "continuous"
    return "categorical"


def _declared(value: Any, names: list[Any], parameter: str) -> set[Any] | None:
    """The column names a ``categorical=``/``integer=`` list names (names or positions)."""
    if isinstance(value, str) and value == "auto":
        return None
    found = set()
    for item in value:
        if item in names:
            found.add(item)
        elif isinstance(item, (int, np.integer)) and 0 <= item < len(names):
            found.add(names[item])
        else:
            raise ValueError(
                f"{parameter} names column {item!r}, which X does not have; its columns "
                f"are {names[:20]}."
            )
    return found


class TableSchema:
    """Column kinds, bounds and categories of a table, learned from data.

    Parameters
    ----------
    categorical : "auto" or sequence of column names or positions, default="auto"
        Categorical columns. ``"auto"`` takes object, string, category and bool columns
        of a DataFrame (no column of an array).
    integer : "auto" or sequence of column names or positions, default="auto"
        Integer columns, which stay integral. ``"auto"`` takes integer dtypes.

    Attributes
    ----------
    columns_ : list of Column
    n_features_out_ : int
        Width of the encoding.
    sample_shape_ : tuple of int
        Shape of one sample of the fitted input (more than one axis for images, which
        are encoded as they are).

    Examples
    --------
    >>> import pandas as pd
    >>> from skadv.tables import TableSchema
    >>> df = pd.DataFrame({"age": [30, 41], "job": ["eng", "art"], "pay": [1.5, 2.0]})
    >>> schema = TableSchema().fit(df)
    >>> [(c.name, c.kind) for c in schema.columns_]
    [('age', 'integer'), ('job', 'categorical'), ('pay', 'continuous')]
    >>> schema.encode(df).tolist()
    [[30.0, 0.0, 1.0, 1.5], [41.0, 1.0, 0.0, 2.0]]
    >>> schema.decode(schema.encode(df)).equals(df)
    True
    """

    def __init__(
        self, categorical: str | Sequence[Any] = "auto", integer: str | Sequence[Any] = "auto"
    ):
        self.categorical = categorical
        self.integer = integer

    def fit(self, X: Any) -> TableSchema:
        """Learn the columns of ``X``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features) or (n_samples, ...)

        Returns
        -------
        self
        """
        self.is_frame_ = _is_frame(X)
        if self.is_frame_:
            names = list(X.columns)
            dtypes = list(X.dtypes)
            values = [X[name].to_numpy() for name in names]
        else:
            array = np.asarray(X)
            if array.ndim < 2:
                raise ValueError(f"X must be 2-D or more, got shape {array.shape}.")
            if array.ndim > 2:  # images: one continuous block, encoded as it is
                self.sample_shape_ = array.shape[1:]
                flat = array.reshape(len(array), -1).astype(np.float64)
                self.columns_ = [
                    _column(j, "continuous", array.dtype, **_bounds(flat[:, j]))
                    for j in range(flat.shape[1])
                ]
                self.n_features_out_ = flat.shape[1]
                return self
            names = list(range(array.shape[1]))
            dtypes = [array.dtype] * array.shape[1]
            values = list(array.T)
        self.sample_shape_ = (len(names),)
        categorical = _declared(self.categorical, names, "categorical")
        integer = _declared(self.integer, names, "integer") or set()
        self.columns_ = []
        for name, dtype, column in zip(names, dtypes, values, strict=True):
            kind = "categorical" if name in (categorical or ()) else _kind_of(dtype)
            if name in integer and kind != "categorical":
                kind = "integer"
            if kind == "categorical":
                categories = _categories(column, dtype)
                self.columns_.append(_column(name, kind, dtype, categories=categories))
            else:
                numbers = _as_float(column, name)
                self.columns_.append(_column(name, kind, dtype, **_bounds(numbers)))
        self.n_features_out_ = sum(column.width for column in self.columns_)
        return self

    @property
    def slices_(self) -> list[slice]:
        """Per column, its features in the encoding."""
        out, start = [], 0
        for column in self.columns_:
            out.append(slice(start, start + column.width))
            start += column.width
        return out

    def index(self) -> dict[Any, int]:
        """Encoded feature index of every numeric column, by name (and by position).

        Returns
        -------
        dict
        """
        found = {}
        for position, (column, where) in enumerate(zip(self.columns_, self.slices_, strict=True)):
            if column.kind != "categorical":
                found[column.name] = where.start
                found.setdefault(position, where.start)
        return found

    def _check_columns(self, X: Any) -> None:
        if self.is_frame_:
            if not _is_frame(X):
                raise TypeError("X was a DataFrame in fit; pass a DataFrame with the same columns.")
            missing = [c.name for c in self.columns_ if c.name not in X.columns]
            if missing:
                raise ValueError(f"X lacks the columns {missing[:20]} seen in fit.")
        elif np.asarray(X).shape[1:] != tuple(self.sample_shape_):
            raise ValueError(
                f"X has samples of shape {np.asarray(X).shape[1:]}, but the schema was "
                f"fitted on samples of shape {tuple(self.sample_shape_)}."
            )

    def encode(self, X: Any) -> np.ndarray:
        """Encode ``X`` to a float array of shape ``(n_samples, n_features_out_)``, or the
        fitted image shape for images.

        Parameters
        ----------
        X : DataFrame or array-like

        Returns
        -------
        ndarray of float32

        Raises
        ------
        ValueError
            If a categorical column holds a category not seen in fit.
        """
        self._check_columns(X)
        if len(self.sample_shape_) > 1:
            return np.asarray(X, dtype=np.float32)
        n = len(X)
        out = np.zeros((n, self.n_features_out_), dtype=np.float32)
        for column, where in zip(self.columns_, self.slices_, strict=True):
            values = X[column.name].to_numpy() if self.is_frame_ else np.asarray(X)[:, column.name]
            if column.kind != "categorical":
                out[:, where.start] = _as_float(values, column.name)
                continue
            codes = _codes(values, column)
            out[np.arange(n), where.start + codes] = 1.0
        return out

    def decode(self, Z: np.ndarray, index: Any = None) -> Any:
        """Decode floats back to a table like the one seen in fit.

        Categorical blocks become their most likely category, integer columns are
        rounded, and every column keeps its dtype (DataFrames keep columns, order and
        categories).

        Parameters
        ----------
        Z : ndarray of shape ``(n_samples, n_features_out_)``
        index : pandas Index or None, default=None
            Row index of the DataFrame returned; a fresh range when None.

        Returns
        -------
        DataFrame or ndarray
        """
        Z = np.asarray(Z)
        if len(self.sample_shape_) > 1:
            return Z.reshape((len(Z), *self.sample_shape_)).astype(self.columns_[0].dtype)
        columns = {}
        for column, where in zip(self.columns_, self.slices_, strict=True):
            if column.kind == "categorical":
                values = column.categories[Z[:, where].argmax(axis=1)]
            else:
                values = Z[:, where.start].astype(np.float64)
                if column.kind == "integer":
                    values = np.round(values)
            columns[column.name] = values
        if not self.is_frame_:
            dtype = np.result_type(*[c.dtype for c in self.columns_])
            return np.stack([columns[c.name] for c in self.columns_], axis=1).astype(dtype)
        import pandas as pd

        frame = pd.DataFrame(
            {c.name: pd.Series(columns[c.name]).astype(c.pandas_dtype()) for c in self.columns_}
        )
        if index is not None:
            frame.index = index
        return frame


def _as_float(values: np.ndarray, name: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"column {name!r} holds values that are not numbers; declare it categorical."
        ) from None


def _bounds(numbers: np.ndarray) -> dict[str, float]:
    finite = numbers[np.isfinite(numbers)]
    if not len(finite):
        return {}
    return {"low": float(finite.min()), "high": float(finite.max())}


def _categories(values: np.ndarray, dtype: Any) -> np.ndarray:
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        seen = pd.unique(pd.Series(values).dropna())
        return np.asarray([c for c in dtype.categories if c in set(seen)], dtype=object)
    present = pd.Series(values).dropna()
    try:
        return np.asarray(np.unique(present.to_numpy()), dtype=object)
    except TypeError:
        return np.asarray(pd.unique(present), dtype=object)


def _codes(values: np.ndarray, column: Column) -> np.ndarray:
    lookup = {category: code for code, category in enumerate(column.categories)}
    try:
        return np.array([lookup[v] for v in values], dtype=np.int64)
    except (KeyError, TypeError):
        unseen = sorted({str(v) for v in values if v not in lookup})
        raise ValueError(
            f"column {column.name!r} holds categories never seen in fit: {unseen[:10]}; "
            f"seen: {[str(c) for c in column.categories[:20]]}."
        ) from None
