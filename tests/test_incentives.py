"""Tests of the exact incentive analysis in linkmech.mechanisms.incentives."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from linkmech.mechanisms.catalogue import AllocationProblem, PublicGoodsProblem, VotingProblem, tabular_voting
from linkmech.mechanisms.incentives import (
    IncentiveConstraint,
    exact_fraction,
    expected_disagreement,
    expected_utilities,
    expected_welfare,
    incentive_constraints,
    interim_utility,
    is_incentive_compatible,
    largest_incentive_compatible,
    participation_constraints,
)
from linkmech.mechanisms.problem import IntArray, Lottery, TabularProblem

# VotingProblem's default type indices: 0 -> -2, 1 -> -1, 2 -> +1, 3 -> +2.
MINUS_ONE, PLUS_ONE, PLUS_TWO = 1, 2, 3


def _unanimity_problem(status_quo: int | None = None) -> TabularProblem:
    """Two agents with two types; alternative 1 is chosen iff both announce type 1."""

    def target(announced: IntArray) -> np.ndarray:
        both = (announced == 1).all(axis=1).astype(float)
        return np.stack([1 - both, both], axis=1)

    return TabularProblem(
        utilities=[[[0, 1], [0, 3]], [[2, 0], [0, 1]]],
        type_probs=[["1/2", "1/2"], ["1/4", "3/4"]],
        target=target,
        status_quo=status_quo,
    )


def _constant(probs: list[float]) -> object:
    """An SCF returning the same dense lottery over all alternatives for every profile."""

    def scf(announced: IntArray) -> Lottery:
        batch = len(announced)
        alternatives = np.broadcast_to(np.arange(len(probs)), (batch, len(probs)))
        return Lottery(np.ascontiguousarray(alternatives), np.tile(np.array(probs), (batch, 1)))

    return scf


def _mix(scf_a: object, scf_b: object, weight_a: float) -> object:
    """An SCF choosing scf_a's lottery with probability weight_a and scf_b's otherwise."""

    def scf(announced: IntArray) -> Lottery:
        a, b = scf_a(announced), scf_b(announced)  # type: ignore[operator]
        alternatives = np.concatenate([a.alternatives, b.alternatives], axis=1)
        return Lottery(alternatives, np.concatenate([weight_a * a.probs, (1 - weight_a) * b.probs], axis=1))

    return scf


def _majority(problem: VotingProblem) -> object:
    """Majority vote on signs, coin flip on ties (written independently of baselines.py)."""

    def scf(announced: IntArray) -> Lottery:
        margin = np.sign(np.stack([problem.type_values[i][announced[:, i]] for i in range(2)])).sum(axis=0)
        prob_b = np.where(margin > 0, 1.0, np.where(margin < 0, 0.0, 0.5))
        alternatives = np.tile(np.array([0, 1]), (len(announced), 1))
        return Lottery(alternatives, np.stack([1 - prob_b, prob_b], axis=1))

    return scf


def test_exact_fraction_recovers_rationals_and_rejects_irrationals() -> None:
    assert exact_fraction(0.1, "x") == Fraction(1, 10), "0.1 should be read as 1/10"
    assert exact_fraction(2 / 3, "x") == Fraction(2, 3), "2/3 as a float should be read as 2/3"
    assert exact_fraction(1 - 5 / 7, "x") == Fraction(2, 7), "1 - 5/7 in floats should be read as 2/7"
    with pytest.raises(ValueError, match=r"noisy.*exact analysis needs rational numbers"):
        exact_fraction(0.5 + 1e-10, "noisy")
    with pytest.raises(ValueError, match="finite"):
        exact_fraction(float("nan"), "nan")


def test_interim_utility_hand_worked_unanimity() -> None:
    problem = _unanimity_problem()
    # Agent 0 of type 1 announcing 1: alternative 1 (utility 3) iff agent 1 is type 1 (prob 3/4).
    value = interim_utility(problem, problem.target, 0, 1, 1)
    assert value == Fraction(9, 4), f"expected 3 * 3/4 = 9/4, got {value}"
    # Agent 1 of type 0 truthful always gets alternative 0 (utility 2).
    value = interim_utility(problem, problem.target, 1, 0, 0)
    assert value == 2, f"expected 2, got {value}"
    # Agent 1 of type 0 announcing 1: alternative 1 (utility 0) w.p. 1/2, alternative 0 (utility 2) w.p. 1/2.
    value = interim_utility(problem, problem.target, 1, 0, 1)
    assert value == 1, f"expected 1/2 * 0 + 1/2 * 2 = 1, got {value}"
    assert isinstance(value, Fraction), f"interim utility should be a Fraction, got {type(value)}"


def test_interim_utility_hand_worked_voting() -> None:
    problem = VotingProblem()
    # Value +1 truthful: others -2, -1, 1, 2 give sums -1, 0, 2, 3 -> b w.p. 0, 1/2, 1, 1.
    truthful = interim_utility(problem, problem.target, 0, PLUS_ONE, PLUS_ONE)
    assert truthful == Fraction(5, 8), f"expected (0 + 1/2 + 1 + 1) / 4 = 5/8, got {truthful}"
    # Announcing +2: sums 0, 1, 3, 4 -> b w.p. 1/2, 1, 1, 1.
    exaggerated = interim_utility(problem, problem.target, 0, PLUS_ONE, PLUS_TWO)
    assert exaggerated == Fraction(7, 8), f"expected (1/2 + 1 + 1 + 1) / 4 = 7/8, got {exaggerated}"
    majority = _majority(problem)
    value = interim_utility(problem, majority, 0, PLUS_ONE, PLUS_ONE)  # type: ignore[arg-type]
    assert value == Fraction(3, 4), f"majority: value +1 gets b w.p. 1/2*1/2 + 1/2*1 = 3/4, got {value}"
    value = interim_utility(problem, majority, 0, PLUS_ONE, MINUS_ONE)  # type: ignore[arg-type]
    assert value == Fraction(1, 4), f"majority: voting against gives b w.p. 1/4, got {value}"


def test_interim_utility_rejects_bad_indices() -> None:
    problem = VotingProblem()
    with pytest.raises(ValueError, match="agent"):
        interim_utility(problem, problem.target, 2, 0, 0)
    with pytest.raises(ValueError, match="announced_type"):
        interim_utility(problem, problem.target, 0, 0, 4)


def test_utilitarian_voting_target_is_not_incentive_compatible() -> None:
    problem = VotingProblem()
    constraints = incentive_constraints(problem, problem.target)
    assert len(constraints) == 2 * 4 * 3, (
        f"expected 24 constraints (2 agents x 4 x 3), got {len(constraints)}"
    )
    assert not is_incentive_compatible(problem, problem.target), "the utilitarian target should not be IC"
    for agent in (0, 1):
        gain = IncentiveConstraint(agent, PLUS_ONE, PLUS_TWO, Fraction(-1, 4))
        assert gain in constraints, f"agent {agent} of value 1 should gain 1/4 by announcing 2"


def test_majority_vote_is_incentive_compatible_and_disagrees_one_eighth() -> None:
    problem = VotingProblem()
    majority = _majority(problem)
    assert is_incentive_compatible(problem, majority), "majority vote should be IC"  # type: ignore[arg-type]
    disagreement = expected_disagreement(problem, majority, problem.target)  # type: ignore[arg-type]
    assert disagreement == Fraction(1, 8), (
        f"Example 1: majority errs with probability 1/8, got {disagreement}"
    )
    reverse = expected_disagreement(problem, problem.target, majority)  # type: ignore[arg-type]
    assert reverse == disagreement, f"disagreement should be symmetric, got {reverse} vs {disagreement}"
    itself = expected_disagreement(problem, problem.target, problem.target)
    assert itself == 0, f"an SCF never disagrees with itself, got {itself}"


def test_expected_welfare_of_targets() -> None:
    public_goods = PublicGoodsProblem()
    welfare = expected_welfare(public_goods, public_goods.target)
    assert welfare == Fraction(2, 3), (
        f"Example 2 target welfare per problem is 2/3 (4/3 over two), got {welfare}"
    )
    allocation = AllocationProblem()
    welfare = expected_welfare(allocation, allocation.target)
    assert welfare == Fraction(31, 4), f"Example 5 target total expected utility is 7.75, got {welfare}"
    utilities = expected_utilities(allocation, allocation.target)
    assert utilities == (Fraction(31, 8),) * 2, f"each agent should get 31/8 by symmetry, got {utilities}"


def test_public_goods_target_is_not_incentive_compatible_at_cost_three_quarters() -> None:
    problem = PublicGoodsProblem()
    constraints = incentive_constraints(problem, problem.target)
    lie = next(c for c in constraints if (c.agent, c.true_type, c.announced_type) == (0, 1, 0))
    # Paper: the gain from pretending v = 0 is (2/3) c - 1/3 = 1/6 at c = 3/4.
    assert lie.slack == Fraction(-1, 6), (
        f"value-1 agent should gain 2c/3 - 1/3 = 1/6 by lying, got {-lie.slack}"
    )


def test_participation_constraints_of_public_goods_target() -> None:
    problem = PublicGoodsProblem()
    slacks = [c.slack for c in participation_constraints(problem, problem.target)]
    # Value 0: never pays, gets 0 = u(e); value 1: 2/3 * (1 - 3/8) + 1/3 * (1 - 3/4) = 1/2.
    assert slacks == [0, Fraction(1, 2), 0, Fraction(1, 2)], f"unexpected participation slacks {slacks}"


def test_participation_needs_a_status_quo() -> None:
    problem = _unanimity_problem(status_quo=None)
    with pytest.raises(ValueError, match="no status quo"):
        participation_constraints(problem, problem.target)
    with_status_quo = _unanimity_problem(status_quo=0)
    slacks = [c.slack for c in participation_constraints(with_status_quo, with_status_quo.target)]
    assert slacks == [0, Fraction(9, 4), 0, Fraction(1, 2)], f"unexpected participation slacks {slacks}"


def test_too_many_profiles_is_a_clear_error() -> None:
    problem = VotingProblem(num_agents=10)  # 4**10 = 1048576 profiles
    with pytest.raises(ValueError, match="enumerates every type profile"):
        expected_welfare(problem, problem.target)


def test_non_rational_probability_is_rejected() -> None:
    problem = VotingProblem()
    noisy = _constant([0.5 + 1e-10, 0.5 - 1e-10])
    with pytest.raises(ValueError, match=r"probability.*exact analysis needs rational numbers"):
        expected_welfare(problem, noisy)  # type: ignore[arg-type]
    # 1/pi is not within 1e-13 of any fraction with denominator <= 10**6.
    irrational = _constant([1 / math.pi, 1 - 1 / math.pi])
    with pytest.raises(ValueError, match="exact analysis needs rational numbers"):
        expected_welfare(problem, irrational)  # type: ignore[arg-type]


def test_non_rational_utility_is_rejected() -> None:
    problem = TabularProblem(
        utilities=[[[0, 1 / 3 + 1e-10]], [[0, 1]]],
        type_probs=[[1], [1]],
        target=lambda announced: np.tile([0.0, 1.0], (len(announced), 1)),
    )
    with pytest.raises(ValueError, match=r"utility.*rational numbers"):
        expected_welfare(problem, problem.target)


def test_invalid_lotteries_are_rejected() -> None:
    problem = VotingProblem()
    with pytest.raises(ValueError, match="sum"):
        expected_welfare(problem, _constant([0.5, 0.4]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Lottery"):
        expected_welfare(problem, lambda announced: np.ones((len(announced), 2)))  # type: ignore[arg-type,return-value]


def test_largest_incentive_compatible_on_a_mixture_family() -> None:
    problem = VotingProblem()
    majority = _majority(problem)

    def family(q: Fraction) -> object:
        return _mix(problem.target, majority, float(q))

    # Every constraint of the mixture is q * (target slack) + (1 - q) * (majority slack); the target's
    # -1/4 where majority has 0 leaves only q = 0.
    q = largest_incentive_compatible(problem, family)  # type: ignore[arg-type]
    assert q == 0, f"any weight on the manipulable target breaks IC, got q = {q}"

    def reversed_family(q: Fraction) -> object:
        return _mix(majority, problem.target, float(q))

    q = largest_incentive_compatible(problem, reversed_family)  # type: ignore[arg-type]
    assert q == 1, f"all weight on majority is IC, got q = {q}"


def test_largest_incentive_compatible_errors() -> None:
    problem = VotingProblem()
    with pytest.raises(ValueError, match="no q in"):
        largest_incentive_compatible(problem, lambda q: problem.target)

    def squared(q: Fraction) -> object:
        return _mix(problem.target, _majority(problem), float(q) ** 2)

    with pytest.raises(ValueError, match="not affine"):
        largest_incentive_compatible(problem, squared)  # type: ignore[arg-type]
    no_status_quo = _unanimity_problem(status_quo=None)
    with pytest.raises(ValueError, match="no status quo"):
        largest_incentive_compatible(no_status_quo, lambda q: no_status_quo.target, participation=True)


def test_tabular_voting_matches_voting_problem() -> None:
    tabular, voting = tabular_voting(), VotingProblem()
    table_slacks = [c.slack for c in incentive_constraints(tabular, tabular.target)]
    voting_slacks = [c.slack for c in incentive_constraints(voting, voting.target)]
    assert table_slacks == voting_slacks, "the tabular and built-in voting problems should have equal slacks"
    welfare = expected_welfare(tabular, tabular.target)
    assert welfare == expected_welfare(voting, voting.target), f"welfare should match, got {welfare}"
