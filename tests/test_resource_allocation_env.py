"""The repeated resource allocation environment: PettingZoo compliance, values, bad input, retraction."""

from __future__ import annotations

import copy

import numpy as np
import pettingzoo
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import linkmech  # noqa: F401  (registers the environments)
from linkmech.envs import resource_allocation_v0
from linkmech.mechanisms.allocation import agent_surplus

ID = "linkmech/ResourceAllocation-v0"


@pytest.mark.parametrize("mechanism", ["linked", "unlinked"])
@pytest.mark.parametrize("member", ["iid_uniform", "shift_correlated"])
def test_pettingzoo_tests(mechanism: str, member: str) -> None:
    options = {"num_agents": 3, "num_dates": 5, "mechanism": mechanism, "member": member}
    api_test(pettingzoo.make("aec", ID, **options), num_cycles=20)
    parallel_api_test(pettingzoo.make("parallel", ID, **options), num_cycles=20)
    seed_test(lambda: pettingzoo.make("aec", ID, **options), num_cycles=20)
    parallel_seed_test(lambda: pettingzoo.make("parallel", ID, **options), num_cycles=20)


def _truthful_episode(env, seed: int):
    observations, _ = env.reset(seed=seed)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    infos = {}
    while env.agents:
        actions = {a: np.array([observations[a][1]], dtype=np.float32) for a in env.agents}
        observations, rewards, _, _, infos = env.step(actions)
        for agent, reward in rewards.items():
            totals[agent] += reward
    return totals, infos


def test_unlinked_cost_over_surplus_is_n_minus_one() -> None:
    env = resource_allocation_v0.parallel_env(num_agents=4, num_dates=6, mechanism="unlinked")
    _, infos = _truthful_episode(env, seed=3)
    episode = env.episode
    surplus = agent_surplus(episode.reports, env.resource, env.project).sum()
    ratio = infos["agent_0"]["cost"] / surplus
    assert ratio == pytest.approx(3.0), f"unlinked VCG cost / surplus must be N - 1 = 3; got {ratio}"


def test_truthful_reports_get_the_efficient_allocation_and_utilities() -> None:
    env = resource_allocation_v0.parallel_env(num_agents=3, num_dates=4, mechanism="unlinked", discount=0.9)
    totals, _ = _truthful_episode(env, seed=1)
    episode = env.episode
    shares = episode.endowments / episode.endowments.sum(axis=1, keepdims=True)
    assert np.allclose(episode.allocations, shares * env.resource, atol=1e-5), "allocation = endowment shares"
    transfers = env.transfers()
    surplus = agent_surplus(episode.endowments, env.resource, env.project, 0.9)
    expected = surplus + transfers * 0.9**3
    assert np.allclose([totals[a] for a in env.possible_agents], expected, rtol=1e-5), (
        "rewards = surplus + transfer"
    )


def test_linked_transfers_are_nonnegative_and_below_unlinked() -> None:
    env = resource_allocation_v0.parallel_env(num_agents=4, num_dates=8, mechanism="linked")
    for seed in range(5):
        _truthful_episode(env, seed)
        linked = env.transfers()
        unlinked = resource_allocation_v0.unlinked_vcg_transfers(
            env.episode.retracted, env.resource, env.project
        )
        assert (linked >= -1e-9).all(), f"seed {seed}: linked transfers {linked} must be >= 0"
        assert (linked <= unlinked + 1e-9).all(), (
            f"seed {seed}: linked {linked} must not exceed unlinked {unlinked}"
        )


def test_reports_outside_omega_star_are_retracted() -> None:
    env = resource_allocation_v0.parallel_env(num_agents=3, num_dates=6, mechanism="linked")
    observations, _ = env.reset(seed=0)
    upper = env.omega_star.centers[0] * env.num_dates * 10
    actions = {a: np.array([observations[a][1]], dtype=np.float32) for a in env.agents}
    actions["agent_0"] = np.array([upper], dtype=np.float32)
    _, _, _, _, infos = env.step(actions)
    assert infos["agent_0"]["retracted"], "a report that cannot be continued inside Omega*0 must be retracted"
    assert not infos["agent_1"]["retracted"], "truthful agents are not retracted"
    assert env.episode.retracted[0, 0] < upper, "the mechanism must use the retracted value"


@pytest.mark.parametrize(
    "bad", [-1.0, float("nan"), float("inf"), np.array([1.0, 2.0]), True, "2", None], ids=repr
)
def test_bad_reports_are_rejected_and_change_nothing(bad) -> None:
    env = resource_allocation_v0.parallel_env(num_agents=3, num_dates=4)
    observations, _ = env.reset(seed=2)
    before = copy.deepcopy(env.episode)
    actions = {a: np.array([observations[a][1]], dtype=np.float32) for a in env.agents}
    actions["agent_1"] = bad
    with pytest.raises(ValueError, match="agent_1 reported"):
        env.step(actions)
    for field in ("reports", "retracted", "allocations", "utilities", "frozen"):
        assert np.array_equal(getattr(env.episode, field), getattr(before, field)), f"{field} changed"
    assert env.episode.date == before.date, "a rejected step must not advance the date"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_agents": 1}, "num_agents: got 1"),
        ({"num_dates": 1}, "num_dates: got 1"),
        ({"mechanism": "vcg"}, "mechanism: got 'vcg'"),
        ({"member": "gaussian"}, "member: got 'gaussian'"),
        ({"project": "sqrt"}, "project: got 'sqrt'"),
        ({"resource": -2.0}, "resource: got -2.0"),
        ({"discount": 0.0}, "discount: got 0.0"),
    ],
)
def test_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resource_allocation_v0.parallel_env(**kwargs)


def test_same_seed_same_episode() -> None:
    first = resource_allocation_v0.parallel_env(num_agents=3, num_dates=5)
    second = resource_allocation_v0.parallel_env(num_agents=3, num_dates=5)
    a, _ = _truthful_episode(first, seed=9)
    b, _ = _truthful_episode(second, seed=9)
    assert a == b, "the same seed must give the same episode"


def test_vcg_rtol_option_is_checked_and_used() -> None:
    import linkmech.envs as lenvs
    from linkmech.envs.batched_allocation import BatchedAllocationEnv

    for bad in (0, 1.5, "tight", True):
        with pytest.raises(ValueError, match="vcg_rtol: got"):
            lenvs.make("resource_allocation_v0", vcg_rtol=bad)
    transfers = []
    for rtol in (1e-10, 1e-4):
        batched = BatchedAllocationEnv("resource_allocation_v0", 4, num_agents=3, num_dates=6, vcg_rtol=rtol)
        assert batched.env.vcg_rtol == rtol
        batched.reset(0)
        done = False
        while not done:
            state = batched.env.batch_state
            _, _, _, done = batched.step(state.endowments[:, state.date])
        transfers.append(batched.transfers)
    assert np.allclose(transfers[0], transfers[1], atol=1e-3)
