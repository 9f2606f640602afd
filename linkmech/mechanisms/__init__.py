"""The pure mechanism core: numpy only, batched-first (leading axis = independent episodes).

No gymnasium, pettingzoo or torch imports here; the environments and the batched engine call these
functions.
"""

from linkmech.mechanisms.budgets import (
    AgentBudget,
    make_budget,
    mixing_prob,
    nearest_quota,
    replacement_distribution,
)
from linkmech.mechanisms.catalogue import (
    CATALOGUE,
    AllocationProblem,
    BargainingProblem,
    PublicGoodsProblem,
    VotingProblem,
    tabular_voting,
)
from linkmech.mechanisms.joint import LinkedProblem
from linkmech.mechanisms.linking import LinkingMechanism, LinkingState, start_episodes
from linkmech.mechanisms.problem import FiniteProblem, Lottery, TabularProblem
from linkmech.mechanisms.processes import IID, IntensityCorrelated, RepeatCorrelated, TypeProcess

__all__ = [
    "CATALOGUE",
    "IID",
    "AgentBudget",
    "AllocationProblem",
    "BargainingProblem",
    "FiniteProblem",
    "IntensityCorrelated",
    "LinkedProblem",
    "LinkingMechanism",
    "LinkingState",
    "Lottery",
    "PublicGoodsProblem",
    "RepeatCorrelated",
    "TabularProblem",
    "TypeProcess",
    "VotingProblem",
    "make_budget",
    "mixing_prob",
    "nearest_quota",
    "replacement_distribution",
    "start_episodes",
    "tabular_voting",
]
