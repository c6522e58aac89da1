"""Epoch snapshots: a net interrupted mid-epoch goes back to its last finished epoch."""

from __future__ import annotations

import warnings
from typing import Any

from skadv.validation import caller_stacklevel


class EpochSnapshots:
    """Mixin for skorch nets: keep ``module_``'s weights at the end of every epoch.

    skorch swallows ``KeyboardInterrupt`` (Ctrl-C, and skorch's own ``EarlyStopping``)
    and returns from ``fit`` with whatever the module holds. At the end of training,
    :meth:`recover_from_interrupt` puts the module and the history back to the last
    finished epoch when the interrupt came mid-epoch, and says so.

    A snapshot is a copy of every weight and buffer (for a PreAct ResNet-18, 43 MB), kept in the
    memory of the module's device. Nets with an ``epoch_snapshots`` parameter set to
    False keep none and leave an interrupted module as skorch does.
    """

    _resume_hint = ""

    def _snapshot(self) -> None:
        if not getattr(self, "epoch_snapshots", True):
            return
        self.__dict__.pop("last_epoch_state_", None)  # one copy at a time, not two
        state = {k: v.detach().clone() for k, v in self.module_.state_dict().items()}
        self.last_epoch_state_ = (len(self.history), state)

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Keep the module as it was before training, in case the first epoch is interrupted."""
        self._snapshot()

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Keep the module as it is after this epoch, in case the next one is interrupted."""
        self._snapshot()

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Restore the last finished epoch if training was interrupted mid-epoch."""
        self.recover_from_interrupt()

    def restore_last_epoch(self) -> int:
        """Put the module and history back to the last snapshot; return its epoch count.

        Returns
        -------
        int
            The number of finished epochs the module now reflects.
        """
        n_epochs, state = self.__dict__.pop("last_epoch_state_")
        del self.history[n_epochs:]
        self.module_.load_state_dict(state)
        return n_epochs

    def recover_from_interrupt(self) -> bool:
        """After ``fit``: restore the last finished epoch if training stopped mid-epoch.

        Returns
        -------
        bool
            Whether training had been interrupted mid-epoch (and a warning was issued).
        """
        if "last_epoch_state_" not in self.__dict__:
            return False
        n_epochs = self.last_epoch_state_[0]
        if len(self.history) == n_epochs:
            del self.last_epoch_state_
            return False
        self.restore_last_epoch()
        warnings.warn(
            f"Training was interrupted in epoch {n_epochs + 1}; the module is restored to "
            f"the end of epoch {n_epochs}{self._resume_hint}.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
        return True
