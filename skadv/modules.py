"""Small torch modules for examples, the demo and quick experiments."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["MLP", "SmallCNN"]


class MLP(torch.nn.Module):
    """A multilayer perceptron returning logits; input of any shape is flattened.

    Parameters
    ----------
    n_classes : int, default=2
        Output logits; :class:`~skadv.AdversarialTrainer` fills it from ``y``.
    hidden : sequence of int, default=(64,)
        Width of each hidden layer.
    n_features : int or None, default=None
        Input features; ``None`` infers them on the first batch.

    Examples
    --------
    >>> import torch
    >>> from skadv.modules import MLP
    >>> MLP(n_classes=3, hidden=(8,))(torch.zeros(2, 5)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self, n_classes: int = 2, hidden: Sequence[int] = (64,), n_features: int | None = None
    ):
        super().__init__()
        layers: list[torch.nn.Module] = [torch.nn.Flatten()]
        width = n_features
        for units in hidden:
            linear = torch.nn.LazyLinear(units) if width is None else torch.nn.Linear(width, units)
            layers += [linear, torch.nn.ReLU()]
            width = units
        layers.append(
            torch.nn.LazyLinear(n_classes) if width is None else torch.nn.Linear(width, n_classes)
        )
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch.

        Parameters
        ----------
        x : torch.Tensor
            A batch of input.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_classes)
        """
        return self.net(x)


class SmallCNN(torch.nn.Module):
    """Two convolution blocks and a linear head, for small images of shape (C, H, W).

    Parameters
    ----------
    n_classes : int, default=10
        Output logits; :class:`~skadv.AdversarialTrainer` fills it from ``y``.
    channels : int, default=16
        Channels of the first convolution; the second has twice as many.

    Examples
    --------
    >>> import torch
    >>> from skadv.modules import SmallCNN
    >>> SmallCNN(n_classes=10)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes: int = 10, channels: int = 16):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.LazyConv2d(channels, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(channels, 2 * channels, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(4),
            torch.nn.Flatten(),
            torch.nn.Linear(2 * channels * 16, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch.

        Parameters
        ----------
        x : torch.Tensor
            A batch of input.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_classes)
        """
        return self.net(x)
