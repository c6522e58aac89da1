"""A test plugin whose hook raises."""

from skadv.hookspecs import hookimpl


@hookimpl
def skadv_register_attacks(register):
    raise RuntimeError("hook exploded")
