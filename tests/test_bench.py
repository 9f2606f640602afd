"""Benchmarks run and report in the documented format (no timing is asserted)."""

from __future__ import annotations

import pytest
import torch

from linkmech import envs
from linkmech.evaluation.bench import (
    allocation_batched_rate,
    allocation_loop_rate,
    batched_rate,
    linked_vcg_seconds,
    pettingzoo_loop_rate,
    ppo_rate,
    ratios,
    sb3_maskable_ppo_rate,
    sb3_missing,
    tournament_config,
    tournament_loop_rate,
    vcg_instance,
    vcg_last_date_ms,
)


def test_measurements_return_positive_rates() -> None:
    assert pettingzoo_loop_rate(envs.make("linked_voting_v0", num_problems=4), 0.01) > 0
    assert batched_rate(8, 0.01, num_problems=4) > 0
    assert linked_vcg_seconds(10) > 0
    assert allocation_loop_rate(0.01, size=3) > 0
    assert allocation_batched_rate(4, 0.01, size=3) > 0
    assert ppo_rate("batched", updates=1) > 0
    endowments, omega_star = vcg_instance(12)
    assert omega_star.contains(endowments).all()  # the instance's window is wide enough for every report


def test_ratios_against_the_targets() -> None:
    results = [
        {"id": "voting.pettingzoo_loop", "value": 1000.0, "unit": "decisions/s"},
        {"id": "voting.batched_4096", "value": 200000.0, "unit": "decisions/s"},
        {"id": "rps.pettingzoo_loop", "value": 4000.0, "unit": "decisions/s"},
        {"id": "tournament.workers_1", "value": 10.0, "unit": "matches/s"},
        {"id": "tournament.workers_2", "value": 15.0, "unit": "matches/s"},
    ]
    found = {r["id"]: r for r in ratios(results)}
    assert (
        found["ratio.batched_4096_over_loop"]["value"] == 200.0
        and found["ratio.batched_4096_over_loop"]["met"]
    )
    assert (
        found["ratio.loop_cost_over_rps_cost"]["value"] == 4.0
        and not found["ratio.loop_cost_over_rps_cost"]["met"]
    )
    assert (
        found["ratio.tournament_2_over_1"]["value"] == 1.5 and not found["ratio.tournament_2_over_1"]["met"]
    )
    assert "ratio.generic_over_linked_n100" not in found  # its inputs were not measured
    informative = ratios(
        [
            {"id": "training.ppo_copies", "value": 2000.0, "unit": "learner steps/s"},
            {"id": "training.ppo_batched", "value": 9000.0, "unit": "learner steps/s"},
        ]
    )
    assert informative == [{"id": "ratio.ppo_batched_over_copies", "value": 4.5, "unit": "x"}]


def test_vcg_last_date_times_are_positive() -> None:
    assert vcg_last_date_ms("truthful", episodes=2) > 0
    assert vcg_last_date_ms("random", episodes=2) > 0
    with pytest.raises(ValueError, match="reports"):
        vcg_last_date_ms("lying", episodes=1)


def test_tournament_loop_plays_the_workers_schedule() -> None:
    config = tournament_config(episodes=1, repetitions=1)
    assert (config.episodes, config.repetitions) == (1, 1)
    assert tournament_loop_rate(episodes=1, repetitions=1) > 0


@pytest.mark.skipif(sb3_missing() is not None, reason="stable-baselines3 / sb3-contrib not installed")
def test_sb3_maskable_ppo_rate_restores_torch_threads() -> None:
    threads = torch.get_num_threads()
    assert sb3_maskable_ppo_rate(updates=1, n_steps=64, batch_size=32) > 0
    assert torch.get_num_threads() == threads


def test_new_ratios_against_the_targets() -> None:
    results = [
        {"id": "voting.pettingzoo_loop", "value": 1000.0, "unit": "decisions/s"},
        {"id": "training.ppo_batched", "value": 8000.0, "unit": "learner steps/s"},
        {"id": "training.sb3_maskable_ppo", "value": 20.0, "unit": "learner steps/s"},
        {"id": "tournament.workers_1", "value": 10.0, "unit": "matches/s"},
        {"id": "tournament.loop_1", "value": 1.0, "unit": "matches/s"},
        {"id": "allocation.vcg_last_date_truthful_ms", "value": 2.0, "unit": "ms"},
        {"id": "allocation.vcg_last_date_random_ms", "value": 5.0, "unit": "ms"},
    ]
    found = {r["id"]: r for r in ratios(results)}
    expected = {
        "ratio.ppo_batched_over_sb3_maskable": (400.0, True),
        "ratio.ppo_batched_over_loop": (8.0, True),
        "ratio.tournament_workers_1_over_loop_1": (10.0, False),
        "ratio.vcg_random_over_truthful": (2.5, True),
    }
    for rid, (value, met) in expected.items():
        assert found[rid]["value"] == pytest.approx(value) and found[rid]["met"] is met, rid
    slower = {r["id"]: r for r in ratios([*results[:2], {**results[2], "value": 80.0}])}
    assert not slower["ratio.ppo_batched_over_sb3_maskable"]["met"]  # 100 < 200
    costly = {r["id"]: r for r in ratios([results[5], {**results[6], "value": 7.0}])}
    assert not costly["ratio.vcg_random_over_truthful"]["met"]  # 3.5 > 3
