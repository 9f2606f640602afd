"""Credal-set members: draws, told statistics, and the designers' bounds against Monte Carlo frequencies."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from linkmech.mechanisms.allocation import EXPONENTIAL
from linkmech.mechanisms.credal import (
    CREDAL_MEMBERS,
    CredalMember,
    IIDSkewed,
    IIDUniform,
    IndependentNonIdentical,
    PersistentShock,
    ShiftCorrelated,
)
from linkmech.mechanisms.omega_star import BOUNDS, DESIGNERS, Statistics, design, hoeffding_bound

NAMES = sorted(CREDAL_MEMBERS)


def _applies(method: str, stats: Statistics) -> bool:
    if method == "chebyshev":
        return stats.variance is not None
    needs_variance = method == "bernstein"
    return (
        stats.independent and stats.bound is not None and (stats.variance is not None or not needs_variance)
    )


def _radius_for_bound(method: str, stats: Statistics, n: int, t: int, level: float) -> float:
    """The smallest x with bound(x) <= level (bisection; independent of the designers' closed forms)."""
    low, high = 1e-9, 100.0
    for _ in range(200):
        middle = (low + high) / 2
        if np.max(BOUNDS[method](stats, n, t, middle)) > level:
            low = middle
        else:
            high = middle
    return high


@pytest.mark.parametrize("name", NAMES)
def test_statistics_match_sample_moments(name: str) -> None:
    member = CREDAL_MEMBERS[name]
    stats = member.statistics()
    draws = member.sample_episodes(6000, 8, 8, np.random.default_rng(21))
    assert draws.shape == (6000, 8, 8), f"{name}: shape {draws.shape}"
    assert draws.min() >= stats.lower, f"{name}: min {draws.min()} below the told lower bound {stats.lower}"
    assert stats.bound is not None and draws.max() <= stats.bound, (
        f"{name}: max {draws.max()} > w-bar {stats.bound}"
    )
    mean, told_variance = float(draws.mean()), float(stats.variances(1)[0])
    assert abs(mean - stats.means(1)[0]) < 0.02, f"{name}: sample mean {mean:.4f}, told mean {stats.mean}"
    variance = float(draws.var())
    if isinstance(member, IndependentNonIdentical):
        assert variance <= told_variance, (
            f"{name}: pooled variance {variance:.4f} above the told bound {told_variance}"
        )
        assert variance > 0.3 * told_variance, f"{name}: pooled variance {variance:.4f} implausibly small"
    else:
        assert abs(variance / told_variance - 1) < 0.05, (
            f"{name}: sample variance {variance:.4f}, told {told_variance}"
        )
    successive = np.corrcoef(draws[:, 0, 0], draws[:, 1, 0])[0, 1]
    if stats.independent:
        assert abs(successive) < 0.05, (
            f"{name}: corr(date 1, date 2) = {successive:.3f} though told independent"
        )
    else:
        assert successive > 0.99, (
            f"{name}: the persistent shock should repeat over dates, corr {successive:.3f}"
        )


def test_skewed_has_uniforms_mean_but_other_shape() -> None:
    skewed, uniform = IIDSkewed().statistics(), IIDUniform().statistics()
    assert skewed.mean == uniform.mean == 1.0, f"means {skewed.mean}, {uniform.mean}"
    assert skewed.bound is not None and np.isclose(skewed.bound, 5.0), f"{skewed}"
    assert np.isclose(skewed.variances(1)[0], 8 / 7), f"{skewed}"
    draws = IIDSkewed().sample_episodes(2000, 10, 10, np.random.default_rng(2))
    assert np.median(draws) < 0.7, f"Beta(0.5, 2) * 5 should be right-skewed; median {np.median(draws):.3f}"


def test_non_identical_cells() -> None:
    member = IndependentNonIdentical(mean=1.0, wbar=3.0)
    lo, hi, p_hi = member.cells(6, 5)
    assert np.allclose(p_hi * hi + (1 - p_hi) * lo, 1.0), "every cell must have mean exactly 1"
    assert np.all((lo >= 0) & (hi <= 3.0) & (lo < 1.0) & (hi > 1.0)), (
        "cells must straddle the mean within [0, 3]"
    )
    variances = (1.0 - lo) * (hi - 1.0)
    assert variances.max() / variances.min() > 3, (
        f"cell variances should differ: {variances.min()}..{variances.max()}"
    )
    draws = member.sample_episodes(20000, 6, 5, np.random.default_rng(4))
    error = np.abs(draws.mean(axis=0) - 1.0) / np.sqrt(variances / 20000)
    assert error.max() < 5, f"cell means off by {error.max():.2f} standard errors"


def test_shift_correlated_antidiagonals() -> None:
    draws = ShiftCorrelated().sample_episodes(5000, 7, 6, np.random.default_rng(8))
    assert np.array_equal(draws[:, 1:, :-1], draws[:, :-1, 1:]), (
        "omega[t, n+1] must equal omega[t+1, n] (s_{n+t})"
    )
    across = np.corrcoef(draws[:, 2, 0], draws[:, 2, 1])[0, 1]
    assert abs(across) < 0.05, f"different anti-diagonals should be independent; corr {across:.3f}"


@pytest.mark.parametrize("name", NAMES)
def test_sampling_is_reproducible_and_rng_only(name: str) -> None:
    member = CREDAL_MEMBERS[name]
    one = member.sample(5, 4, np.random.default_rng(9))
    again = member.sample(5, 4, np.random.default_rng(9))
    assert one.shape == (5, 4) and np.array_equal(one, again), f"{name}: same seed, different draws"
    batch = member.sample_episodes(3, 5, 4, np.random.default_rng(9))
    assert np.array_equal(batch[0], one), f"{name}: sample() should be the first episode of sample_episodes()"
    assert isinstance(member, CredalMember) and member.name == name, f"registry name {name} vs {member.name}"


@pytest.mark.parametrize(("num_dates", "num_agents"), [(8, 8), (40, 3)])
@pytest.mark.parametrize("name", NAMES)
def test_frequency_outside_omega_star_within_designers_bound(
    name: str, num_dates: int, num_agents: int
) -> None:
    member = CREDAL_MEMBERS[name]
    stats = member.statistics()
    draws = member.sample_episodes(20000, num_dates, num_agents, np.random.default_rng(31))
    checked = 0
    for method in sorted(DESIGNERS):
        if not _applies(method, stats):
            continue
        radii = [None] + [
            _radius_for_bound(method, stats, num_agents, num_dates, level) for level in (0.9, 0.5)
        ]
        for radius in radii:
            omega_star, record = design(
                method, stats, num_agents, num_dates, float(num_agents), EXPONENTIAL, 0.1, radius=radius
            )
            frequency = 1.0 - omega_star.contains(draws).mean(axis=0)  # [N], per agent
            assert np.all(frequency <= np.asarray(record.per_agent_bound)), (
                f"{name} {method} x = {record.radius:.4f}: frequency {frequency.max():.4f} > bound {record.worst_bound:.4f}"
            )
            if radius is None:
                assert record.met, f"{name} {method}: the designed x must meet the target"
            checked += 1
    assert checked >= 3, f"{name}: only {checked} designs applied"


def test_hoeffding_fails_when_independence_is_wrongly_assumed() -> None:
    member = PersistentShock()
    told = member.statistics()
    with pytest.raises(ValueError, match="independence across dates"):
        DESIGNERS["hoeffding"](told, 3, 40, resource=3.0, project=EXPONENTIAL, epsilon=0.1)
    pretend = dataclasses.replace(told, independent=True)
    radius = _radius_for_bound("hoeffding", pretend, 3, 40, 0.05)
    draws = member.sample_episodes(20000, 40, 3, np.random.default_rng(5))
    omega_star, _ = design("hoeffding", pretend, 3, 40, 3.0, EXPONENTIAL, 0.1, radius=radius)
    frequency = 1.0 - omega_star.contains(draws).mean()
    assert frequency > 5 * float(np.max(hoeffding_bound(pretend, 3, 40, radius))), (
        f"a persistent shock should break the (wrongly applied) Hoeffding bound: frequency {frequency:.3f}"
    )
    assert abs(frequency - (1 - radius)) < 0.02, (
        f"P(|s - 1| > x) = 1 - x = {1 - radius:.3f}, got {frequency:.3f}"
    )


def test_errors() -> None:
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        IIDUniform().sample(3, 2, 7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_dates: got 0"):
        IIDUniform().sample(0, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_episodes: got -1"):
        ShiftCorrelated().sample_episodes(-1, 2, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="need finite 0 <= low < high"):
        IIDUniform(2.0, 1.0)
    with pytest.raises(ValueError, match="need finite 0 <= low < high"):
        ShiftCorrelated(-1.0, 1.0)
    with pytest.raises(ValueError, match="got mean = -1"):
        IIDSkewed(mean=-1.0)
    with pytest.raises(ValueError, match="need 0 < mean < wbar"):
        IndependentNonIdentical(mean=3.0, wbar=2.0)
