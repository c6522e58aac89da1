"""A test plugin with a misspelled hook name beside a correct one."""

from skadv.attacks import PGD
from skadv.gans import ConditionalGAN
from skadv.hookspecs import hookimpl


@hookimpl
def skadv_register_attack(register):  # misspelled: the hook is skadv_register_attacks
    register("typo-pgd", PGD)


@hookimpl
def skadv_register_gans(register):
    register("typo-gan", ConditionalGAN)
