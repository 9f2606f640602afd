"""Coalitions following a joint plan: Example 4, "Collusion" (Jackson and Sonnenschein, 2007).

In linked public goods (value 1 with probability 2/3, cost 3/4, K a multiple of 3) agents 2..n of the paper
(here ``agent_1 .. agent_{n-1}``) announce value 1 on the first 2K/3 problems and 0 on the last K/3,
whatever their true values, while agent 1 (``agent_0``) is approximately truthful. For n >= 7 this is an
equilibrium of the unmodified linking mechanism: only 8/9 of the projects are built and ``agent_0`` bears
a disproportionate share of the costs. The proof of Theorem 1 (Appendix 1) adds a test of joint
announcements to rule it out.

- :class:`JointPlan`: the members' announcements, fixed in advance.
- :class:`PlanFollower` (``"plan"``): a member announcing its column of the plan.
- :class:`Example4Member` (``"example4_member"``): a member that builds Example 4's plan from its seat.
- :func:`example4_plan` and :func:`example4_profile`: the plan and the whole strategy profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from linkmech.agents.approximate_truth import (
    ApproximatelyTruthful,
    approximately_truthful_probabilities,
    check_lie_rule,
    lie_rule_fields,
)
from linkmech.agents.base import Episodes, KernelStrategy, Seat, Strategy, register
from linkmech.agents.kernels import one_hot, participating
from linkmech.agents.myopic import ValueModel, myopic_model, value_memory
from linkmech.mechanisms.linking import LinkingMechanism
from linkmech.mechanisms.problem import FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class JointPlan:
    """Announcements fixed in advance for a coalition of agents.

    Attributes:
        members: the agents' indices in the base problem (distinct).
        announcements: ``[K, len(members)]`` type indices: ``announcements[k, m]`` is what
            ``members[m]`` announces on problem k + 1 (stored as a read-only copy).
    """

    members: tuple[int, ...]
    announcements: IntArray

    def __post_init__(self) -> None:
        members = tuple(int(m) for m in self.members)
        if not members or len(set(members)) != len(members) or min(members) < 0:
            raise ValueError(f"members: got {self.members!r}; give distinct non-negative agent indices")
        plan = np.array(self.announcements)
        if plan.ndim != 2 or plan.shape[1] != len(members) or plan.shape[0] < 1:
            raise ValueError(
                f"announcements: got shape {plan.shape}; expected [K, {len(members)}] (one column per member)"
            )
        if not np.issubdtype(plan.dtype, np.integer) or (plan < 0).any():
            raise ValueError("announcements: give non-negative integer type indices")
        plan = plan.astype(np.int64)
        plan.setflags(write=False)
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "announcements", plan)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JointPlan):
            return NotImplemented
        return self.members == other.members and np.array_equal(self.announcements, other.announcements)

    def __hash__(self) -> int:
        return hash((self.members, self.announcements.tobytes(), self.announcements.shape))

    @property
    def num_problems(self) -> int:
        """K, the plan's length."""
        return int(self.announcements.shape[0])

    def position(self, agent: int) -> int:
        """The column of agent index ``agent``.

        Raises:
            ValueError: if the agent is not a member.
        """
        if agent not in self.members:
            raise ValueError(f"agent_{agent} is not a member of this plan; members are {list(self.members)}")
        return self.members.index(agent)

    def validate(self, mechanism: LinkingMechanism) -> None:
        """Raise a ValueError naming the member unless each member's column meets its quota exactly."""
        k = mechanism.num_problems
        if self.num_problems != k:
            raise ValueError(f"plan: covers {self.num_problems} problems; the mechanism links K={k}")
        problem = mechanism.problem
        for m, agent in enumerate(self.members):
            if agent >= problem.num_agents:
                raise ValueError(f"plan member agent_{agent}: the problem has {problem.num_agents} agents")
            column = self.announcements[:, m]
            count = problem.type_counts[agent]
            if column.max() >= count:
                raise ValueError(
                    f"plan member agent_{agent}: type index {int(column.max())} is not a type (0..{count - 1})"
                )
            budget = mechanism.budgets[agent]
            counts = np.bincount(budget.class_of_type[column], minlength=budget.num_classes)
            if not np.array_equal(counts, budget.quota):
                raise ValueError(
                    f"plan member agent_{agent}: announces class counts {counts.tolist()}, but its quota over "
                    f"K={k} problems is {budget.quota.tolist()}"
                )


def example4_plan(num_agents: int, num_problems: int) -> JointPlan:
    """Example 4's collusive plan: agents 1..n-1 announce value 1 on the first 2K/3 problems, 0 after.

    Type index 1 is value 1 in :class:`~linkmech.mechanisms.catalogue.PublicGoodsProblem`.

    Raises:
        ValueError: if ``num_agents < 2`` or K is not a positive multiple of 3.
    """
    if num_agents < 2:
        raise ValueError(f"num_agents: got {num_agents}; Example 4 needs n >= 2 (n >= 7 for equilibrium)")
    if num_problems < 3 or num_problems % 3:
        raise ValueError(f"num_problems: got K={num_problems}; Example 4 needs K a positive multiple of 3")
    column = np.array([1] * (2 * num_problems // 3) + [0] * (num_problems // 3), dtype=np.int64)
    return JointPlan(tuple(range(1, num_agents)), np.tile(column[:, None], (1, num_agents - 1)))


@register
class PlanFollower(KernelStrategy):
    """Announce the plan's entry for this seat and date when admissible, else approximate truth.

    The date is ``round(progress * K)``. The plan is checked against the seat's quotas when the seat is
    prepared. In a participation stage it accepts iff accepting is individually rational.

    Args:
        plan: the coalition's :class:`JointPlan`; the seat must be a member.
        lies: the approximately truthful fallback's lie rule (``"random"`` or ``"myopic"``).
    """

    name: ClassVar[str] = "plan"

    def __init__(self, plan: JointPlan, lies: str = "random") -> None:
        super().__init__()
        if not isinstance(plan, JointPlan):
            raise ValueError(f"plan: got {type(plan).__name__}; give a JointPlan")
        self.plan: JointPlan | None = plan
        self.lies = check_lie_rule(lies)

    def params(self) -> dict[str, Any]:
        """``{"plan": ..., "lies": ...}``."""
        return {"plan": self.plan, "lies": self.lies}

    def _plan_for(self, seat: Seat) -> JointPlan:
        assert self.plan is not None
        return self.plan

    def prepare(self, seat: Seat) -> tuple[IntArray, ValueModel | None]:
        """The seat's column of the plan (membership and quotas checked) and the fallback's myopic model."""
        if seat.mechanism is None:
            raise ValueError(
                f"{self.name}: a joint plan needs the mechanism's budgets; {seat.agent} has none"
            )
        plan = self._plan_for(seat)
        position = plan.position(seat.index)
        plan.validate(seat.mechanism)
        column = np.asarray(plan.announcements[:, position], dtype=np.int64)
        return column, myopic_model(seat) if self.lies == "myopic" else None

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """The fallback's sampled myopic profiles of large problems (else nothing)."""
        myopic = episodes.prepared[1]
        return {} if myopic is None else value_memory(myopic, episodes)

    def observed_fields(self) -> frozenset[str]:
        """The progress (the date) and what the approximately truthful fallback reads."""
        return lie_rule_fields(self.lies) | {"progress"}

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """The planned type if admissible, else the approximately truthful law."""
        seat, (column, myopic) = episodes.seat, episodes.prepared
        assert seat.mechanism is not None
        fallback = approximately_truthful_probabilities(
            seat, observations, action_masks, self.lies, myopic, episodes.memory
        )
        dates = np.rint(seat.field(observations, "progress")[:, 0] * seat.mechanism.num_problems).astype(
            np.int64
        )
        inside = dates < len(column)
        planned = np.where(inside, column[np.minimum(dates, len(column) - 1)], 0)
        width = action_masks.shape[1]
        admissible = (planned < width) & (
            action_masks[np.arange(len(planned)), np.minimum(planned, width - 1)] > 0
        )
        keep = inside & admissible & ~participating(seat, observations)
        return np.where(keep[:, None], one_hot(np.minimum(planned, width - 1), width), fallback)


@register
class Example4Member(PlanFollower):
    """A member of Example 4's coalition: :class:`PlanFollower` of :func:`example4_plan` built from the seat.

    For linked public goods with K a multiple of 3; the seat must be ``agent_1 .. agent_{n-1}``.

    Args:
        lies: the approximately truthful fallback's lie rule.
    """

    name: ClassVar[str] = "example4_member"

    def __init__(self, lies: str = "random") -> None:
        KernelStrategy.__init__(self)
        self.plan = None
        self.lies = check_lie_rule(lies)

    def params(self) -> dict[str, Any]:
        """``{"lies": ...}``."""
        return {"lies": self.lies}

    def _plan_for(self, seat: Seat) -> JointPlan:
        problem, mechanism = seat.problem, seat.mechanism
        if problem is None or mechanism is None:
            raise ValueError("example4_member needs the seat's problem and mechanism (Seat.from_env)")
        if problem.name != "public_goods":
            raise ValueError(f"example4_member plays linked public goods (Example 4); got {problem.name!r}")
        if seat.index == 0:
            raise ValueError(
                "example4_member: agent_0 is Example 4's outsider; give it 'approximately_truthful' and the "
                "others 'example4_member'"
            )
        return example4_plan(problem.num_agents, mechanism.num_problems)


def example4_profile(num_agents: int, num_problems: int) -> dict[str, Strategy]:
    """Example 4's strategy profile: ``agent_0`` approximately truthful, the others following the plan."""
    plan = example4_plan(num_agents, num_problems)
    profile: dict[str, Strategy] = {"agent_0": ApproximatelyTruthful()}
    profile.update({f"agent_{i}": PlanFollower(plan) for i in range(1, num_agents)})
    return profile
