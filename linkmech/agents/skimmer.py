"""The skimmer of Section 4, "Difficulties with Skimming" (Jackson and Sonnenschein, 2007).

When agents may decline problem by problem (``participation="per_problem"``) the linking mechanism is
manipulable: the paper's seller with true values 8 on objects 1-5 and 0 on objects 6-10 announces 0 on 1-5
and 8 on 6-10 and then walks away from 1-5. She keeps the objects she values (declining is the status quo)
and sells the others at the high price 9 or not at all.

The skimmer generalises this. With the veto, announcing s with true type t is worth

    V(s | t) = E[ max(u_t(d), u_t(e)) ],   d ~ f(s, u_-i),  u_-i ~ the others' distribution,

(the others' announcements are drawn from P, or with ``beliefs="empirical"`` from their empirical
frequencies so far). The budget couples problems, so the skimmer plans the assignment of its remaining
announcements to its remaining true types as a transportation problem over type counts,

    maximise sum_{t, c} x[t, c] V(c | t)  subject to  sum_c x[t, c] = r_t,  sum_t x[t, c] = b_c,  x >= 0,

where ``c`` runs over budget classes (``V(c | t)`` is the best type of the class), ``b_c`` is the remaining
budget and ``r_t`` the agent's true types still to come: all at once, the current type plus the
``future_types`` counts; over time, the current type plus ``(K - date - 1) * P_i`` as expected counts. It is
solved exactly as a linear program (``scipy.optimize.linprog``, HiGHS). The skimmer announces, for its
current true type, the admissible class with the largest planned mass (ties to the lower index) and in it
the type with the highest ``V``. In the participation stage it accepts iff the offer's accepted utility is at
least the declined (status quo) utility, which declines exactly the problems whose outcome is below e.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from linkmech.agents.approximate_truth import accept_if_individually_rational, participating, true_type
from linkmech.agents.base import Seat, Strategy, register
from linkmech.agents.myopic import other_profiles, others_distributions
from linkmech.agents.simple import admissible
from linkmech.mechanisms.problem import FiniteProblem, FloatArray

BELIEFS = ("prior", "empirical")
"""Allowed values of ``Skimmer(beliefs=...)``."""


def veto_values(
    problem: FiniteProblem, agent: int, distributions: list[FloatArray], rng: np.random.Generator
) -> FloatArray:
    """``[T, T]`` matrix ``V[t, s]``: expected ``max(u_t(d), u_t(e))`` when announcing s with true type t.

    ``distributions`` are the other agents' announcement distributions (in agent order, agent left out);
    profiles are enumerated as in :mod:`linkmech.agents.myopic`. Utilities are private values.
    """
    if problem.status_quo is None:
        raise ValueError(f"the skimmer needs a status quo to veto to, and problem {problem.name!r} has none")
    others, weights = other_profiles(distributions, rng)
    count = problem.type_counts[agent]
    own = np.zeros((count, problem.num_agents), dtype=np.int64)
    own[:, agent] = np.arange(count)
    status_quo = problem.status_quo_utility(own)[:, agent]
    values = np.empty((count, count))
    for s in range(count):
        announced = np.insert(others, agent, s, axis=1)
        lottery = problem.target(announced)
        for t in range(count):
            truth = announced.copy()
            truth[:, agent] = t
            utility = problem.utility(truth, lottery.alternatives)[:, :, agent]
            vetoed = np.maximum(utility, status_quo[t])
            values[t, s] = float(weights @ (lottery.probs * vetoed).sum(axis=1))
    return values


def transportation_plan(values: FloatArray, supply: FloatArray, demand: FloatArray) -> FloatArray:
    """The ``[T, C]`` plan maximising ``sum x * values`` with row sums ``supply`` and column sums ``demand``.

    ``supply`` is rescaled to the total of ``demand`` (they agree up to rounding). Solved exactly by
    ``scipy.optimize.linprog`` (HiGHS).

    Raises:
        ValueError: if the totals differ by more than rounding, or the solver fails.
    """
    try:
        from scipy.optimize import linprog
    except ImportError as error:  # pragma: no cover - scipy is a dependency
        raise ImportError("the skimmer solves a linear program with scipy; pip install scipy") from error
    rows, cols = values.shape
    total = float(demand.sum())
    if abs(float(supply.sum()) - total) > 1e-6 * max(1.0, total):
        raise ValueError(
            f"transportation plan: true-type counts sum to {float(supply.sum())} but the remaining budget to "
            f"{total}; they must agree"
        )
    supply = supply * (total / supply.sum()) if supply.sum() > 0 else supply
    equalities = np.zeros((rows + cols, rows * cols))
    for t in range(rows):
        equalities[t, t * cols : (t + 1) * cols] = 1.0
    for c in range(cols):
        equalities[rows + c, c::cols] = 1.0
    result = linprog(
        -values.ravel(),
        A_eq=equalities,
        b_eq=np.concatenate([supply, demand]),
        bounds=(0, None),
        method="highs",
    )
    if not result.success:
        raise ValueError(f"transportation plan: the linear program failed ({result.message})")
    return np.asarray(result.x, dtype=np.float64).reshape(rows, cols)


@register
class Skimmer(Strategy):
    """Announce to maximise the value of the veto, then decline problems whose outcome is below e.

    See the module docstring for the plan. Meant for ``participation="per_problem"``; it also runs without a
    participation stage or with a whole one (the plan then overrates the veto), on any problem with a status
    quo and budgets.

    Args:
        beliefs: ``"prior"`` (others ~ P, the paper's calculation) or ``"empirical"`` (their empirical
            announcement frequencies so far, over time; P before any announcement and all at once).
    """

    name: ClassVar[str] = "skimmer"

    def __init__(self, beliefs: str = "prior") -> None:
        super().__init__()
        if beliefs not in BELIEFS:
            raise ValueError(f"beliefs: got {beliefs!r}; allowed are {BELIEFS}")
        self.beliefs = beliefs
        self._values: FloatArray | None = None

    def params(self) -> dict[str, Any]:
        """``{"beliefs": ...}``."""
        return {"beliefs": self.beliefs}

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start an episode; with prior beliefs compute ``V`` once."""
        super().reset(seat, rng)
        if seat.problem is None or seat.mechanism is None:
            raise ValueError(
                "the skimmer needs the seat's problem and budgets; build the seat with Seat.from_env"
            )
        self._values = None
        if self.beliefs == "prior":
            problem = seat.problem
            prior = [problem.type_probs[j] for j in range(problem.num_agents) if j != seat.index]
            self._values = veto_values(problem, seat.index, prior, rng)

    def _veto_values(self, seat: Seat, observation: np.ndarray, rng: np.random.Generator) -> FloatArray:
        if self._values is not None:
            return self._values
        assert seat.problem is not None
        return veto_values(seat.problem, seat.index, others_distributions(seat, observation), rng)

    def plan(self, observation: np.ndarray) -> FloatArray:
        """The current ``[T, C]`` plan: planned counts of each remaining true type announced in each class."""
        seat, rng = self._ready()
        return self._plan(seat, observation, self._veto_values(seat, observation, rng))

    def _plan(self, seat: Seat, observation: np.ndarray, values: FloatArray) -> FloatArray:
        assert seat.mechanism is not None and seat.problem is not None
        budget = seat.mechanism.budgets[seat.index]
        k = seat.mechanism.num_problems
        class_values = np.stack(
            [values[:, budget.class_of_type == c].max(axis=1) for c in range(budget.num_classes)], axis=1
        )
        remaining = np.rint(seat.field(observation, "budget") * k)
        date = round(float(seat.field(observation, "progress")[0]) * k)
        supply = np.zeros(values.shape[0])
        supply[true_type(seat, observation)] = 1.0
        if seat.has_field("future_types"):
            supply += np.rint(seat.field(observation, "future_types") * k)
        else:
            supply += (k - date - 1) * seat.problem.type_probs[seat.index]
        return transportation_plan(class_values, supply, remaining.astype(np.float64))

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The planned announcement for the current true type; accept iff not below the status quo."""
        seat, rng = self._ready()
        if participating(seat, observation):
            return accept_if_individually_rational(seat, observation)
        assert seat.mechanism is not None
        budget = seat.mechanism.budgets[seat.index]
        allowed = admissible(action_mask)
        truth = true_type(seat, observation)
        all_values = self._veto_values(seat, observation, rng)
        values, mass = all_values[truth], self._plan(seat, observation, all_values)[truth]
        classes = np.unique(budget.class_of_type[allowed])
        best = classes[np.argmax(mass[classes])]
        if mass[best] > 1e-9:
            allowed = allowed[budget.class_of_type[allowed] == best]
        return int(allowed[np.argmax(values[allowed])])
