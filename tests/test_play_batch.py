"""play_batch plays the same episodes as play_episode, all at once on the batched engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from linkmech import envs
from linkmech.agents.base import make_strategy
from linkmech.evaluation.play import play_batch, play_episode


@pytest.mark.parametrize(
    ("env", "options", "spec"),
    [
        ("linked_voting_v0", {"num_problems": 8}, "approximately_truthful:lies=myopic"),
        ("linked_public_goods_v0", {"num_problems": 6, "participation": "whole"}, "approximately_truthful"),
        ("ranked_voting_v0", {}, "random"),
        ("resource_allocation_v0", {"num_agents": 3, "num_dates": 4}, "misreport"),
    ],
)
def test_play_batch_equals_play_episode_per_seed(env: str, options: dict[str, Any], spec: str) -> None:
    single = envs.make(env, **options)
    strategies = {agent: make_strategy(spec) for agent in single.possible_agents}
    seeds = [0, 5, 5, 123]
    batch = play_batch(env, strategies, seeds, **options)
    expected = np.array(
        [[play_episode(single, strategies, s).totals[a] for a in single.possible_agents] for s in seeds]
    )
    np.testing.assert_array_equal(batch.totals, expected)
    np.testing.assert_array_equal(batch.totals[1], batch.totals[2])  # same seed, same episode


def test_play_batch_names_missing_seats() -> None:
    with pytest.raises(ValueError, match=r"no strategy for \['agent_1'\]"):
        play_batch("linked_voting_v0", {"agent_0": make_strategy("random")}, [0, 1])


@pytest.mark.parametrize(
    ("env", "options", "spec"),
    [
        ("linked_voting_v0", {"num_problems": 8}, "approximately_truthful"),
        (
            "linked_voting_v0",
            {"num_problems": 8, "form": "all_at_once"},
            "approximately_truthful:lies=myopic",
        ),
        (
            "linked_public_goods_v0",
            {"num_problems": 6, "participation": "per_problem"},
            "approximately_truthful",
        ),
    ],
)
def test_act_batch_equals_every_episode_acting_alone(env: str, options: dict[str, Any], spec: str) -> None:
    from linkmech.agents.base import Seat
    from linkmech.envs.batched import batched_env

    engine = batched_env(env, 16, **options)
    observations, masks = engine.reset(seed=4)
    seat = Seat.from_env(engine.env, "agent_0")
    together = make_strategy(spec)
    episodes = together.start(seat, [np.random.default_rng(b) for b in range(16)])
    alone = [make_strategy(spec) for _ in range(16)]
    for b, strategy in enumerate(alone):
        strategy.reset(seat, np.random.default_rng(b))
    rng = np.random.default_rng(0)
    done, forced = False, 0
    while not done:
        grouped = together.act_batch(episodes, observations["agent_0"], masks["agent_0"])
        single = [y.act(observations["agent_0"][b], masks["agent_0"][b]) for b, y in enumerate(alone)]
        assert grouped.tolist() == single
        truth = observations["agent_0"][:, seat.fields[0][1]].argmax(axis=1)
        forced += int((masks["agent_0"][np.arange(16), truth] == 0).sum())
        actions = {a: np.argmax(rng.random(m.shape) * m, axis=1) for a, m in masks.items()}
        actions["agent_0"] = grouped
        observations, masks, _, done = engine.step(actions)
    assert forced > 0  # some episodes had to lie, through their own generators
