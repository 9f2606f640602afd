"""Linked VCG transfers: exactness of min over Omega*n of V^n(omega^-n, hat) against SLSQP and brute force."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import lambertw

from linkmech.mechanisms.allocation import (
    EXPONENTIAL,
    LOG,
    FloatArray,
    ProjectType,
    date_weights,
    unlinked_vcg_transfers,
)
from linkmech.mechanisms.linked_vcg import (
    _lambert_w0,
    _minimise,
    _minimise_rows,
    _setup,
    convexity_holds,
    linked_vcg_transfers,
    minimum_unlinked_transfer,
)
from linkmech.mechanisms.omega_star import OmegaStar

# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def sample_inside(rng: np.random.Generator, om: OmegaStar) -> FloatArray:
    """Random endowments [T, N] with every agent's sequence in Omega*n."""
    big_t, n_agents = om.num_dates, om.num_agents
    out = np.zeros((big_t, n_agents))
    for n in range(n_agents):
        c, x = om.centers[n], om.radius
        for _ in range(10_000):
            if om.kind == "leave_one_out":  # leave-one-out sums uniform in [(T-1)(c-x), (T-1)(c+x)]
                sums = rng.uniform((big_t - 1) * (c - x), (big_t - 1) * (c + x), big_t)
                col = sums.sum() / (big_t - 1) - sums
            elif om.kind == "mean":
                col = rng.uniform(0.0, 2.0 * c, big_t)
                col += np.clip(col.mean(), c - x, c + x) - col.mean()
            else:
                high = om.upper if np.isfinite(om.upper) else om.lower + 2 * c
                col = rng.uniform(om.lower, high, big_t)
            trial = out.copy()
            trial[:, n] = col
            if om.contains(trial)[n]:
                out[:, n] = col
                break
        else:
            raise AssertionError(f"could not sample agent {n} inside Omega*n")
    return out


def objective(project: ProjectType, q: float, others: FloatArray, weights: FloatArray):  # type: ignore[no-untyped-def]
    def value(hat: FloatArray) -> float:
        return float(np.sum(weights * others * project.f(q / (hat + others))))

    def grad(hat: FloatArray) -> FloatArray:
        y = q / (hat + others)
        return -(weights * others / q) * y * y * project.derivative(y)

    return value, grad


def slsqp_best(
    project: ProjectType,
    q: float,
    endowments: FloatArray,
    om: OmegaStar,
    n: int,
    beta: float,
    starts: int,
    rng: np.random.Generator,
) -> float:
    """Best value of SLSQP from the agent's report and random feasible starts (only feasible results count)."""
    big_t = om.num_dates
    others = endowments.sum(axis=1) - endowments[:, n]
    value, grad = objective(project, q, others, date_weights(big_t, beta, anchor=big_t))
    c, x = om.centers[n], om.radius
    cons = []
    if om.kind == "leave_one_out":
        m = np.ones((big_t, big_t)) - np.eye(big_t)
        cons = [
            {"type": "ineq", "fun": lambda h: (big_t - 1) * (c + x) - m @ h, "jac": lambda h: -m},
            {"type": "ineq", "fun": lambda h: m @ h - (big_t - 1) * (c - x), "jac": lambda h: m},
        ]
    elif om.kind == "mean":
        one = np.ones((1, big_t))
        cons = [
            {"type": "ineq", "fun": lambda h: np.array([big_t * (c + x) - h.sum()]), "jac": lambda h: -one},
            {"type": "ineq", "fun": lambda h: np.array([h.sum() - big_t * (c - x)]), "jac": lambda h: one},
        ]
    bounds = [(om.lower, om.upper if np.isfinite(om.upper) else None)] * big_t
    best = np.inf
    for k in range(starts):
        start = endowments[:, n] if k == 0 else sample_inside(rng, om)[:, n]
        res = minimize(
            value,
            start,
            jac=grad,
            method="SLSQP",
            constraints=cons,
            bounds=bounds,
            options={"ftol": 1e-15, "maxiter": 500},
        )
        trial = endowments.copy()
        trial[:, n] = res.x
        if om.contains(trial)[n]:
            best = min(best, value(res.x))
    return best


def agent_value(
    project: ProjectType, q: float, endowments: FloatArray, hat: FloatArray, n: int, beta: float
) -> float:
    big_t = endowments.shape[0]
    others = endowments.sum(axis=1) - endowments[:, n]
    value, _ = objective(project, q, others, date_weights(big_t, beta, anchor=big_t))
    return value(hat)


# ---------------------------------------------------------------------------------------------------------------
# exactness against SLSQP (many starts)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("project", [LOG, EXPONENTIAL], ids=["log", "exp"])
@pytest.mark.parametrize("kind", ["leave_one_out", "mean", "per_date"])
@pytest.mark.parametrize("beta", [1.0, 0.9])
def test_minimum_matches_multistart_slsqp(project: ProjectType, kind: str, beta: float) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{project.name}|{kind}|{beta}".encode()))
    for _ in range(2):
        big_t, n_agents = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        centers = rng.uniform(0.5, 1.5, n_agents)
        radius = float(rng.uniform(0.02, 0.9 / (2 * big_t - 3)) * centers.min())
        upper = 2.0 if kind == "per_date" else float(rng.choice([np.inf, 2.0]))
        om = OmegaStar(big_t, centers, radius, kind, 0.0, upper)
        endowments = sample_inside(rng, om)
        q = float(rng.uniform(0.3, 4.0)) * n_agents
        result = minimum_unlinked_transfer(endowments, q, project, om, beta)
        convex = convexity_holds(endowments, q, project, om)
        assert result.values.shape == (n_agents,), (
            f"values shape {result.values.shape}, expected ({n_agents},)"
        )
        assert result.minimisers.shape == (big_t, n_agents), f"minimisers shape {result.minimisers.shape}"
        assert np.all(om.contains(result.minimisers)), (
            f"{project.name} {kind}: minimiser outside Omega*: {result.minimisers.T}"
        )
        for n in range(n_agents):
            ours = float(result.values[n])
            at_hat = agent_value(project, q, endowments, result.minimisers[:, n], n, beta)
            assert abs(at_hat - ours) <= 1e-12 * max(1.0, abs(ours)), (
                f"reported value {ours} differs from the objective at the minimiser {at_hat}"
            )
            best = slsqp_best(project, q, endowments, om, n, beta, 12, rng)
            assert ours <= best + 1e-7, (
                f"{project.name} {kind} beta={beta} T={big_t} agent {n}: ours {ours!r} > SLSQP best {best!r}"
            )
            if convex[n]:
                assert abs(ours - best) <= 1e-6, (
                    f"{project.name} {kind} beta={beta} T={big_t} agent {n}: convex case, ours {ours!r} vs "
                    f"SLSQP best {best!r}"
                )


def test_generic_project_types_match_builtins_and_slsqp() -> None:
    """A user-supplied f goes through the generic inverse (and, with finite y*, the shape check)."""
    exp_copy = ProjectType(
        "exp copy", lambda y: -np.expm1(-np.asarray(y, float)), lambda y: np.exp(-np.asarray(y, float)), 2.0
    )
    log_copy = ProjectType(
        "log copy", lambda y: np.log1p(np.asarray(y, float)), lambda y: 1.0 / (1.0 + np.asarray(y, float))
    )
    rng = np.random.default_rng(11)
    for copy, builtin, q in (
        (exp_copy, EXPONENTIAL, 1.5),
        (log_copy, LOG, 4.0),
        (exp_copy, EXPONENTIAL, 8.0),
    ):
        om = OmegaStar(5, np.array([1.0, 0.8, 1.2]), 0.1)
        endowments = sample_inside(rng, om)
        ours = minimum_unlinked_transfer(endowments, q, copy, om, 0.95).values
        reference = minimum_unlinked_transfer(endowments, q, builtin, om, 0.95).values
        assert np.allclose(ours, reference, rtol=1e-10, atol=0), (
            f"{copy.name} vs {builtin.name} at q={q}: {ours} vs {reference}"
        )
    rational = ProjectType(
        "y/(1+y)",
        lambda y: np.asarray(y, float) / (1 + np.asarray(y, float)),
        lambda y: 1 / (1 + np.asarray(y, float)) ** 2,
    )
    om = OmegaStar(4, np.array([0.4, 0.5]), 0.05)
    endowments = sample_inside(rng, om)
    values = minimum_unlinked_transfer(endowments, 2.0, rational, om).values
    for n in range(2):
        best = slsqp_best(rational, 2.0, endowments, om, n, 1.0, 12, rng)
        assert values[n] <= best + 1e-7, f"y/(1+y) agent {n}: ours {values[n]} > SLSQP {best}"
        assert abs(values[n] - best) <= 1e-6, f"y/(1+y) (convex) agent {n}: ours {values[n]} vs SLSQP {best}"


def test_user_project_with_wrong_curvature_threshold_is_rejected() -> None:
    wrong = ProjectType(
        "exp, y* understated",
        lambda y: -np.expm1(-np.asarray(y, float)),
        lambda y: np.exp(-np.asarray(y, float)),
        1.0,
    )
    om = OmegaStar(3, np.array([0.1, 0.1]), 0.01)
    endowments = np.full((3, 2), 0.1)
    with pytest.raises(NotImplementedError, match="curvature_ok_below"):
        minimum_unlinked_transfer(endowments, 3.0, wrong, om)


# ---------------------------------------------------------------------------------------------------------------
# non-convex instances: brute force, and a naive convex method is wrong
# ---------------------------------------------------------------------------------------------------------------


def brute_force(endowments: FloatArray, q: float, om: OmegaStar, n: int, points: int) -> float:
    """Grid minimum (the grid contains every vertex: LOO over leave-one-out sums, mean over hat), then SLSQP
    polishing from the 20 best grid points (only feasible results count)."""
    big_t = om.num_dates
    others = endowments.sum(axis=1) - endowments[:, n]
    c, x = om.centers[n], om.radius
    if om.kind == "leave_one_out":
        grid = np.linspace((big_t - 1) * (c - x), (big_t - 1) * (c + x), points)
    else:
        grid = np.linspace(0.0, big_t * (c + x), points)
    candidates, scores = [], []
    for first in grid:  # chunk over the first coordinate
        rest = np.stack([g.ravel() for g in np.meshgrid(*([grid] * (big_t - 1)), indexing="ij")], axis=1)
        pts = np.concatenate([np.full((rest.shape[0], 1), first), rest], axis=1)
        if om.kind == "leave_one_out":
            hat = pts.sum(axis=1, keepdims=True) / (big_t - 1) - pts
        else:
            hat = pts[(pts.sum(axis=1) >= big_t * (c - x)) & (pts.sum(axis=1) <= big_t * (c + x))]
        hat = hat[np.all(hat >= om.lower, axis=1)]
        if hat.size:
            vals = (others * EXPONENTIAL.f(q / (hat + others))).sum(axis=1)
            keep = np.argsort(vals)[:20]
            candidates.append(hat[keep])
            scores.append(vals[keep])
    hats, vals = np.concatenate(candidates), np.concatenate(scores)
    order = np.argsort(vals)[:20]
    best = float(vals[order[0]])
    value, grad = objective(EXPONENTIAL, q, others, np.ones(big_t))
    cons: list[dict[str, object]] = []
    if om.kind == "leave_one_out":
        m = np.ones((big_t, big_t)) - np.eye(big_t)
        cons = [
            {"type": "ineq", "fun": lambda h: (big_t - 1) * (c + x) - m @ h, "jac": lambda h: -m},
            {"type": "ineq", "fun": lambda h: m @ h - (big_t - 1) * (c - x), "jac": lambda h: m},
        ]
    else:
        one = np.ones((1, big_t))
        cons = [
            {"type": "ineq", "fun": lambda h: np.array([big_t * (c + x) - h.sum()]), "jac": lambda h: -one},
            {"type": "ineq", "fun": lambda h: np.array([h.sum() - big_t * (c - x)]), "jac": lambda h: one},
        ]
    for start in hats[order]:
        res = minimize(
            value,
            start,
            jac=grad,
            method="SLSQP",
            constraints=cons,
            bounds=[(0.0, None)] * big_t,
            options={"ftol": 1e-15},
        )
        trial = endowments.copy()
        trial[:, n] = res.x
        if om.contains(trial)[n]:
            best = min(best, value(res.x))
    return best


@pytest.mark.parametrize(
    ("kind", "centers", "radius", "q", "endowments"),
    [
        (
            "mean",
            [0.1807971941373665, 0.2515550021413768],
            0.05428023679909672,
            0.739186450925743,
            [
                [0.1748895853033537, 0.2579369309580938],
                [0.2093160087071843, 0.2211284575419271],
                [0.1330053821978698, 0.2527756525623253],
            ],
        ),
        (
            "leave_one_out",
            [0.21841838459054974, 0.21428917303390843],
            0.08916865939413794,
            1.9842647122705315,
            [
                [0.2040932459788569, 0.1939604961926588],
                [0.2231091296087126, 0.232257500900962],
                [0.2049590975424294, 0.1886755062988323],
            ],
        ),
    ],
    ids=["mean", "leave_one_out"],
)
def test_nonconvex_instance_against_brute_force(
    kind: str, centers: list[float], radius: float, q: float, endowments: list[list[float]]
) -> None:
    """1 - exp(-y), small endowments, large resource: h_t concave on Omega*n; a convex method stops short."""
    om = OmegaStar(3, np.array(centers), radius, kind)
    array = np.array(endowments)
    assert not np.any(convexity_holds(array, q, EXPONENTIAL, om)), "instance meant to be non-convex"
    values, _, lower, _, _ = _minimise(array, q, EXPONENTIAL, om)
    naive, *_ = _minimise(array, q, EXPONENTIAL, om, convexify=False)  # envelopes off: KKT of a convex method
    worst_naive = 0.0
    for n in range(2):
        brute = brute_force(array, q, om, n, 161)
        assert values[n] <= brute + 1e-12, (
            f"{kind} agent {n}: ours {values[n]!r} above the brute minimum {brute!r}"
        )
        assert values[n] >= brute - 1e-9, (
            f"{kind} agent {n}: ours {values[n]!r} below the brute minimum {brute!r}"
        )
        assert lower[n] <= brute + 1e-12, f"{kind} agent {n}: certified lower bound {lower[n]!r} > {brute!r}"
        worst_naive = max(worst_naive, (naive[n] - brute) / brute)
    assert worst_naive > 3e-3, (
        f"{kind}: the naive convex method should miss the minimum here (rel err {worst_naive})"
    )


def test_concave_vertex_enumeration_agrees_with_branch_and_bound() -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(40):
        big_t, n_agents = int(rng.integers(3, 6)), 3
        centers = rng.uniform(0.05, 0.2, n_agents)
        radius = float(rng.uniform(0.1, 1.2) * centers.min() / (2 * big_t - 3))
        upper = float(rng.choice([np.inf, centers.max() + 0.5 * radius * big_t]))
        om = OmegaStar(big_t, centers, radius, "leave_one_out", 0.0, upper)
        endowments = np.clip(centers + rng.uniform(-radius, radius, (big_t, n_agents)) * 0.2, 0, None)
        if not np.all(om.contains(endowments)):
            continue
        q = float(rng.uniform(1.0, 3.0))
        values, _, _, _, _ = _minimise(endowments, q, EXPONENTIAL, om, 0.9)
        st = _setup(endowments, q, EXPONENTIAL, om, 0.9, True)
        bnb, _, _, _ = _minimise_rows(st.curves, st.prob, st.own, st.inside, False, 1e-11, 10**6, True, None)
        assert np.allclose(values, bnb, rtol=0, atol=1e-9), (
            f"vertex search {values} vs branch and bound {bnb}"
        )
        checked += 1
    assert checked >= 20, f"only {checked} instances were inside Omega*"


def test_branch_and_bound_budget_raises_instead_of_guessing() -> None:
    big_t, rng = 50, np.random.default_rng(50)
    centers = rng.uniform(0.05, 0.2, 4)
    radius = 0.3 * centers.min() / ((2 * big_t - 3) / 3)
    om = OmegaStar(big_t, centers, radius)
    endowments = centers + rng.uniform(-radius, radius, (big_t, 4)) * 0.2
    with pytest.raises(RuntimeError, match="max_nodes") as error:
        minimum_unlinked_transfer(endowments, 1.5, EXPONENTIAL, om, max_nodes=200)
    # the message names the certified gap reached, and that tolerance is then accepted within the same budget
    suggested = float(re.search(r"pass rtol=([0-9.e+-]+) or more", str(error.value)).group(1))
    assert 1e-10 < suggested < 1e-2
    loose = minimum_unlinked_transfer(endowments, 1.5, EXPONENTIAL, om, max_nodes=200, rtol=suggested)
    coarse = minimum_unlinked_transfer(endowments, 1.5, EXPONENTIAL, om, rtol=1e-3, max_nodes=200)
    assert np.allclose(loose.values, coarse.values, rtol=1e-3)  # both within their certified gaps


# ---------------------------------------------------------------------------------------------------------------
# transfers
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["leave_one_out", "mean", "per_date"])
def test_transfers_between_zero_and_unlinked_with_batches(kind: str) -> None:
    rng = np.random.default_rng(7)
    big_t, n_agents = 5, 3
    om = OmegaStar(big_t, np.array([1.0, 0.7, 1.3]), 0.08, kind, 0.0, 3.0 if kind == "per_date" else np.inf)
    batch = np.stack([sample_inside(rng, om) for _ in range(4)]).reshape(2, 2, big_t, n_agents)
    for project, q in ((LOG, 3.0), (EXPONENTIAL, 3.0), (EXPONENTIAL, 12.0)):
        transfers = linked_vcg_transfers(batch, q, project, om, 0.9)
        unlinked = unlinked_vcg_transfers(batch, q, project, 0.9)
        assert transfers.shape == (2, 2, n_agents), f"transfers shape {transfers.shape}"
        assert np.all(transfers >= 0), f"{project.name} {kind}: negative linked transfer {transfers.min()}"
        assert np.all(transfers <= unlinked * (1 + 1e-12)), f"{project.name} {kind}: V* > V"
        values = minimum_unlinked_transfer(batch, q, project, om, 0.9).values
        assert np.allclose(transfers, unlinked - values, rtol=1e-10, atol=1e-12), "V* = V - min"
        for i in range(2):
            for j in range(2):
                single = linked_vcg_transfers(batch[i, j], q, project, om, 0.9)
                assert np.allclose(single, transfers[i, j], rtol=1e-12, atol=1e-13), (
                    f"episode ({i},{j}) alone {single} vs batched {transfers[i, j]}"
                )


def test_per_date_minimum_at_upper_bound_or_zero() -> None:
    rng = np.random.default_rng(1)
    om_inf = OmegaStar(4, np.ones(3), 0.1, "per_date")
    endowments = sample_inside(rng, om_inf)
    transfers = linked_vcg_transfers(endowments, 3.0, LOG, om_inf)
    assert np.allclose(transfers, unlinked_vcg_transfers(endowments, 3.0, LOG), rtol=1e-12), (
        "upper = inf: the infimum is 0, so V* = V"
    )
    result = minimum_unlinked_transfer(endowments, 3.0, LOG, om_inf)
    assert np.all(np.isinf(result.minimisers)) and np.all(result.values == 0), (
        "upper = inf: minimiser inf, value 0"
    )
    om = OmegaStar(4, np.ones(3), 0.1, "per_date", 0.5, 2.0)
    endowments = sample_inside(rng, om)
    result = minimum_unlinked_transfer(endowments, 3.0, EXPONENTIAL, om)
    assert np.all(result.minimisers == 2.0), (
        f"per_date: minimiser should be the upper bound, got {result.minimisers}"
    )


def test_tiny_radius_gives_tiny_transfers() -> None:
    """Omega*n shrinks to the single sequence (c, ..., c): nothing left to pay."""
    centers = np.array([1.0, 0.6, 1.4])
    for kind in ("leave_one_out", "mean"):
        om = OmegaStar(6, centers, 1e-10, kind)
        endowments = np.tile(centers, (6, 1))
        for project in (LOG, EXPONENTIAL):
            transfers = linked_vcg_transfers(endowments, 5.0, project, om)
            unlinked = unlinked_vcg_transfers(endowments, 5.0, project)
            assert np.all(transfers >= 0) and np.all(transfers <= 1e-6 * unlinked), (
                f"{kind} {project.name}: transfers {transfers} should vanish (unlinked {unlinked})"
            )


def test_reports_outside_omega_star_are_rejected_by_name() -> None:
    om = OmegaStar(4, np.array([1.0, 1.0, 1.0]), 0.05)
    endowments = np.ones((4, 3))
    endowments[:, 2] = [1.0, 1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="agent n=2"):
        linked_vcg_transfers(endowments, 3.0, LOG, om)
    transfers = linked_vcg_transfers(endowments, 3.0, LOG, om, check=False)
    assert np.all(np.isfinite(transfers)), f"check=False should still compute: {transfers}"


def test_convexity_flag() -> None:
    om = OmegaStar(5, np.array([1.0, 1.0]), 0.1)
    endowments = np.ones((5, 2))
    assert np.all(convexity_holds(endowments, 100.0, LOG, om)), "log(1+y) is always convex"
    assert np.all(convexity_holds(endowments, 1.0, EXPONENTIAL, om)), "exp with y <= 2 on the range is convex"
    assert not np.any(convexity_holds(endowments, 10.0, EXPONENTIAL, om)), "exp with y > 2 is not"


def test_optimality_by_perturbation_at_moderate_size() -> None:
    """T = 60: no feasible exchange e_i - e_j or floor move improves the minimiser (beyond rounding)."""
    rng = np.random.default_rng(4)
    big_t, n_agents = 60, 5
    shock = rng.uniform(0.5, 1.5, big_t)
    endowments = shock[:, None] * rng.uniform(0.5, 1.5, (big_t, n_agents))
    centers = endowments.mean(axis=0)
    loo = (endowments.sum(axis=0) - endowments) / (big_t - 1)
    om = OmegaStar(big_t, centers, 1.05 * float(np.abs(loo - centers).max()))
    for project in (LOG, EXPONENTIAL):
        result = minimum_unlinked_transfer(endowments, float(n_agents), project, om, 0.98)
        for n in range(n_agents):
            hat = result.minimisers[:, n]
            base = agent_value(project, float(n_agents), endowments, hat, n, 0.98)
            for _ in range(300):
                i, j = rng.choice(big_t, 2, replace=False)
                step = 10 ** rng.uniform(-7, -2)
                moved = hat.copy()
                moved[i] += step
                moved[j] -= step
                trial = endowments.copy()
                trial[:, n] = moved
                if om.contains(trial)[n]:
                    better = base - agent_value(project, float(n_agents), endowments, moved, n, 0.98)
                    assert better <= 1e-11 * base, f"{project.name} agent {n}: exchange improves by {better}"


def test_lambert_w0_matches_scipy() -> None:
    z = np.concatenate([np.linspace(-1 / np.e, 0, 5001)[1:-1], -1 / np.e + np.geomspace(1e-14, 1e-2, 200)])
    ours, ref = _lambert_w0(z), lambertw(z).real
    assert np.max(np.abs(ours - ref)) <= 1e-7, f"W0 error {np.max(np.abs(ours - ref))}"
    y = -2 * ours
    assert np.max(np.abs(y * y * np.exp(-y) - 4 * z * z) / (4 * z * z)) <= 1e-14, "y^2 e^-y = gamma residual"


def test_large_instance_runs() -> None:
    """N = T = 1000 (timing: scripts/bench_linked_vcg.py)."""
    rng = np.random.default_rng(0)
    big_n = 1000
    endowments = rng.uniform(0.5, 1.5, (big_n, big_n))
    loo = (endowments.sum(axis=0) - endowments) / (big_n - 1)
    om = OmegaStar(big_n, np.ones(big_n), 2 * float(np.abs(loo - 1.0).max()) + 1e-3)
    transfers = linked_vcg_transfers(endowments, float(big_n), LOG, om)
    unlinked = unlinked_vcg_transfers(endowments, float(big_n), LOG)
    assert transfers.shape == (big_n,), f"shape {transfers.shape}"
    assert np.all(np.isfinite(transfers)), "non-finite transfers"
    assert np.all(transfers >= 0) and np.all(transfers <= unlinked), "0 <= V* <= V"
    assert transfers.sum() < 0.05 * unlinked.sum(), (
        f"linked cost {transfers.sum():.3g} should be a small fraction of unlinked {unlinked.sum():.3g}"
    )
