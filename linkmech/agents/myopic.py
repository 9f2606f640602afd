"""Myopic values: an agent's expected utility on the current problem for each type it could announce.

The other agents' announcements are taken as independent, each distributed as its empirical frequency of
announcements so far (the ``others_announced`` observation field, over time) or, before any announcement
and in the all-at-once form, as its type distribution ``P_j``. The expectation enumerates the others'
profiles exactly when there are at most :data:`MAX_ENUMERATED` of them and otherwise averages
:data:`MAX_ENUMERATED` profiles drawn from the agent's generator.
"""

from __future__ import annotations

import itertools

import numpy as np

from linkmech.agents.base import Seat
from linkmech.mechanisms.problem import FloatArray, IntArray

MAX_ENUMERATED = 4096
"""Largest number of the others' profiles enumerated exactly."""


def others_distributions(seat: Seat, observation: np.ndarray) -> list[FloatArray]:
    """For every other agent j (in order), the distribution its announcement is assumed to follow."""
    problem = seat.problem
    if problem is None:
        raise ValueError("myopic values need the seat's problem; build the seat with Seat.from_env")
    counts = seat.field(observation, "others_announced") if seat.has_field("others_announced") else None
    out, start = [], 0
    for j, size in enumerate(problem.type_counts):
        if j == seat.index:
            continue
        prior = problem.type_probs[j]
        if counts is not None:
            seen = np.asarray(counts[start : start + size], dtype=np.float64)
            start += size
            if seen.sum() > 0:
                out.append(seen / seen.sum())
                continue
        out.append(prior)
    return out


def other_profiles(distributions: list[FloatArray], rng: np.random.Generator) -> tuple[IntArray, FloatArray]:
    """The others' profiles ``[M, n-1]`` and their weights: all of them, or a sample when too many."""
    supports = [np.flatnonzero(p > 0) for p in distributions]
    total = int(np.prod([len(s) for s in supports]))
    if total <= MAX_ENUMERATED:
        profiles = np.array(list(itertools.product(*supports)), dtype=np.int64).reshape(total, len(supports))
        weights = np.prod([p[profiles[:, j]] for j, p in enumerate(distributions)], axis=0)
        return profiles, np.asarray(weights, dtype=np.float64)
    draws = [rng.choice(len(p), size=MAX_ENUMERATED, p=p) for p in distributions]
    return np.stack(draws, axis=1).astype(np.int64), np.full(MAX_ENUMERATED, 1.0 / MAX_ENUMERATED)


def myopic_values(
    seat: Seat, observation: np.ndarray, true_type: int, candidates: IntArray, rng: np.random.Generator
) -> FloatArray:
    """Expected utility on the current problem of announcing each of ``candidates`` with ``true_type``."""
    problem = seat.problem
    assert problem is not None
    others, weights = other_profiles(others_distributions(seat, observation), rng)
    n, count = problem.num_agents, len(others)
    values = np.empty(len(candidates))
    for c, candidate in enumerate(candidates):
        announced = np.insert(others, seat.index, candidate, axis=1)
        lottery = problem.target(announced)
        truth = announced.copy()
        truth[:, seat.index] = true_type
        utility = problem.expected_utility(truth, lottery)[:, seat.index]
        values[c] = float(weights @ utility)
    assert announced.shape == (count, n)
    return values
