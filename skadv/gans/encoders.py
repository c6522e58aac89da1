"""Invertible encodings of training rows into the space a generator works in.

Every encoder takes the numeric matrix :class:`~skadv.GANAugmenter` builds (numbers, and
categorical columns as integer codes at the positions named by ``categorical``) and
decodes generated rows back to it: codes come back as integers, never fractions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class Span:
    """A block of encoded columns: ``tanh`` or ``linear`` (a scalar), ``softmax`` (a one-hot)."""

    kind: str
    width: int


def activate_spans(raw: torch.Tensor, spans: Sequence[Span]) -> torch.Tensor:
    """The generator's output activation: tanh or identity on scalars, Gumbel-softmax
    (temperature 0.2) on one-hot blocks, as CTGAN does."""
    out, start = [], 0
    for span in spans:
        block = raw[:, start : start + span.width]
        if span.kind == "tanh":
            block = torch.tanh(block)
        elif span.kind == "softmax":
            block = F.gumbel_softmax(block, tau=0.2, hard=False)
        out.append(block)
        start += span.width
    return torch.cat(out, dim=1)


def _one_hot(codes: np.ndarray, width: int) -> np.ndarray:
    return np.eye(width, dtype=np.float32)[codes.astype(np.int64)]


class StandardEncoder:
    """Numbers standardized (scikit-learn's ``StandardScaler``), categorical codes one-hot.

    Parameters
    ----------
    categorical : sequence of int, default=()
        Positions of the columns that hold category codes 0..k-1.
    """

    def __init__(self, categorical: Sequence[int] = ()):
        self.categorical = categorical

    def fit(self, X: np.ndarray) -> StandardEncoder:
        X = np.asarray(X, dtype=np.float64)
        codes = set(int(i) for i in self.categorical)
        self.numeric_ = [j for j in range(X.shape[1]) if j not in codes]
        self.codes_ = sorted(codes)
        self.widths_ = [int(X[:, j].max()) + 1 if len(X) else 1 for j in self.codes_]
        self.scaler_ = StandardScaler().fit(X[:, self.numeric_]) if self.numeric_ else None
        self.spans_ = [Span("linear", 1)] * len(self.numeric_) + [
            Span("softmax", w) for w in self.widths_
        ]
        self.n_columns_ = X.shape[1]
        self.output_dim_ = len(self.numeric_) + sum(self.widths_)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        blocks = [self.scaler_.transform(X[:, self.numeric_])] if self.numeric_ else []
        blocks += [_one_hot(X[:, j], w) for j, w in zip(self.codes_, self.widths_, strict=True)]
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        out = np.zeros((len(Z), self.n_columns_))
        k = len(self.numeric_)
        if k:
            out[:, self.numeric_] = self.scaler_.inverse_transform(Z[:, :k])
        start = k
        for j, w in zip(self.codes_, self.widths_, strict=True):
            out[:, j] = Z[:, start : start + w].argmax(axis=1)
            start += w
        return out

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return activate_spans(raw, self.spans_)


class RangeEncoder:
    """Map the data range onto [-1, 1]; generators end in tanh. For images."""

    def fit(self, X: np.ndarray) -> RangeEncoder:
        self.low_, self.high_ = float(X.min()), float(X.max())
        self.shape_ = X.shape[1:]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        span = (self.high_ - self.low_) or 1.0
        return (2 * (X - self.low_) / span - 1).astype(np.float32)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        return (Z + 1) / 2 * (self.high_ - self.low_) + self.low_

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.tanh(raw)


class ModeSpecificEncoder:
    """Mode-specific normalization of continuous columns and one-hot categorical columns.

    Each continuous column is modelled by a Bayesian Gaussian mixture; a value is encoded
    as its offset within a sampled mode (scaled to about [-1, 1]) plus the one-hot mode,
    as in CTGAN (Xu et al. 2019), so multi-modal columns are learnt mode by mode.

    Parameters
    ----------
    categorical : sequence of int
        Positions of the columns holding category codes 0..k-1 (one-hot encoded).
    max_modes : int
        Largest number of mixture components per continuous column.
    random_state : int or None
        Seeds the mixtures and the mode sampling.
    """

    def __init__(self, categorical=(), max_modes: int = 10, random_state=None):
        self.categorical = categorical
        self.max_modes = max_modes
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> ModeSpecificEncoder:
        X = np.asarray(X, dtype=np.float64)
        categorical = set(int(i) for i in self.categorical)
        self.columns_, self.spans_ = [], []
        for j in range(X.shape[1]):
            column = X[:, j]
            if j in categorical:
                width = int(column.max()) + 1
                self.columns_.append(("categorical", width))
                self.spans_.append(Span("softmax", width))
                continue
            n_modes = int(min(self.max_modes, len(np.unique(column))))
            mixture = BayesianGaussianMixture(
                n_components=n_modes,
                weight_concentration_prior=1e-3,
                max_iter=100,
                random_state=self.random_state,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                mixture.fit(column[:, None])
            active = mixture.weights_ > 5e-3
            means = mixture.means_[:, 0][active]
            stds = np.sqrt(mixture.covariances_.reshape(-1))[active]
            self.columns_.append(("continuous", (mixture, active, means, np.maximum(stds, 1e-6))))
            self.spans_.extend([Span("tanh", 1), Span("softmax", int(active.sum()))])
        self.output_dim_ = sum(span.width for span in self.spans_)
        self._rng = np.random.default_rng(self.random_state)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        blocks = []
        for j, (kind, info) in enumerate(self.columns_):
            column = X[:, j]
            if kind == "categorical":
                blocks.append(_one_hot(column, info))
                continue
            mixture, active, means, stds = info
            probs = mixture.predict_proba(column[:, None])[:, active] + 1e-12
            probs /= probs.sum(axis=1, keepdims=True)
            # one mode per row, drawn from its posterior (inverse-CDF, all rows at once)
            draws = self._rng.random((len(column), 1))
            modes = np.minimum((probs.cumsum(axis=1) < draws).sum(axis=1), len(means) - 1)
            offset = np.clip((column - means[modes]) / (4 * stds[modes]), -0.99, 0.99)
            blocks.append(offset[:, None].astype(np.float32))
            blocks.append(np.eye(len(means), dtype=np.float32)[modes])
        return np.concatenate(blocks, axis=1)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        columns, start = [], 0
        for kind, info in self.columns_:
            if kind == "categorical":
                columns.append(Z[:, start : start + info].argmax(axis=1).astype(np.float64))
                start += info
                continue
            _, _, means, stds = info
            offset = np.clip(Z[:, start], -1, 1)
            modes = Z[:, start + 1 : start + 1 + len(means)].argmax(axis=1)
            columns.append(offset * 4 * stds[modes] + means[modes])
            start += 1 + len(means)
        return np.stack(columns, axis=1)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return activate_spans(raw, self.spans_)
