"""Collusion policing (Appendix 1, footnotes 35 and 41): distances, thresholds, flags, replacement."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from linkmech.mechanisms import nearest_quota
from linkmech.mechanisms.policing import (
    CumulativePolicing,
    Flag,
    PolicingConfig,
    coalition_distance,
    coalitions,
    default_threshold,
    find_flags,
    police_all_at_once,
    policing_cost,
    time_threshold,
    uniform_arrangement,
)

F = Fraction

# Example 2 / 4 types: v = 1 with probability 2/3 (class 1), v = 0 with probability 1/3 (class 0).
PUBLIC_GOODS_PROBS = [F(1, 3), F(2, 3)]


def ex2_quota(k: int) -> np.ndarray:
    return nearest_quota(PUBLIC_GOODS_PROBS, k)


def honest_classes(quotas: list[np.ndarray], batch: int, seed: int) -> np.ndarray:
    """``[B, K, n]`` independent uniformly random arrangements of each agent's quota."""
    rng = np.random.default_rng(seed)
    return np.stack([np.stack([uniform_arrangement(q, rng) for q in quotas], axis=1) for _ in range(batch)])


def example4_classes(k: int, n: int, seeds: list[int]) -> np.ndarray:
    """Example 4: agents 1..n-1 announce 1 on the first 2K/3 problems and 0 on the rest; agent 0 random."""
    quota = ex2_quota(k)
    classes = np.zeros((len(seeds), k, n), dtype=np.int64)
    classes[:, : 2 * k // 3, 1:] = 1
    for b, seed in enumerate(seeds):
        classes[b, :, 0] = uniform_arrangement(quota, np.random.default_rng(seed))
    return classes


# ---------------------------------------------------------------------------------------------------------
# distances


# K = 6, three agents, two classes each.
# problem k:     0  1  2  3  4  5
# agent 0:       0  0  1  1  1  1     quota [2, 4]
# agent 1:       0  0  0  1  1  1     quota [3, 3]
# agent 2:       0  1  0  1  0  1     quota [3, 3]
HAND_CLASSES = np.array([[0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1], [0, 1, 0, 1, 0, 1]]).T[None]
HAND_QUOTAS = [np.array([2, 4]), np.array([3, 3]), np.array([3, 3])]


@pytest.mark.parametrize(
    ("agent", "coalition", "expected"),
    [
        # i = 0, C = {1}, P = (1/2, 1/2).
        # u_0 = 0 on problems {0, 1}: agent 1 says 0, 0 -> F = (1, 0), gap |1 - 1/2| = 1/2.
        # u_0 = 1 on problems {2..5}: agent 1 says 0, 1, 1, 1 -> F = (1/4, 3/4), gap 1/4.  d = 1/2.
        (0, (1,), 1 / 2),
        # i = 0, C = {1, 2}, P = 1/4 on each of 00, 01, 10, 11.
        # u_0 = 0: (0,0), (0,1) -> F = (1/2, 1/2, 0, 0), gaps 1/4.
        # u_0 = 1: (0,0), (1,1), (1,0), (1,1) -> F = (1/4, 0, 1/4, 1/2), gaps 0, 1/4, 0, 1/4.  d = 1/4.
        (0, (1, 2), 1 / 4),
        # i = 1, C = {0}, P = (1/3, 2/3).
        # u_1 = 0 on {0, 1, 2}: agent 0 says 0, 0, 1 -> F = (2/3, 1/3), gap 1/3.
        # u_1 = 1 on {3, 4, 5}: agent 0 says 1, 1, 1 -> F = (0, 1), gap 1/3.  d = 1/3.
        (1, (0,), 1 / 3),
        # i = 2, C = {0, 1}, P over (u_0, u_1) = 00: 1/6, 01: 1/6, 10: 1/3, 11: 1/3.
        # u_2 = 0 on {0, 2, 4}: 00, 10, 11 -> F = (1/3, 0, 1/3, 1/3), gaps 1/6, 1/6, 0, 0.
        # u_2 = 1 on {1, 3, 5}: 00, 11, 11 -> F = (1/3, 0, 0, 2/3), gaps 1/6, 1/6, 1/3, 1/3.  d = 1/3.
        (2, (0, 1), 1 / 3),
    ],
)
def test_hand_worked_distance(agent: int, coalition: tuple[int, ...], expected: float) -> None:
    got = coalition_distance(HAND_CLASSES, HAND_QUOTAS, 6, agent, coalition)
    assert got.shape == (1,), f"one episode gives one distance; got shape {got.shape}"
    assert got[0] == pytest.approx(expected, abs=1e-12), (
        f"d_{{{agent},{coalition}}}: got {got[0]}, worked by hand {expected}"
    )


def test_hand_worked_prefix_and_min_samples() -> None:
    # The first T = 3 problems only (over time). i = 0, C = {1}:
    # u_0 = 0 on {0, 1}: agent 1 says 0, 0 -> gap 1/2; u_0 = 1 on {2}: agent 1 says 0 -> F = (1, 0), gap 1/2.
    prefix = coalition_distance(HAND_CLASSES[:, :3], HAND_QUOTAS, 6, 0, (1,))
    assert prefix[0] == pytest.approx(0.5, abs=1e-12), f"prefix distance: got {prefix[0]}, expected 1/2"
    # i = 2, C = {0, 1} over all 6 problems: each class of agent 2 covers 3 problems, so with
    # min_samples = 4 no class qualifies and the distance is 0; with min_samples = 3 it is 1/3.
    none = coalition_distance(HAND_CLASSES, HAND_QUOTAS, 6, 2, (0, 1), min_samples=4)
    three = coalition_distance(HAND_CLASSES, HAND_QUOTAS, 6, 2, (0, 1), min_samples=3)
    assert none[0] == 0.0, f"no class of agent 2 has 4 problems; got distance {none[0]}"
    assert three[0] == pytest.approx(1 / 3, abs=1e-12), f"min_samples=3: got {three[0]}, expected 1/3"
    empty = coalition_distance(HAND_CLASSES[:, :0], HAND_QUOTAS, 6, 0, (1,))
    assert empty[0] == 0.0, f"an empty history has distance 0; got {empty[0]}"


def test_batched_distance_equals_per_episode() -> None:
    quotas = [np.array([4, 8]), np.array([3, 3, 6]), np.array([6, 6]), np.array([2, 4, 6])]
    classes = honest_classes(quotas, batch=5, seed=3)
    classes[1, :, 2] = np.repeat([0, 1], 6)  # make some episodes collusive-looking
    classes[1, :, 3] = np.repeat([0, 1, 2], [2, 4, 6])
    for agent in range(4):
        for coalition in coalitions(4, agent, 3):
            batched = coalition_distance(classes, quotas, 12, agent, coalition)
            single = np.array(
                [coalition_distance(classes[b : b + 1], quotas, 12, agent, coalition)[0] for b in range(5)]
            )
            assert np.array_equal(batched, single), (
                f"agent {agent}, coalition {coalition}: batched {batched} != per-episode {single}"
            )


# ---------------------------------------------------------------------------------------------------------
# coalitions, cost, thresholds


def test_coalitions_of_four_agents() -> None:
    got = coalitions(4, 0, 2)
    expected = [(1,), (2,), (3,), (1, 2), (1, 3), (2, 3)]
    assert got == expected, f"coalitions(4, 0, 2): got {got}, expected {expected}"
    got = coalitions(4, 2, 3)
    expected = [(0,), (1,), (3,), (0, 1), (0, 3), (1, 3), (0, 1, 3)]
    assert got == expected, f"coalitions(4, 2, 3): got {got}, expected {expected}"


@pytest.mark.parametrize(
    ("n", "size", "tests", "cells"),
    [(3, 1, 6, 24), (3, 2, 9, 48), (7, 1, 42, 168), (7, 2, 147, 1008), (10, 3, 1290, 16680)],
)
def test_policing_cost(n: int, size: int, tests: int, cells: int) -> None:
    cost = policing_cost(n, size)
    assert cost.tests == tests, (
        f"n={n}, size<={size}: got {cost.tests} tests, expected n*sum C(n-1,s)={tests}"
    )
    assert cost.tests == sum(len(coalitions(n, i, size)) for i in range(n)), (
        "tests must count the pairs (i, C)"
    )
    assert cost.cells == cells, (
        f"n={n}, size<={size}: got {cost.cells} cells with 2 classes, expected {cells}"
    )
    assert cost.cells_per_test_by_size == tuple(2 ** (s + 1) for s in range(1, size + 1)), (
        f"cells per test with 2 classes: got {cost.cells_per_test_by_size}"
    )
    live = CumulativePolicing([ex2_quota(30)] * n, 30, n, 1, PolicingConfig(max_coalition_size=size))
    assert live.num_cells == cells, f"counted cells {live.num_cells} != documented cost {cells}"
    assert len(live.pairs) == tests, f"counted pairs {len(live.pairs)} != documented tests {tests}"


def test_default_threshold_falls_like_sqrt_log_k_over_k() -> None:
    ks = [30, 120, 480, 1920, 7680]
    values = [default_threshold([ex2_quota(k)] * 7, k, 7, 2) for k in ks]
    assert all(a > b for a, b in itertools.pairwise(values)), f"epsilon^K must decrease in K; got {values}"
    ratios = [v / math.sqrt(math.log(k) / k) for v, k in zip(values, ks)]
    assert max(ratios) / min(ratios) < 1.6, f"epsilon^K / sqrt(log K / K) must stay bounded; got {ratios}"
    for k, v in zip(ks, values):
        cells = policing_cost(7, 2).cells
        bound = math.sqrt(math.log(2 * cells * k) / (2 * int(ex2_quota(k).min())))
        assert v <= bound + 1e-12, f"K={k}: epsilon {v} above its closed-form bound {bound}"
    assert default_threshold([np.array([1, 2])] * 3, 3, 3, 2) == 1.0, "no power at K=3: threshold 1"


def test_time_threshold_falls_like_one_over_log() -> None:
    dates = np.arange(1, 2001)
    values = np.array([time_threshold(int(k), 1.5) for k in dates])
    assert (np.diff(values) < 0).all(), "the over-time threshold must decrease in the date"
    assert np.allclose(values * np.log(dates + 1), 1.5), "threshold * log(k + 1) must equal time_scale"
    assert values[0] > 1.0, f"at date 1 no test can fail; got threshold {values[0]}"


# ---------------------------------------------------------------------------------------------------------
# Example 4 and false positives


def test_example4_flagged_with_single_member_coalitions() -> None:
    n, k = 7, 90
    classes = example4_classes(k, n, seeds=[0, 1])
    quotas = [ex2_quota(k)] * n
    flags = find_flags(classes, quotas, k)
    for b in range(2):
        flagged = {f.agent: f for f in flags if f.episode == b}
        assert set(range(1, n)) <= set(flagged), f"episode {b}: every colluder must be flagged; got {flagged}"
        for agent in range(1, n):
            flag = flagged[agent]
            assert len(flag.coalition) == 1, f"agent {agent}: smallest coalition has size 1; got {flag}"
            assert flag.distance == pytest.approx(2 / 3), f"agent {agent}: gap 1 - 1/3 = 2/3; got {flag}"
        # ties among equal sizes and distances go to the lexicographically first coalition
        assert flagged[1].coalition == (2,), f"agent 1: expected coalition (2,); got {flagged[1]}"
        assert flagged[2].coalition == (1,), f"agent 2: expected coalition (1,); got {flagged[2]}"
    assert flags == sorted(flags, key=lambda f: (f.episode, f.agent)), (
        "flags must be sorted by (episode, agent)"
    )


def test_example4_is_replaced_by_police_all_at_once() -> None:
    n, k = 7, 90
    classes = example4_classes(k, n, seeds=[0, 1, 2])
    quotas = [ex2_quota(k)] * n
    rngs = [np.random.default_rng([5, b]) for b in range(3)]
    final, history = police_all_at_once(classes, quotas, k, generators=rngs)
    assert find_flags(final, quotas, k) == [], "after policing no test may fail"
    collusive = classes[0, :, 1]
    for b in range(3):
        assert history[b], f"episode {b}: Example 4 must be acted on"
        assert history[b][0].agent == 1 and history[b][0].coalition == (2,), (
            f"episode {b}: first act replaces agent 2 as tested against agent 1; got {history[b][0]}"
        )
        kept = [j for j in range(1, n) if np.array_equal(final[b, :, j], collusive)]
        assert len(kept) <= 1, f"episode {b}: at most one colluder keeps its vector; kept {kept}"
        assert not any(f.stopped for f in history[b]), (
            f"episode {b}: policing must converge; got {history[b]}"
        )
        for j in range(n):
            counts = np.bincount(final[b, :, j], minlength=2)
            assert counts.tolist() == quotas[j].tolist(), f"episode {b}, agent {j}: quota broken {counts}"
    assert np.array_equal(final[:, :, 0], classes[:, :, 0]), "agent 0 was never in a flagged coalition"


def test_false_positive_rate_falls_with_k() -> None:
    n, batch = 7, 300
    rates, scaled_rates = [], []
    for k in (30, 120, 480):
        quotas = [ex2_quota(k)] * n
        classes = honest_classes(quotas, batch, seed=k)
        rates.append(len({f.episode for f in find_flags(classes, quotas, k)}) / batch)
        tight = 0.6 * default_threshold(quotas, k, n, 2, PolicingConfig().min_samples)
        scaled_rates.append(len({f.episode for f in find_flags(classes, quotas, k, threshold=tight)}) / batch)
    # Measured: default threshold 0, 0, 0; at 0.6 * epsilon^K about 0.15, 0.07, 0.03.
    for k, rate in zip((30, 120, 480), rates):
        noise = 3 * math.sqrt((1 / k) / batch)
        assert rate <= 1 / k + noise + 1 / batch, f"K={k}: false-positive rate {rate} above its bound 1/K"
    assert rates[-1] <= 0.01, f"K=480: false-positive rate {rates[-1]} is not small"
    for name, series in (("default", rates), ("0.6 * default", scaled_rates)):
        for a, b in itertools.pairwise(series):
            noise = 3 * math.sqrt(max(a, 1 / batch) * (1 - a) / batch)
            assert b <= a + noise, f"{name} threshold: rates {series} must not increase in K beyond noise"
    assert scaled_rates[-1] < scaled_rates[0], f"the scaled threshold's rates must fall: {scaled_rates}"


# ---------------------------------------------------------------------------------------------------------
# police_all_at_once: determinism, randomness, stopping


def test_police_is_deterministic_and_spares_clean_episodes() -> None:
    n, k = 7, 60
    quotas = [ex2_quota(k)] * n
    classes = np.concatenate([example4_classes(k, n, seeds=[0, 1]), honest_classes(quotas, 1, seed=9)])
    assert not any(f.episode == 2 for f in find_flags(classes, quotas, k)), "episode 2 must be clean"
    runs = []
    for _ in range(2):
        rngs = [np.random.default_rng(100 + b) for b in range(3)]
        final, history = police_all_at_once(classes, quotas, k, generators=rngs)
        runs.append((final, history, rngs))
    assert np.array_equal(runs[0][0], runs[1][0]), "the same generators must give the same replacements"
    assert runs[0][1] == runs[1][1], "the same generators must give the same flags acted on"
    assert runs[0][1][2] == [], "the clean episode has no flags acted on"
    fresh = np.random.default_rng(102)
    assert runs[0][2][2].random() == fresh.random(), "the clean episode's generator must not be used"
    other = police_all_at_once(
        classes, quotas, k, generators=[np.random.default_rng(7 + b) for b in range(3)]
    )
    assert not np.array_equal(other[0][:2], runs[0][0][:2]), "other generators should give other replacements"
    assert np.array_equal(classes[0, :, 1], classes[1, :, 1]), "the input classes must not be modified"


def test_police_records_stop_after_max_rounds() -> None:
    n, k = 7, 60
    quotas = [ex2_quota(k)] * n
    classes = example4_classes(k, n, seeds=[0])
    collusive = classes[0, :, 1].copy()
    config = PolicingConfig(max_rounds=3)
    final, history = police_all_at_once(
        classes,
        quotas,
        k,
        config,
        draw_message=lambda j, rng: collusive,
        generators=[np.random.default_rng(0)],
    )
    flags = history[0]
    assert len(flags) == 4, f"3 rounds acted on plus one stopped flag; got {flags}"
    assert [f.stopped for f in flags] == [False, False, False, True], f"only the last is stopped: {flags}"
    assert np.array_equal(final, classes), "re-drawing the same vectors leaves the profile unchanged"
    _, detect_only = police_all_at_once(
        classes, quotas, k, PolicingConfig(max_rounds=0), generators=[np.random.default_rng(0)]
    )
    assert len(detect_only[0]) == 1 and detect_only[0][0].stopped, f"max_rounds=0: got {detect_only[0]}"


def test_police_rejects_inadmissible_draw() -> None:
    n, k = 7, 60
    quotas = [ex2_quota(k)] * n
    classes = example4_classes(k, n, seeds=[0])
    with pytest.raises(ValueError, match="admissible class vector"):
        police_all_at_once(
            classes,
            quotas,
            k,
            draw_message=lambda j, rng: np.ones(k, np.int64),
            generators=[np.random.default_rng(0)],
        )


def test_uniform_arrangement_meets_quota() -> None:
    quota = np.array([3, 0, 5])
    draw = uniform_arrangement(quota, np.random.default_rng(1))
    assert np.bincount(draw, minlength=3).tolist() == [3, 0, 5], f"arrangement {draw} must meet quota {quota}"


# ---------------------------------------------------------------------------------------------------------
# over time


@pytest.mark.parametrize("min_samples", [1, 3])
def test_cumulative_counts_match_full_history(min_samples: int) -> None:
    quotas = [np.array([8, 16]), np.array([6, 6, 12]), np.array([12, 12]), np.array([4, 8, 12])]
    k, n, batch = 24, 4, 3
    classes = honest_classes(quotas, batch, seed=11)
    classes[2, :, 1:3] = classes[2, :, 0:1]  # episode 2: agents 1 and 2 copy agent 0 (quotas aside)
    config = PolicingConfig(max_coalition_size=3, min_samples=min_samples, time_scale=0.5)
    live = CumulativePolicing(quotas, k, n, batch, config)
    seen_flags = 0
    for date in range(1, k + 1):
        live.update(classes[:, date - 1])
        got = live.distances()
        for p, (agent, coalition) in enumerate(live.pairs):
            full = coalition_distance(classes[:, :date], quotas, k, agent, coalition, min_samples)
            assert np.array_equal(got[:, p], full), (
                f"date {date}, pair ({agent}, {coalition}): cumulative {got[:, p]} != full history {full}"
            )
        expected = find_flags(classes[:, :date], quotas, k, config, threshold=time_threshold(date, 0.5))
        expected = [dataclasses.replace(flag, date=date) for flag in expected]
        assert live.flags(date) == expected, f"date {date}: cumulative flags differ from find_flags"
        mask = live.flagged_agents()
        for flag in expected:
            assert mask[flag.episode, list(flag.coalition)].all(), (
                f"date {date}: members of {flag} not marked"
            )
        assert mask.sum() <= sum(len(f.coalition) for f in expected), "only coalition members may be marked"
        seen_flags += len(expected)
    assert seen_flags > 0, "the copied episode should be flagged at some date"


def test_cumulative_copy_is_independent() -> None:
    quotas = [ex2_quota(30)] * 3
    classes = honest_classes(quotas, 2, seed=4)
    live = CumulativePolicing(quotas, 30, 3, 2)
    for date in range(5):
        live.update(classes[:, date])
    twin, deep = live.copy(), copy.deepcopy(live)
    before = live.distances()
    live.update(classes[:, 5])
    assert twin.date == 5 and deep.date == 5, f"copies must stay at date 5; got {twin.date}, {deep.date}"
    assert np.array_equal(twin.distances(), before), "copy() must not see later updates"
    assert np.array_equal(deep.distances(), before), "deepcopy must not see later updates"
    assert live.date == 6, f"the original advances; got date {live.date}"


def test_cumulative_detects_example4_over_time() -> None:
    n, k = 7, 120
    classes = example4_classes(k, n, seeds=[0])
    live = CumulativePolicing([ex2_quota(k)] * n, k, n, 1)
    first = None
    for date in range(1, k + 1):
        live.update(classes[:, date - 1])
        if first is None and live.flags(date):
            first = date
    # with the default time_scale 2.0 the threshold 2/log(k+1) falls below the single-member gap 1/3 only
    # once log(k+1) > 6, but pairs (gap 5/9) fail from log(k+1) > 3.6, i.e. within the first 40 dates.
    assert first is not None and first <= 40, f"Example 4 must be flagged early over time; first at {first}"
    assert live.flagged_agents()[0, 1:].any(), "colluders must be marked at the end"


# ---------------------------------------------------------------------------------------------------------
# errors


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="max_coalition_size: got 0"):
        PolicingConfig(max_coalition_size=0)
    with pytest.raises(ValueError, match="time_scale"):
        PolicingConfig(time_scale=0.0)
    with pytest.raises(ValueError, match="min_samples"):
        PolicingConfig(min_samples=0)
    with pytest.raises(ValueError, match="threshold"):
        PolicingConfig(threshold=-0.1)
    with pytest.raises(ValueError, match="max_rounds"):
        PolicingConfig(max_rounds=-1)


def test_coalition_errors() -> None:
    with pytest.raises(ValueError, match="contains the tested agent 0"):
        coalition_distance(HAND_CLASSES, HAND_QUOTAS, 6, 0, (0, 1))
    with pytest.raises(ValueError, match="allowed sizes are 1..2"):
        coalition_distance(HAND_CLASSES, HAND_QUOTAS, 6, 0, (1, 2, 0))
    with pytest.raises(ValueError, match="distinct agents"):
        coalition_distance(HAND_CLASSES, HAND_QUOTAS, 6, 0, (1, 1))
    with pytest.raises(ValueError, match="max_size: got 3 with 3 agents"):
        coalitions(3, 0, 3)
    with pytest.raises(ValueError, match="agent: got 4"):
        coalitions(3, 4, 1)
    with pytest.raises(ValueError, match="max_size"):
        default_threshold(HAND_QUOTAS, 6, 3, 3)


def test_shape_and_value_errors() -> None:
    with pytest.raises(ValueError, match="classes: got shape"):
        coalition_distance(HAND_CLASSES[0], HAND_QUOTAS, 6, 0, (1,))
    with pytest.raises(ValueError, match="n=2 agents"):
        coalition_distance(HAND_CLASSES, HAND_QUOTAS[:2], 6, 0, (1,))
    with pytest.raises(ValueError, match="T <= K=5"):
        coalition_distance(HAND_CLASSES, [np.array([2, 3])] * 3, 5, 0, (1,))
    with pytest.raises(ValueError, match="has class 2"):
        coalition_distance(HAND_CLASSES + 1, HAND_QUOTAS, 6, 0, (1,))
    with pytest.raises(ValueError, match=r"quotas\[1\]"):
        coalition_distance(HAND_CLASSES, [np.array([2, 4]), np.array([3, 2]), np.array([3, 3])], 6, 0, (1,))
    with pytest.raises(ValueError, match="needs all K=6"):
        police_all_at_once(HAND_CLASSES[:, :5], HAND_QUOTAS, 6, generators=[np.random.default_rng(0)])
    with pytest.raises(ValueError, match="generators: got 0"):
        police_all_at_once(HAND_CLASSES, HAND_QUOTAS, 6)
    with pytest.raises(ValueError, match="date: got 0"):
        time_threshold(0)
    live = CumulativePolicing(HAND_QUOTAS, 6, 3, 1)
    with pytest.raises(ValueError, match="classes_at_date: got shape"):
        live.update(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="num_agents: got 4"):
        CumulativePolicing(HAND_QUOTAS, 6, 4, 1)
    for date in range(6):
        live.update(HAND_CLASSES[:, date])
    with pytest.raises(ValueError, match="no date is left"):
        live.update(HAND_CLASSES[:, 0])
    with pytest.raises(ValueError, match="date: got 5"):
        live.flags(5)
    assert isinstance(live.flags(6), list), "flags at the recorded date must work"


def test_flag_is_frozen_and_two_agents_need_no_policing() -> None:
    flag = Flag(0, 1, (2,), 0.5, 0.4)
    with pytest.raises(AttributeError):
        flag.distance = 0.0  # type: ignore[misc]
    quotas = [ex2_quota(30)] * 2
    classes = honest_classes(quotas, 2, seed=0)
    assert find_flags(classes, quotas, 30, PolicingConfig(max_coalition_size=3)) is not None, (
        "n=2 clamps size"
    )
    live = CumulativePolicing(quotas, 30, 2, 2, PolicingConfig(max_coalition_size=3))
    assert live.pairs == ((0, (1,)), (1, (0,))), f"n=2: only single-member coalitions; got {live.pairs}"
