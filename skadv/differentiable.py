"""Torch views of fitted scikit-learn transformers, so attacks reach a Pipeline's raw input.

:func:`torch_view` turns a fitted transformer into a ``torch.nn.Module`` that computes
the same output from the encoded raw input (:class:`~skadv.tables.TableSchema`: numbers
as they are, categorical columns as one-hot blocks over their seen categories), with
gradients. Supported: ``StandardScaler``, ``MinMaxScaler``, ``RobustScaler``,
``MaxAbsScaler``, ``SimpleImputer``, ``PCA``, ``TruncatedSVD``, ``OneHotEncoder``,
``OrdinalEncoder``, ``ColumnTransformer``, ``FunctionTransformer`` whose function works
on torch tensors, nested ``Pipeline`` objects, ``"passthrough"`` and ``"drop"``. Add a
type with ``@torch_view.register``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from skadv.tables import Column

__all__ = ["NotTranslatableError", "torch_view"]

Layout = list[Column]
ENCODERS = (OneHotEncoder, OrdinalEncoder)


class NotTranslatableError(TypeError):
    """A pipeline step has no torch view, so gradient attacks cannot reach the raw input."""


def _buffer(values: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


def _numeric(layout: Layout) -> Layout:
    return [Column(f"x{i}", "continuous", np.float32) for i in range(len(layout))]


class Affine(torch.nn.Module):
    """``x * scale + shift`` per feature, optionally clamped."""

    def __init__(self, scale: Any, shift: Any, low: float | None = None, high: float | None = None):
        super().__init__()
        self.register_buffer("scale", _buffer(scale))
        self.register_buffer("shift", _buffer(shift))
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x * self.scale + self.shift
        return out if self.low is None else out.clamp(self.low, self.high)


class Linear(torch.nn.Module):
    """``x @ weight + bias``."""

    def __init__(self, weight: Any, bias: Any):
        super().__init__()
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("bias", _buffer(bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


class Impute(torch.nn.Module):
    """Missing values (NaN) replaced by fitted statistics; kept features selected."""

    def __init__(self, values: Any, keep: Any):
        super().__init__()
        self.register_buffer("values", _buffer(values))
        self.register_buffer("keep", torch.as_tensor(np.flatnonzero(keep)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(torch.isnan(x), self.values, x)[:, self.keep]


class Columns(torch.nn.Module):
    """A ColumnTransformer: each part reads its input features and the outputs are joined."""

    def __init__(self, parts: Sequence[tuple[Sequence[int], torch.nn.Module]]):
        super().__init__()
        self.parts = torch.nn.ModuleList(module for _, module in parts)
        for i, (index, _) in enumerate(parts):
            self.register_buffer(f"index{i}", torch.as_tensor(list(index), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [part(x[:, getattr(self, f"index{i}")]) for i, part in enumerate(self.parts)]
        return torch.cat(outputs, dim=1)


class Function(torch.nn.Module):
    """A FunctionTransformer's function, applied to tensors."""

    def __init__(self, func: Any, kw_args: dict | None):
        super().__init__()
        self.func = func
        self.kw_args = kw_args or {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.func(x, **self.kw_args)


@functools.singledispatch
def torch_view(transformer: Any, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    """The torch view of a fitted transformer, given the layout of its encoded input.

    Parameters
    ----------
    transformer : fitted scikit-learn transformer
    layout : list of Column
        The columns the transformer reads, in order; categorical columns arrive as
        one-hot blocks over their categories.

    Returns
    -------
    module : torch.nn.Module
        Maps the encoded input to the transformer's output.
    layout : list of Column
        The columns of the output.

    Raises
    ------
    NotTranslatableError
        For a transformer with no torch view.
    """
    raise NotTranslatableError(
        f"{type(transformer).__name__} has no torch view, so gradient attacks cannot "
        "craft through it in the pipeline's raw input space."
    )


def _require_numeric(transformer: Any, layout: Layout) -> None:
    categorical = [c.name for c in layout if c.kind == "categorical"]
    if categorical:
        raise NotTranslatableError(
            f"{type(transformer).__name__} reads the categorical columns {categorical[:5]}, "
            "which it cannot transform as numbers."
        )


@torch_view.register(str)
def _(transformer: str, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    if transformer == "passthrough":
        return torch.nn.Identity(), layout
    if transformer == "drop":
        raise ValueError("'drop' has no output; ColumnTransformer leaves it out.")
    raise NotTranslatableError(f"pipeline step {transformer!r} has no torch view.")


@torch_view.register(type(None))
def _(transformer: None, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    return torch.nn.Identity(), layout


@torch_view.register(StandardScaler)
def _(transformer: StandardScaler, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    _require_numeric(transformer, layout)
    d = len(layout)
    scale = transformer.scale_ if transformer.scale_ is not None else np.ones(d)
    mean = transformer.mean_ if transformer.mean_ is not None else np.zeros(d)
    if not transformer.with_mean:
        mean = np.zeros(d)
    return Affine(1.0 / scale, -mean / scale), _numeric(layout)


@torch_view.register(MinMaxScaler)
def _(transformer: MinMaxScaler, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    _require_numeric(transformer, layout)
    low, high = transformer.feature_range if transformer.clip else (None, None)
    return Affine(transformer.scale_, transformer.min_, low, high), _numeric(layout)


@torch_view.register(RobustScaler)
def _(transformer: RobustScaler, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    _require_numeric(transformer, layout)
    d = len(layout)
    center = transformer.center_ if transformer.with_centering else np.zeros(d)
    scale = transformer.scale_ if transformer.with_scaling else np.ones(d)
    return Affine(1.0 / scale, -center / scale), _numeric(layout)


@torch_view.register(MaxAbsScaler)
def _(transformer: MaxAbsScaler, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    _require_numeric(transformer, layout)
    return Affine(1.0 / transformer.scale_, np.zeros(len(layout))), _numeric(layout)


@torch_view.register(SimpleImputer)
def _(transformer: SimpleImputer, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    if any(c.kind == "categorical" for c in layout):
        if transformer.add_indicator or not all(c.kind == "categorical" for c in layout):
            raise NotTranslatableError(
                "SimpleImputer over categorical and numeric columns at once has no torch "
                "view; impute them in separate ColumnTransformer branches."
            )
        return torch.nn.Identity(), layout  # complete one-hot rows pass through
    if transformer.add_indicator:
        raise NotTranslatableError("SimpleImputer(add_indicator=True) has no torch view.")
    statistics = np.asarray(transformer.statistics_, dtype=np.float64)
    keep = np.isfinite(statistics) | bool(transformer.keep_empty_features)
    kept = [c for c, k in zip(layout, keep, strict=True) if k]
    return Impute(np.nan_to_num(statistics), keep), _numeric(kept)


@torch_view.register(PCA)
def _(transformer: PCA, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    _require_numeric(transformer, layout)
    weight = transformer.components_.T
    if transformer.whiten:
        weight = weight / np.sqrt(transformer.explained_variance_)
    bias = -transformer.mean_ @ weight
    return Linear(weight, bias), _numeric(list(range(weight.shape[1])))


@torch_view.register(TruncatedSVD)
def _(transformer: TruncatedSVD, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    _require_numeric(transformer, layout)
    weight = transformer.components_.T
    return Linear(weight, np.zeros(weight.shape[1])), _numeric(list(range(weight.shape[1])))


def _encoder_blocks(transformer: Any, layout: Layout) -> list[np.ndarray]:
    """Per input column, the encoder's output for each of the column's layout categories
    (other columns held at a category the encoder knows)."""
    if any(c.kind != "categorical" for c in layout):
        raise NotTranslatableError(
            f"{type(transformer).__name__} reads numeric columns "
            f"{[c.name for c in layout if c.kind != 'categorical'][:5]}; declare them "
            "categorical in the ThreatModel."
        )
    base = [categories[0] for categories in transformer.categories_]
    blocks = []
    for i, column in enumerate(layout):
        rows = np.array([base] * len(column.categories), dtype=object)
        rows[:, i] = column.categories
        try:
            out = transformer.transform(_like_fit_input(transformer, rows))
        except ValueError as exc:
            raise NotTranslatableError(
                f"{type(transformer).__name__} cannot encode the categories of column "
                f"{column.name!r}: {exc}"
            ) from None
        out = out.toarray() if hasattr(out, "toarray") else np.asarray(out, dtype=np.float64)
        blocks.append(out)
    return blocks


def _like_fit_input(transformer: Any, rows: np.ndarray) -> Any:
    names = getattr(transformer, "feature_names_in_", None)
    if names is None:
        return rows
    import pandas as pd

    return pd.DataFrame(rows, columns=names)


def _block_weight(
    blocks: list[np.ndarray], layout: Layout, n_out: int, starts: list[int]
) -> np.ndarray:
    """Stack per-column blocks into one weight matrix from one-hot inputs to outputs."""
    weight = np.zeros((sum(c.width for c in layout), n_out))
    row = 0
    for block, start, column in zip(blocks, starts, layout, strict=True):
        weight[row : row + column.width, start : start + block.shape[1]] = block
        row += column.width
    return weight


@torch_view.register(OneHotEncoder)
def _(transformer: OneHotEncoder, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    blocks = _encoder_blocks(transformer, layout)
    widths = transformer._n_features_outs  # private: the output width of each input column
    starts = list(np.cumsum([0, *widths[:-1]]))
    sliced = [b[:, s : s + w] for b, s, w in zip(blocks, starts, widths, strict=True)]
    weight = _block_weight(sliced, layout, sum(widths), starts)
    return Linear(weight, np.zeros(weight.shape[1])), _numeric(list(range(weight.shape[1])))


@torch_view.register(OrdinalEncoder)
def _(transformer: OrdinalEncoder, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    blocks = _encoder_blocks(transformer, layout)
    sliced = [block[:, i : i + 1] for i, block in enumerate(blocks)]
    weight = _block_weight(sliced, layout, len(layout), list(range(len(layout))))
    return Linear(np.nan_to_num(weight), np.zeros(len(layout))), _numeric(layout)


@torch_view.register(FunctionTransformer)
def _(transformer: FunctionTransformer, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    if transformer.func is None:
        return torch.nn.Identity(), layout
    module = Function(transformer.func, transformer.kw_args)
    probe = torch.zeros(1, sum(c.width for c in layout), requires_grad=True)
    try:
        out = module(probe)
    except Exception as exc:
        raise NotTranslatableError(
            f"FunctionTransformer's func {transformer.func!r} fails on torch tensors "
            f"({type(exc).__name__}: {exc}); write it with operations that work on both "
            "NumPy arrays and torch tensors (x ** 2, x.clip(...), ...)."
        ) from None
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise NotTranslatableError(
            f"FunctionTransformer's func {transformer.func!r} does not return a torch "
            "tensor with gradients for a tensor input."
        )
    return module, _numeric(list(range(out.shape[1])))


@torch_view.register(Pipeline)
def _(transformer: Pipeline, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    modules = []
    for name, step in transformer.steps:
        try:
            module, layout = torch_view(step, layout)
        except NotTranslatableError as exc:
            raise NotTranslatableError(f"step {name!r}: {exc}") from None
        modules.append(module)
    return torch.nn.Sequential(*modules), layout


@torch_view.register(ColumnTransformer)
def _(transformer: ColumnTransformer, layout: Layout) -> tuple[torch.nn.Module, Layout]:
    # private: the input column positions of each fitted transformer, callables resolved
    positions = transformer._transformer_to_input_indices
    starts = np.cumsum([0, *(c.width for c in layout)])
    parts, out_layout = [], []
    for name, step, _ in transformer.transformers_:
        columns = positions.get(name, [])
        if (isinstance(step, str) and step == "drop") or not len(columns):
            continue
        index = [f for j in columns for f in range(starts[j], starts[j + 1])]
        try:
            module, sub_layout = torch_view(step, [layout[j] for j in columns])
        except NotTranslatableError as exc:
            raise NotTranslatableError(f"ColumnTransformer part {name!r}: {exc}") from None
        parts.append((index, module))
        out_layout += sub_layout
    return Columns(parts), out_layout


def encoded_categorical(steps: Sequence[Any], n_columns: int) -> list[int]:
    """Positions of the raw columns that a pipeline's encoders read (so they are
    categorical in the raw space whatever their dtype)."""
    if not steps:
        return []
    first = steps[0]
    if isinstance(first, ENCODERS):
        return list(range(n_columns))
    if isinstance(first, Pipeline):
        return encoded_categorical([s for _, s in first.steps], n_columns)
    if isinstance(first, ColumnTransformer):
        found = set()
        for name, step, _ in first.transformers_:
            inner = [s for _, s in step.steps] if isinstance(step, Pipeline) else [step]
            if any(isinstance(s, ENCODERS) for s in inner):
                found.update(first._transformer_to_input_indices.get(name, []))
        return sorted(found)
    return []
