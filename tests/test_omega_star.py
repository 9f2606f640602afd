"""Omega*: continuation feasibility, the retraction of Lemma 1, and designers of Omega* from statistics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linprog

from linkmech.mechanisms.allocation import EXPONENTIAL, LOG
from linkmech.mechanisms.omega_star import (
    BOUNDS,
    DESIGNERS,
    OmegaStar,
    Retraction,
    Statistics,
    bernstein_design,
    can_continue,
    chebyshev_design,
    continuation,
    design,
    feasible_totals,
    hoeffding_bound,
    hoeffding_design,
    proposition_target,
    regret_bound,
    retract,
    retract_step,
)

T3 = OmegaStar(3, np.array([1.0, 1.0]), 0.5)  # center c = 1, radius x = 0.5, no per-date upper bound


def _interval(omega_star: OmegaStar, history: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(history, dtype=np.float64).reshape(-1, omega_star.num_agents)
    return feasible_totals(omega_star, array, slack=0.0)


# ----------------------------------------------------------------------------------------------------------------
# feasible_totals / can_continue / continuation
# ----------------------------------------------------------------------------------------------------------------


def test_feasible_totals_hand_worked_t3() -> None:
    # Empty prefix: 2 S >= 3 * 2 * (c - x) = 3 and 2 S <= 3 * 2 * (c + x) = 9, i.e. S in [T(c-x), T(c+x)].
    low, high = _interval(T3, [])
    assert np.allclose(low, 1.5) and np.allclose(high, 4.5), (
        f"empty prefix: [{low}, {high}], expected [1.5, 4.5]"
    )
    # omega_1 = 1.2: prefix value S in [1.2 + 2*0.5, 1.2 + 2*1.5] = [2.2, 4.2]; the two remaining values
    # need S <= 2*2*1.5 - 1.2 = 4.8 and S >= 2*2*0.5 - 1.2 = 0.8; bounds S >= 1.2.
    low, high = _interval(T3, [[1.2, 1.2]])
    assert np.allclose(low, 2.2) and np.allclose(high, 4.2), (
        f"after 1.2: [{low}, {high}], expected [2.2, 4.2]"
    )
    # (1.2, 1.0): S in [1.2 + 1, 1.0 + 3] = [2.2, 4.0]; the last date needs P = 2.2 in [2*0.5, 2*1.5] (yes).
    # (1.2, 3.0): P = 4.2 > 2 * 1.5, so the last date's leave-one-out mean 2.1 is too high: empty.
    low, high = _interval(T3, [[1.2, 1.2], [1.0, 3.0]])
    assert np.allclose([low[0], high[0]], [2.2, 4.0]), (
        f"after (1.2, 1.0): [{low[0]}, {high[0]}], expected [2.2, 4]"
    )
    assert low[1] > high[1], f"after (1.2, 3.0): [{low[1]}, {high[1]}] should be empty"
    assert np.array_equal(can_continue(T3, np.array([[1.2, 1.2], [1.0, 3.0]])), [True, False]), "can_continue"
    # A full sequence: S = P = 4.0 (in Omega*: leave-one-out means 1.4, 1.5, 1.1).
    low, high = _interval(T3, [[1.2, 1.2], [1.0, 1.0], [1.8, 2.0]])
    assert np.allclose([low[0], high[0]], [4.0, 4.0]), (
        f"full (1.2, 1.0, 1.8): [{low[0]}, {high[0]}], expected {{4}}"
    )
    assert low[1] > high[1], "full (1.2, 1.0, 2.0): the leave-one-out mean (1.2 + 2)/2 = 1.6 > 1.5, so empty"
    # A per-date upper bound U = 1.4 caps the remaining values: S <= 1.2 + 2 * 1.4 = 4.0.
    bounded = OmegaStar(3, np.array([1.0]), 0.5, upper=1.4)
    low, high = _interval(bounded, [[1.2]])
    assert np.allclose([low[0], high[0]], [2.2, 4.0]), (
        f"U = 1.4 after 1.2: [{low[0]}, {high[0]}], expected [2.2, 4]"
    )
    low, high = _interval(bounded, [[1.5]])
    assert low[0] > high[0], "a prefix value 1.5 above U = 1.4 cannot be continued"


def test_feasible_totals_batched_over_leading_axes() -> None:
    history = np.array([[[1.2, 1.2]], [[1.2, 1.0]]])  # [2, t=1, N=2]
    low, high = feasible_totals(T3, history, slack=0.0)
    assert low.shape == (2, 2) and high.shape == (2, 2), f"shapes {low.shape}, {high.shape}; expected (2, 2)"
    assert np.allclose(low, [[2.2, 2.2], [2.2, 2.0]]), f"low {low}"
    assert np.allclose(high, [[4.2, 4.2], [4.2, 4.0]]), f"high {high}"


def _lp_interval(omega_star: OmegaStar, prefix: np.ndarray) -> tuple[float, float]:
    """min and max of the total over continuations in Omega*n (one agent), by linear programming."""
    big_t, c, x = omega_star.num_dates, float(omega_star.centers[0]), omega_star.radius
    k = len(prefix)
    r = big_t - k
    p = float(prefix.sum())
    if np.any(prefix < omega_star.lower) or np.any(prefix > omega_star.upper):
        return math.inf, -math.inf
    if r == 0:
        return (p, p) if omega_star.contains(prefix[:, None])[0] else (math.inf, -math.inf)
    rows, rhs = [], []
    ones = np.ones(r)
    if omega_star.kind == "leave_one_out":
        m = big_t - 1
        for value in prefix:  # (p - value + sum y) / m within [c - x, c + x]
            rows += [ones, -ones]
            rhs += [m * (c + x) - p + value, -(m * (c - x) - p + value)]
        for j in range(r):  # (p + sum y - y_j) / m within [c - x, c + x]
            row = ones.copy()
            row[j] = 0.0
            rows += [row, -row]
            rhs += [m * (c + x) - p, -(m * (c - x) - p)]
    elif omega_star.kind == "mean":
        rows += [ones, -ones]
        rhs += [big_t * (c + x) - p, -(big_t * (c - x) - p)]
    upper = None if not np.isfinite(omega_star.upper) else omega_star.upper
    bounds = [(omega_star.lower, upper)] * r
    a_ub = np.array(rows) if rows else None
    b_ub = np.array(rhs) if rows else None
    lowest = linprog(ones, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if lowest.status == 2:
        return math.inf, -math.inf
    highest = linprog(-ones, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    top = math.inf if highest.status == 3 else p - highest.fun
    return p + lowest.fun, top


@pytest.mark.parametrize("kind", ["leave_one_out", "mean", "per_date"])
def test_feasible_totals_match_linear_programming(kind: str) -> None:
    rng = np.random.default_rng(3)
    checked = {"feasible": 0, "empty": 0}
    for _ in range(150):
        big_t = int(rng.integers(2, 7))
        c = float(rng.uniform(0.5, 2.0))
        upper = float(rng.choice([np.inf, c + rng.uniform(0.2, 2.0)]))
        lower = float(rng.choice([0.0, max(0.0, c - rng.uniform(0.2, 1.0))]))
        omega_star = OmegaStar(big_t, np.array([c]), float(rng.uniform(0.05, 0.6)), kind, lower, upper)
        k = int(rng.integers(0, big_t + 1))
        prefix = np.clip(c + rng.normal(0.0, 0.5, k), 0.0, None)
        low, high = feasible_totals(omega_star, prefix[:, None], slack=0.0)
        lp_low, lp_high = _lp_interval(omega_star, prefix)
        if lp_low > lp_high:
            checked["empty"] += 1
            assert low[0] > high[0], (
                f"{omega_star}, prefix {prefix}: LP says empty, got [{low[0]}, {high[0]}]"
            )
        else:
            checked["feasible"] += 1
            assert np.isclose(low[0], lp_low, atol=1e-7), (
                f"{omega_star}, prefix {prefix}: low {low[0]} vs LP {lp_low}"
            )
            assert np.isclose(high[0], lp_high, atol=1e-7) or (high[0] == lp_high == math.inf), (
                f"{omega_star}, prefix {prefix}: high {high[0]} vs LP {lp_high}"
            )
    assert min(checked.values()) > 5, f"too few cases of each outcome: {checked}"


def test_continuation_is_admissible_and_closest_to_t_times_center() -> None:
    rng = np.random.default_rng(5)
    omega_star = OmegaStar(6, np.array([1.0, 0.8, 1.5]), 0.3, upper=2.2)
    for k in range(7):
        history = rng.uniform(0.4, 1.8, (400, k, 3))
        ok = can_continue(omega_star, history)
        tail = continuation(omega_star, history)
        assert tail.shape == (400, 6 - k, 3), f"continuation shape {tail.shape}"
        assert np.all(np.isnan(tail[~ok[:, None, :].repeat(6 - k, 1)])), "non-continuable agents must get NaN"
        full = np.concatenate([history, np.where(np.isnan(tail), 0.0, tail)], axis=1)
        inside = omega_star.contains(full)
        assert np.all(inside[ok]), (
            f"prefix length {k}: continuation left Omega* for {np.sum(ok & ~inside)} agents"
        )
        low, high = feasible_totals(omega_star, history)
        total = full.sum(axis=1)
        expected = np.clip(6 * omega_star.centers, low, high)
        assert np.allclose(total[ok], expected[ok]), f"prefix length {k}: S* is not clip(T c, low, high)"
        if k in (3, 4, 5):
            assert 0 < ok.mean() < 1, f"prefix length {k}: want both outcomes, continuable share {ok.mean()}"


# ----------------------------------------------------------------------------------------------------------------
# The retraction (Lemma 1)
# ----------------------------------------------------------------------------------------------------------------


def test_retraction_hand_worked() -> None:
    # Agent 0: (1.2, 3.0, 0.0); date 2 cannot be continued, so from date 2 on it gets the continuation of (1.2):
    # S* = clip(3, 2.2, 4.2) = 3, spread as 0.9, 0.9. Agent 1: (1.2, 1.0, 1.8) is in Omega*: unchanged.
    reports = np.array([[1.2, 1.2], [3.0, 1.0], [0.0, 1.8]])
    retracted = retract(T3, reports)
    assert np.allclose(retracted, [[1.2, 1.2], [0.9, 1.0], [0.9, 1.8]]), f"retracted {retracted.tolist()}"
    # Date 1 out of reach (a value 5 > S - 2 (c - x) for every feasible S): continuation of the empty prefix.
    retracted = retract(T3, np.array([[5.0, 1.0], [1.0, 1.0], [1.0, 1.0]]))
    assert np.allclose(retracted[:, 0], 1.0), (
        f"agent retracted at date 1: {retracted[:, 0]}, expected all 1 = c"
    )


def _omega_stars() -> list[OmegaStar]:
    return [
        OmegaStar(5, np.array([1.0, 0.7, 1.3]), 0.25),
        OmegaStar(5, np.array([1.0, 0.7, 1.3]), 0.25, upper=1.6, lower=0.3),
        OmegaStar(4, np.array([1.0, 1.0, 1.0]), 0.2, kind="mean"),
        OmegaStar(4, np.array([1.0, 1.0, 1.0]), 0.2, kind="per_date", lower=0.5, upper=1.5),
    ]


@pytest.mark.parametrize("omega_star", _omega_stars(), ids=lambda o: f"{o.kind}-U{o.upper}")
def test_retraction_identity_on_omega_star_and_lands_in_it(omega_star: OmegaStar) -> None:
    rng = np.random.default_rng(11)
    reports = rng.uniform(0.0, 2.0, (5000, omega_star.num_dates, omega_star.num_agents))
    reports = np.concatenate([reports, 1.0 + 0.1 * rng.standard_normal(reports.shape).clip(-2, 2)])
    inside = omega_star.contains(reports)
    assert 0.02 < inside.mean() < 0.98, f"want both members and non-members of Omega*: share {inside.mean()}"
    retracted = retract(omega_star, reports)
    assert np.all(omega_star.contains(retracted)), (
        f"{np.sum(~omega_star.contains(retracted))} retracted not in Omega*"
    )
    same = np.all(retracted == reports, axis=-2)
    assert np.all(same[inside]), f"{np.sum(inside & ~same)} members of Omega* were changed by the retraction"
    assert np.array_equal(retract(omega_star, retracted), retracted), "the retraction must be idempotent"


@pytest.mark.parametrize("omega_star", _omega_stars(), ids=lambda o: f"{o.kind}-U{o.upper}")
def test_retraction_is_adapted(omega_star: OmegaStar) -> None:
    rng = np.random.default_rng(13)
    big_t = omega_star.num_dates
    reports = rng.uniform(0.0, 2.0, (3000, big_t, omega_star.num_agents))
    base = retract(omega_star, reports)
    for date in range(big_t):
        changed = reports.copy()
        changed[:, date:, :] = rng.uniform(0.0, 2.0, changed[:, date:, :].shape)
        other = retract(omega_star, changed)
        assert np.array_equal(other[:, :date], base[:, :date]), (
            f"changing reports from date {date + 1} on changed retracted values before it"
        )
        assert not np.array_equal(other[:, date:], base[:, date:]), "the change should matter somewhere"


def test_online_retraction_matches_whole_array() -> None:
    omega_star = OmegaStar(6, np.array([1.0, 0.8, 1.2, 1.0]), 0.2, upper=1.9)
    rng = np.random.default_rng(17)
    reports = rng.uniform(0.2, 1.8, (2000, 6, 4))
    whole = retract(omega_star, reports)
    retracted = np.zeros((2000, 0, 4))
    frozen = np.zeros((2000, 4), dtype=bool)
    for date in range(1, 7):
        value, frozen = retract_step(omega_star, reports[:, :date], retracted, frozen)
        retracted = np.concatenate([retracted, value[:, None, :]], axis=1)
    assert np.array_equal(retracted, whole), "retract_step date by date differs from retract"
    moved = np.any(whole != reports, axis=1)
    assert np.array_equal(frozen, moved), "frozen flags should mark exactly the retracted agents"
    online = Retraction(omega_star, (2000,))
    stepped = np.stack([online.step(reports[:, t]) for t in range(6)], axis=1)
    assert np.array_equal(stepped, whole), "Retraction.step differs from retract"
    assert online.date == 6 and np.array_equal(online.frozen, moved), "Retraction state after T dates"
    with pytest.raises(ValueError, match="all T = 6 dates are done"):
        online.step(reports[:, 0])
    online.reset()
    assert online.date == 0, "reset should clear the history"


# ----------------------------------------------------------------------------------------------------------------
# Regret bound and designers
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("project", [EXPONENTIAL, LOG], ids=lambda p: p.name)
def test_regret_bound_is_papers_in_its_family(project) -> None:
    q, epsilon = 0.7, 0.05
    for n in (2, 5, 20):
        value = regret_bound(n, n, n * q, project, epsilon)
        expected = max(n**2 * q * project.slope_at_zero, epsilon)
        assert math.isclose(value, expected), (
            f"N = {n}: R-bar {value}, expected N^2 q f'(0) v eps = {expected}"
        )
    assert regret_bound(2, 2, 0.01, EXPONENTIAL, 5.0) == 5.0, "R-bar must be at least epsilon"
    beta = 0.9
    expected = 3 * 1.0 * (1 / beta**2 + 1 / beta + 1)
    assert math.isclose(regret_bound(3, 3, 3.0, EXPONENTIAL, 0.1, beta), expected), "discounted R-bar"


def test_hoeffding_radius_hand_checked() -> None:
    # N = T = 50, q = 1, f'(0) = 1, eps = c = 0.5, values in [0, 2] with mean 1:
    # R-bar = 2500, target = 0.5/49 * 0.5/2500 = 2.0408e-6, x = 2 sqrt(ln(2*50/target) / (2*49)) = 0.85014.
    stats = Statistics(mean=1.0, bound=2.0, independent=True)
    omega_star, record = hoeffding_design(stats, 50, 50, resource=50.0, project=EXPONENTIAL, epsilon=0.5)
    target = 0.5 / 49 * 0.5 / 2500
    assert math.isclose(record.target, target), f"target {record.target}, expected {target}"
    expected = 2.0 * math.sqrt(math.log(100 / target) / 98)
    assert math.isclose(expected, 0.85014, rel_tol=1e-4), f"hand value {expected}"
    assert math.isclose(record.radius, expected, rel_tol=1e-9), f"x = {record.radius}, expected {expected}"
    assert math.isclose(record.worst_bound, target, rel_tol=1e-6), (
        "at the smallest x the bound equals the target"
    )
    assert omega_star.kind == "leave_one_out" and omega_star.radius == record.radius, "Omega* carries x"
    assert np.allclose(omega_star.centers, 1.0), "centers are the known means"
    # Small N: the closed form exceeds the largest possible deviation b = 1, where the bound is 0.
    _, small = hoeffding_design(stats, 4, 4, resource=4.0, project=EXPONENTIAL, epsilon=0.5)
    assert small.radius == 1.0 and small.worst_bound == 0.0, (
        f"N = 4: x = {small.radius}, bound {small.worst_bound}"
    )


def _independent_bound(method: str, stats: Statistics, n: int, t: int, x: float) -> float:
    """The bounds written out again, for a common mean (checks the library's formulas)."""
    mu, lower = float(stats.means(1)[0]), stats.lower
    wbar = math.inf if stats.bound is None else stats.bound
    b = max(wbar - mu, mu - lower)
    if x >= b:
        return 0.0
    if method == "hoeffding":
        return min(1.0, 2 * t * math.exp(-2 * (t - 1) * x**2 / (wbar - lower) ** 2))
    variance = float(stats.variances(1)[0])
    if method == "bernstein":
        return min(1.0, 2 * t * math.exp(-(t - 1) * x**2 / (2 * variance + 2 * b * x / 3)))
    k = (
        min(t / (t - 1), 8 * t / (t - 1) ** 2)
        if stats.independent
        else min(t, 4 * (t * t + t) / (t - 1) ** 2)
    )
    return min(1.0, k * variance / x**2)


@pytest.mark.parametrize("method", sorted(DESIGNERS))
def test_designers_meet_proposition_1(method: str) -> None:
    stats = Statistics(mean=1.0, bound=2.0, variance=1 / 3, independent=True)
    for n in (2, 3, 8, 30, 100, 400):
        _, record = DESIGNERS[method](stats, n, n, resource=n * 1.0, project=EXPONENTIAL, epsilon=0.1)
        recomputed = _independent_bound(method, stats, n, n, record.radius)
        assert math.isclose(recomputed, record.worst_bound, rel_tol=1e-9, abs_tol=1e-300), (
            f"{method} N = {n}: library bound {record.worst_bound} vs formula {recomputed}"
        )
        assert record.met and recomputed <= record.target, f"{method} N = {n}: {recomputed} > {record.target}"
        smaller = record.radius * (1 - 1e-6)
        assert _independent_bound(method, stats, n, n, smaller) > record.target, (
            f"{method} N = {n}: x = {record.radius} is not the smallest radius meeting the target"
        )
        assert record.implementation_probability == pytest.approx(1 - n * 0.1 / (n - 1)), "Corollary 1"
        assert record.others_deviate_bound == 0.1 and "epsilon-ex-post equilibrium" in record.equilibrium, (
            "Prop 1"
        )


@pytest.mark.parametrize("method", ["hoeffding", "bernstein"])
def test_radius_shrinks_as_n_grows(method: str) -> None:
    stats = Statistics(mean=1.0, bound=2.0, variance=1 / 3, independent=True)
    sizes = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    radii = [
        DESIGNERS[method](stats, n, n, resource=n * 0.5, project=LOG, epsilon=0.1)[1].radius for n in sizes
    ]
    assert all(a >= b for a, b in itertools.pairwise(radii)), f"{method}: x(N) not nonincreasing: {radii}"
    tail = radii[sizes.index(128) :]
    assert all(a > b for a, b in itertools.pairwise(tail)), (
        f"{method}: x(N) not strictly decreasing for N >= 128: {radii}"
    )
    assert radii[-1] < 0.5 * radii[0], (
        f"{method}: x(1024) = {radii[-1]} should be well below x(2) = {radii[0]}"
    )


def test_chebyshev_alone_does_not_shrink() -> None:
    # Polynomial tails: the target ~ N^-3 forces x ~ N (Assumption 1 needs z^5 g(z) -> 0; 1/z fails).
    stats = Statistics(mean=1.0, variance=1 / 3, independent=True)
    radii = [
        chebyshev_design(stats, n, n, resource=n * 1.0, project=EXPONENTIAL, epsilon=0.1)[1].radius
        for n in (10, 40, 160)
    ]
    assert radii[0] < radii[1] < radii[2], f"Chebyshev x(N) should grow with N: {radii}"


def test_bernstein_beats_hoeffding_with_small_variance() -> None:
    stats = Statistics(mean=1.0, bound=2.0, variance=0.01, independent=True)
    hoeffding = hoeffding_design(stats, 200, 200, resource=200.0, project=EXPONENTIAL, epsilon=0.1)[1].radius
    bernstein = bernstein_design(stats, 200, 200, resource=200.0, project=EXPONENTIAL, epsilon=0.1)[1].radius
    assert bernstein < 0.5 * hoeffding, (
        f"Bernstein x = {bernstein} should be far below Hoeffding x = {hoeffding}"
    )


def test_given_radius_may_miss_the_target() -> None:
    stats = Statistics(mean=1.0, bound=2.0, independent=True)
    omega_star, record = design(
        "hoeffding",
        stats,
        10,
        10,
        resource=10.0,
        project=EXPONENTIAL,
        epsilon=0.1,
        radius=0.3,
        per_date_bounds=True,
    )
    assert omega_star.radius == 0.3 and omega_star.upper == 2.0 and omega_star.lower == 0.0, f"{omega_star}"
    assert not record.met, f"x = 0.3 at N = 10 cannot meet {record.target}; bound {record.worst_bound}"
    assert record.implementation_probability is None and record.others_deviate_bound is None, "no guarantee"
    assert record.equilibrium.startswith("not guaranteed"), record.equilibrium
    assert record.outside_bound == 1.0, f"union over agents capped at 1, got {record.outside_bound}"


def test_per_agent_means_and_dependence() -> None:
    stats = Statistics(mean=(0.5, 1.0, 1.5), variance=(0.1, 0.2, 0.3))
    omega_star, record = chebyshev_design(stats, 3, 20, resource=3.0, project=EXPONENTIAL, epsilon=0.2, c=0.1)
    assert np.allclose(omega_star.centers, [0.5, 1.0, 1.5]), f"centers {omega_star.centers}"
    assert record.met and record.c == 0.1, f"{record}"
    assert record.per_agent_bound[2] == record.worst_bound, "the largest variance binds"
    k = min(20, 4 * (400 + 20) / 19**2)  # any dependence
    assert math.isclose(record.radius, math.sqrt(k * 0.3 / record.target), rel_tol=1e-9), (
        f"x = {record.radius}"
    )


# ----------------------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------------------


def test_errors() -> None:
    with pytest.raises(ValueError, match="radius: got x = 0"):
        OmegaStar(3, np.array([1.0]), 0.0)
    with pytest.raises(ValueError, match="radius: got x = -0.1"):
        design("hoeffding", Statistics(1.0, 2.0, independent=True), 3, 3, 3.0, EXPONENTIAL, 0.1, radius=-0.1)
    with pytest.raises(ValueError, match="lower: got -1"):
        Statistics(mean=1.0, lower=-1.0)
    with pytest.raises(ValueError, match="variance: got -0.5"):
        Statistics(mean=1.0, variance=-0.5)
    with pytest.raises(ValueError, match="bound: got w-bar = -2"):
        Statistics(mean=1.0, bound=-2.0)
    with pytest.raises(ValueError, match="every mean must be <= bound"):
        Statistics(mean=3.0, bound=2.0)
    with pytest.raises(ValueError, match="has variance at most"):
        Statistics(mean=1.0, bound=2.0, variance=2.0)
    with pytest.raises(ValueError, match="reports lie in"):
        retract(T3, -np.ones((3, 2)))
    with pytest.raises(ValueError, match="expected \\[..., t, N=2\\]"):
        feasible_totals(T3, np.ones((2, 3)))
    with pytest.raises(ValueError, match="Omega\\* has T = 3 dates"):
        retract(T3, np.ones((4, 2)))
    with pytest.raises(ValueError, match="Omega\\* has only T = 3 dates"):
        can_continue(T3, np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        feasible_totals(T3, np.full((1, 2), np.nan))
    with pytest.raises(ValueError, match="retracted_history: got shape"):
        retract_step(T3, np.ones((2, 2)), np.ones((2, 2)), np.zeros(2, dtype=bool))
    with pytest.raises(ValueError, match="frozen: got dtype"):
        retract_step(T3, np.ones((1, 2)), np.ones((0, 2)), np.zeros(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="slack: got"):
        feasible_totals(T3, np.ones((1, 2)), slack=1e-6)
    with pytest.raises(ValueError, match="Omega\\*n is empty for agents \\[0\\]"):
        retract(OmegaStar(3, np.array([0.2, 1.0]), 0.1, lower=1.0, upper=2.0), np.ones((3, 2)))
    stats = Statistics(mean=(1.0, 1.0), bound=2.0, variance=0.1, independent=True)
    with pytest.raises(ValueError, match="got 2 per-agent values; the design has N = 3"):
        hoeffding_design(stats, 3, 3, resource=3.0, project=EXPONENTIAL, epsilon=0.1)
    with pytest.raises(ValueError, match="Hoeffding needs a known bound"):
        hoeffding_bound(Statistics(mean=1.0, variance=0.1, independent=True), 2, 3, 0.5)
    with pytest.raises(ValueError, match="Bernstein needs"):
        bernstein_design(Statistics(mean=1.0, bound=2.0, variance=0.1), 2, 3, 3.0, EXPONENTIAL, 0.1)
    with pytest.raises(ValueError, match="variance: not known"):
        chebyshev_design(Statistics(mean=1.0), 2, 3, resource=3.0, project=EXPONENTIAL, epsilon=0.1)
    with pytest.raises(ValueError, match="method: got 'markov'"):
        design("markov", stats, 2, 3, 3.0, EXPONENTIAL, 0.1)
    with pytest.raises(ValueError, match="c: got 0.5; Proposition 1 needs 0 < c <= epsilon"):
        proposition_target(3, 0.5, 0.1, 1.0)
    with pytest.raises(ValueError, match="R-bar >= epsilon"):
        proposition_target(3, 0.1, 0.1, 0.05)
    with pytest.raises(ValueError, match="num_dates: got 1; leave-one-out means need integers T >= 2"):
        hoeffding_design(stats, 2, 1, resource=3.0, project=EXPONENTIAL, epsilon=0.1)
    with pytest.raises(ValueError, match="num_agents: got 1"):
        regret_bound(1, 3, 1.0, EXPONENTIAL, 0.1)
    assert set(BOUNDS) == set(DESIGNERS), "every method has a bound and a designer"
