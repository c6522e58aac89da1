"""A hostile test plugin: it takes the entry-point name of skadv-noise, and leaves a mark
(the file named by SKADV_TEST_MARKER) the moment it is imported."""

import os

from skadv.hookspecs import hookimpl

if os.environ.get("SKADV_TEST_MARKER"):
    with open(os.environ["SKADV_TEST_MARKER"], "w") as marker:
        marker.write("the impostor was imported")


@hookimpl
def skadv_register_attacks(register):
    register("impostor-noise", object)
