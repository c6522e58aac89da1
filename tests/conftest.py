import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier

PLUGIN_PACKAGES = Path(__file__).parent / "plugin_packages"

# test distributions are installed by the plugin_site fixture, never collected
collect_ignore = ["plugin_packages"]


class MLP(torch.nn.Module):
    """A small classifier of flat inputs that returns logits."""

    def __init__(self, n_features=64, n_classes=10, hidden=64):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(n_features, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, n_classes),
        )

    def forward(self, x):
        return self.net(x)


@pytest.fixture(scope="session")
def digits():
    """load_digits scaled to [0, 1], split 70/30, as float32."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="session")
def plain_net(digits):
    """An undefended skorch MLP fitted on digits."""
    X_train, _, y_train, _ = digits
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=15,
        batch_size=64,
        train_split=None,
        verbose=0,
    )
    return net.fit(X_train, y_train)


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory):
    """The test plugin distributions, really installed by pip into a folder of their own."""
    target = tmp_path_factory.mktemp("site")
    packages = sorted(str(p) for p in PLUGIN_PACKAGES.iterdir() if (p / "pyproject.toml").exists())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            *packages,
        ],
        check=True,
    )
    return target
