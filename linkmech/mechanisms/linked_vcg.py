r"""Linked VCG transfers (Zhu 2022, Section 3.4): exact minimisation of the unlinked transfer over Omega*n.

Zhu's linked VCG mechanism pays agent n

    V*^n(omega) = V^n(omega) - min_{hat in Omega*n} V^n(omega^-n, hat),

where V^n is the unlinked VCG transfer (:func:`linkmech.mechanisms.allocation.unlinked_vcg_transfers`). The
hard part is the minimum; this module computes it exactly (to floating-point precision, or to a certified
relative gap ``rtol`` when it is not convex) and fast (vectorised over episodes and agents).

Notation: q = q-bar (``resource``), w_t = beta**(t - T) (the transfer's date weights), c = omega^{avg,n} (the
agent's center), x = the radius, [lo, up] = the per-date bounds, y* = ``project.curvature_ok_below``.

1. Separable structure
----------------------
Under the efficient allocation every project at date t runs at intensity q / (total endowment), so each
other agent m contributes omega_t^m f(q / (hat_t + W_t)) with W_t = sum_{m != n} omega_t^m (others' total):

    V^n(omega^-n, hat) = sum_t w_t h_t(hat_t),   h_t(z) = W_t f(q / (z + W_t))   (h_t = 0 when W_t = 0).

The objective is SEPARABLE across dates. With y = q / (z + W_t) (dy/dz = -y^2 / q):

    h_t'(z)  = -(W_t / q) y^2 f'(y) <= 0                                   (h_t is DECREASING),
    h_t''(z) = (W_t y^3 / q^2) (y f''(y) + 2 f'(y)) = (W_t y^2 / q^2) * y G'(y),   G(y) := y^2 f'(y),

so h_t is convex in z exactly where G is nondecreasing at y = q / (z + W_t). For log(1 + y),
G = y^2 / (1 + y) is increasing everywhere: always convex. For 1 - exp(-y), G = y^2 e^-y increases on [0, 2]
and decreases after: h_t is CONCAVE for z < kappa_t := q / 2 - W_t and convex for z >= kappa_t. In general
kappa_t = q / y* - W_t. Below, F_t = w_t h_t and g_t = -F_t' = (w_t W_t / q) G(y) >= 0 ("marginal value").

2. The sets Omega*n (S = sum_t hat_t)
-------------------------------------
- leave_one_out: |(S - hat_t) / (T - 1) - c| <= x for every t, i.e. with A = (T - 1)(c + x) and
  B = (T - 1)(c - x): ``hat_t in [max(lo, S - A), min(up, S - B)]`` for every t; summing the T leave-one-out
  constraints gives S in [T(c - x), T(c + x)] (implied). All dates share one box, which moves with S. Writing
  S = A + m (m = the "floor": every hat_t >= m) and D = A - B = 2(T - 1)x, the set is

      {hat : sum_t hat_t = A + m,  max(lo, m) <= hat_t <= min(up, m + D),  m in M},

  where M is the interval of m for which this is nonempty. Each coordinate ranges over at most
  [c - (2T - 3)x, c + (2T - 3)x] (Zhu's Lemma 5 bound c + (2T - 1)x is not tight).
- mean: S in [T(c - x), T(c + x)] and hat_t in [lo, up]. Because every F_t is decreasing, some minimiser
  uses the largest total S* = min(T(c + x), T up) (raise any coordinate below ``up`` until the sum binds);
  this holds for ANY f, convex or not, so "mean" is a fixed-sum problem.
- per_date: the box [lo, up]^T; by monotonicity the minimum is at hat_t = up. If up = inf it is not
  attained: the infimum is the limit h_t(z -> inf) = W_t f(0) = 0, reported with minimiser ``inf``.
  (Leave-one-out also has a monotone reduction: a point is Pareto-maximal iff at least two coordinates sit at
  the floor m = S - A, unless ``up`` binds; the minimiser is found below without using this.)

3. Convex case: one multiplier, two monotone root searches (exact)
------------------------------------------------------------------
phi(S) = min {sum F_t(hat_t) : sum hat = S, hat_t in [L(S), U(S)]} is convex in S when every F_t is convex
on the feasible range: the constraints are linear in (hat, S), so {(hat, S)} is a polyhedron, and partially
minimising a jointly convex function over a convex set leaves a convex function. Instead of a golden-section
search on S around an inner water-filling, the module dualises the single sum constraint and keeps the floor
m as a primal variable (it determines S = A + m):

    d(lambda) = min_{m in M, hat_t in [max(lo, m), min(up, m + D)]} sum_t F_t(hat_t) + lambda (sum hat - A - m).

* For fixed (lambda, m) each date solves min F_t(z) + lambda z on its box: hat_t = clip(X_t(lambda), box(m))
  with X_t(lambda) = g_t^{-1}(lambda), i.e. G(y) = lambda q / (w_t W_t). Closed forms: log:
  y = (gamma + sqrt(gamma^2 + 4 gamma)) / 2; exp: y = -2 W0(-sqrt(gamma) / 2) (principal Lambert branch by
  a vectorised Halley iteration, |G(y) - gamma| <= 1e-15 gamma); any other f: a vectorised bracketed search.
* For fixed lambda the objective is convex in m with derivative
  psi(m) = sum_{dates clipped at the floor m} (lambda - g_t(m)) + sum_{dates clipped at m + D}
  (lambda - g_t(m + D)) - lambda, nondecreasing, needing g only (no inverse). m(lambda) solves psi = 0. At the
  optimum this reads: the glued dates' marginal values average out to the budget price (sum_t g_t(hat_t) =
  (T - 1) lambda when no per-date bound binds). psi is smooth between kinks except for JUMPS where m meets a
  static bound (m = lo: dates held at ``lower`` become floor-bound); the root often sits exactly there (many
  dates at ``lower`` = 0 is typical for wide windows), so those points are probed first; otherwise a
  safeguarded Newton step (psi' = sum over glued dates of -g', -g' = (w_t W_t / q^2) y^2 G'(y)) finds it in
  2-4 steps.
* d is concave with supergradient r(lambda) = sum hat - A - m (nonincreasing): lambda* is its root, found by
  a vectorised ITP search (interpolate-truncate-project: never more steps than bisection + 1).
  m(lambda) is NONINCREASING in lambda (at a root at least two dates are floor-bound, since each term is
  < lambda, and d psi / d lambda = #glued - 1 >= 1 > 0), so m(lambda) for lambda inside the current bracket
  lies between the floors found at its ends: every inner search is warm-started in that (shrinking) interval.
  Until the outer search converges only the SIGN of r is needed, and r(m) = sum clip - A - m has slope in
  [-1, T - 1] in m, so the inner search stops as soon as its bracket [mL, mU] has R(mL) > mU - mL or
  R(mU) < -(mU - mL). The two final ends are then solved exactly.
* The primal point is recovered from the two bracket ends (hat_a, m_a), (hat_b, m_b), residuals
  r_a >= 0 >= r_b, as the convex combination with residual 0: it satisfies every constraint (they are linear
  in (hat, m)) and its value exceeds the optimum by at most theta r_a (lambda_b - lambda_a), which is SECOND
  order in the bracket width (as is the error from m). The dual value max(d(lambda_a), d(lambda_b)) is a
  lower bound; the returned value is the objective at the (feasible) recovered point.
Tolerances: brackets of relative width 1e-7 in lambda and in m (second-order effect); measured agreement
with runs at 1e-13: <= 3e-15 relative; primal - dual bound <= ~4e-13 relative; agreement with SLSQP from
many starts <= 1e-11. Cost: ~15-25 outer steps x (one inverse + a few psi evaluations), each O(T), for all
agents and episodes in one [rows, T] array. Measured (scripts/bench_linked_vcg.py, 2 cores): N = T = 100 in
0.02-0.12 s; N = T = 1000 in 1.7-3.8 s with beta = 1, 5-8 s with beta = 0.99 (weights spanning e^10).

4. Non-convex case (e.g. 1 - exp(-y) where q / (hat_t + W_t) > 2 is feasible)
------------------------------------------------------------------------------
Each F_t is concave on [lo, kappa_t] and convex after (checked for user-supplied f: G must be nondecreasing
below y* and nonincreasing above). Three exact tools, chosen per agent:

(a) Every date concave on the agent's whole range, leave_one_out: vertex enumeration. A concave function is
    minimised at a vertex of the polytope. In (hat, m) form a vertex has one active bound per date out of
    {lo, up, m, m + D}, or m pinned at lo, lo - D, up - D or up by a doubly active date (then one date is
    free). For an unpinned m only one low value (lo if m <= lo, else m) and one high value (m + D or up)
    are feasible; with k high dates the sum fixes m, and the best k dates are those with the smallest
    F_t(high) - F_t(low). Enumerating k = 0..T (4 families) and the pinned cases (one free date, chosen with
    prefix sums) is exact, O(T^2 log T) per agent. This is Zhu's large-T regime when q / omega^avg > 2.
(b) Otherwise: branch and bound with convex envelopes, certified. On a box [a, b] the envelope of F_t is the
    line from (a, F(a)) tangent to F at tau in [max(kappa, a), b] (or the chord to b), then F. Replacing
    every F_t by its envelope over the node's box gives a convex problem solved by section 3 (flat marginal
    values are handled by the convex-combination recovery). Its optimum is feasible (upper bound: its true
    value); its value is a lower bound. Why the relaxation is nearly tight: for fixed m the constraints are
    one sum and a common box; if two dates i, j sat strictly inside the linear pieces of their envelopes
    (and the box), moving along e_i - e_j would keep feasibility and change the relaxed objective linearly,
    so one can move until one of them leaves its linear piece. Hence some relaxed optimum has at most ONE
    date where envelope and F differ. The same argument on F itself: at an optimum at most one date lies
    strictly inside its concave part and strictly inside the box; the others sit at the box ends or in the
    convex part. So the gap comes from one date, plus for leave_one_out the dates glued to the floor m, whose
    envelopes are anchored at the lower end of the node's m-interval.
    Branching (Udell-Boyd style, batched over all open nodes of all agents): on the date with the largest
    gap F - envelope, at its relaxed value (making the envelope exact there in both children); or, when the
    gap sits on dates glued to m, on the m-interval. A node closes when its lower bound is within
    ``rtol * scale`` of the best feasible value (scale = sum_t F_t at the smallest feasible hat_t, the
    largest possible value), or when envelope = F at its relaxed optimum. Certified: best value - min over
    leaves of their lower bound <= rtol * scale.
    Cost: one convex solve per node. Measured: fixed-sum (mean) problems and leave_one_out with T <= 10 need
    tens to hundreds of nodes. Leave_one_out with many dates that are concave-then-convex INSIDE their range
    (i.e. q / (hat + W) crosses y* within Omega*n; in Zhu's scaling only when q / omega^avg is close to y*)
    can exceed ``max_nodes`` (T = 50: it did). Separable concave-convex knapsacks are NP-hard in general.
    That is a RuntimeError, never a silently wrong answer.
(c) Convex agents never branch (their relaxation is exact at the root).
The agent's own report (when in Omega*n) seeds the incumbent, so V*^n >= 0 exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from linkmech.mechanisms.allocation import (
    EXPONENTIAL,
    LOG,
    FloatArray,
    ProjectType,
    check_endowments,
    date_weights,
)
from linkmech.mechanisms.omega_star import OmegaStar

IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

RTOL = 1e-10
"""Default certified relative gap of the non-convex branch and bound (relative to the largest possible value)."""

MAX_NODES = 200_000
"""Default cap on branch-and-bound nodes (summed over all agents) before a RuntimeError."""

_EPS = float(np.finfo(np.float64).eps)
_EXP_G_MAX = 4.0 * np.exp(-2.0)  # max of y^2 e^-y, at y = 2
_LAMBDA_TOL = 1e-7  # bracket width of the multiplier, relative to its largest possible value (second order)
_M_TOL = 1e-7  # bracket width of the floor m, relative to the dates' scale |A| / (T - 1) + |m_max|


class LinkedMinimum(NamedTuple):
    """Result of :func:`minimum_unlinked_transfer`."""

    values: FloatArray
    """``[..., N]`` min over Omega*n of V^n(omega^-n, hat)."""
    minimisers: FloatArray
    """``[..., T, N]`` a minimiser hat^n for every agent (``inf`` entries: per_date with upper = inf)."""


# ---------------------------------------------------------------------------------------------------------------
# Project-type curves: F, g = -F', the convex-branch inverse of g
# ---------------------------------------------------------------------------------------------------------------


def _lambert_w0(z: FloatArray) -> FloatArray:
    """Principal branch W0(z) for z in [-1/e, 0] (vectorised; Halley iterations; ~1 ulp away from -1/e)."""
    z = np.clip(np.asarray(z, dtype=np.float64), -1.0 / np.e, 0.0)
    p = np.sqrt(np.maximum(2.0 * (np.e * z + 1.0), 0.0))
    branch = -1.0 + p * (
        1.0 + p * (-1.0 / 3.0 + p * (11.0 / 72.0 + p * (-43.0 / 540.0 + p * 769.0 / 17280.0)))
    )
    small = z * (1.0 + z * (-1.0 + z * (1.5 + z * (-8.0 / 3.0))))
    w = np.where(z > -0.25, small, branch)
    refine = p > 1e-3  # closer to the branch point the series is exact to rounding and Halley is ill-posed
    if np.any(refine):
        wr, zr = w[refine], z[refine]
        for _ in range(4):
            ew = np.exp(wr)
            f = wr * ew - zr
            wp1 = wr + 1.0
            wr = wr - f / (ew * wp1 - (wr + 2.0) * f / (2.0 * wp1))
        w[refine] = wr
    return w


class _Curves:
    """F_t(z) = c_t f(q / (z + W_t)) with c_t = w_t W_t, its marginal value g_t = -F_t', and g's inverse."""

    def __init__(self, project: ProjectType, resource: float):
        self.project = project
        self.q = float(resource)
        self.ystar = float(project.curvature_ok_below)
        self.kind = "log" if project is LOG else "exp" if project is EXPONENTIAL else "generic"

    def intensity(self, z: FloatArray, big_w: FloatArray) -> FloatArray:
        """Q / (z + W), finite: totals below q * 1e-150 are raised to it.

        Only where c = 0 or masked out later, so the result stays finite and y^2 cannot overflow.
        """
        total = np.add(z, big_w)
        np.maximum(total, self.q * 1e-150 + 1e-300, out=total)
        return np.divide(self.q, total, out=total)

    def value(self, z: FloatArray, big_w: FloatArray, c: FloatArray) -> FloatArray:
        """F(z); 0 where c = 0; at z = inf the limit c f(0) = 0."""
        y = self.intensity(z, big_w)
        return np.where(c > 0, c * np.asarray(self.project.f(y), dtype=np.float64), 0.0)

    def big_g(self, y: FloatArray) -> FloatArray:
        """G(y) = y^2 f'(y)."""
        return y * y * np.asarray(self.project.derivative(y), dtype=np.float64)

    def slope(self, z: FloatArray, big_w: FloatArray, c: FloatArray) -> FloatArray:
        """g(z) = -F'(z) = (c / q) G(q / (z + W)) >= 0."""
        if self.q <= 0:
            return np.zeros(np.broadcast_shapes(np.shape(z), np.shape(big_w), np.shape(c)))
        y = self.intensity(z, big_w)
        fp = np.asarray(self.project.derivative(y), dtype=np.float64)
        np.multiply(y, y, out=y)
        np.multiply(y, fp, out=y)
        np.multiply(y, c, out=y)
        return np.divide(y, self.q, out=y)

    def big_g_prime(self, y: FloatArray) -> FloatArray:
        """G'(y) = 2 y f'(y) + y^2 f''(y) (closed forms for the built-ins, a central difference otherwise)."""
        if self.kind == "log":
            return y * (y + 2.0) / ((1.0 + y) * (1.0 + y))
        if self.kind == "exp":
            return (2.0 * y - y * y) * np.exp(-y)
        h = 1e-6 * np.maximum(y, 1e-3)
        return (self.big_g(y + h) - self.big_g(np.maximum(y - h, 0.0))) / (y + h - np.maximum(y - h, 0.0))

    def slope_and_curvature(
        self, z: FloatArray, big_w: FloatArray, scale: FloatArray, curvature: bool = True
    ) -> tuple[FloatArray, FloatArray | None]:
        """The pair (g(z), -g'(z)) from ``scale = c / q``.

        g = scale G(y), -g' = (scale / q) y^2 G'(y) (>= 0 on the convex branch); the second is None unless
        ``curvature``. Fused formulas for the built-ins.
        """
        y = self.intensity(z, big_w)
        y2 = y * y
        if self.kind == "log":
            fp = np.divide(1.0, y + 1.0)  # f' = 1 / (1 + y); G' = 1 - f'^2
            g = y2 * fp
            g *= scale
            if not curvature:
                return g, None
            fp *= fp
            np.subtract(1.0, fp, out=fp)
            fp *= y2
            fp *= scale
            fp /= self.q
            return g, fp
        if self.kind == "exp":
            e = np.exp(-y)  # G = y^2 e^-y; G' = 2 y e^-y - G
            g0 = y2 * e
            g = g0 * scale
            if not curvature:
                return g, None
            e *= 2.0 * y
            e -= g0
            e *= y2
            e *= scale
            e /= self.q
            return g, e
        g = y2 * np.asarray(self.project.derivative(y), dtype=np.float64) * scale
        if not curvature:
            return g, None
        return g, y2 * self.big_g_prime(y) * (scale / self.q)

    def kappa(self, big_w: FloatArray) -> FloatArray:
        """Inflection point: F is convex for z >= kappa (y <= y*)."""
        if not np.isfinite(self.ystar):
            return np.full(np.shape(big_w), -np.inf)
        return self.q / self.ystar - big_w

    def inverse(
        self, lam: FloatArray, big_w: FloatArray, c: FloatArray, low: FloatArray, high: FloatArray
    ) -> FloatArray:
        """The z in [low, high] with g(z) = lam on the convex branch (clipped); needs lam > 0, c > 0, low >= kappa."""
        q = self.q
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            gamma = lam * q / c
            if self.kind == "log":
                y = 0.5 * (gamma + np.sqrt(gamma * (gamma + 4.0)))
            elif self.kind == "exp":
                y = -2.0 * _lambert_w0(-0.5 * np.sqrt(np.minimum(gamma, _EXP_G_MAX)))
            else:
                y = self._generic_inverse(gamma, big_w, low, high)
            z = np.where(y > 0, q / y - big_w, np.inf)
        return np.minimum(np.maximum(z, low), high)

    def _generic_inverse(
        self, gamma: FloatArray, big_w: FloatArray, low: FloatArray, high: FloatArray
    ) -> FloatArray:
        shape = np.broadcast_shapes(np.shape(gamma), np.shape(big_w), np.shape(low))
        gamma, big_w = np.broadcast_to(gamma, shape), np.broadcast_to(big_w, shape)
        y_top = self.intensity(np.broadcast_to(low, shape), big_w)  # largest relevant intensity
        y_bottom = self.intensity(np.broadcast_to(high, shape), big_w)
        out = np.where(gamma >= self.big_g(y_top), y_top, y_bottom)
        inside = (gamma < self.big_g(y_top)) & (gamma > self.big_g(y_bottom)) & np.isfinite(gamma)
        if np.any(inside):
            g_in = gamma[inside]

            def fun(y: FloatArray, idx: IntArray, _: object) -> tuple[FloatArray, tuple[FloatArray, ...]]:
                return self.big_g(y) - g_in[idx], ()

            lo_y, hi_y = y_bottom[inside], y_top[inside]
            a, b, fa, fb, _, _ = _bracketed_root(
                fun, lo_y, hi_y, self.big_g(lo_y) - g_in, self.big_g(hi_y) - g_in, atol=np.zeros_like(g_in)
            )
            out[inside] = _secant_point(a, b, fa, fb)
        return out


# ---------------------------------------------------------------------------------------------------------------
# Vectorised bracketed root search (Illinois regula falsi with a bisection safeguard)
# ---------------------------------------------------------------------------------------------------------------


_RootFun = Callable[
    [FloatArray, IntArray, tuple[tuple[FloatArray, ...], tuple[FloatArray, ...]]],
    tuple[FloatArray, tuple[FloatArray, ...]],
]


def _bracketed_root(
    fun: _RootFun,
    lo: FloatArray,
    hi: FloatArray,
    f_lo: FloatArray,
    f_hi: FloatArray,
    atol: FloatArray,
    extras: tuple[tuple[FloatArray, ...], tuple[FloatArray, ...]] | None = None,
    rtol: float = 2.0 * _EPS,
    stop: Callable[[IntArray, tuple[FloatArray, ...], tuple[FloatArray, ...]], BoolArray] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, tuple[FloatArray, ...], tuple[FloatArray, ...]]:
    """Shrink brackets [lo, hi] of nondecreasing functions (row-wise) with f_lo <= 0 <= f_hi (ITP method).

    ``fun(z, idx, ends)`` evaluates the rows ``idx`` at points ``z`` and returns the values and extra arrays
    (kept for both bracket ends, e.g. the primal point; ``ends`` are the current ends' extras of those rows,
    for warm starts). A value within rounding of 0 should be returned as exactly 0. Each step is the ITP point (Oliveira and Takahashi 2020):
    the regula falsi estimate, truncated towards the midpoint and projected into a shrinking ball around it,
    so a row never needs more than one step beyond bisection's count, and the bracket (not only the estimate)
    shrinks superlinearly where the function is smooth. Rows stop when the width is <= 2 (atol + rtol |end|)
    or a value is exactly 0 (then both ends are that point), or when ``stop(idx, ends_lo, ends_hi)`` (given the
    rows' end extras) says so. Returns (lo, hi, f_lo, f_hi, extras_lo, extras_hi).
    """
    a, b = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    fa, fb = np.array(f_lo, dtype=np.float64), np.array(f_hi, dtype=np.float64)
    ext_a = [np.array(e) for e in extras[0]] if extras is not None else []
    ext_b = [np.array(e) for e in extras[1]] if extras is not None else []
    eps = np.maximum(atol + rtol * np.maximum(np.abs(a), np.abs(b)), 1e-300)
    width0 = np.maximum(b - a, 0.0)
    kappa1 = 0.2 / np.where(width0 > 0, width0, 1.0)
    n_max = np.ceil(np.log2(np.maximum(width0 / (2 * eps), 1.0))) + 1.0
    step = np.zeros_like(a)
    active = (fa < 0) & (fb > 0) & (b - a > 2 * eps)
    if stop is not None and np.any(active):
        first = np.flatnonzero(active)
        active[first] = ~stop(first, tuple(e[first] for e in ext_a), tuple(e[first] for e in ext_b))
    while True:
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        ai, bi, fai, fbi = a[idx], b[idx], fa[idx], fb[idx]
        width = bi - ai
        half = 0.5 * (ai + bi)
        radius = np.maximum(eps[idx] * np.exp2(n_max[idx] - step[idx]) - 0.5 * width, 0.0)
        delta = kappa1[idx] * width * width
        falsi = (bi * fai - ai * fbi) / (fai - fbi)
        sigma = np.sign(half - falsi)
        trunc = np.where(delta <= np.abs(half - falsi), falsi + sigma * delta, half)
        z = np.where(np.abs(trunc - half) <= radius, trunc, half - sigma * radius)
        z = np.minimum(np.maximum(z, ai), bi)
        fz, ez = fun(z, idx, (tuple(e[idx] for e in ext_a), tuple(e[idx] for e in ext_b)))
        right = fz <= 0  # root in [z, b]: move a
        left = fz >= 0  # root in [a, z]: move b
        ia, ib = idx[right], idx[left]
        a[ia], fa[ia] = z[right], fz[right]
        b[ib], fb[ib] = z[left], fz[left]
        for store, source in zip(ext_a, ez):
            store[ia] = source[right]
        for store, source in zip(ext_b, ez):
            store[ib] = source[left]
        step[idx] += 1
        done = (fz == 0) | (b[idx] - a[idx] <= 2 * eps[idx]) | (step[idx] > n_max[idx] + 64)
        if stop is not None:
            done |= stop(idx, tuple(e[idx] for e in ext_a), tuple(e[idx] for e in ext_b))
        active[idx] = ~done
    return a, b, fa, fb, tuple(ext_a), tuple(ext_b)


_NewtonFun = Callable[
    [FloatArray, IntArray, tuple[tuple[FloatArray, ...], tuple[FloatArray, ...]]],
    tuple[FloatArray, FloatArray, tuple[FloatArray, ...]],
]


def _newton_root(
    fun: _NewtonFun,
    lo: FloatArray,
    hi: FloatArray,
    f_lo: FloatArray,
    f_hi: FloatArray,
    atol: FloatArray,
    extras: tuple[tuple[FloatArray, ...], tuple[FloatArray, ...]],
    stop: Callable[[IntArray, tuple[FloatArray, ...], tuple[FloatArray, ...]], BoolArray] | None = None,
    maxiter: int = 200,
) -> tuple[
    FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, tuple[FloatArray, ...], tuple[FloatArray, ...]
]:
    """Safeguarded Newton-bisection for nondecreasing, piecewise smooth functions (row-wise), f_lo < 0 < f_hi.

    ``fun(z, idx, ends)`` returns (f, f', extras) (``ends``: the rows' current end extras, for warm starts).
    Every evaluation shrinks the bracket; the next point is the
    Newton step from it when that lands strictly inside the bracket and |f| fell to at most half of its previous
    value, the midpoint otherwise (so the bracket at least halves every two steps). A row stops when its
    Newton step is <= atol, its bracket is <= 2 atol, f = 0, or ``stop`` says so. Returns (point, lo, hi,
    f_lo, f_hi, extras_lo, extras_hi); ``point`` is the last Newton estimate (inside the bracket).
    """
    a, b = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    fa, fb = np.array(f_lo, dtype=np.float64), np.array(f_hi, dtype=np.float64)
    ext_a = [np.array(e) for e in extras[0]]
    ext_b = [np.array(e) for e in extras[1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (a * fb - b * fa) / (fb - fa)
    z = np.where((z > a) & (z < b), z, 0.5 * (a + b))
    point = z.copy()
    last = np.full(a.shape, np.inf)
    active = np.ones(a.shape, dtype=bool)
    if stop is not None:
        every = np.arange(a.size)
        active &= ~stop(every, tuple(e for e in ext_a), tuple(e for e in ext_b))
    for _ in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        zi = z[idx]
        fz, dz, ez = fun(zi, idx, (tuple(e[idx] for e in ext_a), tuple(e[idx] for e in ext_b)))
        right = fz <= 0
        left = fz >= 0
        ia, ib = idx[right], idx[left]
        a[ia], fa[ia] = zi[right], fz[right]
        b[ib], fb[ib] = zi[left], fz[left]
        for store, source in zip(ext_a, ez):
            store[ia] = source[right]
        for store, source in zip(ext_b, ez):
            store[ib] = source[left]
        ai, bi = a[idx], b[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            nxt = zi - fz / dz
        good = (nxt > ai) & (nxt < bi) & (np.abs(fz) <= 0.5 * last[idx]) & np.isfinite(nxt)
        nxt = np.where(good, nxt, 0.5 * (ai + bi))
        step = np.abs(nxt - zi)
        point[idx] = np.where(fz == 0, zi, nxt)
        last[idx] = np.abs(fz)
        z[idx] = nxt
        done = (fz == 0) | (good & (step <= atol[idx])) | (bi - ai <= 2 * atol[idx])
        if stop is not None:
            done |= stop(idx, tuple(e[idx] for e in ext_a), tuple(e[idx] for e in ext_b))
        active[idx] = ~done
    point = np.minimum(np.maximum(point, a), b)
    return point, a, b, fa, fb, tuple(ext_a), tuple(ext_b)


def _secant_point(a: FloatArray, b: FloatArray, fa: FloatArray, fb: FloatArray) -> FloatArray:
    """A point of the final bracket: an exact zero if one end has it, else the secant point (or midpoint)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (a * fb - b * fa) / (fb - fa)
    z = np.where((z >= a) & (z <= b), z, 0.5 * (a + b))
    return np.where(fa == 0, a, np.where(fb == 0, b, z))


# ---------------------------------------------------------------------------------------------------------------
# Feasible floors m and convex envelopes
# ---------------------------------------------------------------------------------------------------------------


def _lowsum_interval(a: FloatArray, rhs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row-wise interval {m : sum_t max(a_t, m) - m <= rhs} (empty: first > second). Needs T >= 2.

    The left side is convex piecewise linear: slope -1 below min a, then k - 1 between the k-th and (k+1)-th
    smallest a. Its value at the k-th smallest a_(k) is (k - 1) a_(k) + sum_{i > k} a_(i).
    """
    s = np.sort(a, axis=1)
    total = s.sum(axis=1)
    num = s.shape[1]
    k = np.arange(1, num + 1, dtype=np.float64)
    suffix = total[:, None] - np.cumsum(s, axis=1)
    at_break = (k - 1.0) * s + suffix
    left = total - rhs
    empty = total - s[:, 0] > rhs * (1 + 4 * _EPS) + 4 * _EPS * np.abs(total)
    count = np.sum(at_break <= rhs[:, None], axis=1)
    kk = np.maximum(count, 2) - 1  # 0-based index of the last breakpoint with value <= rhs (>= 1)
    suffix_k = np.take_along_axis(suffix, kk[:, None], axis=1)[:, 0]
    right = (rhs - suffix_k) / kk
    return np.where(empty, np.inf, left), np.where(empty, -np.inf, right)


def _feasible_floors(
    a: FloatArray, b: FloatArray, big_a: FloatArray, big_d: FloatArray, m1: FloatArray, m2: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Interval of floors m in [m1, m2] with {hat: sum = A + m, max(a, m) <= hat <= min(b, m + D)} nonempty."""
    low1, high1 = _lowsum_interval(a, big_a)
    # sum_t min(b_t, m + D) - m >= A  <=>  sum_t max(-b_t, m') - m' <= D - A with m' = -(m + D)
    low2, high2 = _lowsum_interval(-b, big_d - big_a)
    lower = np.maximum.reduce([low1, -high2 - big_d, m1, a.max(axis=1) - big_d])
    upper = np.minimum.reduce([high1, -low2 - big_d, m2, b.min(axis=1)])
    slack = 1e-13 * (np.abs(big_a) + big_d + np.abs(lower) + 1.0)
    close = (lower > upper) & (lower <= upper + slack)
    mid = 0.5 * (lower + upper)
    return np.where(close, mid, lower), np.where(close, mid, upper)


def _envelopes(
    curves: _Curves, big_w: FloatArray, c: FloatArray, a: FloatArray, b: FloatArray, convexify: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Convex envelope of F over [a, b]: linear with marginal value s on [a, tau], F on [tau, b].

    Returns ``(tau, s)``; tau = a where F is convex on [a, b] (then s = g(a)). Where c = 0 (F = 0):
    tau = b, s = 0. ``convexify=False`` pretends every F is convex (only for tests: the naive method).
    """
    tau = a.copy()
    s = curves.slope(a, big_w, c)
    zero = c <= 0
    tau[zero], s[zero] = b[zero], 0.0
    kappa = curves.kappa(big_w)
    concave = (kappa > a) & ~zero & (b > a)
    if not convexify or not np.any(concave):
        return tau, s
    wc, cc, ac, bc = big_w[concave], c[concave], a[concave], b[concave]
    fa = curves.value(ac, wc, cc)

    def excess(z: FloatArray, idx: IntArray, _: object = None) -> tuple[FloatArray, tuple[FloatArray, ...]]:
        # -(tangent at z evaluated at a minus F(a)): nondecreasing on the convex branch
        w_, c_, a_ = wc[idx], cc[idx], ac[idx]
        return -(curves.value(z, w_, c_) + curves.slope(z, w_, c_) * (z - a_) - fa[idx]), ()

    start = np.minimum(np.maximum(kappa[concave], ac), bc)
    all_idx = np.arange(ac.size)
    e_start, _ = excess(start, all_idx)
    e_end, _ = excess(bc, all_idx)
    chord = e_end <= 0  # no tangency inside: the envelope is the chord from a to b
    tau_c = bc.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        s_c = (fa - curves.value(bc, wc, cc)) / (bc - ac)
    tangent = ~chord
    if np.any(tangent):
        sel = np.flatnonzero(tangent)

        def sub(z: FloatArray, idx: IntArray, _: object) -> tuple[FloatArray, tuple[FloatArray, ...]]:
            return excess(z, sel[idx])

        lo_, hi_, flo, fhi, _, _ = _bracketed_root(
            sub, start[sel], bc[sel], np.minimum(e_start[sel], 0.0), e_end[sel], atol=np.zeros(sel.size)
        )
        t_root = _secant_point(lo_, hi_, flo, fhi)
        tau_c[sel] = t_root
        s_c[sel] = curves.slope(t_root, wc[sel], cc[sel])
    tau[concave], s[concave] = tau_c, s_c
    return tau, s


# ---------------------------------------------------------------------------------------------------------------
# The convex solver (section 3), batched over rows
# ---------------------------------------------------------------------------------------------------------------


class _Rows(NamedTuple):
    """One convex(ified) problem per row: min sum_t Fenv_t(hat_t), sum hat = A + m, box(m), m in [m1, m2]."""

    big_w: FloatArray  # [K, T] others' totals W_t
    c: FloatArray  # [K, T] w_t W_t
    a: FloatArray  # [K, T] static lower bounds (include lo)
    b: FloatArray  # [K, T] static upper bounds (finite)
    tau: FloatArray  # [K, T] end of the envelope's linear piece
    s: FloatArray  # [K, T] marginal value on the linear piece
    big_a: FloatArray  # [K] A (the fixed sum for the mean kind)
    big_d: FloatArray  # [K] D (inf for a fixed sum)
    m1: FloatArray  # [K] floor range (0 for a fixed sum)
    m2: FloatArray  # [K]


class _Solution(NamedTuple):
    x: FloatArray  # [K, T] the recovered point (feasible)
    m: FloatArray  # [K] its floor
    relaxed: FloatArray  # [K] sum of envelopes at x
    true: FloatArray  # [K] sum of F at x
    lower: FloatArray  # [K] a lower bound of the relaxed minimum (dual value)
    feasible: BoolArray  # [K]


def _envelope_value(curves: _Curves, rows: _Rows, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per-date (envelope value, true value) at x."""
    true = curves.value(x, rows.big_w, rows.c)
    fa = curves.value(rows.a, rows.big_w, rows.c)
    linear = fa - rows.s * (x - rows.a)
    return np.where(x < rows.tau, linear, true), true


def _solve(curves: _Curves, rows: _Rows, fixed_sum: bool) -> _Solution:
    """Exact minimiser of the convex(ified) problem of every row (section 3 of the module docstring)."""
    big_w, c, a, b, tau, s, big_a, big_d = (
        rows.big_w,
        rows.c,
        rows.a,
        rows.b,
        rows.tau,
        rows.s,
        rows.big_a,
        rows.big_d,
    )
    num = a.shape[0]
    if fixed_sum:
        feasible = (a.sum(axis=1) <= big_a * (1 + 1e-13) + 1e-300) & (b.sum(axis=1) >= big_a * (1 - 1e-13))
        floor_lo, floor_hi = rows.m1.copy(), rows.m2.copy()
    else:
        floor_lo, floor_hi = _feasible_floors(a, b, big_a, big_d, rows.m1, rows.m2)
        feasible = floor_lo <= floor_hi
    feasible = feasible & np.all(a <= b, axis=1)
    floor_lo = np.where(feasible, floor_lo, 0.0)
    floor_hi = np.where(feasible, floor_hi, 0.0)
    convex_low = np.maximum(a, tau)
    m_scale = np.abs(big_a) / max(a.shape[1] - 1, 1) + np.abs(floor_hi)  # the dates' natural scale, ~ c + x

    has_flat = np.any(tau > a, axis=1)
    cq = c / curves.q if curves.q > 0 else np.zeros_like(c)

    def tilde_slope(z: FloatArray, idx: IntArray) -> FloatArray:
        slope = curves.slope(z, big_w[idx], c[idx])
        if not np.any(has_flat[idx]):
            return slope
        return np.where(z < tau[idx], s[idx], slope)

    def best_response(lam: FloatArray, idx: IntArray) -> FloatArray:
        lam2 = lam[:, None]
        ai, bi, si, ci = a[idx], b[idx], s[idx], c[idx]
        positive = (lam2 > 0) & (ci > 0)
        inner = curves.inverse(
            np.where(positive, lam2, 1.0), big_w[idx], np.where(ci > 0, ci, 1.0), convex_low[idx], bi
        )
        return np.where(lam2 <= 0, bi, np.where(lam2 >= si, ai, np.where(positive, inner, bi)))

    def floor_for(
        lam: FloatArray,
        big_x: FloatArray,
        idx: IntArray,
        warm: tuple[FloatArray, FloatArray] | None,
        exact: bool,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """The root m(lambda) of psi (module docstring, section 3), with a bracket and the residual.

        The bracket is [mL, mU]; the residual is R(m) = sum_t clip(X_t, box(m)) - A - m at the returned m.

        ``warm``: a bracket known to contain m(lambda) (m is nonincreasing in lambda). Unless ``exact``, the
        search stops as soon as the SIGN of R(m(lambda)) is certain: R has slope in [-1, T - 1], so
        R(mL) > mU - mL proves R(m) > 0 on [mL, mU] and R(mU) < -(mU - mL) proves R(m) < 0.
        """
        big_a_i = big_a[idx]
        a_i, b_i = a[idx], b[idx]
        if fixed_sum:
            m = floor_lo[idx]
            r = np.minimum(np.maximum(big_x, a_i), b_i).sum(axis=1) - big_a_i - m
            return m, m, m, r
        d_i = big_d[idx][:, None]

        def psi(
            m: FloatArray, j: IntArray, with_slope: bool = False
        ) -> tuple[FloatArray, FloatArray, tuple[FloatArray, ...]]:
            """Value and slope (zeros unless ``with_slope``) of the root function at m, and R(m), for rows idx[j]."""
            full = j.size == idx.size
            rows_j = idx if full else idx[j]
            xj = big_x if full else big_x[j]
            a_j = a_i if full else a_i[j]
            b_j = b_i if full else b_i[j]
            dj = d_i if full else d_i[j]
            lam_j = lam if full else lam[j]
            m2d = m[:, None]
            low = m2d > xj
            high = (m2d + dj) < xj
            clipped_any = low | high
            z = np.maximum(m2d + dj * high, a_j)  # m where floor-clipped, m + D where capped
            g, curvature = curves.slope_and_curvature(z, big_w[rows_j], cq[rows_j], with_slope)
            if np.any(has_flat[rows_j]):
                on_flat = z < tau[rows_j]
                g = np.where(on_flat, s[rows_j], g)
                if curvature is not None:
                    curvature = np.where(on_flat, 0.0, curvature)
            term = np.subtract(lam_j[:, None], g, out=g)
            term *= clipped_any
            value = term.sum(axis=1) - lam_j
            np.abs(term, out=term)
            noise = 16 * _EPS * (term.sum(axis=1) + lam_j)
            if curvature is not None:
                curvature *= clipped_any
                slope = curvature.sum(axis=1)
            else:
                slope = np.zeros_like(value)
            box_x = np.maximum(xj, m2d)
            np.maximum(box_x, a_j, out=box_x)
            np.minimum(box_x, m2d + dj, out=box_x)
            np.minimum(box_x, b_j, out=box_x)
            residual = box_x.sum(axis=1) - big_a_i[j] - m
            return np.where(np.abs(value) <= noise, 0.0, value), slope, (residual,)

        def decided(j: IntArray, lo_end: tuple[FloatArray, ...], hi_end: tuple[FloatArray, ...]) -> BoolArray:
            width = 1.0 + 1e-12
            return (lo_end[0] > width * (hi_cur[j] - lo_cur[j])) | (
                hi_end[0] < -width * (hi_cur[j] - lo_cur[j])
            )

        every = np.arange(idx.size)
        full_lo, full_hi = floor_lo[idx], floor_hi[idx]
        lo_m, hi_m = full_lo.copy(), full_hi.copy()
        if warm is not None:
            pad = 4 * _M_TOL * m_scale[idx]
            lo_m = np.clip(np.minimum(warm[0], warm[1]) - pad, full_lo, full_hi)
            hi_m = np.clip(np.maximum(warm[0], warm[1]) + pad, full_lo, full_hi)
        p_lo, _, (r_lo,) = psi(lo_m, every)
        p_hi, _, (r_hi,) = psi(hi_m, every)
        redo = ((p_lo > 0) & (lo_m > full_lo)) | ((p_hi < 0) & (hi_m < full_hi))
        if np.any(redo):  # the warm bracket missed (rounding): use the full range for those rows
            lo_m[redo], hi_m[redo] = full_lo[redo], full_hi[redo]
            sel = np.flatnonzero(redo)
            p_lo[sel], _, (r_lo[sel],) = psi(lo_m[sel], sel)
            p_hi[sel], _, (r_hi[sel],) = psi(hi_m[sel], sel)
        at_lo = p_lo >= 0
        m = np.where(at_lo, lo_m, hi_m)
        r = np.where(at_lo, r_lo, r_hi)
        m_low, m_high = m.copy(), m.copy()
        inside = (p_lo < 0) & (p_hi > 0)
        # psi jumps where m meets a common static bound (m = a, or m + D = b; typical: many dates at the per-date
        # lower bound, m = lower): probe both sides of such a point, it is the root when psi changes sign there
        tol_all = _M_TOL * m_scale[idx]
        for bound in (a_i, b_i - d_i):
            common = (bound.max(axis=1) == bound.min(axis=1)) & inside
            cand = bound[:, 0]
            probe = common & (cand > lo_m) & (cand + 2 * tol_all < hi_m)
            if not np.any(probe):
                continue
            sel = np.flatnonzero(probe)
            left, _, (r_left,) = psi(cand[sel], sel)
            right_m = cand[sel] + 2 * tol_all[sel]
            right, _, (r_right,) = psi(right_m, sel)
            up = left >= 0  # root at or below the jump
            lo_cut = right <= 0  # root above the jump
            at = ~up & ~lo_cut
            hi_m[sel[up]], p_hi[sel[up]], r_hi[sel[up]] = cand[sel[up]], left[up], r_left[up]
            lo_m[sel[lo_cut]], p_lo[sel[lo_cut]], r_lo[sel[lo_cut]] = (
                right_m[lo_cut],
                right[lo_cut],
                r_right[lo_cut],
            )
            fix = sel[at]
            m[fix], m_low[fix], m_high[fix], r[fix] = cand[fix], cand[fix], right_m[at], np.nan
            inside[fix] = False
            at_zero = sel[up & (left == 0)]
            m[at_zero], m_low[at_zero], m_high[at_zero] = cand[at_zero], cand[at_zero], cand[at_zero]
            inside[at_zero] = False
        if np.any(inside):
            sel = np.flatnonzero(inside)
            # the bracket as it shrinks, for the sign test (updated through the extras)
            lo_cur, hi_cur = lo_m[sel].copy(), hi_m[sel].copy()

            def sub(
                mm: FloatArray, j: IntArray, _: object
            ) -> tuple[FloatArray, FloatArray, tuple[FloatArray, ...]]:
                value, slope, (res,) = psi(mm, sel[j], True)
                return value, slope, (res, mm)

            def track(
                j: IntArray, lo_end: tuple[FloatArray, ...], hi_end: tuple[FloatArray, ...]
            ) -> BoolArray:
                lo_cur[j], hi_cur[j] = lo_end[1], hi_end[1]
                return decided(j, lo_end, hi_end)

            tol_m = _M_TOL * m_scale[idx][sel]
            point, ra, rb, _, _, (res_a, _), (res_b, _) = _newton_root(
                sub,
                lo_m[sel],
                hi_m[sel],
                p_lo[sel],
                p_hi[sel],
                atol=tol_m,
                extras=((r_lo[sel], lo_m[sel]), (r_hi[sel], hi_m[sel])),
                stop=None if exact else track,
            )
            # psi jumps only where m meets a date's static bound (m = a_t, or m + D = b_t): a root inside a
            # converged bracket containing such a point IS that point (psi is continuous elsewhere)
            a_s, b_s = a_i[sel], b_i[sel] - d_i[sel]
            ra2, rb2 = ra[:, None], rb[:, None]
            jump_a = np.where((a_s > ra2) & (a_s <= rb2), a_s, -np.inf).max(axis=1)
            jump_b = np.where((b_s >= ra2) & (b_s < rb2), b_s, -np.inf).max(axis=1)
            jump = np.maximum(jump_a, jump_b)
            point = np.where(np.isfinite(jump) & (rb - ra <= 4 * tol_m), jump, point)
            known = (
                np.zeros(sel.size, dtype=bool) if exact else decided(np.arange(sel.size), (res_a,), (res_b,))
            )
            # a decided row keeps the end whose residual proves the sign (same sign as at every bracket point)
            point = np.where(known & (res_a > 0), ra, np.where(known, rb, point))
            m[sel], m_low[sel], m_high[sel] = point, ra, rb
            r[sel] = np.nan  # recomputed below at the chosen point
        return m, m_low, m_high, r

    def evaluate(
        lam: FloatArray, idx: IntArray, warm: tuple[FloatArray, FloatArray] | None = None, exact: bool = False
    ) -> tuple[FloatArray, tuple[FloatArray, ...]]:
        """-r(lambda) (0 within rounding) and (x, m, mL, mU) for the rows idx."""
        big_x = best_response(lam, idx)
        m, m_low, m_high, _ = floor_for(lam, big_x, idx, warm, exact)
        lower = np.maximum(a[idx], m[:, None])
        upper = np.minimum(b[idx], m[:, None] + big_d[idx][:, None])
        x = np.minimum(np.maximum(big_x, lower), upper)
        residual = x.sum(axis=1) - big_a[idx] - m
        noise = 16 * _EPS * (np.abs(x).sum(axis=1) + np.abs(big_a[idx]) + np.abs(m))
        return np.where(np.abs(residual) <= noise, 0.0, -residual), (x, m, m_low, m_high)

    every = np.flatnonzero(feasible)
    x_out = np.full(a.shape, np.nan)
    m_out = np.full(num, np.nan)
    relaxed = np.full(num, np.inf)
    true = np.full(num, np.inf)
    lower_out = np.full(num, np.inf)
    if every.size:
        top = np.where(a < tau, s, curves.slope(a, big_w, c)).max(axis=1)[every]
        lam_hi = np.where(top > 0, top * (1 + 1e-9) + 1e-300, 1.0)
        lam_lo = np.zeros_like(lam_hi)
        f_lo, ext_lo = evaluate(lam_lo, every)
        f_hi, ext_hi = evaluate(lam_hi, every)
        f_lo, f_hi = np.minimum(f_lo, 0.0), np.maximum(f_hi, 0.0)  # rounding

        def fun(
            lam: FloatArray, j: IntArray, ends: tuple[tuple[FloatArray, ...], tuple[FloatArray, ...]]
        ) -> tuple[FloatArray, tuple[FloatArray, ...]]:
            # m(lambda) in [mL(lambda_b), mU(lambda_a)]: lambda_a < lambda < lambda_b and m is nonincreasing
            return evaluate(lam, every[j], (ends[1][2], ends[0][3]))

        la, lb, fa, fb, ext_a, ext_b = _bracketed_root(
            fun, lam_lo, lam_hi, f_lo, f_hi, atol=_LAMBDA_TOL * lam_hi, rtol=0.0, extras=(ext_lo, ext_hi)
        )
        # the ends' floors may be sign-only approximations: solve them exactly (warm: their own brackets)
        fa_new, (xa, ma, _, _) = evaluate(la, every, (ext_a[2], ext_a[3]), exact=True)
        fb_new, (xb, mb, _, _) = evaluate(lb, every, (ext_b[2], ext_b[3]), exact=True)
        fa, fb = np.minimum(fa_new, 0.0), np.maximum(fb_new, 0.0)
        # fa = -r_a <= 0 <= fb = -r_b; theta r_a + (1 - theta) r_b = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.where(fb - fa > 0, fb / (fb - fa), 1.0)
        theta = np.clip(np.where(fa == 0, 1.0, np.where(fb == 0, 0.0, theta)), 0.0, 1.0)
        x = theta[:, None] * xa + (1 - theta[:, None]) * xb
        m = theta * ma + (1 - theta) * mb
        sub_rows = _Rows(*(field[every] for field in rows))
        env_a, _ = _envelope_value(curves, sub_rows, xa)
        env_b, _ = _envelope_value(curves, sub_rows, xb)
        dual = np.maximum(env_a.sum(axis=1) - la * fa, env_b.sum(axis=1) - lb * fb)
        env, tru = _envelope_value(curves, sub_rows, x)
        x_out[every], m_out[every] = x, m
        relaxed[every], true[every] = env.sum(axis=1), tru.sum(axis=1)
        lower_out[every] = np.minimum(dual, relaxed[every])
    return _Solution(x_out, m_out, relaxed, true, lower_out, feasible)


# ---------------------------------------------------------------------------------------------------------------
# Branch and bound over the non-convex rows (section 4)
# ---------------------------------------------------------------------------------------------------------------


class _Nodes(NamedTuple):
    owner: IntArray  # [K] problem row
    ell: FloatArray  # [K, T] node lower bounds
    mu: FloatArray  # [K, T] node upper bounds
    m1: FloatArray  # [K]
    m2: FloatArray  # [K]


def _node_rows(curves: _Curves, prob: _Rows, nodes: _Nodes, fixed_sum: bool, convexify: bool) -> _Rows:
    big_w, c = prob.big_w[nodes.owner], prob.c[nodes.owner]
    big_a, big_d = prob.big_a[nodes.owner], prob.big_d[nodes.owner]
    if fixed_sum:
        a, b = nodes.ell, nodes.mu
    else:
        a = np.maximum(nodes.ell, nodes.m1[:, None])
        b = np.minimum(nodes.mu, (nodes.m2 + big_d)[:, None])
    tau, s = _envelopes(curves, big_w, c, a, np.maximum(a, b), convexify)
    return _Rows(big_w, c, a, b, tau, s, big_a, big_d, nodes.m1, nodes.m2)


def _concave_vertices(curves: _Curves, prob: _Rows, lo: float, up: float) -> tuple[FloatArray, FloatArray]:
    """Exact minimum for leave_one_out rows whose F_t are all concave on the feasible range: a vertex search.

    A concave function attains its minimum over a polytope at a vertex. In the (hat, m) description
    (sum hat = A + m, max(lo, m) <= hat_t <= min(up, m + D)) a vertex has one active bound per date out of
    {lo, up, m, m + D} (T independent ones with the sum), or m pinned by a date with two (m in {lo, lo - D,
    up - D, up}) and then one date free. For m not pinned, hat_t = lo needs m <= lo and hat_t = m needs
    m >= lo, so only ONE low value (lo or m) and ONE high value (m + D or up) occur; with k high dates the sum
    fixes m, and the best k dates are those with the smallest F_t(high) - F_t(low). Cost O(T^2) per row
    (k = 0..T, a partial sort each); with a pinned m, one extra free date is chosen exactly with prefix sums.
    """
    big_w, c, big_a, big_d = prob.big_w, prob.c, prob.big_a, prob.big_d
    num, big_t = big_w.shape
    tol = 1e-12 * (np.abs(big_a) + big_d + 1.0)
    best = np.full(num, np.inf)
    best_x = np.full((num, big_t), np.nan)
    rows = np.arange(num)

    def value_at(v: FloatArray) -> FloatArray:
        return curves.value(np.broadcast_to(v[:, None], big_w.shape), big_w, c)

    def admissible(v: FloatArray, m: FloatArray) -> BoolArray:
        return (v >= np.maximum(lo, m) - tol) & (v <= np.minimum(up, m + big_d) + tol)

    finite_up = np.isfinite(up)
    for k in range(big_t + 1):
        n_low = big_t - k
        families: list[tuple[FloatArray, FloatArray, FloatArray]] = []  # (m, low value, high value)
        m_a = (big_a - k * big_d) / (big_t - 1)
        families.append((m_a, m_a, m_a + big_d))
        if k != 1:
            m_b = (big_a - n_low * lo - k * big_d) / (k - 1)
            families.append((m_b, np.full(num, lo), m_b + big_d))
        if finite_up and n_low != 1:
            m_c = (big_a - k * up) / (n_low - 1)
            families.append((m_c, m_c, np.full(num, up)))
        if finite_up:
            m_d = n_low * lo + k * up - big_a
            families.append((m_d, np.full(num, lo), np.full(num, up)))
        for m, v_low, v_high in families:
            ok = np.ones(num, dtype=bool)
            if n_low:
                ok &= admissible(v_low, m)
            if k:
                ok &= admissible(v_high, m)
            if not np.any(ok):
                continue
            f_low = value_at(v_low)
            total = f_low.sum(axis=1)
            if k:
                delta = value_at(v_high) - f_low
                chosen = (
                    np.argpartition(delta, k - 1, axis=1)[:, :k]
                    if k < big_t
                    else np.tile(np.arange(big_t), (num, 1))
                )
                total = total + np.take_along_axis(delta, chosen, axis=1).sum(axis=1)
            better = ok & (total < best)
            if np.any(better):
                best[better] = total[better]
                x = np.repeat(v_low[better][:, None], big_t, axis=1)
                if k:
                    r_sel = rows[better]
                    x[np.arange(r_sel.size)[:, None], chosen[better]] = v_high[better][:, None]
                best_x[better] = x
    pins = [lo, lo - big_d]
    if finite_up:
        pins += [up - big_d, up]
    for pin in pins:
        m = np.broadcast_to(np.asarray(pin, dtype=np.float64), (num,)).astype(np.float64)
        v_low, v_high = np.maximum(lo, m), np.minimum(up, m + big_d)
        usable = (v_low <= v_high + tol) & (m <= up + tol) & (m + big_d >= lo - tol)
        if not np.any(usable):
            continue
        f_low = value_at(v_low)
        delta = value_at(v_high) - f_low
        order = np.argsort(delta, axis=1)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(big_t)[None, :].repeat(num, 0), axis=1)
        prefix = np.concatenate(
            [np.zeros((num, 1)), np.cumsum(np.take_along_axis(delta, order, axis=1), axis=1)], axis=1
        )
        base = f_low.sum(axis=1)
        for k in range(big_t):
            free = big_a + m - (big_t - 1 - k) * v_low - k * v_high
            ok = usable & admissible(free, m)
            if not np.any(ok):
                continue
            f_free = value_at(free) - f_low
            others = np.where(rank < k, prefix[:, k + 1 : k + 2] - delta, prefix[:, k : k + 1])
            total_j = base[:, None] + f_free + others
            j = np.argmin(total_j, axis=1)
            total = total_j[rows, j]
            better = ok & (total < best)
            if not np.any(better):
                continue
            best[better] = total[better]
            for r_ in rows[better]:
                x = np.full(big_t, v_low[r_])
                rest = order[r_][order[r_] != j[r_]][:k]
                x[rest] = v_high[r_]
                x[j[r_]] = free[r_]
                best_x[r_] = x
    return best, best_x


def _minimise_rows(
    curves: _Curves,
    prob: _Rows,
    own: FloatArray,
    own_inside: BoolArray,
    fixed_sum: bool,
    rtol: float,
    max_nodes: int,
    convexify: bool = True,
    bounds: tuple[float, float] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    """Global minimum of sum_t F_t over each row's set; returns (value, minimiser, certified lower bound, nodes).

    ``bounds`` = (lower, upper) per-date bounds of a leave_one_out Omega*: rows whose F_t are all concave on
    their whole range are then solved by :func:`_concave_vertices` instead of branching.
    """
    num = prob.a.shape[0]
    root = _Nodes(np.arange(num), prob.a, prob.b, prob.m1, prob.m2)
    rows = _node_rows(curves, prob, root, fixed_sum, convexify)
    sol = _solve(curves, rows, fixed_sum)
    if not np.all(sol.feasible):
        bad = np.flatnonzero(~sol.feasible)
        raise ValueError(
            f"Omega*n is empty for problem rows {bad[:10].tolist()}; check centers, radius and bounds"
        )
    incumbent, best_x = sol.true.copy(), sol.x.copy()
    own_value = curves.value(own, prob.big_w, prob.c).sum(axis=1)
    use_own = own_inside & (own_value <= incumbent)
    incumbent[use_own], best_x[use_own] = own_value[use_own], own[use_own]
    scale = curves.value(prob.a, prob.big_w, prob.c).sum(axis=1)
    tol = rtol * np.maximum(scale, 1e-300)
    certified = np.full(num, np.inf)
    nodes, lower, x_hat, m_hat, rows_k = root, sol.lower.copy(), sol.x, sol.m, rows
    if bounds is not None and convexify:
        concave = np.all((prob.c <= 0) | (curves.kappa(prob.big_w) >= prob.b), axis=1) & (
            sol.true - sol.lower > tol
        )
        if np.any(concave):
            sub = _Rows(*(field[concave] for field in prob))
            v_value, v_x = _concave_vertices(curves, sub, bounds[0], bounds[1])
            rows_c = np.flatnonzero(concave)
            better = v_value < incumbent[rows_c]
            incumbent[rows_c[better]], best_x[rows_c[better]] = v_value[better], v_x[better]
            certified[rows_c] = v_value  # exact: the best vertex of a concave minimisation
            lower[rows_c] = np.inf  # closed
    processed = num
    if not convexify:
        return incumbent, best_x, sol.lower, processed
    while True:
        open_ = lower < incumbent[nodes.owner] - tol[nodes.owner]
        np.minimum.at(certified, nodes.owner[~open_], lower[~open_])
        if not np.any(open_):
            break
        keep = np.flatnonzero(open_)
        nodes = _Nodes(*(field[keep] for field in nodes))  # type: ignore[arg-type]
        x_hat, m_hat = x_hat[keep], m_hat[keep]
        rows_k = _Rows(*(field[keep] for field in rows_k))
        env, tru = _envelope_value(curves, rows_k, x_hat)
        gap = np.maximum(tru - env, 0.0)
        # envelope = F at the relaxed optimum: the node's minimum is that point's value up to solver precision
        # (a lower bound lagging behind is not non-convexity; branching could not close it)
        tight = gap.sum(axis=1) <= 0.5 * tol[nodes.owner]
        if np.any(tight):
            np.minimum.at(certified, nodes.owner[tight], lower[keep][tight])
            loose = np.flatnonzero(~tight)
            if loose.size == 0:
                break
            keep = keep[loose]
            nodes = _Nodes(*(field[loose] for field in nodes))  # type: ignore[arg-type]
            x_hat, m_hat, gap = x_hat[loose], m_hat[loose], gap[loose]
            rows_k = _Rows(*(field[loose] for field in rows_k))
        k = np.arange(keep.size)
        t_star = np.argmax(gap, axis=1)
        v_x = x_hat[k, t_star]
        if fixed_sum:
            split_m = np.zeros(keep.size, dtype=bool)
            v_m = nodes.m1
        else:
            big_d = rows_k.big_d
            eps = 1e-12 * (np.abs(rows_k.big_a) + big_d + 1.0)
            width = nodes.m2 - nodes.m1
            tied = ((x_hat <= (m_hat + eps)[:, None]) & (m_hat > nodes.m1 + eps)[:, None]) | (
                (x_hat >= (m_hat + big_d - eps)[:, None]) & (m_hat < nodes.m2 - eps)[:, None]
            )
            tied_gap = np.where(tied, gap, 0.0).sum(axis=1)
            split_m = tied[k, t_star] & (tied_gap >= 0.5 * gap.sum(axis=1)) & (width > 0)
            interior = (m_hat > nodes.m1 + 0.1 * width) & (m_hat < nodes.m2 - 0.1 * width)
            v_m = np.where(interior, m_hat, 0.5 * (nodes.m1 + nodes.m2))
        processed += 2 * keep.size
        if processed > max_nodes:
            bound = certified.copy()
            np.minimum.at(bound, nodes.owner, lower[keep])
            relative = float(np.max((incumbent - bound) / np.maximum(scale, 1e-300)))
            raise RuntimeError(
                f"linked VCG: the non-convex minimisation needed more than max_nodes={max_nodes} branch-and-bound "
                f"nodes (many dates in the concave part of h_t); its best values are certified to a relative gap "
                f"of {relative:.2e} (asked: rtol={rtol:g}). Raise max_nodes, or pass rtol={1.1 * relative:.1e} or more "
                "to accept them"
            )
        mu1, ell2 = nodes.mu.copy(), nodes.ell.copy()
        xs = ~split_m
        mu1[k[xs], t_star[xs]] = v_x[xs]
        ell2[k[xs], t_star[xs]] = v_x[xs]
        m2_1 = np.where(split_m, v_m, nodes.m2)
        m1_2 = np.where(split_m, v_m, nodes.m1)
        nodes = _Nodes(
            np.concatenate([nodes.owner, nodes.owner]),
            np.concatenate([nodes.ell, ell2]),
            np.concatenate([mu1, nodes.mu]),
            np.concatenate([nodes.m1, m1_2]),
            np.concatenate([m2_1, nodes.m2]),
        )
        rows_k = _node_rows(curves, prob, nodes, fixed_sum, convexify)
        sol = _solve(curves, rows_k, fixed_sum)
        lower, x_hat, m_hat = sol.lower, sol.x, sol.m
        # update incumbents with the children's feasible points
        order = np.lexsort((sol.true, nodes.owner))
        first = np.ones(order.size, dtype=bool)
        first[1:] = nodes.owner[order][1:] != nodes.owner[order][:-1]
        best_rows = order[first]
        owners = nodes.owner[best_rows]
        better = sol.true[best_rows] < incumbent[owners]
        incumbent[owners[better]] = sol.true[best_rows[better]]
        best_x[owners[better]] = sol.x[best_rows[better]]
    certified = np.minimum(certified, incumbent)
    return incumbent, best_x, certified, processed


# ---------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------


class _Setup(NamedTuple):
    shape: tuple[int, ...]  # endowments' shape [..., T, N]
    curves: _Curves
    prob: _Rows  # one row per (episode, agent)
    own: FloatArray  # [P, T] the agent's own report
    inside: BoolArray  # [P]
    fixed_sum: bool
    kind: str


def _setup(
    endowments: FloatArray,
    resource: float,
    project: ProjectType,
    omega_star: OmegaStar,
    discount: float,
    check: bool,
) -> _Setup:
    array = check_endowments(endowments)
    big_t, n = array.shape[-2], array.shape[-1]
    if (omega_star.num_dates, omega_star.num_agents) != (big_t, n):
        raise ValueError(
            f"omega_star: has T={omega_star.num_dates}, N={omega_star.num_agents}; endowments have shape "
            f"{array.shape} ([..., T={big_t}, N={n}])"
        )
    if not (np.isfinite(resource) and resource >= 0):
        raise ValueError(f"resource: got {resource!r}; q-bar must be a finite number >= 0")
    if not (np.isfinite(discount) and discount > 0):
        raise ValueError(f"discount: got {discount!r}; beta must be a finite number > 0")
    inside = omega_star.contains(array)
    if check and not np.all(inside):
        where = np.argwhere(~inside)
        first = where[0]
        agents = sorted({int(i) for i in where[:, -1]})
        batch = f" (episode index {tuple(int(i) for i in first[:-1])})" if first.size > 1 else ""
        raise ValueError(
            f"endowments: agent n={int(first[-1])}{batch} reports a sequence outside Omega*n (agents outside: "
            f"{agents}); V* is defined on Omega* - retract the reports first "
            "(linkmech.mechanisms.omega_star.retract) or pass check=False"
        )
    curves = _Curves(project, resource)
    _check_shape_of_f(curves)
    flat = array.reshape(-1, big_t, n)
    total = flat.sum(axis=-1, keepdims=True)
    others = np.maximum(total - flat, 0.0)
    big_w = np.transpose(others, (0, 2, 1)).reshape(-1, big_t)  # [P, T], P = episodes * N
    own = np.transpose(flat, (0, 2, 1)).reshape(-1, big_t)
    weights = date_weights(big_t, discount, anchor=big_t)
    c = big_w * weights
    num = big_w.shape[0]
    centers = np.tile(omega_star.centers, flat.shape[0])
    x, lo, up = float(omega_star.radius), float(omega_star.lower), float(omega_star.upper)
    ones = np.ones((num, big_t))
    if omega_star.kind == "leave_one_out":
        big_a = (big_t - 1) * (centers + x)
        big_d = np.full(num, 2.0 * (big_t - 1) * x)
        m_lo = np.maximum.reduce(
            [big_t * lo - big_a, centers - (2 * big_t - 1) * x, np.full(num, lo) - big_d]
        )
        m_hi = np.minimum.reduce([centers + x, big_t * up - big_a, np.full(num, up)])
        a = np.maximum.reduce([np.full(num, lo), centers - (2 * big_t - 3) * x, m_lo])[:, None] * ones
        b = np.minimum.reduce([np.full(num, up), centers + (2 * big_t - 3) * x, m_hi + big_d])[:, None] * ones
        fixed_sum = False
    elif omega_star.kind == "mean":
        big_a = np.minimum(big_t * (centers + x), big_t * up)
        if np.any(big_a < np.maximum(big_t * (centers - x), big_t * lo) - 1e-12 * np.abs(big_a)):
            raise ValueError("Omega*n is empty for some agent (mean window below the per-date lower bound)")
        big_d = np.full(num, np.inf)
        m_lo = m_hi = np.zeros(num)
        a = np.maximum(lo, big_a - (big_t - 1) * up)[:, None] * ones
        b = np.minimum(up, big_a - (big_t - 1) * lo)[:, None] * ones
        fixed_sum = True
    else:
        big_a = np.full(num, np.inf)
        big_d = np.full(num, np.inf)
        m_lo = m_hi = np.zeros(num)
        a, b = lo * ones, up * ones
        fixed_sum = True
    tau, s = a.copy(), np.zeros_like(a)
    prob = _Rows(big_w, c, a, b, tau, s, big_a, big_d, m_lo, m_hi)
    return _Setup(array.shape, curves, prob, own, inside.reshape(-1), fixed_sum, omega_star.kind)


def _check_shape_of_f(curves: _Curves) -> None:
    """For a user-supplied f with finite curvature_ok_below y*: G = y^2 f' must not increase above y*."""
    if curves.kind != "generic" or not np.isfinite(curves.ystar):
        return
    grid = curves.ystar * np.geomspace(1.0, 1e4, 2000)
    values = curves.big_g(grid)
    if np.any(np.diff(values) > 1e-12 * np.maximum(np.abs(values[:-1]), 1e-300)):
        raise NotImplementedError(
            f"project type {curves.project.name!r}: y^2 f'(y) increases somewhere above curvature_ok_below = "
            f"{curves.ystar:g}; the exact non-convex method needs h_t concave-then-convex (y^2 f'(y) "
            "nondecreasing below curvature_ok_below and nonincreasing above)"
        )


def _minimise(
    endowments: FloatArray,
    resource: float,
    project: ProjectType,
    omega_star: OmegaStar,
    discount: float = 1.0,
    check: bool = True,
    rtol: float = RTOL,
    max_nodes: int = MAX_NODES,
    convexify: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, int]:
    """Values [P], minimisers [P, T], certified lower bounds [P], own values V^n(omega) [P], node count."""
    st = _setup(endowments, resource, project, omega_star, discount, check)
    prob, curves = st.prob, st.curves
    own_value = curves.value(st.own, prob.big_w, prob.c).sum(axis=1)
    if st.kind == "per_date":
        x = prob.b.copy()
        value = curves.value(x, prob.big_w, prob.c).sum(axis=1)
        return value, x, value.copy(), own_value, 0
    bounds = (float(omega_star.lower), float(omega_star.upper)) if st.kind == "leave_one_out" else None
    value, x, certified, nodes = _minimise_rows(
        curves, prob, st.own, st.inside, st.fixed_sum, rtol, max_nodes, convexify, bounds
    )
    return value, x, certified, own_value, nodes


def _reshape(st_shape: tuple[int, ...], value: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    lead, big_t, n = st_shape[:-2], st_shape[-2], st_shape[-1]
    values = value.reshape(lead + (n,))
    minimisers = np.swapaxes(x.reshape(lead + (n, big_t)), -1, -2)
    return values, minimisers


def minimum_unlinked_transfer(
    endowments: FloatArray,
    resource: float,
    project: ProjectType,
    omega_star: OmegaStar,
    discount: float = 1.0,
    *,
    check: bool = True,
    rtol: float = RTOL,
    max_nodes: int = MAX_NODES,
) -> LinkedMinimum:
    """``min_{hat in Omega*n} V^n(omega^-n, hat)`` and a minimiser, for every agent and episode.

    Args:
        endowments: ``[..., T, N]`` reports omega (only the others' totals W_t enter agent n's minimum).
        resource: q-bar >= 0.
        project: the project type f.
        omega_star: Omega* (its kind, centers, radius and per-date bounds).
        discount: beta > 0; date t weighs beta**(t - T) as in V^n.
        check: raise a ValueError naming the agent if some omega^n lies outside Omega*n.
        rtol: certified relative gap of the non-convex branch and bound (convex agents are solved to rounding).
        max_nodes: branch-and-bound budget (RuntimeError beyond it).

    Returns:
        ``LinkedMinimum(values [..., N], minimisers [..., T, N])``. With ``check`` (the default) the agent's own
        report competes, so ``values <= V^n(omega)``. per_date with ``upper = inf``: value 0 = the infimum,
        minimiser ``inf``.
    """
    value, x, _, _, _ = _minimise(endowments, resource, project, omega_star, discount, check, rtol, max_nodes)
    shape = np.asarray(endowments).shape
    values, minimisers = _reshape(shape, value, x)
    return LinkedMinimum(values, minimisers)


def linked_vcg_transfers(
    endowments: FloatArray,
    resource: float,
    project: ProjectType,
    omega_star: OmegaStar,
    discount: float = 1.0,
    *,
    check: bool = True,
    rtol: float = RTOL,
    max_nodes: int = MAX_NODES,
) -> FloatArray:
    """``[..., N]`` Zhu's linked VCG transfers V*^n(omega) = V^n(omega) - min_{hat in Omega*n} V^n(omega^-n, hat).

    V^n(omega) is evaluated by the same formula as the minimum (sum_t beta**(t-T) W_t f(q-bar / total_t));
    it equals :func:`~linkmech.mechanisms.allocation.unlinked_vcg_transfers` up to rounding. For omega in Omega*
    (enforced when ``check``), 0 <= V* <= V. With ``check=False`` reports outside Omega* are allowed and the
    formula is applied as is (V* may then be negative); Zhu's mechanism applies V* to retracted reports.
    """
    value, _, _, own_value, _ = _minimise(
        endowments, resource, project, omega_star, discount, check, rtol, max_nodes
    )
    transfers = own_value - value
    shape = np.asarray(endowments).shape
    return transfers.reshape(shape[:-2] + (shape[-1],))


def convexity_holds(
    endowments: FloatArray, resource: float, project: ProjectType, omega_star: OmegaStar
) -> BoolArray:
    """``[..., N]`` whether every h_t of agent n is convex on the whole range of hat_t allowed by Omega*n.

    True means the fast convex method is exact at once (no branching). The range used is the box each hat_t
    can reach (for leave_one_out [c - (2T-3)x, c + (2T-3)x] within the per-date bounds), so the test is
    sufficient, not necessary. Reports need not lie in Omega*.
    """
    st = _setup(endowments, resource, project, omega_star, 1.0, check=False)
    prob = st.prob
    ok = (prob.c <= 0) | (st.curves.kappa(prob.big_w) <= prob.a)
    lead, n = st.shape[:-2], st.shape[-1]
    return np.asarray(np.all(ok, axis=1).reshape(lead + (n,)))
