"""Collusion policing as an env option: PettingZoo compliance, records in infos, and Example 4."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import linkmech
from linkmech.agents import ApproximatelyTruthful
from linkmech.agents.coalition import example4_profile
from linkmech.evaluation.play import play_episode
from linkmech.mechanisms.policing import PolicingConfig

CASES = [
    ("linkmech/LinkedPublicGoods-v0", {"num_agents": 3}),
    ("linkmech/LinkedVoting-v0", {"num_agents": 3}),
    ("linkmech/LinkedAllocation-v0", {"num_agents": 3}),
]


@pytest.mark.parametrize("form", ["over_time", "all_at_once"])
@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=[c[0].split("/")[1] for c in CASES])
def test_policed_envs_pass_pettingzoo_tests(env_id: str, kwargs: dict, form: str) -> None:
    options = {**kwargs, "num_problems": 8, "form": form, "policing": True}
    api_test(pettingzoo.make("aec", env_id, **options), num_cycles=30)
    parallel_api_test(pettingzoo.make("parallel", env_id, **options), num_cycles=30)
    seed_test(lambda: pettingzoo.make("aec", env_id, **options), num_cycles=30)
    parallel_seed_test(lambda: pettingzoo.make("parallel", env_id, **options), num_cycles=30)


def test_policing_needs_three_agents() -> None:
    with pytest.raises(ValueError, match="needs n >= 3 agents"):
        linkmech.make("linked_voting_v0", num_problems=4, policing=True)
    with pytest.raises(ValueError, match="policing: got 'yes'"):
        linkmech.make("linked_voting_v0", num_agents=3, num_problems=4, policing="yes")


def _example4_run(form: str, policing: bool, seed: int, k: int = 60):
    env = linkmech.make(
        "linked_public_goods_v0", num_agents=7, num_problems=k, form=form, policing=policing, mixing=False
    )
    result = play_episode(env, example4_profile(7, k), seed=seed, keep_infos=True)
    return env, result


def test_example4_without_policing_builds_eight_ninths() -> None:
    env, _ = _example4_run("over_time", False, seed=0, k=63)
    built = (env.state_.decisions[0] != 0).mean()
    # Members announce 1 on the first 42 problems: those are built. On the last 21 only agent 0 can announce 1,
    # and it does on its remaining true-1 problems; since agent 0 is approximately truthful, a last-third
    # problem is built iff its budget of 1s lasts: about 2/3 of the last third.
    assert 0.8 < built < 0.97, f"built fraction {built} should be near 8/9"
    assert not env.state_.policed.any(), "no policing was configured"


@pytest.mark.parametrize("form", ["over_time", "all_at_once"])
def test_example4_is_detected_and_recorded(form: str) -> None:
    env, result = _example4_run(form, True, seed=1)
    state = env.state_
    assert state.flag_log[0], f"{form}: the coalition must be flagged"
    flagged_members = {j for flag in state.flag_log[0] for j in flag.coalition}
    assert flagged_members <= set(range(1, 7)), (
        f"{form}: only colluders may be flagged, got {flagged_members}"
    )
    assert state.policed[0, :, 1:].any(), f"{form}: some colluder announcements must be made by the mechanism"
    final = result.infos[-1]["agent_1"]
    if form == "over_time":
        recorded = [info["agent_1"]["flags"] for info in result.infos if info["agent_1"]["flags"]]
        assert recorded, "over time, infos must record the flags at the dates they were raised"
        assert all(flag["date"] is not None for flags in recorded for flag in flags), "flags carry their date"
    else:
        assert final["flags"], "all at once, the final infos must list the flags acted on"
    assert (state.remaining == 0).all(), f"{form}: budgets must be exactly spent even with replacements"


def test_truthful_agents_are_rarely_policed_all_at_once() -> None:
    env = linkmech.make(
        "linked_public_goods_v0", num_agents=5, num_problems=60, form="all_at_once", policing=True
    )
    strategies = {a: ApproximatelyTruthful() for a in env.possible_agents}
    flagged = 0
    for seed in range(20):
        play_episode(env, strategies, seed=seed)
        flagged += bool(env.state_.flag_log[0])
    assert flagged <= 2, f"approximately truthful agents flagged in {flagged} of 20 episodes"


def test_policing_config_is_used() -> None:
    config = PolicingConfig(max_coalition_size=1, time_scale=3.0)
    env = linkmech.make("linked_voting_v0", num_agents=3, num_problems=6, policing=config)
    assert env.mechanism.policing is config, "a PolicingConfig passed as the option must be used as given"


def test_same_seed_same_policed_episode() -> None:
    first_env, first = _example4_run("over_time", True, seed=3)
    second_env, second = _example4_run("over_time", True, seed=3)
    assert first.totals == second.totals, "policing randomness must come only from the episode's generator"
    assert np.array_equal(first_env.state_.announced, second_env.state_.announced), "announcements differ"
