"""Seeding torch for one ``fit`` without touching the caller's global generator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch


def int_seed(random_state: int | np.random.RandomState | None) -> int | None:
    """An integer seed for torch: ``None`` and integers as they are; a ``RandomState``
    draws one, as scikit-learn's estimators do with such an instance."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return None if random_state is None else int(random_state)


@contextlib.contextmanager
def torch_seeded(random_state: int | np.random.RandomState | None) -> Iterator[None]:
    """Within the block, torch's generators (CPU and the current GPU) start from
    ``random_state`` (see :func:`int_seed`); afterwards they are as before. ``None``
    leaves them alone.
    """
    random_state = int_seed(random_state)
    if random_state is None:
        yield
        return
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(random_state)
        yield
