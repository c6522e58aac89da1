"""A batch iterator over in-memory tensors, for skorch's ``iterator_train``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from skorch.utils import data_from_dataset


class TensorBatches:
    """Mini-batches sliced from tensors held in memory, optionally on the training device.

    A drop-in for ``torch.utils.data.DataLoader`` as skorch's ``iterator_train`` or
    ``iterator_valid`` when ``X`` and ``y`` are arrays: the data is converted once, and a
    batch is one indexing operation instead of per-sample ``__getitem__`` calls and
    collation. With ``device="cuda"`` the data stays on the GPU and no batch crosses the
    host-device boundary. One process only: under accelerate keep skorch's default
    ``DataLoader``, which the accelerator shards across processes.

    Parameters
    ----------
    dataset : skorch Dataset or torch Subset of one
        The data skorch hands to the iterator.
    batch_size : int, default=128
        Samples per batch.
    shuffle : bool, default=False
        Draw a new random order every epoch (from torch's generator).
    drop_last : bool, default=False
        Skip the last, smaller batch.
    device : str or None, default=None
        Where to keep the data; None keeps it on the CPU.
    passes : int, default=1
        Times an epoch goes through the data, each time in a fresh order when
        ``shuffle``: small data sets then have epochs of many steps, and the per-epoch
        work of skorch's callbacks is paid less often.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from skadv.data import TensorBatches
    >>> batches = TensorBatches(Dataset(np.zeros((10, 3), np.float32), np.arange(10)),
    ...                         batch_size=4)
    >>> [len(xb) for xb, yb in batches]
    [4, 4, 2]
    >>> batches.passes = 2
    >>> len(batches), [len(xb) for xb, yb in batches]
    (6, [4, 4, 2, 4, 4, 2])
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 128,
        shuffle: bool = False,
        drop_last: bool = False,
        device: str | None = None,
        passes: int = 1,
    ):
        X, y = data_from_dataset(dataset)
        self.X = torch.as_tensor(X, device=device)
        self.y = torch.as_tensor(y, device=device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.passes = passes

    def _batches_per_pass(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __len__(self) -> int:
        return self.passes * self._batches_per_pass()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for _ in range(self.passes):
            yield from self._one_pass()

    def _one_pass(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.X), device=self.X.device) if self.shuffle else None
        for start in range(0, self._batches_per_pass() * self.batch_size, self.batch_size):
            if order is None:
                yield (
                    self.X[start : start + self.batch_size],
                    self.y[start : start + self.batch_size],
                )
            else:
                index = order[start : start + self.batch_size]
                yield self.X[index], self.y[index]
