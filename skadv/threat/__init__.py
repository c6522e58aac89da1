"""The threat model in the user's input space: feasible sets and relations between columns."""

from skadv.threat.constraints import Constraint, Feature
from skadv.threat.feasible import FeasibleSet
from skadv.threat.model import ThreatModel, ThreatModelWarning

__all__ = ["Constraint", "FeasibleSet", "Feature", "ThreatModel", "ThreatModelWarning"]
