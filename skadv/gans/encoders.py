"""Invertible encodings of training data into the space a generator works in."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture


class StandardEncoder:
    """Standardize each feature; generators output the standardized values directly."""

    def fit(self, X: np.ndarray) -> StandardEncoder:
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        self.output_dim_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        return Z * self.scale_ + self.mean_

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        return raw


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


@dataclass(frozen=True)
class Span:
    """A block of encoded columns: ``tanh`` (a scalar) or ``softmax`` (a one-hot)."""

    kind: str
    width: int


class ModeSpecificEncoder:
    """Mode-specific normalization of continuous columns and one-hot categorical columns.

    Each continuous column is modelled by a Bayesian Gaussian mixture; a value is encoded
    as its offset within a sampled mode (scaled to about [-1, 1]) plus the one-hot mode,
    as in CTGAN (Xu et al. 2019), so multi-modal columns are learnt mode by mode.

    Parameters
    ----------
    categorical_features : sequence of int
        Indices of categorical columns (one-hot encoded).
    max_modes : int
        Largest number of mixture components per continuous column.
    random_state : int or None
        Seeds the mixtures and the mode sampling.
    """

    def __init__(self, categorical_features=(), max_modes: int = 10, random_state=None):
        self.categorical_features = categorical_features
        self.max_modes = max_modes
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> ModeSpecificEncoder:
        n_features = X.shape[1]
        categorical = set(int(i) for i in self.categorical_features)
        bad = sorted(i for i in categorical if not 0 <= i < n_features)
        if bad:
            raise ValueError(
                f"categorical_features {bad} are out of range for X with {n_features} columns."
            )
        self.columns_ = []
        self.spans_ = []
        for j in range(n_features):
            column = X[:, j].astype(np.float64)
            if j in categorical:
                values = np.unique(column)
                self.columns_.append(("categorical", values))
                self.spans_.append(Span("softmax", len(values)))
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
        blocks = []
        for j, (kind, info) in enumerate(self.columns_):
            column = X[:, j].astype(np.float64)
            if kind == "categorical":
                blocks.append((column[:, None] == info[None, :]).astype(np.float32))
                continue
            mixture, active, means, stds = info
            probs = mixture.predict_proba(column[:, None])[:, active] + 1e-12
            probs /= probs.sum(axis=1, keepdims=True)
            modes = np.array([self._rng.choice(len(p), p=p) for p in probs])
            offset = np.clip((column - means[modes]) / (4 * stds[modes]), -0.99, 0.99)
            blocks.append(offset[:, None].astype(np.float32))
            blocks.append(np.eye(len(means), dtype=np.float32)[modes])
        return np.concatenate(blocks, axis=1)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        columns, start = [], 0
        for kind, info in self.columns_:
            if kind == "categorical":
                columns.append(info[Z[:, start : start + len(info)].argmax(axis=1)])
                start += len(info)
                continue
            _, _, means, stds = info
            offset = np.clip(Z[:, start], -1, 1)
            modes = Z[:, start + 1 : start + 1 + len(means)].argmax(axis=1)
            columns.append(offset * 4 * stds[modes] + means[modes])
            start += 1 + len(means)
        return np.stack(columns, axis=1)

    def activate(self, raw: torch.Tensor) -> torch.Tensor:
        out, start = [], 0
        for span in self.spans_:
            block = raw[:, start : start + span.width]
            if span.kind == "tanh":
                out.append(torch.tanh(block))
            else:
                out.append(F.gumbel_softmax(block, tau=0.2, hard=False))
            start += span.width
        return torch.cat(out, dim=1)
