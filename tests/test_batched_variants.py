"""The batched engine of the ranked-voting and importance-vote envs equals the single env episode by episode."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from linkmech import envs
from linkmech.envs.batched import batched_env
from linkmech.envs.batched_variants import BatchedVariantEnv

SEEDS = [3, 17, 17, 123456, 9, 0]
CASES: list[tuple[str, dict[str, Any]]] = [
    ("ranked_voting_v0", {"num_problems": 5}),
    ("ranked_voting_v0", {"num_problems": 4, "num_agents": 3, "discount": 0.9, "values": "two_point"}),
    ("ranked_voting_v0", {"num_problems": 6, "form": "all_at_once"}),
    ("ranked_voting_v0", {"num_problems": 1, "num_agents": 4, "bound": 0.5}),
    ("importance_vote_v0", {}),
    ("importance_vote_v0", {"process": "repeat", "correlation": 0.5, "rule": "named_only"}),
    ("importance_vote_v0", {"process": "intensity", "correlation": -0.5}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in options.items())}" for name, options in CASES]


def _random_allowed(masks: dict[str, np.ndarray], agents: list[str], rng: np.random.Generator) -> np.ndarray:
    """``[B, n]`` uniform allowed actions from the masks."""
    columns = [[rng.choice(np.flatnonzero(row)) for row in masks[a]] for a in agents]
    return np.array(columns, dtype=np.int64).T


def _batched_run(name: str, options: dict[str, Any], seed: int) -> list[tuple[Any, ...]]:
    """Every step's (observations, masks, actions, rewards, done) of B episodes stepped with random allowed actions."""
    batched = BatchedVariantEnv(name, len(SEEDS), **options)
    obs, masks = batched.reset(SEEDS)
    rng = np.random.default_rng(seed)
    steps, done = [], False
    while not done:
        actions = _random_allowed(masks, batched.possible_agents, rng)
        next_obs, next_masks, rewards, done = batched.step(actions)
        assert rewards.shape == (len(SEEDS), len(batched.possible_agents)) and rewards.dtype == np.float64
        steps.append((obs, masks, actions, rewards, done))
        obs, masks = next_obs, next_masks
    steps.append((obs, masks, None, None, True))
    assert len(steps) - 1 == batched.num_steps
    return steps


@pytest.mark.parametrize(("name", "options"), CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_batched_episodes_equal_single_env_episodes(name: str, options: dict[str, Any], seed: int) -> None:
    steps = _batched_run(name, options, seed)
    single = envs.make(name, **options)
    for b, episode_seed in enumerate(SEEDS):
        observations, _ = single.reset(seed=episode_seed)
        for date, (obs, masks, actions, rewards, done) in enumerate(steps):
            for a in single.possible_agents:
                assert obs[a].dtype == np.float32 and masks[a].dtype == np.int8
                np.testing.assert_array_equal(
                    observations[a]["observation"], obs[a][b], err_msg=f"{b} {date} {a}"
                )
                np.testing.assert_array_equal(
                    masks[a][b], observations[a]["action_mask"], err_msg=f"{b} {date}"
                )
            if actions is None:
                assert not single.agents
                break
            step = single.step({a: int(actions[b, i]) for i, a in enumerate(single.possible_agents)})
            observations, single_rewards, terminations = step[0], step[1], step[2]
            assert [single_rewards[a] for a in single.possible_agents] == rewards[b].tolist(), (b, date)
            assert all(terminations.values()) == done


@pytest.mark.parametrize(("name", "options"), [CASES[0], CASES[2], CASES[5]], ids=[IDS[0], IDS[2], IDS[5]])
def test_rejected_actions_change_nothing(name: str, options: dict[str, Any]) -> None:
    batched = BatchedVariantEnv(name, 3, **options)
    twin = BatchedVariantEnv(name, 3, **options)
    _, masks = batched.reset([5, 6, 7])
    twin.reset([5, 6, 7])
    rng = np.random.default_rng(0)
    agents = batched.possible_agents
    if batched.num_steps > 1:  # use a rank, so that a reused rank can be sent next
        first = _random_allowed(masks, agents, rng)
        _, masks, _, _ = batched.step(first)
        twin.step(first)
    good = _random_allowed(masks, agents, rng)
    bad = good.copy()
    forbidden = np.flatnonzero(masks["agent_1"][2] == 0)
    bad[2, 1] = forbidden[0] if len(forbidden) else 12
    state_before = copy.deepcopy(batched.env.batch_state)
    for actions, message in [
        (bad, rf"episode 2: agent_1 sent action {bad[2, 1]}; .*nothing was changed"),
        (np.full_like(good, -1), r"episode 0: agent_0 sent action -1"),
        (good[:2], r"shape \(2, 2\)"),
        (good.astype(float), "dtype float64"),
        ({"agent_0": good[:, 0]}, r"missing \['agent_1'"),
        (
            {"agent_0": good[:2, 0], **{a: good[:, i] for i, a in enumerate(agents[1:], 1)}},
            r"got shape \(2,\)",
        ),
        (good.tolist(), "give a dict"),
    ]:
        with pytest.raises(ValueError, match=message):
            batched.step(actions)
    state = batched.env.batch_state
    for field in vars(state_before):
        assert np.array_equal(getattr(state, field), getattr(state_before, field)), f"{field} changed"
    done = False
    actions = good
    while not done:
        left = batched.step(actions)
        right = twin.step(actions)
        np.testing.assert_array_equal(left[2], right[2])
        for a in agents:
            np.testing.assert_array_equal(left[0][a], right[0][a])
            np.testing.assert_array_equal(left[1][a], right[1][a])
        done = left[3]
        assert done == right[3]
        if not done:
            actions = _random_allowed(left[1], agents, rng)
    with pytest.raises(ValueError, match=r"call reset\(\)"):
        batched.step(actions)


def test_reset_with_one_seed_derives_the_episode_seeds() -> None:
    batched = BatchedVariantEnv("ranked_voting_v0", 4, num_problems=3)
    obs, _ = batched.reset(11)
    assert batched.seeds == np.random.SeedSequence(11).generate_state(4, dtype=np.uint32).tolist()
    single = envs.make("ranked_voting_v0", num_problems=3)
    for b, seed in enumerate(batched.seeds):
        observations, _ = single.reset(seed=seed)
        assert all(np.array_equal(observations[a]["observation"], obs[a][b]) for a in observations)


def test_batched_env_factory_returns_the_variant_engine() -> None:
    ranked = batched_env("ranked_voting_v0", 3)
    assert isinstance(ranked, BatchedVariantEnv) and ranked.num_envs == 3 and ranked.num_steps == 8
    importance = batched_env("importance_vote_v0", 2, process="repeat", correlation=0.25)
    assert isinstance(importance, BatchedVariantEnv) and importance.num_steps == 1
    assert importance.observation_fields("agent_0") == [("values", slice(0, 2))]
    fields = ranked.observation_fields("agent_1")
    assert fields[-1][1].stop == ranked.env.observation_space("agent_1")["observation"].shape[0]


def test_bad_use_is_rejected() -> None:
    batched = BatchedVariantEnv("importance_vote_v0", 2)
    with pytest.raises(ValueError, match=r"call reset\(\)"):
        batched.step(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="num_envs"):
        BatchedVariantEnv("importance_vote_v0", 0)
    with pytest.raises(ValueError, match="BatchedLinkingEnv"):
        BatchedVariantEnv("linked_voting_v0", 2)
