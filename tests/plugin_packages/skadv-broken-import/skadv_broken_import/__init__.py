"""A test plugin that cannot be imported."""

import skadv_missing_dependency  # noqa: F401
