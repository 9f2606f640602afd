"""The batched resource allocation engine equals the single PettingZoo env episode by episode."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from linkmech.envs import resource_allocation_v0
from linkmech.envs.batched_allocation import BatchedAllocationEnv

SEEDS = [3, 17, 17, 123456, 9]
CASES = [
    (mechanism, member, scheme)
    for mechanism in ("linked", "unlinked")
    for member in ("iid_uniform", "shift_correlated")
    for scheme in ("truthful", "inflate")
]


def _factors(scheme: str, num_agents: int) -> np.ndarray:
    """Report = factor x endowment: 1 for everyone, or 3 for agent_0 (leaves Omega*: the retraction acts)."""
    factors = np.ones(num_agents, dtype=np.float32)
    if scheme == "inflate":
        factors[0] = 3.0
    return factors


def _batched_run(options: dict, scheme: str) -> tuple[list, list, np.ndarray, np.ndarray]:
    batched = BatchedAllocationEnv("resource_allocation_v0", len(SEEDS), **options)
    obs, masks = batched.reset(SEEDS)
    assert all(m.shape == (len(SEEDS), 0) and m.dtype == np.int8 for m in masks.values())
    n = len(batched.possible_agents)
    observations, rewards_per_step, done, date = [obs], [], False, 0
    while not done:
        factors = _factors(scheme, n)
        actions = {a: obs[a][:, 1] * factors[i] for i, a in enumerate(batched.possible_agents)}
        obs, _, rewards, done = batched.step(actions)
        observations.append(obs)
        rewards_per_step.append(rewards)
        date += 1
    assert date == batched.num_steps
    assert batched.transfers is not None
    return observations, rewards_per_step, batched.transfers, batched.env.batch_state.frozen


@pytest.mark.parametrize(("mechanism", "member", "scheme"), CASES, ids=["-".join(c) for c in CASES])
def test_batched_episodes_equal_single_env_episodes(mechanism: str, member: str, scheme: str) -> None:
    options = {"num_agents": 3, "num_dates": 5, "mechanism": mechanism, "member": member, "discount": 0.9}
    observations_b, rewards_b, transfers_b, frozen_b = _batched_run(options, scheme)
    if scheme == "inflate" and mechanism == "linked":
        assert frozen_b[:, 0].any(), "reports of 3 x endowment must trigger the retraction in some episode"
    single = resource_allocation_v0.parallel_env(**options)
    for b, seed in enumerate(SEEDS):
        observations, _ = single.reset(seed=seed)
        date = 0
        while single.agents:
            for a in single.possible_agents:
                assert np.array_equal(observations[a], observations_b[date][a][b]), (b, date, a)
            factors = _factors(scheme, 3)
            actions = {
                a: np.array([observations[a][1] * factors[i]], dtype=np.float32)
                for i, a in enumerate(single.possible_agents)
            }
            observations, rewards, _, _, _ = single.step(actions)
            np.testing.assert_allclose(
                [rewards[a] for a in single.possible_agents], rewards_b[date][b], rtol=1e-12, atol=1e-12
            )
            date += 1
        for a in single.possible_agents:
            assert np.array_equal(observations[a], observations_b[date][a][b]), (b, "final", a)
        np.testing.assert_allclose(single.transfers(), transfers_b[b], rtol=1e-12, atol=1e-12)
        assert np.array_equal(single.episode.frozen, frozen_b[b])


def _good_reports(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {a: obs[a][:, 1].astype(np.float64) for a in obs}


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")], ids=repr)
def test_rejected_report_changes_nothing(bad: float) -> None:
    batched = BatchedAllocationEnv("resource_allocation_v0", 3, num_agents=3, num_dates=4)
    twin = BatchedAllocationEnv("resource_allocation_v0", 3, num_agents=3, num_dates=4)
    obs, _ = batched.reset([5, 6, 7])
    twin_obs, _ = twin.reset([5, 6, 7])
    obs, _, _, _ = batched.step(_good_reports(obs))
    twin_obs, _, _, _ = twin.step(_good_reports(twin_obs))
    before = copy.deepcopy(batched.env.batch_state)
    actions = _good_reports(obs)
    actions["agent_1"][2] = bad
    with pytest.raises(ValueError, match=f"episode 2: agent_1 reported {bad!r}; reports must be finite"):
        batched.step(actions)
    state = batched.env.batch_state
    for field in ("endowments", "reports", "retracted", "allocations", "utilities", "frozen"):
        assert np.array_equal(getattr(state, field), getattr(before, field)), f"{field} changed"
    assert state.date == before.date, "a rejected step must not advance the date"
    done = False
    while not done:
        obs, _, rewards, done = batched.step(_good_reports(obs))
        twin_obs, _, twin_rewards, _ = twin.step(_good_reports(twin_obs))
        assert np.array_equal(rewards, twin_rewards)
        for a in obs:
            assert np.array_equal(obs[a], twin_obs[a])
    assert np.array_equal(batched.transfers, twin.transfers)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros((2, 3)), r"shape \(2, 3\)"),
        (np.zeros((3, 3), dtype=bool), "dtype bool"),
        (np.array([["1"] * 3] * 3), "dtype <U1"),
        ({"agent_0": np.zeros(3), "agent_1": np.zeros(3)}, r"missing \['agent_2'\]"),
        ({f"agent_{i}": np.zeros(2) for i in range(3)}, r"actions\['agent_0'\]: got shape \(2,\)"),
        ([[1.0] * 3] * 3, "give a dict"),
    ],
    ids=["rows", "bool", "str", "missing", "length", "list"],
)
def test_malformed_actions_are_rejected(actions, message: str) -> None:
    batched = BatchedAllocationEnv("resource_allocation_v0", 3, num_agents=3, num_dates=4)
    batched.reset(0)
    before = copy.deepcopy(batched.env.batch_state)
    with pytest.raises(ValueError, match=message):
        batched.step(actions)
    assert (
        np.array_equal(batched.env.batch_state.reports, before.reports) and batched.env.batch_state.date == 0
    )


def test_reset_with_one_seed_is_deterministic_and_derives_episode_seeds() -> None:
    first = BatchedAllocationEnv("resource_allocation_v0", 4, num_agents=3, num_dates=4)
    second = BatchedAllocationEnv("resource_allocation_v0", 4, num_agents=3, num_dates=4)
    obs_first, _ = first.reset(11)
    obs_second, _ = second.reset(11)
    for a in obs_first:
        assert np.array_equal(obs_first[a], obs_second[a])
    expected = np.random.SeedSequence(11).generate_state(4, dtype=np.uint32).tolist()
    assert first.seeds == expected
    single = resource_allocation_v0.parallel_env(num_agents=3, num_dates=4)
    for b, seed in enumerate(first.seeds):
        observations, _ = single.reset(seed=seed)
        assert all(np.array_equal(observations[a], obs_first[a][b]) for a in observations)
    assert not np.array_equal(first.env.batch_state.endowments[0], first.env.batch_state.endowments[1])


def test_bad_use_is_rejected() -> None:
    batched = BatchedAllocationEnv("resource_allocation_v0", 2, num_agents=2, num_dates=2)
    with pytest.raises(ValueError, match="call reset"):
        batched.step(np.ones((2, 2)))
    with pytest.raises(ValueError, match="seeds for 2 episodes"):
        batched.reset([1, 2, 3])
    obs, _ = batched.reset([1, 2])
    done = False
    while not done:
        obs, _, _, done = batched.step(_good_reports(obs))
    with pytest.raises(ValueError, match="call reset"):
        batched.step(np.ones((2, 2)))
    with pytest.raises(ValueError, match="BatchedLinkingEnv"):
        BatchedAllocationEnv("linked_voting_v0", 2)
    with pytest.raises(ValueError, match="num_envs: got 0"):
        BatchedAllocationEnv("resource_allocation_v0", 0)


def test_an_env_instance_is_used_with_its_options() -> None:
    env = resource_allocation_v0.parallel_env(num_agents=4, num_dates=3, mechanism="unlinked")
    batched = BatchedAllocationEnv(env, 2)
    obs, _ = batched.reset([0, 1])
    assert batched.env is env and batched.num_steps == 3 and obs["agent_3"].shape == (2, 2 + 2 * 3 + 3 * 4)
    assert batched.observation_fields("agent_0") == env.observation_fields("agent_0")
    assert batched.action_space("agent_0") is env.action_space("agent_0")


def test_own_allocations_view_shows_the_agents_column_of_the_full_view() -> None:
    options = {"num_agents": 3, "num_dates": 4}
    full = BatchedAllocationEnv("resource_allocation_v0", 2, **options)
    own = BatchedAllocationEnv("resource_allocation_v0", 2, allocations="own", **options)
    full_obs, _ = full.reset([7, 8])
    own_obs, _ = own.reset([7, 8])
    fields_full, fields_own = (
        dict(full.observation_fields("agent_0")),
        dict(own.observation_fields("agent_0")),
    )
    assert own_obs["agent_0"].shape == (2, 2 + 3 * 4) and full_obs["agent_0"].shape == (2, 2 + 2 * 4 + 4 * 3)
    done = False
    while not done:
        reports = np.stack([full_obs[a][:, 1] for a in full.possible_agents], axis=1).astype(np.float64)
        full_obs, _, rewards_full, done = full.step(reports)
        own_obs, _, rewards_own, _ = own.step(reports)
        np.testing.assert_array_equal(rewards_full, rewards_own)  # the view changes nothing else
        for i, agent in enumerate(full.possible_agents):
            table = full_obs[agent][:, fields_full["allocations"]].reshape(2, 4, 3)
            np.testing.assert_array_equal(own_obs[agent][:, fields_own["own_allocations"]], table[:, :, i])
            shared = fields_full["own_reports"]
            np.testing.assert_array_equal(own_obs[agent][:, : shared.stop], full_obs[agent][:, : shared.stop])
    single = resource_allocation_v0.parallel_env(allocations="own", **options)
    observation, _ = single.reset(seed=7)
    assert single.observation_space("agent_0").contains(observation["agent_0"])
    with pytest.raises(ValueError, match="allocations: got 'mine'"):
        resource_allocation_v0.parallel_env(allocations="mine")
