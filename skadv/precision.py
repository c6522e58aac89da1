"""Where and in what precision modules compute: the autocast context shared by the trainer
and the robust metrics, and a module's device and dtype."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

PRECISIONS = ("fp32", "bf16", "fp16")


def autocast(device: Any, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device``'s type for ``precision``; a no-op for ``"fp32"``.

    Parameters
    ----------
    device : str, torch.device or None
        The device the forward passes run on; None means the CPU.
    precision : {"fp32", "bf16", "fp16"}
        The autocast dtype: none, bfloat16 or float16.

    Returns
    -------
    context manager

    Examples
    --------
    >>> import torch
    >>> from skadv.precision import autocast
    >>> with autocast("cpu", "bf16"):
    ...     torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype
    torch.bfloat16
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(device or "cpu").type, dtype=dtype)


def placement(module: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and dtype of ``module``'s first parameter; the CPU and float32 for a
    module without parameters.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    device : torch.device
    dtype : torch.dtype

    Examples
    --------
    >>> import torch
    >>> from skadv.precision import placement
    >>> placement(torch.nn.Linear(2, 1).double())
    (device(type='cpu'), torch.float64)
    """
    param = next(module.parameters(), None)
    if param is None:
        return torch.device("cpu"), torch.float32
    return param.device, param.dtype
