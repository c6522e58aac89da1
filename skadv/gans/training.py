"""The GAN training loop, run by skorch: devices, callbacks, history and progress bars."""

from __future__ import annotations

import functools
import logging
import math
import time
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from skadv.exceptions import GANCollapseWarning, GANTrainingError
from skadv.gans.base import GANPair
from skadv.plugins import plugin_errors
from skadv.recovery import EpochSnapshots
from skadv.skorch_compat import set_training

logger = logging.getLogger("skadv")

# a GAN whose losses or synthetic rows grow past these has diverged, long before NaN
LOSS_LIMIT = 1e6
SPREAD_LIMIT = 100.0


class DiversityMonitor(Callback):
    """Detect mode collapse and divergence: compare generated and real samples per class.

    After every epoch it generates ``n_samples`` per class and records in the history
    ``diversity``, the smallest ratio over classes of the mean pairwise distance among
    generated samples to that among real ones, and ``collapsed``, whether it fell below
    ``threshold``; the first collapse is warned about with a :class:`GANCollapseWarning`.
    Generated values more than ``SPREAD_LIMIT`` times the largest real (encoded) value
    stop training with a :class:`GANTrainingError`.

    Parameters
    ----------
    n_samples : int, default=64
        Generated and real samples compared per class.
    threshold : float, default=0.05
        Diversity under which the generator counts as collapsed.
    every : int, default=1
        Check every ``every`` epochs (many small epochs need not each be checked), and
        after the last one.
    """

    def __init__(self, n_samples: int = 64, threshold: float = 0.05, every: int = 1):
        self.n_samples = n_samples
        self.threshold = threshold
        self.every = every

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        rng = np.random.default_rng(0)
        self.real_extent_ = max(float(np.abs(X).max()), 1.0)
        self.real_spread_ = {}
        for c in np.unique(y):
            rows = X[y == c]
            rows = rows[rng.permutation(len(rows))[: self.n_samples]]
            self.real_spread_[int(c)] = _mean_pairwise_distance(torch.as_tensor(rows))
        self.warned_ = False

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        if len(net.history) % self.every and len(net.history) != net.max_epochs:
            return
        ratios = {}
        for c, real in self.real_spread_.items():
            fake = torch.as_tensor(net.generate(np.full(self.n_samples, c)))
            extent = float(fake.abs().max())
            if not extent <= SPREAD_LIMIT * self.real_extent_:
                raise GANTrainingError(
                    f"GAN training diverged in epoch {len(net.history)}: generated values "
                    f"reach {extent:.3g}, against {self.real_extent_:.3g} in the (encoded) "
                    f"data. Lower lr (now {net.lr}) or use gan='wgan-gp'."
                )
            ratios[c] = _mean_pairwise_distance(fake) / real if real > 0 else 1.0
        worst = min(ratios, key=ratios.get)
        collapsed = ratios[worst] < self.threshold
        net.history.record("diversity", float(ratios[worst]))
        net.history.record("collapsed", bool(collapsed))
        if collapsed and not self.warned_:
            self.warned_ = True
            warnings.warn(
                f"GAN mode collapse: samples of class index {worst} are {ratios[worst]:.3f} "
                "times as spread as the real ones. Try a lower lr, more epochs, or "
                "gan='wgan-gp'.",
                GANCollapseWarning,
                stacklevel=2,
            )


class FidelityStopping(Callback):
    """Early stopping on a cheap fidelity signal, and a time budget.

    Every ``every`` epochs it generates rows for the classes of (up to 1,024) real rows
    and records in the history ``fidelity``: per class, the mean over encoded features of
    the gaps between the real and synthetic means and standard deviations, averaged over
    the classes (0 is a perfect match of both). The generator with the best fidelity is
    kept and restored when training ends;
    training stops after ``patience`` checks without improvement, or once the clock
    passes ``deadline``.

    Parameters
    ----------
    every : int, default=1
    patience : int or None, default=None
        None never stops early.
    deadline : float or None, default=None
        A ``time.monotonic()`` value; None has no time budget.
    """

    def __init__(self, every: int = 1, patience: int | None = None, deadline: float | None = None):
        self.every = every
        self.patience = patience
        self.deadline = deadline

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        pick = np.random.default_rng(0).permutation(len(X))[:1024]
        self.real_, self.labels_ = torch.as_tensor(X[pick]).flatten(1).double(), y[pick]
        self.best_, self.best_state_, self.waited_ = math.inf, None, 0

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        if not len(net.history) % self.every:
            fake = torch.as_tensor(net.generate(self.labels_)).flatten(1).double()
            gap = (fake.mean(0) - self.real_.mean(0)).abs() + (
                fake.std(0) - self.real_.std(0)
            ).abs()
            fidelity = float(gap.mean())
            net.history.record("fidelity", fidelity)
            if fidelity < self.best_ - 1e-4:
                generator = net.pair().generator
                self.best_, self.waited_ = fidelity, 0
                self.best_state_ = {
                    k: v.detach().clone() for k, v in generator.state_dict().items()
                }
            else:
                self.waited_ += 1
            if self.patience is not None and self.waited_ >= self.patience:
                logger.info(
                    "GAN training stops early after epoch %d: per-class fidelity %.4f has "
                    "not improved for %d checks",
                    len(net.history),
                    self.best_,
                    self.waited_,
                )
                raise KeyboardInterrupt  # skorch's way to stop; at an epoch's end, clean
        if self.deadline is not None and time.monotonic() > self.deadline:
            logger.info("GAN training stops at its time budget after epoch %d", len(net.history))
            raise KeyboardInterrupt

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        if self.best_state_ is not None:
            net.pair().generator.load_state_dict(self.best_state_)


@functools.cache
def fused_adam_runs_on(device_type: str) -> bool:
    """Whether this torch has a fused Adam kernel for ``device_type``."""
    try:
        torch.optim.Adam([torch.zeros(1, device=device_type, requires_grad=True)], fused=True)
    except (RuntimeError, ValueError):
        return False
    return True


def _mean_pairwise_distance(rows: torch.Tensor) -> float:
    flat = rows.reshape(len(rows), -1).double()
    if len(flat) < 2:
        return 0.0
    return float(torch.cdist(flat, flat).sum() / (len(flat) * (len(flat) - 1)))


class GANNet(EpochSnapshots, NeuralNet):
    """Trains a GAN architecture's :class:`~skadv.gans.base.GANPair` with its losses.

    ``X`` holds encoded training rows, ``y`` class indices. ``criterion`` is unused:
    the architecture's ``training_step`` computes and steps its own losses.
    The history records ``d_loss`` and ``g_loss`` per batch and per epoch.

    The module is built by the architecture (``gan.build``) when the net initializes,
    so the net's parameters hold only plain data and the architecture object.

    Parameters
    ----------
    gan : GAN
        The architecture, with its fitted ``encoder_``: modules, latent size, critic
        steps and losses.
    n_classes : int
        Number of classes the generator is conditioned on.
    **kwargs
        skorch ``NeuralNet`` parameters.
    """

    prefixes_: ClassVar[list[str]] = NeuralNet.prefixes_ + ["optimizer"]
    _resume_hint = ", and the synthetic rows come from that generator"

    def __init__(
        self,
        *,
        gan: Any,
        n_classes: int,
        module: Any = GANPair,
        criterion: Any = torch.nn.Identity,
        **kwargs: Any,
    ):
        super().__init__(module, criterion=criterion, **kwargs)
        self.gan = gan
        self.n_classes = n_classes

    def initialize_module(self) -> GANNet:
        """Build the generator and discriminator from the architecture."""
        with plugin_errors(self.gan):
            self.module_ = self.gan.build(self.gan.encoder_, self.n_classes)
        return self

    def get_default_callbacks(self) -> list:
        """Epoch timer, both losses, the diversity monitor and the epoch log.

        Returns
        -------
        list of (name, callback)
        """
        return [
            ("epoch_timer", EpochTimer()),
            ("d_loss", PassthroughScoring(name="d_loss", on_train=True)),
            ("g_loss", PassthroughScoring(name="g_loss", on_train=True)),
            ("diversity", DiversityMonitor()),
            ("print_log", PrintLog(keys_ignored=["train_loss"])),
        ]

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Restore the last finished epoch after an interrupt; refuse to go on when the
        first epoch never finished, as the generator would be untrained."""
        if self.last_epoch_state_[0] == 0 and len(self.history):
            raise KeyboardInterrupt(
                "GAN training was interrupted in its first epoch; no rows were generated."
            )
        super().on_train_end(net, X=X, y=y, **kwargs)

    def initialize_optimizer(self, triggered_directly: Any = None) -> GANNet:
        """One optimizer for the generator and one for the discriminator.

        Adam takes torch's fused kernel where the device has one (CUDA; the CPU from
        torch 2.4), unless ``optimizer__fused`` says otherwise: on small GANs the
        optimizer step is a large share of each training step.
        """
        device = next(self.module_.parameters()).device
        for part in ("generator", "discriminator"):
            args, kwargs = self.get_params_for_optimizer(
                "optimizer", getattr(self.module_, part).named_parameters()
            )
            if self.optimizer is torch.optim.Adam and fused_adam_runs_on(device.type):
                kwargs.setdefault("fused", True)
            setattr(self, f"optimizer_{part}_", self.optimizer(*args, **kwargs))
        return self

    def pair(self) -> GANPair:
        """The generator and discriminator, without any data-parallel wrapper."""
        return self.module_

    def noise(self, n: int) -> torch.Tensor:
        """Latent vectors for ``n`` samples on the generator's device."""
        device = next(self.module_.parameters()).device
        return torch.randn(n, self.gan.latent_dim, device=device)

    def backward(self, loss: torch.Tensor) -> None:
        """Back-propagate ``loss`` (through the accelerator when there is one)."""
        loss.backward()

    def train_step(self, batch: Any, **fit_params: Any) -> dict:
        """One step of the architecture's
        :meth:`~skadv.gans.base.GenerativeModel.training_step`."""
        if not self.module_.training:  # once, not per step: a GAN's steps are small
            set_training(self, True)
        real, y = unpack_data(batch)
        device = next(self.module_.parameters()).device
        real = to_tensor(real, device=device)
        onehot = F.one_hot(to_tensor(y, device=device), self.n_classes).to(real.dtype)
        with plugin_errors(self.gan):
            d_loss, g_loss, fake = self.gan.training_step(self, real, onehot)
        d_value, g_value = d_loss.item(), g_loss.item()
        if not (abs(d_value) <= LOSS_LIMIT and abs(g_value) <= LOSS_LIMIT):
            raise GANTrainingError(
                f"GAN training diverged in epoch {len(self.history)}: discriminator loss "
                f"{d_value:.3g}, generator loss {g_value:.3g}. Lower lr (now {self.lr}), check "
                "the data for extreme values, or use gan='wgan-gp', which is more stable."
            )
        self.history.record_batch("d_loss", d_value)
        self.history.record_batch("g_loss", g_value)
        return {"loss": g_loss.detach(), "y_pred": fake.detach()}

    def generate(self, y: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Encoded samples, one per class index in ``y``, from the generator in eval mode."""
        generator = self.pair().generator
        was_training = generator.training
        generator.eval()
        out = []
        with torch.no_grad():
            device = next(generator.parameters()).device
            for start in range(0, len(y), batch_size):
                yb = torch.as_tensor(np.asarray(y[start : start + batch_size]), device=device)
                onehot = F.one_hot(yb.long(), self.n_classes).float()
                out.append(generator(self.noise(len(yb)), onehot).cpu().numpy())
        generator.train(was_training)
        return np.concatenate(out)
