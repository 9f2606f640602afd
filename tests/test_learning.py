"""The learned-agent measurements (docs/learning.md) on small instances, and Theorem 1's shrinking gain."""

from __future__ import annotations

import linkmech
from linkmech.evaluation.learning import (
    coalition_rows,
    exploitability_rows,
    ppo_settings_for,
    statistical_learner_rows,
)
from linkmech.training.best_response import exact_best_response


def test_exact_gain_per_problem_shrinks_with_k_in_linked_voting() -> None:
    """Theorem 1 (3): approximate truth's exploitability per problem vanishes; exact DP, K = 8, 16, 32."""
    gains = [
        exact_best_response(
            linkmech.make("linked_voting_v0", num_problems=k), keep_policy=False
        ).gain_per_problem
        for k in (8, 16, 32)
    ]
    assert gains[0] > gains[1] > gains[2] > 0


def test_exploitability_rows_put_exact_and_ppo_side_by_side() -> None:
    rows = exploitability_rows("linked_voting_v0", {}, [2, 4], eval_episodes=30, steps=lambda k: 2560)
    assert [r["K"] for r in rows] == [2, 4]
    assert rows[0]["method"] == "exact"
    assert abs(rows[0]["gain / problem"] - 5 / 128) < 1e-12  # exact: best 3/64 - approximate truth 1/128
    assert abs(rows[1]["gain / problem"] - 17 / 256) < 1e-12
    assert all("+-" in r["PPO gain / problem"] and r["PPO steps"] == 2560 for r in rows)
    big = exploitability_rows("linked_voting_v0", {}, [8], ppo=False, max_states=10)
    assert big[0]["method"] == "history_free" and big[0]["gain / problem"] <= 0.0609  # lower bound


def test_ppo_budget_grows_with_k() -> None:
    assert ppo_settings_for(2) == {
        "total_steps": 125_000,
        "num_envs": 64,
        "rollout_steps": 40,
        "minibatches": 8,
    }
    assert ppo_settings_for(64)["rollout_steps"] == 128  # two whole episodes per rollout


def test_coalition_and_statistical_rows_small() -> None:
    rows = coalition_rows(
        3, 4, ["agent_1", "agent_2"], forms=("over_time",), total_steps=320, eval_episodes=10
    )
    assert [(r["form"], r["policing"]) for r in rows] == [("over_time", False), ("over_time", True)]
    stats = statistical_learner_rows(2, 3, total_steps=192, eval_episodes=6)
    assert [r["mechanism"] for r in stats] == ["unlinked", "linked"]
    assert all(r["epsilon"] == 0.1 for r in stats)
