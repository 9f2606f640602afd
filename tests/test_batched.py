"""The batched engine equals the single PettingZoo env episode by episode (same seeds, same actions)."""

from __future__ import annotations

import numpy as np
import pytest

from linkmech import envs
from linkmech.envs.batched import BatchedLinkingEnv

CASES = [
    ("linked_voting_v0", {"num_problems": 8}),
    ("linked_voting_v0", {"num_problems": 6, "form": "all_at_once"}),
    ("linked_voting_v0", {"num_problems": 5, "budget": "intensity", "discount": 0.9}),
    ("linked_public_goods_v0", {"num_agents": 3, "num_problems": 30, "policing": True}),
    ("linked_bargaining_v0", {"num_problems": 6, "participation": "per_problem"}),
    ("linked_allocation_v0", {"num_problems": 4, "participation": "whole", "form": "all_at_once"}),
]


def _policy(vector: np.ndarray, mask: np.ndarray, step: int) -> int:
    """A deterministic rule of (observation, mask): an allowed action chosen from the observation's content."""
    allowed = np.flatnonzero(mask)
    return int(allowed[(int(vector.sum() * 1000) + step) % len(allowed)])


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_batched_episodes_equal_single_env_episodes(name: str, options: dict) -> None:
    seeds = [3, 17, 17, 123456, 9]
    batched = BatchedLinkingEnv(name, len(seeds), **options)
    obs, masks = batched.reset(seeds)
    rewards_b, observations_b = [], []
    step, done = 0, False
    while not done:
        actions = {
            a: np.array([_policy(obs[a][b], masks[a][b], step) for b in range(len(seeds))]) for a in obs
        }
        observations_b.append({a: obs[a].copy() for a in obs})
        obs, masks, rewards, done = batched.step(actions)
        rewards_b.append(rewards)
        step += 1
    assert step == batched.num_steps
    single = envs.make(name, **options)
    for b, seed in enumerate(seeds):
        observations, _ = single.reset(seed=seed)
        k = 0
        while single.agents:
            for a in single.possible_agents:
                assert np.array_equal(observations[a]["observation"], observations_b[k][a][b])
            actions = {
                a: _policy(observations[a]["observation"], observations[a]["action_mask"], k)
                for a in single.agents
            }
            observations, rewards, _, _, _ = single.step(actions)
            assert [rewards[a] for a in single.possible_agents] == pytest.approx(rewards_b[k][b].tolist())
            k += 1
        for field in ("types", "announced", "used", "decisions", "utilities", "policed"):
            assert np.array_equal(getattr(single.state_, field)[0], getattr(batched.env.state_, field)[b]), (
                field
            )


def test_rejected_batched_step_changes_nothing() -> None:
    batched = BatchedLinkingEnv("linked_voting_v0", 3, num_problems=4)
    obs, _ = batched.reset(0)
    before = batched.env.state_.remaining.copy()
    bad = {a: np.zeros(3, dtype=np.int64) for a in obs}
    bad["agent_1"][2] = 7
    with pytest.raises(ValueError, match=r"episode 2: agent_1 sent action 7; its mask allows \[0, 1, 2, 3\]"):
        batched.step(bad)
    assert np.array_equal(batched.env.state_.remaining, before) and batched.env.state_.date == 0
    with pytest.raises(ValueError, match="shape"):
        batched.step(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="seeds for 3 episodes"):
        batched.reset([1, 2])
    with pytest.raises(ValueError, match="linking environments"):
        BatchedLinkingEnv("resource_allocation_v0", 2)
