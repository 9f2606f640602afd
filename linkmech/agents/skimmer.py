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
solved exactly as a linear program (``scipy.optimize.linprog``, HiGHS), once per distinct state in a batch of
episodes. The skimmer announces, for its current true type, the admissible class with the largest planned
mass (ties to the lower index) and in it the type with the highest ``V``. In the participation stage it accepts iff the offer's accepted utility is at
least the declined (status quo) utility, which declines exactly the problems whose outcome is below e.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from linkmech.agents.base import Episodes, KernelStrategy, Seat, register
from linkmech.agents.kernels import allowed_actions, announce_or_accept, one_hot, true_types
from linkmech.agents.myopic import (
    DRAWS,
    ValueModel,
    outcome_table,
    value_matrices,
    value_memory,
    value_model,
)
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray

BELIEFS = ("prior", "empirical")
"""Allowed values of ``Skimmer(beliefs=...)``."""

FIELDS = frozenset({"type", "budget", "progress", "phase", "offer", "future_types"})
"""The observation fields the skimmer reads (plus ``others_announced`` with empirical beliefs)."""


def veto_values(problem: FiniteProblem, agent: int, distributions: list[FloatArray]) -> FloatArray:
    """``[T, T]`` matrix ``V[t, s]``: expected ``max(u_t(d), u_t(e))`` when announcing s with true type t.

    ``distributions`` are the other agents' announcement laws (in agent order, agent left out), contracted
    with the veto outcome table as :func:`linkmech.agents.myopic.value_matrices` does per row. Utilities are
    private values.
    """
    table = np.moveaxis(outcome_table(problem, agent, veto=True), 1 + agent, -1)
    for law in distributions:
        table = np.einsum("tj...,j->t...", table, np.asarray(law, dtype=np.float64))
    return np.asarray(table)


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
class Skimmer(KernelStrategy):
    """Announce to maximise the value of the veto, then decline problems whose outcome is below e.

    See the module docstring for the plan. Meant for ``participation="per_problem"``; it also runs without a
    participation stage or with a whole one (the plan then overrates the veto), on any problem with a status
    quo and budgets.

    Args:
        beliefs: ``"prior"`` (others ~ P, the paper's calculation) or ``"empirical"`` (their empirical
            announcement frequencies so far, over time; P before any announcement and all at once).
    """

    name: ClassVar[str] = "skimmer"
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, beliefs: str = "prior") -> None:
        super().__init__()
        if beliefs not in BELIEFS:
            raise ValueError(f"beliefs: got {beliefs!r}; allowed are {BELIEFS}")
        self.beliefs = beliefs

    def params(self) -> dict[str, Any]:
        """``{"beliefs": ...}``."""
        return {"beliefs": self.beliefs}

    def prepare(self, seat: Seat) -> tuple[ValueModel, FloatArray | None]:
        """The seat's veto-value model and, with prior beliefs and an exact table, ``V`` itself."""
        if seat.problem is None or seat.mechanism is None:
            raise ValueError(
                "the skimmer needs the seat's problem and budgets; build the seat with Seat.from_env"
            )
        model = value_model(seat, veto=True)
        if self.beliefs == "empirical" or model.sampled:
            return model, None
        size = max((where.stop for _, where in seat.fields), default=0)
        return model, value_matrices(model, seat, np.zeros((1, size)), empirical=False)[0]

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """The sampled profiles of problems too large to enumerate (else nothing)."""
        return value_memory(episodes.prepared[0], episodes)

    def observed_fields(self) -> frozenset[str]:
        """Type, budget, progress, phase, offer, future types; the others' announcements if empirical."""
        return FIELDS | {"others_announced"} if self.beliefs == "empirical" else FIELDS

    def values(self, episodes: Episodes, observations: np.ndarray, rows: IntArray) -> FloatArray:
        """``[R, T, T]`` the veto values ``V[t, s]`` the rows plan with."""
        model, fixed = episodes.prepared
        if fixed is not None:
            return np.broadcast_to(fixed, (len(rows), *fixed.shape))
        draws = episodes.memory[DRAWS][rows] if DRAWS in episodes.memory else None
        return value_matrices(
            model, episodes.seat, observations, draws, empirical=self.beliefs == "empirical"
        )

    def plans(self, seat: Seat, observations: np.ndarray, values: FloatArray) -> FloatArray:
        """``[R, T, C]`` the current plans: planned counts of each remaining true type announced in each class."""
        assert seat.mechanism is not None and seat.problem is not None
        budget = seat.mechanism.budgets[seat.index]
        k = seat.mechanism.num_problems
        classes = np.eye(budget.num_classes, dtype=bool)[budget.class_of_type]  # [T, C]
        class_values = np.where(classes[None, None], values[..., None], -np.inf).max(axis=2)
        demand = np.rint(seat.field(observations, "budget") * k)
        supply = one_hot(true_types(seat, observations), values.shape[1])
        if seat.has_field("future_types"):
            supply += np.rint(seat.field(observations, "future_types") * k)
        else:
            dates = np.rint(seat.field(observations, "progress")[:, 0] * k)
            supply += (k - dates - 1)[:, None] * seat.problem.type_probs[seat.index][None, :]
        return distinct_plans(class_values, supply, demand)

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """Probability 1 on the planned announcement for the current true type; accept iff not below e."""
        seat = episodes.seat
        assert seat.mechanism is not None
        budget = seat.mechanism.budgets[seat.index]
        count = len(budget.class_of_type)

        def announce(rows: IntArray) -> FloatArray:
            obs = observations[rows]
            allowed = allowed_actions(action_masks[rows])[:, :count]
            truth = true_types(seat, obs)
            values = self.values(episodes, obs, rows)
            mass = self.plans(seat, obs, values)[np.arange(len(rows)), truth]  # [R, C]
            open_class = np.zeros_like(mass, dtype=bool)
            for klass in range(budget.num_classes):
                open_class[:, klass] = allowed[:, budget.class_of_type == klass].any(axis=1)
            best = np.argmax(np.where(open_class, mass, -np.inf), axis=1)
            narrow = mass[np.arange(len(rows)), best] > 1e-9
            in_best = budget.class_of_type[None, :] == best[:, None]
            choice = np.where(narrow[:, None], allowed & in_best, allowed)
            own = values[np.arange(len(rows)), truth]  # [R, T]
            action = np.argmax(np.where(choice, own, -np.inf), axis=1)
            return one_hot(action, action_masks.shape[1])

        return announce_or_accept(seat, observations, action_masks, announce)


def distinct_plans(values: FloatArray, supply: FloatArray, demand: FloatArray) -> FloatArray:
    """``[R, T, C]`` :func:`transportation_plan` of every row, solved once per distinct row."""
    rows = len(values)
    keys = np.concatenate([values.reshape(rows, -1), supply, demand], axis=1)
    distinct, inverse = np.unique(keys, axis=0, return_inverse=True)
    shape = values.shape[1:]
    size = int(np.prod(shape))
    solved = np.stack(
        [
            transportation_plan(
                key[:size].reshape(shape), key[size : size + shape[0]], key[size + shape[0] :]
            )
            for key in distinct
        ]
    )
    return solved[np.asarray(inverse).reshape(-1)]
