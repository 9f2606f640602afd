"""The scaling measurements (issue 8) on their quick grids: shapes and sanity only, no timing assertions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linkmech.evaluation import scaling


def positive_finite(value: float) -> bool:
    return math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def results() -> dict[str, list[dict]]:
    return scaling.run_scaling(quick=True)


def test_batched_rows(results: dict[str, list[dict]]) -> None:
    rows = results["batched"]
    assert {r["env"] for r in rows} == {"linked_voting_v0", "linked_public_goods_v0"}
    for row in rows:
        assert set(row) == {
            "env",
            "num_envs",
            "num_problems",
            "num_agents",
            "steps_timed",
            "step_seconds",
            "median_step_seconds",
            "reset_seconds",
            "decisions_per_second",
            "episode_decisions_per_second",
        }
        assert row["steps_timed"] >= 1
        for key in ("step_seconds", "median_step_seconds", "reset_seconds"):
            assert positive_finite(row[key]), (key, row)
        for key in ("decisions_per_second", "episode_decisions_per_second"):
            assert positive_finite(row[key]), (key, row)


def test_profile_shares_sum_to_one(results: dict[str, list[dict]]) -> None:
    rows = results["profile"]
    assert [r["bucket"] for r in rows] == ["action_checks", "observations", "infos", "mechanism_step", "rest"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert all(0 <= r["share"] <= 1 and math.isfinite(r["seconds"]) for r in rows)
    # the loop spends time in the mechanism and in the observations, whatever the machine
    assert all(r["seconds"] > 0 for r in rows if r["bucket"] in ("mechanism_step", "observations"))


def test_allocation_rows(results: dict[str, list[dict]]) -> None:
    rows = results["allocation"]
    assert {r["mechanism"] for r in rows} == {"linked", "unlinked"}
    for row in rows:
        assert set(row) == {
            "mechanism",
            "num_envs",
            "num_agents",
            "num_dates",
            "episodes",
            "date_step_seconds",
            "last_step_seconds",
            "observations_seconds",
        }
        assert row["episodes"] >= 1
        for key in ("date_step_seconds", "last_step_seconds", "observations_seconds"):
            assert positive_finite(row[key]), (key, row)


def test_linked_vcg_rows(results: dict[str, list[dict]]) -> None:
    rows = results["linked_vcg"]
    assert [r["size"] for r in rows] == sorted(r["size"] for r in rows)
    for row in rows:
        assert set(row) == {"size", "calls", "seconds"}
        assert row["calls"] >= 1 and positive_finite(row["seconds"])


def test_markdown_has_every_section(results: dict[str, list[dict]]) -> None:
    text = scaling.scaling_markdown(results)
    for title in scaling.SECTIONS.values():
        assert f"## {title}" in text
    assert "## Fitted exponents" in text
    for fit in scaling.exponents(results):
        assert math.isfinite(fit["exponent"]) and math.isfinite(fit["top_exponent"]), fit


def test_loglog_slope_recovers_a_power() -> None:
    xs = [10.0, 30.0, 100.0, 300.0]
    assert scaling.loglog_slope(xs, [x**2.5 for x in xs]) == pytest.approx(2.5)
    assert math.isnan(scaling.loglog_slope([10.0], [1.0]))


def test_truthful_reports_are_the_endowments() -> None:
    from linkmech.envs.batched_allocation import BatchedAllocationEnv

    batched = BatchedAllocationEnv("resource_allocation_v0", 3, num_agents=4, num_dates=5)
    observations, _ = batched.reset(0)
    reports = scaling.truthful_reports(batched, observations)
    state = batched.env.batch_state
    assert state is not None
    np.testing.assert_allclose(reports, state.endowments[:, 0], rtol=1e-6)
