"""The threat model in the user's input space: feasible sets and relations between columns."""

from skadv.threat.constraints import Constraint, Feature
from skadv.threat.feasible import FeasibleSet

__all__ = ["Constraint", "FeasibleSet", "Feature"]
