"""Benchmarks run and report in the documented format (no timing is asserted)."""

from __future__ import annotations

from linkmech import envs
from linkmech.evaluation.bench import (
    allocation_batched_rate,
    allocation_loop_rate,
    batched_rate,
    linked_vcg_seconds,
    pettingzoo_loop_rate,
    ppo_rate,
    ratios,
    vcg_instance,
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
