"""Exceptions and warnings raised by skadv."""

__all__ = [
    "GANCollapseWarning",
    "GANTrainingError",
    "NotDifferentiableError",
    "OutOfMemoryWarning",
    "PluginError",
    "PluginWarning",
    "TrainingError",
]


class PluginWarning(UserWarning):
    """A plugin failed to load, raised inside its hook or registered a taken name."""


class PluginError(RuntimeError):
    """Code of a third-party plugin raised; the message names the plugin and distribution."""


class NotDifferentiableError(TypeError):
    """The estimator has no torch module, so gradient-based attacks cannot reach it."""


class TrainingError(RuntimeError):
    """Training diverged (a loss or weights that are not finite, or that exploded); the
    message says what to change."""


class GANTrainingError(TrainingError):
    """GAN training diverged (an exploding or NaN loss, or synthetic rows far outside the
    data); the message says what to change."""


class GANCollapseWarning(UserWarning):
    """The generator's samples of a class have collapsed to (nearly) one point."""


class OutOfMemoryWarning(UserWarning):
    """The device ran out of memory; the batch was split and retried in smaller pieces."""
