"""Exceptions and warnings raised by skadv."""


class PluginWarning(UserWarning):
    """A plugin failed to load, raised inside its hook or registered a taken name."""


class NotDifferentiableError(TypeError):
    """The estimator has no torch module, so gradient-based attacks cannot reach it."""
