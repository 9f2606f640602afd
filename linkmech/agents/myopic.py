"""Myopic values: an agent's expected utility on the current problem for each type it could announce.

The other agents' announcements are taken as independent, each distributed as its empirical frequency of
announcements so far (the ``others_announced`` observation field, over time) or, before any announcement
and in the all-at-once form, as its type distribution ``P_j``. Everything is over a batch of rows.

A :class:`ValueModel` holds the agent's outcome table (:func:`outcome_table`: its expected utility at every
announced profile, for each of its true types; with ``veto=True`` the utility of each alternative is first
raised to the status quo's, the value of a per-problem veto that the skimmer plans with). Values are the
table contracted with the others' laws, exactly, when the table has at most :data:`MAX_TABLE` entries.
Larger problems average :data:`SAMPLES` profiles of the others per episode, drawn by inverse CDF from
uniforms each episode draws once at its start from its own generator (common random numbers across dates);
the exact analysis cannot read such a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from linkmech.agents.base import Episodes, Seat
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray, Lottery, as_fraction

MAX_TABLE = 1 << 22
"""Largest outcome table (type profiles x the agent's types) contracted exactly."""

SAMPLES = 4096
"""Profiles of the others averaged per episode when the table is larger than :data:`MAX_TABLE`."""

DRAWS = "myopic_uniforms"
"""The memory entry of the per-episode uniforms ``[B, SAMPLES, n - 1]`` of the sampled case."""


def as_numbers(values: Any, exact: bool) -> Any:
    """Floats as float64, or (``exact``) as an object array of the nearest simple Fractions."""
    array = np.asarray(values)
    if not exact:
        return np.asarray(array, dtype=np.float64)
    if array.dtype == object:
        return array
    convert = np.frompyfunc(lambda x: as_fraction(float(x), "table entry"), 1, 1)
    return np.asarray(convert(array), dtype=object)


def _lottery_values(
    problem: FiniteProblem, agent: int, actual: IntArray, lottery: Lottery, veto: bool, exact: bool = False
) -> Any:
    """``[M]`` the agent's expected utility (with true types ``actual``) under ``lottery``; vetoed if asked."""
    utility = problem.utility(actual, lottery.alternatives)[:, :, agent]
    if veto:
        utility = np.maximum(utility, problem.status_quo_utility(actual)[:, agent, None])
    return (as_numbers(lottery.probs, exact) * as_numbers(utility, exact)).sum(axis=1)


def outcome_table(problem: FiniteProblem, agent: int, exact: bool = False, veto: bool = False) -> Any:
    """``[T_agent, T_0, ..., T_{n-1}]``: the agent's expected utility at each announced profile.

    For each of the agent's true types, over f's lottery; the others' types are their announced ones (under
    private values they do not enter the agent's utility). With ``veto`` each alternative's utility is
    ``max(u_t(d), u_t(e))`` (e the status quo). Floats, or (``exact``) an object array of Fractions.

    Raises:
        ValueError: with ``veto``, if the problem has no status quo.
    """
    if veto and problem.status_quo is None:
        raise ValueError(f"veto values need a status quo to veto to, and problem {problem.name!r} has none")
    profiles = problem.all_profiles()
    lottery = problem.checked_target(profiles)
    rows = []
    for own in range(problem.type_counts[agent]):
        actual = profiles.copy()
        actual[:, agent] = own
        rows.append(_lottery_values(problem, agent, actual, lottery, veto, exact))
    return np.stack(rows).reshape((problem.type_counts[agent], *problem.type_counts))


@dataclass(frozen=True)
class ValueModel:
    """What a seat's myopic (or veto) values need, computed once per seat.

    Attributes:
        problem: the base problem.
        agent: the seat's agent index.
        veto: whether utilities are raised to the status quo's (the skimmer's values).
        table: :func:`outcome_table` with the agent's announcement axis moved last,
            ``[T_agent (true), T_others..., T_agent (announced)]``; None when it would exceed
            :data:`MAX_TABLE` (then profiles are sampled).
    """

    problem: FiniteProblem
    agent: int
    veto: bool
    table: FloatArray | None

    @property
    def sampled(self) -> bool:
        """Whether the values average sampled profiles (not exact)."""
        return self.table is None


def value_model(seat: Seat, veto: bool = False) -> ValueModel:
    """The seat's :class:`ValueModel`.

    Raises:
        ValueError: if the seat has no problem (or, with ``veto``, the problem no status quo).
    """
    problem = seat.problem
    if problem is None:
        raise ValueError("myopic values need the seat's problem; build the seat with Seat.from_env")
    size = int(np.prod(problem.type_counts)) * problem.type_counts[seat.index]
    if size > MAX_TABLE:
        if veto and problem.status_quo is None:
            outcome_table(problem, seat.index, veto=True)  # raises the missing status quo
        return ValueModel(problem, seat.index, veto, None)
    table = outcome_table(problem, seat.index, veto=veto)
    return ValueModel(problem, seat.index, veto, np.moveaxis(table, 1 + seat.index, -1))


def myopic_model(seat: Seat) -> ValueModel:
    """The seat's model of plain myopic values (no veto)."""
    return value_model(seat)


def value_memory(model: ValueModel, episodes: Episodes) -> dict[str, np.ndarray]:
    """The per-episode draws of the sampled case (none when the values are exact)."""
    if not model.sampled:
        return {}
    others = model.problem.num_agents - 1
    return {DRAWS: episodes.draw(lambda rng: rng.random((SAMPLES, others)), "myopic values (sampled)")}


def others_distributions(seat: Seat, observations: np.ndarray, empirical: bool = True) -> list[FloatArray]:
    """For every other agent j (in order), ``[B, T_j]`` the law its announcement is assumed to follow.

    Its empirical frequencies in ``others_announced`` where it has announced (and ``empirical``), else
    ``P_j``.
    """
    problem = seat.problem
    if problem is None:
        raise ValueError("myopic values need the seat's problem; build the seat with Seat.from_env")
    rows = len(observations)
    counts = None
    if empirical and seat.has_field("others_announced"):
        counts = seat.field(observations, "others_announced")
    out, start = [], 0
    for j, size in enumerate(problem.type_counts):
        if j == seat.index:
            continue
        prior = np.broadcast_to(problem.type_probs[j], (rows, size))
        if counts is None:
            out.append(np.asarray(prior, dtype=np.float64))
            continue
        seen = np.asarray(counts[:, start : start + size], dtype=np.float64)
        start += size
        total = seen.sum(axis=1, keepdims=True)
        out.append(np.where(total > 0, seen / np.where(total > 0, total, 1.0), prior))
    return out


def _contract(values: FloatArray, distributions: list[FloatArray], keep: str) -> FloatArray:
    """Sum each others' axis (right after the ``keep`` axes) against its row law ``[R, T_j]``."""
    for law in distributions:
        values = np.einsum(f"{keep}j...,rj->{keep}...", values, law)
    return values


def myopic_values(
    model: ValueModel,
    seat: Seat,
    observations: np.ndarray,
    true_types: IntArray,
    draws: np.ndarray | None = None,
    empirical: bool = True,
) -> FloatArray:
    """``[B, T_agent]`` expected utility on the current problem of announcing each type, per row.

    ``draws``: the rows' :data:`DRAWS` memory (needed only when ``model.sampled``).
    """
    distributions = others_distributions(seat, observations, empirical)
    if model.table is not None:
        return np.asarray(_contract(model.table[true_types], distributions, "r"))
    return _sampled_values(model, distributions, true_types[:, None], _need(draws))[:, 0]


def value_matrices(
    model: ValueModel,
    seat: Seat,
    observations: np.ndarray,
    draws: np.ndarray | None = None,
    empirical: bool = True,
) -> FloatArray:
    """``[B, T_agent, T_agent]``: per row, ``V[t, s]`` the value of announcing s with true type t."""
    distributions = others_distributions(seat, observations, empirical)
    count = model.problem.type_counts[model.agent]
    if model.table is not None:
        first, rest = distributions[0], distributions[1:]
        values = np.einsum("tj...,rj->rt...", model.table, first) if distributions else model.table[None]
        return np.asarray(_contract(values, rest, "rt"))
    every = np.broadcast_to(np.arange(count), (len(observations), count))
    return _sampled_values(model, distributions, every, _need(draws))


def _need(draws: np.ndarray | None) -> np.ndarray:
    if draws is None:
        raise ValueError(
            "myopic values of a large problem average sampled profiles; give the episodes' draws"
        )
    return draws


def _sampled_values(
    model: ValueModel, distributions: list[FloatArray], true_types: IntArray, draws: np.ndarray
) -> FloatArray:
    """``[R, len(true types), T_agent]`` averaged over the rows' sampled profiles (inverse CDF of ``draws``)."""
    problem, agent = model.problem, model.agent
    rows, samples = draws.shape[:2]
    columns = []
    for j, law in enumerate(distributions):
        picked = (draws[:, :, j, None] >= np.cumsum(law, axis=1)[:, None, :]).sum(axis=2)
        columns.append(np.minimum(picked, law.shape[1] - 1))
    others = np.stack(columns, axis=2).reshape(rows * samples, len(distributions))
    count = problem.type_counts[agent]
    values = np.empty((rows, true_types.shape[1], count))
    for candidate in range(count):
        announced = np.insert(others, agent, candidate, axis=1)
        lottery = problem.target(announced)
        for column in range(true_types.shape[1]):
            actual = announced.copy()
            actual[:, agent] = np.repeat(true_types[:, column], samples)
            utility = _lottery_values(problem, agent, actual, lottery, model.veto)
            values[:, column, candidate] = utility.reshape(rows, samples).mean(axis=1)
    return values
