"""Exact incentive analysis of one-shot social choice functions on a :class:`FiniteProblem`.

A social choice function (SCF) is any callable ``scf(announced: int array [B, n]) -> Lottery``, the same
signature as :meth:`FiniteProblem.target`. Everything here enumerates every type profile (so it only works
for problems with at most the limit of :meth:`FiniteProblem.all_profiles` profiles) and computes in exact
:class:`fractions.Fraction` arithmetic: each float the SCF or ``utility`` returns is read as the nearest
fraction with denominator at most :data:`MAX_EXACT_DENOMINATOR`, and a float that is not within 1e-13 of
one is rejected, because exact analysis needs rational numbers.

Interim quantities hold the agent's own type fixed and take the expectation over the other agents'
independent types, with the others announcing truthfully (Bayesian incentive compatibility).

:func:`largest_incentive_compatible` derives the parameter of a one-parameter family of mechanisms (such as
the paper's second-best probabilities 5/7 and 5/8) from the constraints instead of typing it in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from linkmech.mechanisms.problem import (
    MAX_EXACT_DENOMINATOR,
    FiniteProblem,
    FloatArray,
    IntArray,
    Lottery,
    check_lottery,
)

SocialChoiceFunction = Callable[[IntArray], Lottery]
"""Maps announced type profiles ``[B, n]`` to a batch of lotteries over alternatives."""

Family = Callable[[Fraction], SocialChoiceFunction]
"""Maps a parameter ``q`` in [0, 1] to a social choice function."""

ObjectArray = NDArray[np.object_]
"""A numpy array of :class:`Fraction` objects."""

EXACT_TOLERANCE = 1e-13
"""Largest distance between a float and the fraction it is read as."""


@dataclass(frozen=True)
class IncentiveConstraint:
    """One interim incentive constraint: agent ``agent`` of type ``true_type`` against ``announced_type``.

    Attributes:
        agent: the agent's index.
        true_type: the agent's true type index.
        announced_type: the (different) type index it might announce instead.
        slack: interim utility of truth-telling minus that of announcing ``announced_type`` (others
            truthful); the constraint holds iff ``slack >= 0`` and binds iff ``slack == 0``.
    """

    agent: int
    true_type: int
    announced_type: int
    slack: Fraction


@dataclass(frozen=True)
class ParticipationConstraint:
    """One interim participation constraint: agent ``agent`` of type ``true_type`` against the status quo.

    Attributes:
        agent: the agent's index.
        true_type: the agent's true type index.
        slack: truthful interim utility minus the interim utility of the status quo ``e``; the
            constraint holds iff ``slack >= 0``.
    """

    agent: int
    true_type: int
    slack: Fraction


def exact_fraction(value: float, what: str) -> Fraction:
    """Read a float as the nearest fraction with denominator at most :data:`MAX_EXACT_DENOMINATOR`.

    Raises:
        ValueError: if ``value`` is not finite or not within 1e-13 of such a fraction.
    """
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{what}: got {number!r}; exact analysis needs finite rational numbers")
    close = Fraction(number).limit_denominator(MAX_EXACT_DENOMINATOR)
    if abs(float(close) - number) > EXACT_TOLERANCE:
        raise ValueError(
            f"{what}: {number!r} is not within {EXACT_TOLERANCE:g} of a fraction with denominator at most "
            f"{MAX_EXACT_DENOMINATOR}; exact analysis needs rational numbers (probabilities and utilities)"
        )
    return close


def exact_array(values: FloatArray, what: str) -> ObjectArray:
    """Element-wise :func:`exact_fraction` of a float array, converting each distinct value once."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    unique, inverse = np.unique(flat, return_inverse=True)
    table = np.empty(len(unique), dtype=object)
    table[:] = [exact_fraction(v, what) for v in unique]
    return table[inverse.reshape(-1)].reshape(np.shape(values))


def _enumerate(problem: FiniteProblem) -> IntArray:
    """All type profiles of ``problem``, with a ValueError saying why when there are too many."""
    try:
        return problem.all_profiles()
    except ValueError as error:
        raise ValueError(f"exact incentive analysis enumerates every type profile: {error}") from error


def profile_weights(problem: FiniteProblem, profiles: IntArray, skip: int | None = None) -> ObjectArray:
    """Exact probability of each profile's types, leaving out agent ``skip`` (its type is conditioned on)."""
    weights = np.empty(len(profiles), dtype=object)
    weights[:] = [Fraction(1)] * len(profiles)
    for j, probs in enumerate(problem.exact_type_probs):
        if j != skip:
            table = np.empty(len(probs), dtype=object)
            table[:] = list(probs)
            weights = weights * table[profiles[:, j]]
    return weights


def _evaluate(problem: FiniteProblem, scf: SocialChoiceFunction, announced: IntArray) -> Lottery:
    """Call ``scf`` and check that it returned a valid lottery for every announced profile."""
    lottery = scf(announced)
    if not isinstance(lottery, Lottery):
        raise TypeError(
            f"social choice function: returned {type(lottery).__name__}; it must return a Lottery"
        )
    check_lottery(lottery, len(announced), problem.num_alternatives, "social choice function")
    return lottery


def _exact_probs(lottery: Lottery) -> ObjectArray:
    """Return the lottery's probabilities as fractions ``[B, S]``, each row summing to exactly 1."""
    probs = exact_array(lottery.probs, "social choice function probability")
    sums = probs.sum(axis=1)
    wrong = [k for k, total in enumerate(sums) if total != 1]
    if wrong:
        raise ValueError(
            f"social choice function: row {wrong[0]} has probabilities {list(probs[wrong[0]])} summing to "
            f"{sums[wrong[0]]} as fractions, not exactly 1; return probabilities of a rational distribution"
        )
    return probs


def _row_utilities(
    problem: FiniteProblem,
    scf: SocialChoiceFunction,
    types: IntArray,
    announced: IntArray,
    agents: Sequence[int],
) -> ObjectArray:
    """Return the exact expected utility ``[B, len(agents)]`` of ``agents`` under ``scf(announced)``.

    ``types`` are the true types; ``agents`` picks which agents' utilities to return.
    """
    lottery = _evaluate(problem, scf, announced)
    values = problem.utility(types, lottery.alternatives)
    expected_shape = (*lottery.alternatives.shape, problem.num_agents)
    if values.shape != expected_shape:
        raise ValueError(
            f"utility of {problem.name!r}: returned shape {values.shape}; expected {expected_shape}"
        )
    utilities = exact_array(values[:, :, list(agents)], f"utility of {problem.name!r}")
    return (_exact_probs(lottery)[:, :, None] * utilities).sum(axis=1)


def _check_agent_type(problem: FiniteProblem, agent: int, type_index: int, field: str) -> None:
    """Raise a ValueError if ``agent`` or its type index ``type_index`` is out of range."""
    if not 0 <= agent < problem.num_agents:
        raise ValueError(f"agent: got {agent}; allowed agents are 0..{problem.num_agents - 1}")
    count = problem.type_counts[agent]
    if not 0 <= type_index < count:
        raise ValueError(f"{field}: got {type_index}; agent {agent} has type indices 0..{count - 1}")


def _interim(
    problem: FiniteProblem,
    scf: SocialChoiceFunction,
    profiles: IntArray,
    agent: int,
    true_type: int,
    announced_type: int,
) -> Fraction:
    """:func:`interim_utility` over precomputed ``profiles``."""
    rows = profiles[profiles[:, agent] == true_type]
    announced = rows.copy()
    announced[:, agent] = announced_type
    utilities = _row_utilities(problem, scf, rows, announced, [agent])[:, 0]
    return Fraction(sum(profile_weights(problem, rows, skip=agent) * utilities, Fraction(0)))


def interim_utility(
    problem: FiniteProblem, scf: SocialChoiceFunction, agent: int, true_type: int, announced_type: int
) -> Fraction:
    """Return the interim utility of ``agent`` of ``true_type`` announcing ``announced_type``.

    The other agents announce truthfully.

    The expectation is over the other agents' independent types (drawn from ``P_j``) and the lottery
    ``scf`` returns.

    Raises:
        ValueError: if an index is out of range, there are too many profiles to enumerate, or the SCF or
            the utilities return a number that is not (close to) rational.
    """
    _check_agent_type(problem, agent, true_type, "true_type")
    _check_agent_type(problem, agent, announced_type, "announced_type")
    return _interim(problem, scf, _enumerate(problem), agent, true_type, announced_type)


def incentive_constraints(problem: FiniteProblem, scf: SocialChoiceFunction) -> list[IncentiveConstraint]:
    """Every interim incentive constraint of ``scf``, one per agent, true type and other announced type.

    Ordered by agent, then true type, then announced type. Types of probability 0 are included.
    """
    profiles = _enumerate(problem)
    constraints = []
    for agent, count in enumerate(problem.type_counts):
        for true_type in range(count):
            truthful = _interim(problem, scf, profiles, agent, true_type, true_type)
            for announced_type in range(count):
                if announced_type != true_type:
                    lie = _interim(problem, scf, profiles, agent, true_type, announced_type)
                    constraints.append(IncentiveConstraint(agent, true_type, announced_type, truthful - lie))
    return constraints


def is_incentive_compatible(problem: FiniteProblem, scf: SocialChoiceFunction) -> bool:
    """Whether truth-telling is a Bayesian equilibrium of ``scf`` (every incentive slack >= 0)."""
    return all(c.slack >= 0 for c in incentive_constraints(problem, scf))


def _status_quo_interim(problem: FiniteProblem, profiles: IntArray, agent: int, true_type: int) -> Fraction:
    """Return the expected status-quo utility of ``agent`` of type ``true_type`` (over the others' types)."""
    rows = profiles[profiles[:, agent] == true_type]
    utilities = exact_array(
        problem.status_quo_utility(rows)[:, agent], f"status quo utility of {problem.name!r}"
    )
    return Fraction(sum(profile_weights(problem, rows, skip=agent) * utilities, Fraction(0)))


def participation_constraints(
    problem: FiniteProblem, scf: SocialChoiceFunction
) -> list[ParticipationConstraint]:
    """Every interim participation constraint: truthful interim utility minus ``u_i(e)``, per agent and type.

    Raises:
        ValueError: if the problem has no status quo ``e``.
    """
    if problem.status_quo is None:
        raise ValueError(
            f"problem {problem.name!r} has no status quo; participation constraints compare with the "
            "status quo alternative e (set status_quo=<alternative index>)"
        )
    profiles = _enumerate(problem)
    constraints = []
    for agent, count in enumerate(problem.type_counts):
        for true_type in range(count):
            truthful = _interim(problem, scf, profiles, agent, true_type, true_type)
            outside = _status_quo_interim(problem, profiles, agent, true_type)
            constraints.append(ParticipationConstraint(agent, true_type, truthful - outside))
    return constraints


def expected_utilities(problem: FiniteProblem, scf: SocialChoiceFunction) -> tuple[Fraction, ...]:
    """Ex ante expected utility of each agent when everyone announces truthfully."""
    profiles = _enumerate(problem)
    agents = range(problem.num_agents)
    utilities = _row_utilities(problem, scf, profiles, profiles, list(agents))
    weights = profile_weights(problem, profiles)
    return tuple(Fraction(sum(weights * utilities[:, i], Fraction(0))) for i in agents)


def expected_welfare(problem: FiniteProblem, scf: SocialChoiceFunction) -> Fraction:
    """Sum over agents of the ex ante expected utilities under truth-telling."""
    return sum(expected_utilities(problem, scf), Fraction(0))


def expected_disagreement(
    problem: FiniteProblem, scf_a: SocialChoiceFunction, scf_b: SocialChoiceFunction
) -> Fraction:
    """Return the expected total-variation distance between two SCFs' lotteries over truthful profiles.

    For a deterministic ``scf_b`` this is the probability that ``scf_a``'s outcome differs from the one
    ``scf_b`` prescribes (the paper's "probability of not choosing the outcome prescribed by f").
    """
    profiles = _enumerate(problem)
    lottery_a, lottery_b = _evaluate(problem, scf_a, profiles), _evaluate(problem, scf_b, profiles)
    rows = np.arange(len(profiles))
    keys = np.concatenate(
        [
            np.stack([np.repeat(rows, lottery.probs.shape[1]), lottery.alternatives.reshape(-1)], axis=1)
            for lottery in (lottery_a, lottery_b)
        ]
    )
    signed = np.concatenate([_exact_probs(lottery_a).reshape(-1), -_exact_probs(lottery_b).reshape(-1)])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    net = np.empty(len(unique), dtype=object)
    net[:] = [Fraction(0)] * len(unique)
    np.add.at(net, inverse.reshape(-1), signed)
    weights = profile_weights(problem, profiles)[unique[:, 0]]
    return Fraction(sum(weights * np.abs(net), Fraction(0))) / 2


def _all_slacks(problem: FiniteProblem, scf: SocialChoiceFunction, participation: bool) -> list[Fraction]:
    """Slacks of every incentive constraint, then (optionally) of every participation constraint."""
    slacks = [c.slack for c in incentive_constraints(problem, scf)]
    if participation:
        slacks += [c.slack for c in participation_constraints(problem, scf)]
    return slacks


def _check_affine(
    at_zero: Sequence[Fraction], at_half: Sequence[Fraction], at_one: Sequence[Fraction]
) -> None:
    """Raise a ValueError if some slack at q = 1/2 is not the mean of its values at q = 0 and q = 1."""
    for k, (s0, s_half, s1) in enumerate(zip(at_zero, at_half, at_one, strict=True)):
        if s_half != (s0 + s1) / 2:
            raise ValueError(
                f"family: constraint {k} has slack {s0} at q=0, {s_half} at q=1/2 and {s1} at q=1, which is "
                "not affine in q; the family's lotteries must be affine in q"
            )


def _feasible_interval(at_zero: Sequence[Fraction], at_one: Sequence[Fraction]) -> tuple[Fraction, Fraction]:
    """Return the q in [0, 1] (an interval, maybe empty) where every slack ``s0 + q * (s1 - s0)`` is >= 0."""
    low, high = Fraction(0), Fraction(1)
    for s0, s1 in zip(at_zero, at_one, strict=True):
        slope = s1 - s0
        if slope > 0:
            low = max(low, -s0 / slope)
        elif slope < 0:
            high = min(high, s0 / -slope)
        elif s0 < 0:
            return Fraction(1), Fraction(0)
    return low, high


def largest_incentive_compatible(
    problem: FiniteProblem, family: Family, *, participation: bool = False
) -> Fraction:
    """Return the largest q in [0, 1] for which ``family(q)`` satisfies every interim incentive constraint.

    ``family(q)`` (called with a :class:`Fraction`) must return an SCF whose lotteries are affine in q, so
    every slack is affine in q: the slacks are computed exactly at q = 0 and q = 1 (and checked at q = 1/2)
    and the largest q keeping all of them >= 0 is returned. With ``participation=True`` the interim
    participation constraints must hold too.

    Raises:
        ValueError: if no q in [0, 1] satisfies all constraints, or the slacks are not affine in q.
    """
    at_zero = _all_slacks(problem, family(Fraction(0)), participation)
    at_one = _all_slacks(problem, family(Fraction(1)), participation)
    _check_affine(at_zero, _all_slacks(problem, family(Fraction(1, 2)), participation), at_one)
    low, high = _feasible_interval(at_zero, at_one)
    if low > high:
        which = "incentive and participation" if participation else "incentive"
        raise ValueError(
            f"family on {problem.name!r}: no q in [0, 1] satisfies every interim {which} constraint; "
            f"the most violated slack is {min(at_zero)} at q=0 and {min(at_one)} at q=1"
        )
    return high
