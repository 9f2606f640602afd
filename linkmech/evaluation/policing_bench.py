"""Policing at scale: the measured cost of the collusion test per date (over time) and per episode (all at once).

The test (:mod:`linkmech.mechanisms.policing`, Appendix 1 of Jackson and Sonnenschein, 2007, and its
cumulative over-time form of footnote 35) is timed on the calls the linking mechanism makes
(:mod:`linkmech.mechanisms.linking`):

- **over time**, each date ``CumulativePolicing.update(classes_at_date)`` then
  ``CumulativePolicing.flags(date)`` (which evaluates every distance), as ``_update_police`` does after
  each date; the construction of :class:`~linkmech.mechanisms.policing.CumulativePolicing` (once per batch)
  is timed apart;
- **all at once**, one :func:`~linkmech.mechanisms.policing.police_all_at_once` per batch, as
  ``_police_whole_vectors`` does once all K announcements are in.

The problem is :class:`~linkmech.mechanisms.catalogue.PublicGoodsProblem` with n agents (two budget classes
per agent, quotas about K/3 and 2K/3); announcements are approximately truthful (each agent a uniformly
random arrangement of its quota, :func:`~linkmech.mechanisms.policing.uniform_arrangement`), so flags are
rare and the timings are those of the test itself, not of replacement rounds.

The over-time step does ``B * cells`` work whatever K and the date (the counts are kept per cell), so a
window of dates at the start of the episode stands for any date; :func:`late_window_check` times a window at
the end of a long episode against one at its start. All at once costs ``B * K * tests`` to count: where that
is large only some of the batch's episodes are timed (``all_at_once_episodes_timed``), and the time per
episode is the fastest call's divided by them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from linkmech.mechanisms.policing import (
    CumulativePolicing,
    PolicingConfig,
    police_all_at_once,
    policing_cost,
    uniform_arrangement,
)
from linkmech.mechanisms.problem import IntArray

Row = dict[str, Any]

AGENT_COUNTS = (3, 4, 5, 7, 10)
MAX_SIZES = (1, 2, 3)
PROBLEM_COUNTS = (100, 1000, 10000)
BATCH_SIZES = (1, 64)

QUICK_AGENT_COUNTS = (3, 4)
QUICK_MAX_SIZES = (1, 2)
QUICK_PROBLEM_COUNTS = (100,)
QUICK_BATCH_SIZES = (1, 2)

ALL_AT_ONCE_WORK_LIMIT = 30_000_000
"""Largest ``episodes * K * tests * (max size + 1)`` index work timed in one all-at-once call."""

NUM_CLASSES = 2
"""Budget classes per agent in the public-goods problem (value 0 or 1)."""


@dataclass(frozen=True)
class GridPoint:
    """One configuration: n agents, coalitions up to ``max_size``, K problems, B episodes in a batch."""

    num_agents: int
    max_size: int
    num_problems: int
    batch_size: int


# --------------------------------------------------------------------------------------------------------
# inputs


def public_goods_quotas(num_agents: int, num_problems: int) -> tuple[IntArray, ...]:
    """Every agent's class quotas of K linked public-goods problems with n agents (two classes each)."""
    from linkmech.mechanisms.catalogue import PublicGoodsProblem
    from linkmech.mechanisms.linking import LinkingMechanism

    return LinkingMechanism(PublicGoodsProblem(num_agents), num_problems).quotas


def truthful_classes(quotas: Sequence[IntArray], num_episodes: int, rng: np.random.Generator) -> IntArray:
    """``[B, K, n]`` approximately truthful class announcements: each agent a random arrangement of its quota."""
    episodes = [np.stack([uniform_arrangement(q, rng) for q in quotas], axis=1) for _ in range(num_episodes)]
    return np.stack(episodes).astype(np.int64)


def grid(quick: bool = False) -> list[GridPoint]:
    """The configurations measured: coalition sizes above n - 1 are skipped (a coalition excludes i)."""
    agents, sizes, problems, batches = (
        (QUICK_AGENT_COUNTS, QUICK_MAX_SIZES, QUICK_PROBLEM_COUNTS, QUICK_BATCH_SIZES)
        if quick
        else (AGENT_COUNTS, MAX_SIZES, PROBLEM_COUNTS, BATCH_SIZES)
    )
    return [
        GridPoint(n, s, k, b) for n in agents for s in sizes if s <= n - 1 for k in problems for b in batches
    ]


# --------------------------------------------------------------------------------------------------------
# over time


@dataclass(frozen=True)
class OverTimeTiming:
    """Measured seconds of the over-time test, per date of the whole batch.

    Attributes:
        setup_seconds: constructing :class:`CumulativePolicing` (once per batch; mean over passes).
        update_seconds: ``update(classes_at_date)`` per date.
        test_seconds: ``flags(date)`` (all distances, then the flags) per date.
        dates_timed: dates timed (over one or more passes through the episode).
        flags_raised: flags raised on the timed dates (approximately truthful: rare).
    """

    setup_seconds: float
    update_seconds: float
    test_seconds: float
    dates_timed: int
    flags_raised: int

    @property
    def seconds_per_date(self) -> float:
        """Update plus test, per date of the batch."""
        return self.update_seconds + self.test_seconds


def _police_date(police: CumulativePolicing, classes_at_date: IntArray) -> tuple[float, float, int]:
    """One date as the env's ``_update_police`` runs it: (update seconds, test seconds, flags raised)."""
    start = time.perf_counter()
    police.update(classes_at_date)
    middle = time.perf_counter()
    flags = police.flags(police.date)
    end = time.perf_counter()
    return middle - start, end - middle, len(flags)


def time_over_time(
    quotas: Sequence[IntArray],
    classes: IntArray,
    config: PolicingConfig,
    min_seconds: float = 0.1,
    min_dates: int = 3,
    skip_dates: int = 0,
) -> OverTimeTiming:
    """Time the over-time test on ``classes [B, K, n]``, date after date, until enough time has passed.

    Each pass builds a fresh :class:`CumulativePolicing`, feeds ``skip_dates`` dates untimed (``update``
    only) and one warm-up date, then times dates until the thresholds below are met or the episode ends; a
    short episode is passed through again.

    Args:
        quotas: per-agent class quotas, each summing to K.
        classes: the announcements (class indices) of the batch.
        config: the test's parameters.
        min_seconds: the timed dates last at least this long in all (update plus test) ...
        min_dates: ... and number at least this many.
        skip_dates: dates fed before the timed window, to time late dates (0..K-2).
    """
    num_problems = classes.shape[1]
    if not 0 <= skip_dates <= num_problems - 2:
        raise ValueError(f"skip_dates: got {skip_dates}; allowed are 0..K-2 = {num_problems - 2}")
    setup = update = test = 0.0
    passes = dates = flags = 0
    while update + test < min_seconds or dates < min_dates:
        police, seconds = _fresh_police(quotas, classes, config, skip_dates)
        setup, passes = setup + seconds, passes + 1
        for date in range(skip_dates + 1, num_problems):
            spent_update, spent_test, raised = _police_date(police, classes[:, date])
            update, test, dates, flags = update + spent_update, test + spent_test, dates + 1, flags + raised
            if update + test >= min_seconds and dates >= min_dates:
                break
    return OverTimeTiming(setup / passes, update / dates, test / dates, dates, flags)


def _fresh_police(
    quotas: Sequence[IntArray], classes: IntArray, config: PolicingConfig, skip_dates: int
) -> tuple[CumulativePolicing, float]:
    """A new test (and the seconds its construction took) past ``skip_dates`` dates and one warm-up date."""
    batch, num_problems, num_agents = classes.shape
    start = time.perf_counter()
    police = CumulativePolicing(quotas, num_problems, num_agents, batch, config)
    seconds = time.perf_counter() - start
    for date in range(skip_dates):
        police.update(classes[:, date])
    _police_date(police, classes[:, skip_dates])
    return police, seconds


# --------------------------------------------------------------------------------------------------------
# all at once


@dataclass(frozen=True)
class AllAtOnceTiming:
    """Measured seconds of the all-at-once test.

    Attributes:
        seconds_per_episode: the fastest of repeated :func:`police_all_at_once` calls divided by the
            episodes each policed.
        episodes_timed: episodes per call (all B unless the call would be long).
        flags_raised: flags acted on in the last call.
    """

    seconds_per_episode: float
    episodes_timed: int
    flags_raised: int


def all_at_once_episodes(point: GridPoint, work_limit: int = ALL_AT_ONCE_WORK_LIMIT) -> int:
    """Episodes timed per all-at-once call: all B, or fewer (>= 1) when counting them would exceed the limit."""
    tests = policing_cost(point.num_agents, point.max_size, NUM_CLASSES).tests
    per_episode = point.num_problems * tests * (point.max_size + 1)
    return max(1, min(point.batch_size, work_limit // per_episode))


def time_all_at_once(
    quotas: Sequence[IntArray],
    classes: IntArray,
    config: PolicingConfig,
    min_seconds: float = 0.1,
    min_calls: int = 2,
) -> AllAtOnceTiming:
    """Time :func:`police_all_at_once` on ``classes [B, K, n]``: the fastest of repeated calls, per episode.

    Calls repeat until ``min_seconds`` have passed and at least ``min_calls`` were made; the fastest is kept
    because the first call of a large batch also pays for fresh memory (its index arrays reach
    ``K * tests * (max size + 1)`` integers per episode), which later calls reuse.
    """
    batch, num_problems, _ = classes.shape
    calls, spent, best, flags = 0, 0.0, math.inf, 0
    while spent < min_seconds or calls < min_calls:
        generators = [np.random.default_rng(b) for b in range(batch)]
        start = time.perf_counter()
        _, log = police_all_at_once(classes, quotas, num_problems, config, None, generators)
        seconds = time.perf_counter() - start
        calls, spent, best = calls + 1, spent + seconds, min(best, seconds)
        flags = sum(len(episode) for episode in log)
    return AllAtOnceTiming(best / batch, batch, flags)


# --------------------------------------------------------------------------------------------------------
# the grid


def measure(point: GridPoint, min_seconds: float = 0.1, seed: int = 0) -> Row:
    """One row: counted size of the test and its measured cost over time and all at once."""
    quotas = public_goods_quotas(point.num_agents, point.num_problems)
    classes = truthful_classes(quotas, point.batch_size, np.random.default_rng(seed))
    config = PolicingConfig(max_coalition_size=point.max_size)
    cost = policing_cost(point.num_agents, point.max_size, NUM_CLASSES)
    over_time = time_over_time(quotas, classes, config, min_seconds)
    subset = classes[: all_at_once_episodes(point)]
    all_at_once = time_all_at_once(quotas, subset, config, min_seconds)
    return {
        "num_agents": point.num_agents,
        "max_coalition_size": point.max_size,
        "num_problems": point.num_problems,
        "batch_size": point.batch_size,
        "tests": cost.tests,
        "cells": cost.cells,
        "over_time_dates_timed": over_time.dates_timed,
        "over_time_setup_seconds": over_time.setup_seconds,
        "over_time_update_seconds_per_batch_date": over_time.update_seconds,
        "over_time_test_seconds_per_batch_date": over_time.test_seconds,
        "over_time_seconds_per_batch_date": over_time.seconds_per_date,
        "over_time_seconds_per_episode_date": over_time.seconds_per_date / point.batch_size,
        "over_time_flags": over_time.flags_raised,
        "all_at_once_episodes_timed": all_at_once.episodes_timed,
        "all_at_once_seconds_per_episode": all_at_once.seconds_per_episode,
        "all_at_once_flags": all_at_once.flags_raised,
    }


def run_grid(
    quick: bool = False,
    min_seconds: float | None = None,
    progress: Callable[[Row], None] | None = None,
    points: Sequence[GridPoint] | None = None,
) -> list[Row]:
    """Measure every grid point (``quick``: the tiny grid, 0.01 s per measurement instead of 0.1 s)."""
    seconds = min_seconds if min_seconds is not None else (0.01 if quick else 0.1)
    rows = []
    for point in points if points is not None else grid(quick):
        row = measure(point, seconds)
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


LATE_WINDOW = 2000
"""Dates at the end of the episode (at most) that :func:`late_window_check` may time."""


def late_window_check(
    num_agents: int = 5, max_size: int = 2, num_problems: int = 10000, min_seconds: float = 0.05
) -> Row:
    """Seconds per date of one episode at its start and in its last dates (those before fed by ``update``).

    The late window is the last :data:`LATE_WINDOW` dates (the last half when K is shorter, K >= 4); the
    check is that both agree (the work per date is ``B * cells`` whatever the date).
    """
    quotas = public_goods_quotas(num_agents, num_problems)
    classes = truthful_classes(quotas, 1, np.random.default_rng(0))
    config = PolicingConfig(max_coalition_size=max_size)
    early = time_over_time(quotas, classes, config, min_seconds, min_dates=50)
    skip = num_problems - min(LATE_WINDOW, num_problems // 2)
    late = time_over_time(quotas, classes, config, min_seconds, min_dates=50, skip_dates=skip)
    return {
        "num_agents": num_agents,
        "max_coalition_size": max_size,
        "num_problems": num_problems,
        "early_seconds_per_date": early.seconds_per_date,
        "late_first_date": skip + 2,
        "late_seconds_per_date": late.seconds_per_date,
    }


# --------------------------------------------------------------------------------------------------------
# scaling and the practical bound


@dataclass(frozen=True)
class LinearFit:
    """``seconds = intercept + slope * cells`` by least squares, with its coefficient of determination."""

    intercept: float
    slope: float
    r_squared: float

    def predict(self, cells: float) -> float:
        """Predicted seconds at ``cells``."""
        return self.intercept + self.slope * cells


def fit_cost_per_cell(
    rows: Sequence[Row], batch_size: int, key: str = "over_time_seconds_per_batch_date"
) -> LinearFit:
    """Fit the per-date cost of batch size ``batch_size`` against the cells of the test."""
    chosen = [r for r in rows if r["batch_size"] == batch_size]
    if len(chosen) < 2:
        raise ValueError(f"batch_size {batch_size}: {len(chosen)} rows; a fit needs at least 2")
    cells = np.array([r["cells"] for r in chosen], dtype=np.float64)
    seconds = np.array([r[key] for r in chosen], dtype=np.float64)
    slope, intercept = np.polyfit(cells, seconds, 1)
    residual = float(((seconds - (intercept + slope * cells)) ** 2).sum())
    total = float(((seconds - seconds.mean()) ** 2).sum())
    return LinearFit(float(intercept), float(slope), 1.0 - residual / total if total > 0 else 1.0)


def bound_cells(num_agents: int, max_size: int, num_classes: int = NUM_CLASSES) -> int:
    """Cells of the test with coalitions up to ``max_size``: ``sum_s n * C(n-1, s) * c^(s+1)``."""
    return sum(
        num_agents * math.comb(num_agents - 1, s) * num_classes ** (s + 1)
        for s in range(1, min(max_size, num_agents - 1) + 1)
    )


def largest_agents_within(
    fit: LinearFit, budget_seconds: float, max_size: int, limit: int = 10_000
) -> int | None:
    """The largest n (>= 3) whose predicted per-date cost stays within ``budget_seconds`` (None: not even 3).

    The cost grows with n (cells do), so this is the last n before the prediction first exceeds the budget;
    ``limit`` caps the search.
    """
    best = None
    for n in range(3, limit + 1):
        if fit.predict(bound_cells(n, max_size)) > budget_seconds:
            break
        best = n
    return best


def scaling_summary(rows: Sequence[Row], budget_seconds: float = 1e-3) -> list[str]:
    """Lines stating the fits (per batch size) and the largest n per coalition bound within the budget."""
    lines = []
    for batch in sorted({r["batch_size"] for r in rows}):
        try:
            fit = fit_cost_per_cell(rows, batch)
        except ValueError:
            continue
        lines.append(
            f"B = {batch}: seconds per batch-date ~ {fit.intercept:.3g} + {fit.slope:.3g} * cells "
            f"(R^2 = {fit.r_squared:.3f}; {fit.slope / batch * 1e9:.3g} ns per cell per episode)"
        )
        for size in MAX_SIZES:
            n = largest_agents_within(fit, budget_seconds * batch, size)
            within = "none" if n is None else str(n)
            lines.append(
                f"  max coalition size {size}: largest n with a date under {budget_seconds * 1e3:g} ms per "
                f"episode: {within}"
            )
    return lines


# --------------------------------------------------------------------------------------------------------
# table


COLUMNS = (
    ("n", "num_agents", "d"),
    ("max size", "max_coalition_size", "d"),
    ("K", "num_problems", "d"),
    ("B", "batch_size", "d"),
    ("tests", "tests", "d"),
    ("cells", "cells", "d"),
    ("over time: s / batch-date", "over_time_seconds_per_batch_date", ".3g"),
    ("over time: s / episode-date", "over_time_seconds_per_episode_date", ".3g"),
    ("update share", None, ".2f"),
    ("dates timed", "over_time_dates_timed", "d"),
    ("all at once: s / episode", "all_at_once_seconds_per_episode", ".3g"),
    ("episodes timed", "all_at_once_episodes_timed", "d"),
)


def _cell(row: Row, key: str | None, spec: str) -> str:
    if key is None:  # share of the per-date cost spent counting (the rest evaluates the distances)
        total = row["over_time_seconds_per_batch_date"]
        value = row["over_time_update_seconds_per_batch_date"] / total if total > 0 else 0.0
        return format(value, spec)
    return format(row[key], spec)


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a markdown table (one line per configuration)."""
    header = "| " + " | ".join(title for title, _, _ in COLUMNS) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    body = ["| " + " | ".join(_cell(row, key, spec) for _, key, spec in COLUMNS) + " |" for row in rows]
    return "\n".join([header, rule, *body]) + "\n"
