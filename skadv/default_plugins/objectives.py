"""Registers the built-in training objectives."""

from skadv.hookspecs import hookimpl
from skadv.objectives import TRADES, Gaussian, Madry, SmoothAdv


@hookimpl
def skadv_register_objectives(register):
    register("madry", Madry)
    register("trades", TRADES)
    register("gaussian", Gaussian)
    register("smoothadv", SmoothAdv)
