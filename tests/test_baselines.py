"""Tests of the unlinked baselines in linkmech.mechanisms.baselines (Examples 1, 2, 3 and 5)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest

from linkmech.mechanisms.baselines import (
    Baseline,
    allocation_baseline,
    bargaining_baseline,
    bargaining_family,
    majority_vote,
    public_goods_baseline,
    public_goods_family,
    random_assignment,
    unlinked_baseline,
    voting_baseline,
    with_reluctant_prices,
)
from linkmech.mechanisms.catalogue import (
    AllocationProblem,
    BargainingProblem,
    PublicGoodsProblem,
    VotingProblem,
)
from linkmech.mechanisms.incentives import (
    Family,
    IncentiveConstraint,
    expected_disagreement,
    expected_welfare,
    incentive_constraints,
    is_incentive_compatible,
    participation_constraints,
)
from linkmech.mechanisms.problem import FiniteProblem, TabularProblem

EPSILON = Fraction(1, 1000)


def _slack(
    constraints: list[IncentiveConstraint], agent: int, true_type: int, announced_type: int
) -> Fraction:
    """The slack of one incentive constraint."""
    return next(
        c.slack
        for c in constraints
        if (c.agent, c.true_type, c.announced_type) == (agent, true_type, announced_type)
    )


def test_example_2_second_best_probability_is_five_sevenths() -> None:
    problem = PublicGoodsProblem(num_agents=2, cost=Fraction(3, 4), value_prob=Fraction(2, 3))
    baseline = unlinked_baseline(problem)
    assert baseline.parameter == Fraction(5, 7), f"Example 2: q should be 5/7, got {baseline.parameter}"
    assert isinstance(baseline.parameter, Fraction), "the derived q should be an exact Fraction"
    assert "5/7" in baseline.derivation, f"the derivation should state q, got {baseline.derivation!r}"
    constraints = incentive_constraints(problem, baseline.scf)
    for agent in (0, 1):  # value 1 (type 1) pretending value 0 (type 0) binds
        slack = _slack(constraints, agent, 1, 0)
        assert slack == 0, f"agent {agent}'s binding constraint should hold with equality, slack {slack}"
    assert is_incentive_compatible(problem, baseline.scf), "the second best should be incentive compatible"


def test_example_2_welfare_and_shortfall() -> None:
    problem = PublicGoodsProblem()
    target = expected_welfare(problem, problem.target)
    unlinked = expected_welfare(problem, unlinked_baseline(problem).scf)
    assert target == Fraction(2, 3), (
        f"target welfare per problem should be 2/3 (paper: 4/3 over two), got {target}"
    )
    assert target - unlinked == Fraction(2, 63), (
        f"unlinked shortfall per problem should be 2/63 (paper: 4/63 over two), got {target - unlinked}"
    )


def test_public_goods_alternatives_use_payer_masks() -> None:
    problem = PublicGoodsProblem()
    scf = unlinked_baseline(problem).scf
    lottery = scf(np.array([[1, 1], [1, 0], [0, 1], [0, 0]]))
    assert lottery.alternatives.tolist() == [[0, 3], [0, 1], [0, 2], [0, 0]], (
        f"payers should be encoded as bit masks with 0 = not built, got {lottery.alternatives.tolist()}"
    )
    assert np.allclose(lottery.probs[:, 1], [1, 5 / 7, 5 / 7, 0]), (
        f"unexpected build probs {lottery.probs[:, 1]}"
    )


def test_public_goods_three_agents_hand_worked() -> None:
    # Value 1 with k' other announcers ~ Bin(2, 2/3):
    # slack = q/36 + 5/18 + 1/3 - 4q/9 - 4/9 >= 0 iff q <= 2/5.
    baseline = unlinked_baseline(PublicGoodsProblem(num_agents=3))
    assert baseline.parameter == Fraction(2, 5), f"three agents: q should be 2/5, got {baseline.parameter}"


def test_public_goods_without_incentive_compatible_q_is_a_clear_error() -> None:
    # With four agents, free-riding (announcing 0) pays even at q = 0.
    with pytest.raises(ValueError, match="no q in \\[0, 1\\]"):
        public_goods_baseline(PublicGoodsProblem(num_agents=4))


def test_public_goods_cost_above_one_has_no_parameter() -> None:
    problem = PublicGoodsProblem(num_agents=2, cost=Fraction(3, 2))
    baseline = unlinked_baseline(problem)
    assert baseline.parameter is None, (
        f"a lone announcer never builds when c > 1, got q = {baseline.parameter}"
    )
    assert is_incentive_compatible(problem, baseline.scf), "the c > 1 baseline should be incentive compatible"
    welfare = expected_welfare(problem, baseline.scf)
    assert welfare == expected_welfare(problem, problem.target), "with c = 3/2 the baseline equals the target"


def test_example_3_trade_probability_is_five_eighths() -> None:
    problem = BargainingProblem()
    baseline = unlinked_baseline(problem)
    assert baseline.parameter == Fraction(5, 8), f"Example 3: q should be 5/8, got {baseline.parameter}"
    constraints = incentive_constraints(problem, baseline.scf)
    seller_low = _slack(constraints, 0, 0, 1)  # seller of value 0 pretending 8
    buyer_high = _slack(constraints, 1, 0, 1)  # buyer of value 10 pretending 2
    assert seller_low == 0, f"the seller's low-type constraint should bind, slack {seller_low}"
    assert buyer_high == 0, f"the buyer's high-type constraint should bind, slack {buyer_high}"
    lottery = baseline.scf(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]))
    prices = [problem.alternative_label(int(a)) for a in lottery.alternatives[:, 1]]
    assert prices[:3] == ["trade at 5", "trade at 1", "trade at 9"], (
        f"trades should be at midpoints, got {prices}"
    )
    assert np.allclose(lottery.probs[:, 1], [1, 5 / 8, 5 / 8, 0]), (
        f"unexpected trade probs {lottery.probs[:, 1]}"
    )


def test_footnote_17_reluctant_prices() -> None:
    problem = with_reluctant_prices(BargainingProblem())
    assert {2.0, 8.0} <= set(problem.prices.tolist()), (
        f"prices 2 and 8 should be offered, got {problem.prices}"
    )
    baseline = bargaining_baseline(problem, reluctant_prices=True)
    # Seller 0: (5 + 2q) / 2 truthful vs 8q / 2 pretending 8, so q <= 5/6.
    assert baseline.parameter == Fraction(5, 6), f"footnote 17's q should be 5/6, got {baseline.parameter}"
    assert baseline.parameter > unlinked_baseline(BargainingProblem()).parameter, (
        "footnote 17 should trade more"
    )  # type: ignore[operator]
    lottery = baseline.scf(np.array([[0, 1], [1, 0]]))
    prices = [problem.alternative_label(int(a)) for a in lottery.alternatives[:, 1]]
    assert prices == ["trade at 2", "trade at 8"], f"0 meets 2 at 2, 8 meets 10 at 8; got {prices}"
    explicit = BargainingProblem(extra_prices=(2, 8))
    explicit_q = bargaining_baseline(explicit, reluctant_prices=True).parameter
    assert explicit_q == Fraction(5, 6), f"extra_prices=(2, 8) should give 5/6 too, got {explicit_q}"


def test_footnote_17_without_the_prices_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="extra_prices"):
        bargaining_family(BargainingProblem(), reluctant_prices=True)


def test_example_1_majority_vote() -> None:
    problem = VotingProblem()
    baseline = voting_baseline(problem)
    assert baseline.parameter is None, "majority vote has no parameter"
    assert is_incentive_compatible(problem, baseline.scf), "majority vote should be incentive compatible"
    assert not is_incentive_compatible(problem, problem.target), "the utilitarian target should not be IC"
    disagreement = expected_disagreement(problem, baseline.scf, problem.target)
    assert disagreement == Fraction(1, 8), (
        f"majority vote should err with probability 1/8, got {disagreement}"
    )


def test_majority_vote_with_three_agents() -> None:
    problem = VotingProblem(num_agents=3)
    scf = majority_vote(problem)
    assert is_incentive_compatible(problem, scf), "majority vote with three agents should be IC"
    lottery = scf(np.array([[0, 3, 3], [0, 0, 3]]))
    assert np.allclose(lottery.dense(2)[:, 1], [1, 0]), f"two of three should win, got {lottery.dense(2)}"


def test_example_5_random_assignment() -> None:
    problem = AllocationProblem()
    baseline = allocation_baseline(problem)
    random_welfare = expected_welfare(problem, baseline.scf)
    target_welfare = expected_welfare(problem, problem.target)
    assert random_welfare == Fraction(11, 2), f"random assignment should give 5.5, got {random_welfare}"
    assert target_welfare == Fraction(31, 4), f"the target should give 7.75, got {target_welfare}"
    assert is_incentive_compatible(problem, baseline.scf), "random assignment should be IC"
    three = AllocationProblem(num_agents=3)
    welfare = expected_welfare(three, random_assignment(three))
    assert welfare == Fraction(11, 2), f"random assignment gives E[v] = 11/2 for any n, got {welfare}"


def test_unknown_problem_class_is_a_clear_error() -> None:
    problem = TabularProblem(
        utilities=[[[0, 1]], [[0, 1]]],
        type_probs=[[1], [1]],
        target=lambda announced: np.tile([0.0, 1.0], (len(announced), 1)),
    )
    with pytest.raises(TypeError, match=r"TabularProblem.*VotingProblem.*AllocationProblem"):
        unlinked_baseline(problem)


Case = tuple[FiniteProblem, Family, Callable[[], Baseline]]


def _public_goods_case(num_agents: int, cost: str, value_prob: str) -> Case:
    """A public goods problem, its family and its baseline builder."""
    problem = PublicGoodsProblem(num_agents=num_agents, cost=cost, value_prob=value_prob)
    return problem, public_goods_family(problem), lambda: public_goods_baseline(problem)


def _bargaining_case(seller: tuple[int, int], buyer: tuple[int, int], reluctant: bool) -> Case:
    """A bargaining problem (seller low value w.p. 1/3), its family and its baseline builder."""
    problem = BargainingProblem(seller_values=seller, buyer_values=buyer, seller_probs=["1/3", "2/3"])
    problem = with_reluctant_prices(problem) if reluctant else problem
    family = bargaining_family(problem, reluctant_prices=reluctant)
    return problem, family, lambda: bargaining_baseline(problem, reluctant_prices=reluctant)


CASES = [
    ("public goods n=2 c=3/4 p=2/3", lambda: _public_goods_case(2, "3/4", "2/3")),
    ("public goods n=2 c=1/2 p=1/2", lambda: _public_goods_case(2, "1/2", "1/2")),
    ("public goods n=2 c=9/10 p=1/3", lambda: _public_goods_case(2, "9/10", "1/3")),
    ("public goods n=3 c=3/4 p=2/3", lambda: _public_goods_case(3, "3/4", "2/3")),
    ("public goods n=3 c=1 p=3/4", lambda: _public_goods_case(3, "1", "3/4")),
    ("bargaining 0/8 vs 10/2", lambda: _bargaining_case((0, 8), (10, 2), False)),
    ("bargaining 0/8 vs 10/2 reluctant", lambda: _bargaining_case((0, 8), (10, 2), True)),
    ("bargaining 0/6 vs 10/4", lambda: _bargaining_case((0, 6), (10, 4), False)),
    ("bargaining 0/6 vs 10/4 reluctant", lambda: _bargaining_case((0, 6), (10, 4), True)),
    ("bargaining 1/7 vs 9/3", lambda: _bargaining_case((1, 7), (9, 3), False)),
    ("bargaining 1/7 vs 9/3 reluctant", lambda: _bargaining_case((1, 7), (9, 3), True)),
]


@pytest.mark.parametrize("make_case", [make for _, make in CASES], ids=[name for name, _ in CASES])
def test_derived_parameter_is_the_largest_incentive_compatible(make_case: Callable[[], Case]) -> None:
    problem, family, build = make_case()
    q = build().parameter
    assert q is not None and 0 <= q <= 1, f"{problem.describe()}: q should be in [0, 1], got {q}"
    slacks = [c.slack for c in incentive_constraints(problem, family(q))]
    slacks += [c.slack for c in participation_constraints(problem, family(q))]
    assert min(slacks) >= 0, (
        f"{problem.describe()}: every constraint should hold at q = {q}, min slack {min(slacks)}"
    )
    if q < 1:
        above = [c.slack for c in incentive_constraints(problem, family(q + EPSILON))]
        assert min(above) < 0, f"{problem.describe()}: q + {EPSILON} should violate an IC constraint"
