"""Reporting strategies in the resource allocation env: truthful, reasonable (Definition 1), misreporting."""

from __future__ import annotations

import numpy as np
import pytest

import linkmech
from linkmech.agents import make_strategy
from linkmech.agents.base import Seat
from linkmech.evaluation.play import play_episode
from linkmech.mechanisms.omega_star import OmegaStar


def _profile(env, spec: str) -> dict:
    strategies = {a: make_strategy("truthful_report") for a in env.possible_agents}
    strategies["agent_0"] = make_strategy(spec)
    return strategies


def test_truthful_reports_equal_endowments() -> None:
    env = linkmech.make("resource_allocation_v0", num_agents=3, num_dates=5)
    play_episode(env, _profile(env, "truthful_report"), seed=4)
    assert np.allclose(env.episode.reports, env.episode.endowments, atol=1e-6), (
        "truthful reports = endowments"
    )


def test_reasonable_stays_truthful_inside_a_designed_omega_star() -> None:
    env = linkmech.make("resource_allocation_v0", num_agents=4, num_dates=8)
    strategies = _profile(env, "reasonable")
    play_episode(env, strategies, seed=1)
    assert not strategies["agent_0"].deviating, (
        "with a designed Omega* the regret condition holds for typical draws"
    )
    assert np.allclose(env.episode.reports[:, 0], env.episode.endowments[:, 0], atol=1e-6), (
        "reasonable = truthful"
    )


def test_reasonable_deviates_when_its_history_leaves_omega_star() -> None:
    tight = OmegaStar(6, np.ones(3), radius=0.05)
    env = linkmech.make("resource_allocation_v0", num_agents=3, num_dates=6, omega_star=tight)
    strategies = _profile(env, "reasonable:samples=50")
    play_episode(env, strategies, seed=2)
    assert strategies["agent_0"].deviating, (
        "a tight Omega* makes P(outside) * R exceed epsilon: the agent deviates"
    )


def test_misreport_is_retracted_and_does_not_pay() -> None:
    env = linkmech.make("resource_allocation_v0", num_agents=4, num_dates=8)
    honest = play_episode(env, _profile(env, "truthful_report"), seed=1).totals["agent_0"]
    lying = play_episode(env, _profile(env, "misreport:factor=3"), seed=1, keep_infos=True)
    assert lying.infos[-1]["agent_0"]["retracted"], "tripled reports leave Omega*0 and are retracted"
    assert lying.totals["agent_0"] < honest, (
        f"the misreport must not gain: {lying.totals['agent_0']} vs {honest}"
    )


def test_reporting_strategy_errors() -> None:
    with pytest.raises(ValueError, match="factor: got -1"):
        make_strategy("misreport:factor=-1")
    with pytest.raises(ValueError, match="epsilon: got 0"):
        make_strategy("reasonable:epsilon=0")
    env = linkmech.make(
        "resource_allocation_v0",
        num_agents=3,
        num_dates=5,
        member="persistent_shock",
        design_method="chebyshev",
    )
    env.reset(seed=0)
    with pytest.raises(ValueError, match="dates independent"):
        make_strategy("reasonable").reset(Seat.from_env(env, "agent_0"), np.random.default_rng(0))


@pytest.mark.parametrize("spec", ["truthful_report", "misreport:factor=0.5", "reasonable:samples=40"])
def test_reporting_protocol_seed_pickle_copy(spec: str) -> None:
    import copy
    import pickle

    env = linkmech.make("resource_allocation_v0", num_agents=3, num_dates=5)
    observations, _ = env.reset(seed=3)
    seat = Seat.from_env(env, "agent_0")
    first, second = make_strategy(spec), make_strategy(spec)
    first.reset(seat, np.random.default_rng(7))
    second.reset(seat, np.random.default_rng(7))
    clone = None
    while env.agents:
        vector = observations["agent_0"]
        action = first.act(vector, np.zeros(0, dtype=np.int8))
        assert np.array_equal(action, second.act(vector, np.zeros(0, dtype=np.int8))), (
            "same seed, same report"
        )
        if clone is not None:
            assert np.array_equal(action, clone.act(vector, np.zeros(0, dtype=np.int8))), (
                "pickled copy differs"
            )
        else:
            clone = pickle.loads(pickle.dumps(copy.deepcopy(first)))
        truth = {a: np.array([observations[a][1]], dtype=np.float32) for a in env.agents}
        truth["agent_0"] = action
        observations, *_ = env.step(truth)
    with pytest.raises(ValueError, match="reset"):
        make_strategy(spec).act(vector, np.zeros(0, dtype=np.int8))


def test_reasonable_rows_small() -> None:
    from linkmech.evaluation.statistical import reasonable_rows

    rows = reasonable_rows([4], ["iid_uniform"], episodes=2, samples=20)
    assert rows[0]["all truthful and omega in Omega*"] == 1.0, (
        f"designed Omega* keeps everyone truthful: {rows}"
    )
    assert 0 <= rows[0]["linked cost/surplus"] < 3, "linked VCG costs less than unlinked (N - 1 = 3)"
