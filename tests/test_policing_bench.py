"""Structure and counted values of the policing benchmark (no assertion on how long anything takes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linkmech.evaluation.policing_bench import (
    GridPoint,
    LinearFit,
    all_at_once_episodes,
    bound_cells,
    fit_cost_per_cell,
    grid,
    largest_agents_within,
    late_window_check,
    markdown_table,
    public_goods_quotas,
    run_grid,
    scaling_summary,
    time_over_time,
    truthful_classes,
)
from linkmech.mechanisms.policing import PolicingConfig, policing_cost

ROW_KEYS = {
    "num_agents",
    "max_coalition_size",
    "num_problems",
    "batch_size",
    "tests",
    "cells",
    "over_time_dates_timed",
    "over_time_setup_seconds",
    "over_time_update_seconds_per_batch_date",
    "over_time_test_seconds_per_batch_date",
    "over_time_seconds_per_batch_date",
    "over_time_seconds_per_episode_date",
    "over_time_flags",
    "all_at_once_episodes_timed",
    "all_at_once_seconds_per_episode",
    "all_at_once_flags",
}

TIMING_KEYS = (
    "over_time_setup_seconds",
    "over_time_update_seconds_per_batch_date",
    "over_time_test_seconds_per_batch_date",
    "over_time_seconds_per_batch_date",
    "over_time_seconds_per_episode_date",
    "all_at_once_seconds_per_episode",
)


@pytest.fixture(scope="module")
def quick_rows() -> list[dict[str, object]]:
    return run_grid(quick=True, min_seconds=0.001)


def test_full_grid_covers_the_issue_and_skips_too_large_coalitions() -> None:
    points = grid()
    assert {p.num_agents for p in points} == {3, 4, 5, 7, 10}
    assert {p.max_size for p in points} == {1, 2, 3}
    assert {p.num_problems for p in points} == {100, 1000, 10000}
    assert {p.batch_size for p in points} == {1, 64}
    assert all(p.max_size <= p.num_agents - 1 for p in points)
    assert GridPoint(3, 3, 100, 1) not in points
    assert len(points) == (2 + 4 * 3) * 3 * 2


def test_quick_rows_have_the_grid_keys_and_counted_values(quick_rows: list[dict[str, object]]) -> None:
    points = grid(quick=True)
    assert len(quick_rows) == len(points)
    for point, row in zip(points, quick_rows):
        assert set(row) == ROW_KEYS
        assert (row["num_agents"], row["max_coalition_size"], row["num_problems"], row["batch_size"]) == (
            point.num_agents,
            point.max_size,
            point.num_problems,
            point.batch_size,
        )
        cost = policing_cost(point.num_agents, point.max_size, 2)
        assert row["tests"] == cost.tests
        assert row["cells"] == cost.cells == bound_cells(point.num_agents, point.max_size)


def test_timings_are_positive_and_finite(quick_rows: list[dict[str, object]]) -> None:
    for row in quick_rows:
        for key in TIMING_KEYS:
            value = row[key]
            assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
        assert row["over_time_dates_timed"] >= 3  # type: ignore[operator]
        per_batch = row["over_time_seconds_per_batch_date"]
        assert row["over_time_seconds_per_episode_date"] == pytest.approx(per_batch / row["batch_size"])  # type: ignore[operator]
        assert per_batch == pytest.approx(
            row["over_time_update_seconds_per_batch_date"] + row["over_time_test_seconds_per_batch_date"]  # type: ignore[operator]
        )


def test_markdown_has_the_header_and_one_line_per_row(quick_rows: list[dict[str, object]]) -> None:
    table = markdown_table(quick_rows)
    lines = table.strip().splitlines()
    assert lines[0].startswith("| n | max size | K | B | tests | cells |")
    assert "over time: s / episode-date" in lines[0] and "all at once: s / episode" in lines[0]
    assert len(lines) == 2 + len(quick_rows)


def test_summary_states_a_fit_per_batch_size(quick_rows: list[dict[str, object]]) -> None:
    lines = scaling_summary(quick_rows)
    assert any(line.startswith("B = 1:") for line in lines)
    assert any(line.startswith("B = 2:") for line in lines)


def test_cells_match_the_counted_formula() -> None:
    assert bound_cells(7, 2) == 7 * 6 * 4 + 7 * 15 * 8 == policing_cost(7, 2).cells
    assert bound_cells(3, 3) == bound_cells(3, 2)  # sizes above n - 1 do not exist


def test_fit_and_bound_on_exact_lines() -> None:
    rows = [
        {"batch_size": 1, "cells": c, "over_time_seconds_per_batch_date": 1e-5 + 1e-8 * c}
        for c in (10, 100, 1000)
    ]
    fit = fit_cost_per_cell(rows, 1)
    assert fit.intercept == pytest.approx(1e-5) and fit.slope == pytest.approx(1e-8)
    assert fit.r_squared == pytest.approx(1.0)
    n = largest_agents_within(LinearFit(1e-5, 1e-8, 1.0), 1e-3, 2)
    assert n is not None
    assert fit.predict(bound_cells(n, 2)) <= 1e-3 < fit.predict(bound_cells(n + 1, 2))
    assert largest_agents_within(LinearFit(1.0, 0.0, 1.0), 1e-3, 2) is None
    with pytest.raises(ValueError, match="at least 2"):
        fit_cost_per_cell(rows, 64)


def test_all_at_once_times_fewer_episodes_only_when_large() -> None:
    assert all_at_once_episodes(GridPoint(3, 1, 100, 64)) == 64
    assert all_at_once_episodes(GridPoint(10, 3, 10000, 64)) == 1
    assert 1 <= all_at_once_episodes(GridPoint(7, 2, 10000, 64)) < 64


def test_inputs_meet_the_quotas() -> None:
    quotas = public_goods_quotas(4, 30)
    assert len(quotas) == 4 and all(len(q) == 2 and q.sum() == 30 for q in quotas)
    classes = truthful_classes(quotas, 3, np.random.default_rng(0))
    assert classes.shape == (3, 30, 4)
    for i, quota in enumerate(quotas):
        for b in range(3):
            assert np.array_equal(np.bincount(classes[b, :, i], minlength=2), quota)


def test_over_time_rejects_a_window_past_the_episode() -> None:
    quotas = public_goods_quotas(3, 10)
    classes = truthful_classes(quotas, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="skip_dates"):
        time_over_time(quotas, classes, PolicingConfig(), skip_dates=9)


def test_late_window_check_reports_both_windows() -> None:
    late = late_window_check(num_agents=3, max_size=1, num_problems=40, min_seconds=0.001)
    assert late["late_first_date"] == 40 - 20 + 2
    assert late["early_seconds_per_date"] > 0 and late["late_seconds_per_date"] > 0
