"""Agents: one protocol (:class:`Strategy` reset with a :class:`Seat` and a generator) and a registry.

Importing this package registers every built-in strategy; :func:`make_strategy` builds one by name.
"""

from linkmech.agents.approximate_truth import ApproximatelyTruthful
from linkmech.agents.base import STRATEGIES, Seat, Strategy, make_strategy, register
from linkmech.agents.coalition import (
    Example4Member,
    JointPlan,
    PlanFollower,
    example4_plan,
    example4_profile,
)
from linkmech.agents.learned import Learned
from linkmech.agents.reporting import Misreport, Reasonable, TruthfulReport
from linkmech.agents.simple import FrontLoader, LaggedTruth, RandomAdmissible, Truthful, TypeRelabel
from linkmech.agents.skimmer import Skimmer
from linkmech.training.best_response import BestResponseTable  # registers "best_response_table"

__all__ = [
    "STRATEGIES",
    "ApproximatelyTruthful",
    "BestResponseTable",
    "Example4Member",
    "FrontLoader",
    "JointPlan",
    "LaggedTruth",
    "Learned",
    "Misreport",
    "PlanFollower",
    "RandomAdmissible",
    "Reasonable",
    "Seat",
    "Skimmer",
    "Strategy",
    "Truthful",
    "TruthfulReport",
    "TypeRelabel",
    "example4_plan",
    "example4_profile",
    "make_strategy",
    "register",
]
