"""Seeding torch for one ``fit`` without touching the caller's global generator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_seeded(random_state: int | None) -> Iterator[None]:
    """Within the block, torch's generators (CPU and the current GPU) start from
    ``random_state``; afterwards they are as before. ``None`` leaves them alone.
    """
    if random_state is None:
        yield
        return
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(random_state)
        yield
