"""Finite problems: validation errors for people, and the catalogue's targets on hand-worked profiles."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from linkmech.mechanisms import (
    AllocationProblem,
    BargainingProblem,
    Lottery,
    PublicGoodsProblem,
    TabularProblem,
    VotingProblem,
    tabular_voting,
)


def _coin(announced: np.ndarray) -> np.ndarray:
    return np.full((len(announced), 2), 0.5)


TABLE = [[[0, 1], [1, 0]], [[0, 1], [1, 0]]]


def test_user_problem_in_a_few_lines() -> None:
    problem = TabularProblem(utilities=TABLE, type_probs=[["1/3", "2/3"], [0.5, 0.5]], target=_coin)
    assert problem.exact_type_probs[0] == (Fraction(1, 3), Fraction(2, 3)), "'1/3' strings read exactly"
    assert problem.num_agents == 2 and problem.num_alternatives == 2
    types = np.array([[0, 1]])
    assert problem.expected_utility(types, problem.target(types)).tolist() == [[0.5, 0.5]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"type_probs": [[0.5, 0.6], [0.5, 0.5]]},
            r"type_probs\[0\] \(agent 0\): probabilities \[0.5, 0.6\] sum to 1.1",
        ),
        ({"type_probs": [[1.5, -0.5], [0.5, 0.5]]}, r"entries \[1\] are negative"),
        ({"type_probs": [[float("nan"), 1.0], [0.5, 0.5]]}, "only finite numbers are allowed"),
        ({"type_probs": [[0.5, 0.5]], "utilities": TABLE[:1]}, "a decision problem needs n >= 2 agents"),
        ({"utilities": [[[0, 1], [1, 0]], [[0, 1, 2], [1, 0, 2]]]}, r"utilities\[1\]: got shape \(2, 3\)"),
        ({"utilities": [[[0, 1]], [[0, 1], [1, 0]]]}, r"utilities\[0\]: got shape \(1, 2\)"),
        ({"utilities": [[[0, float("nan")], [1, 0]], [[0, 1], [1, 0]]]}, "contains NaN"),
        ({"target": lambda a: np.full((len(a), 2), 0.7)}, "summing to 1.4"),
        ({"target": lambda a: np.tile([1.5, -0.5], (len(a), 1))}, "negative probability"),
        ({"target": lambda a: np.full((len(a), 2), np.nan)}, "NaN or infinite probabilities"),
        ({"target": lambda a: np.full((len(a), 3), 1 / 3)}, r"returned shape \(4, 3\); expected \(4, 2\)"),
        ({"status_quo": 5}, "status_quo: got 5"),
    ],
)
def test_malformed_problems_are_rejected(kwargs: dict, message: str) -> None:
    arguments = {"utilities": TABLE, "type_probs": [[0.5, 0.5], [0.5, 0.5]], "target": _coin, **kwargs}
    with pytest.raises(ValueError, match=message):
        TabularProblem(**arguments)


def test_catalogue_argument_errors() -> None:
    with pytest.raises(ValueError, match="num_agents: got 1"):
        VotingProblem(num_agents=1)
    with pytest.raises(TypeError, match="num_agents: got 2.5"):
        AllocationProblem(num_agents=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cost: got"):
        PublicGoodsProblem(cost=0)
    with pytest.raises(ValueError, match="strictly prefer"):
        VotingProblem(values=(-1, 0, 1))


def test_announced_out_of_range_names_agent() -> None:
    with pytest.raises(ValueError, match=r"agent_1 announced type 7; allowed type indices are 0..3"):
        VotingProblem().check_announced(np.array([[0, 7]]))


def test_tabular_voting_equals_voting_problem() -> None:
    voting, tabular = VotingProblem(), tabular_voting()
    profiles = voting.all_profiles()
    assert np.array_equal(voting.target(profiles).dense(2), tabular.target(profiles).dense(2)), (
        "targets differ"
    )
    for alternative in (0, 1):
        column = np.full((len(profiles), 1), alternative)
        assert np.array_equal(voting.utility(profiles, column), tabular.utility(profiles, column)), (
            "utilities differ"
        )


def test_voting_target_table() -> None:
    # Example 1's target table: rows agent 1's value, columns agent 2's, entries P(b).
    voting = VotingProblem()
    values = [2, 1, -1, -2]
    expected = [[1, 1, 1, 0.5], [1, 1, 0.5, 0], [1, 0.5, 0, 0], [0.5, 0, 0, 0]]
    index = {v: i for i, v in enumerate(voting.type_values[0].tolist())}
    for r, v1 in enumerate(values):
        for c, v2 in enumerate(values):
            prob_b = voting.target(np.array([[index[v1], index[v2]]])).dense(2)[0, 1]
            assert prob_b == expected[r][c], f"P(b) at ({v1}, {v2}): got {prob_b}, expected {expected[r][c]}"


def test_public_goods_cost_shares() -> None:
    goods = PublicGoodsProblem(num_agents=3)
    profiles = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0], [1, 1, 1]])
    lottery = goods.target(profiles)
    assert lottery.alternatives[:, 0].tolist() == [0b011, 0, 0b010, 0b111], "payer masks"
    utilities = goods.expected_utility(profiles, lottery)
    assert np.allclose(utilities[0], [1 - 3 / 8, 1 - 3 / 8, 0]), "two valuers share 3/4; a 0-type free rides"
    assert np.allclose(utilities[2], [0, 1 - 3 / 4, 0]), "a lone valuer pays the whole cost"
    assert np.allclose(utilities[3], [0.75, 0.75, 0.75]), "three share 3/4"
    shares = -goods.utility(np.zeros((1, 3), dtype=np.int64), np.array([[0b011]]))[0, 0]
    assert (shares <= np.array([1, 1, 0]) + 1e-12).all(), "a share never exceeds the payer's value 1"
    assert goods.alternative_label(0b101) == "built, paid by {0,2}"


def test_public_goods_larger_cost_needs_enough_valuers() -> None:
    goods = PublicGoodsProblem(num_agents=3, cost=Fraction(3, 2))
    lottery = goods.target(np.array([[1, 0, 0], [1, 1, 0]]))
    assert lottery.alternatives[:, 0].tolist() == [0, 0b011], "cost 3/2 needs two valuers; each then pays 3/4"


def test_bargaining_midpoints() -> None:
    bargaining = BargainingProblem()
    profiles = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])  # (0,10), (0,2), (8,10), (8,2)
    lottery = bargaining.target(profiles)
    labels = [bargaining.alternative_label(int(a)) for a in lottery.alternatives[:, 0]]
    assert labels == ["trade at 5", "trade at 1", "trade at 9", "no trade"], f"Example 3's target: {labels}"
    utilities = bargaining.expected_utility(profiles, lottery)
    assert utilities.tolist() == [[5, 5], [1, 1], [1, 1], [0, 0]], "the surplus is split equally"


def test_allocation_ties_split() -> None:
    allocation = AllocationProblem(num_agents=3)
    lottery = allocation.target(np.array([[1, 1, 0], [0, 0, 0]]))
    assert np.allclose(lottery.dense(4), [[0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]]), "ties are uniform"


def test_lottery_sampling_inverts_cdf() -> None:
    lottery = Lottery(alternatives=np.array([[3, 5, 7]] * 4), probs=np.array([[0.25, 0.5, 0.25]] * 4))
    drawn = lottery.sample(np.array([0.0, 0.24, 0.25, 0.99]))
    assert drawn.tolist() == [3, 3, 5, 7], f"inverse CDF: got {drawn.tolist()}"


def test_status_quo_required_for_participation_helpers() -> None:
    problem = TabularProblem(utilities=TABLE, type_probs=[[0.5, 0.5], [0.5, 0.5]], target=_coin)
    with pytest.raises(ValueError, match="has no status quo"):
        problem.status_quo_utility(np.array([[0, 0]]))
