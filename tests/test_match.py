"""Tournament matches: the per-seat measures on hand-checkable cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from linkmech.evaluation.match import ROW_FIELDS, MatchSpec, episode_seed, play_match
from linkmech.mechanisms.problem import Lottery, lottery_distance


def test_lottery_distance_by_hand() -> None:
    first = Lottery(
        alternatives=np.array([[0, 1], [2, 2], [0, 1]]), probs=np.array([[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]])
    )
    second = Lottery(alternatives=np.array([[1], [2], [1]]), probs=np.array([[1.0], [1.0], [1.0]]))
    assert lottery_distance(first, second).tolist() == [0.5, 0.0, 1.0]
    with pytest.raises(ValueError, match="batches"):
        lottery_distance(first, Lottery(alternatives=np.array([[1]]), probs=np.array([[1.0]])))


def _spec(
    profile: dict[str, str], options: dict[str, object], env: str = "linked_voting_v0", episodes: int = 3
) -> MatchSpec:
    return MatchSpec(7, env, tuple(sorted(options.items())), tuple(profile.items()), 1, 99, episodes)


def test_truth_without_budget_has_no_errors_and_no_lies() -> None:
    rows = play_match(
        _spec({"agent_0": "truthful", "agent_1": "truthful"}, {"num_problems": 6, "budget": "none"})
    )
    assert [r["seat"] for r in rows] == ["agent_0", "agent_1"]
    assert all(list(r) == list(ROW_FIELDS) for r in rows)
    for row in rows:
        assert row["error_rate"] == 0.0 and row["lie_fraction"] == 0.0 and row["flags"] == 0.0
        assert np.isnan(row["cost_over_surplus"])
        assert json.loads(row["profile"]) == {"agent_0": "truthful", "agent_1": "truthful"}
        assert row["welfare_per_problem"] == pytest.approx(rows[0]["welfare_per_problem"])
        assert row["match_id"] == 7 and row["repetition"] == 1 and row["episodes"] == 3


def test_front_loading_lies_and_the_measures_are_consistent() -> None:
    rows = play_match(
        _spec({"agent_0": "front_loading", "agent_1": "approximately_truthful"}, {"num_problems": 8})
    )
    front, truth = rows
    assert front["lie_fraction"] > truth["lie_fraction"]
    assert front["error_rate"] == truth["error_rate"] > 0  # one decision per problem, shared by the seats
    assert front["welfare_per_problem"] == pytest.approx(
        front["utility_per_problem"] + truth["utility_per_problem"]
    )
    assert front["first_best_welfare_per_problem"] == pytest.approx(
        front["target_utility_per_problem"] + truth["target_utility_per_problem"]
    )


def test_resource_allocation_truth_reaches_its_targets() -> None:
    profile = {"agent_0": "truthful_report", "agent_1": "truthful_report"}
    rows = play_match(
        _spec(profile, {"num_agents": 2, "num_dates": 3}, env="resource_allocation_v0", episodes=2)
    )
    for row in rows:
        assert row["lie_fraction"] == 0.0
        assert row["utility_per_problem"] == pytest.approx(row["target_utility_per_problem"], rel=1e-6)
        assert row["welfare_per_problem"] == pytest.approx(row["first_best_welfare_per_problem"])
        assert 0 < row["cost_over_surplus"] < 1


def test_matches_are_reproducible_and_seeded_per_episode() -> None:
    spec = _spec({"agent_0": "random", "agent_1": "approximately_truthful"}, {"num_problems": 6})
    assert json.dumps(play_match(spec)) == json.dumps(play_match(spec))  # NaN-safe comparison
    assert episode_seed(99, 0) != episode_seed(99, 1)
    assert MatchSpec.from_dict(json.loads(json.dumps(spec.as_dict()))) == spec
    with pytest.raises(ValueError, match="profile seats"):
        play_match(_spec({"agent_0": "random"}, {"num_problems": 4}))
