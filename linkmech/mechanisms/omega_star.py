"""High-probability events Omega* (Zhu 2022, Section 2.3 and the proof of Theorem 1).

``OmegaStar`` describes, for every agent n, a set Omega*n of endowment sequences omega^n in [0, inf)^T:

- ``kind="leave_one_out"`` (the paper's Omega*n(N)): every leave-one-out mean
  ``sum_{s != t} omega_s / (T - 1)`` lies within ``radius`` x of the agent's ``center`` omega^{avg,n};
- ``kind="mean"``: the plain mean ``sum_t omega_t / T`` lies within x of the center;
- ``kind="per_date"``: every date's endowment lies in ``[lower, upper]``.

``lower`` and ``upper`` (per-date bounds) also apply to the two mean kinds. Membership is batched over
leading axes: endowments ``[..., T, N]`` give ``[..., N]`` booleans.

Also here:

- continuation feasibility (:func:`feasible_totals`, :func:`can_continue`, :func:`continuation`) and the
  retraction of Lemma 1 (:func:`retract_step`, :func:`retract`, :class:`Retraction`), computed online from
  report histories;
- designers that choose the radius x from what the designer knows (:class:`Statistics`) so that
  Proposition 1's condition ``P^n(omega^n not in Omega*n) <= c / (N - 1) * epsilon / R-bar`` holds
  (:func:`regret_bound`, :func:`hoeffding_design`, :func:`chebyshev_design`, :func:`bernstein_design`), each
  returning the OmegaStar and a :class:`Design` record with Corollary 1's guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from linkmech.mechanisms.allocation import FloatArray, ProjectType

KINDS = ("leave_one_out", "mean", "per_date")
"""Allowed values of ``OmegaStar.kind``."""

TOLERANCE = 1e-9
"""Slack allowed at the boundaries in membership tests (floating point)."""


@dataclass(frozen=True)
class OmegaStar:
    """Omega*n for every agent (see the module docstring).

    Attributes:
        num_dates: T >= 2 for the mean kinds (T >= 1 per date).
        centers: ``[N]`` omega^{avg,n} (ignored for ``per_date``).
        radius: x > 0 (ignored for ``per_date``).
        kind: one of :data:`KINDS`.
        lower: per-date lower bound (>= 0).
        upper: per-date upper bound (> lower; may be inf).
    """

    num_dates: int
    centers: FloatArray
    radius: float
    kind: str = "leave_one_out"
    lower: float = 0.0
    upper: float = float("inf")

    def __post_init__(self) -> None:
        centers = np.asarray(self.centers, dtype=np.float64).reshape(-1)
        object.__setattr__(self, "centers", centers)
        if self.kind not in KINDS:
            raise ValueError(f"kind: got {self.kind!r}; allowed are {KINDS}")
        minimum = 2 if self.kind != "per_date" else 1
        if not isinstance(self.num_dates, (int, np.integer)) or self.num_dates < minimum:
            raise ValueError(
                f"num_dates: got {self.num_dates!r}; allowed are integers T >= {minimum} for {self.kind!r}"
            )
        if self.kind != "per_date" and not (np.isfinite(self.radius) and self.radius > 0):
            raise ValueError(
                f"radius: got x = {self.radius!r}; the window half-width must be a finite number > 0"
            )
        if not np.all(np.isfinite(centers)) or np.any(centers < 0) or len(centers) < 1:
            raise ValueError(f"centers: got {centers.tolist()}; give one finite omega^avg,n >= 0 per agent")
        if not (np.isfinite(self.lower) and self.lower >= 0 and self.upper > self.lower):
            raise ValueError(
                f"per-date bounds: got [{self.lower!r}, {self.upper!r}]; need 0 <= lower < upper"
            )

    @property
    def num_agents(self) -> int:
        """N, the number of agents (length of ``centers``)."""
        return len(self.centers)

    def contains(self, endowments: FloatArray) -> NDArray[np.bool_]:
        """``[..., N]`` whether each agent's sequence ``endowments[..., :, n]`` lies in Omega*n."""
        array = np.asarray(endowments, dtype=np.float64)
        if array.shape[-2:] != (self.num_dates, self.num_agents):
            raise ValueError(
                f"endowments: got shape {array.shape}; expected [..., T={self.num_dates}, N={self.num_agents}]"
            )
        inside = np.all((array >= self.lower - TOLERANCE) & (array <= self.upper + TOLERANCE), axis=-2)
        if self.kind == "per_date":
            return np.asarray(inside)
        total = array.sum(axis=-2)
        if self.kind == "mean":
            means = total / self.num_dates
            return np.asarray(inside & (np.abs(means - self.centers) <= self.radius + TOLERANCE))
        leave_one_out = (total[..., None, :] - array) / (self.num_dates - 1)
        close = np.abs(leave_one_out - self.centers) <= self.radius + TOLERANCE
        return np.asarray(inside & np.all(close, axis=-2))


# ---------------------------------------------------------------------------------------------------------------
# Continuation feasibility and the retraction (Lemma 1)
# ---------------------------------------------------------------------------------------------------------------

RADIUS_SLACK = TOLERANCE / 2
"""Slack added to the radius x when deciding whether a prefix can still be continued inside Omega*n.

Continuability is judged against Omega*n with radius ``x + RADIUS_SLACK`` (and per-date bounds widened by
``TOLERANCE``, exactly as in :meth:`OmegaStar.contains`), and the fixed continuation is built inside the set
with radius ``x + RADIUS_SLACK / 2`` (so that checking it again is immune to rounding). Because
``RADIUS_SLACK < TOLERANCE``, every retracted sequence passes ``contains``, re-retracting it changes nothing,
and the retraction is the identity on every sequence whose leave-one-out means (or mean) lie within
``x + RADIUS_SLACK`` of the center, in particular on every sequence that lies in Omega*n exactly; only
sequences inside the ``(x + TOLERANCE / 2, x + TOLERANCE]`` margin that ``contains`` tolerates may be moved.
"""


def _check_history(omega_star: OmegaStar, history: FloatArray, field: str, full: bool = False) -> FloatArray:
    """``history`` as a float array ``[..., t, N]`` with 0 <= t <= T (t = T when ``full``), finite, >= 0."""
    array = np.asarray(history, dtype=np.float64)
    big_t, n = omega_star.num_dates, omega_star.num_agents
    if array.ndim < 2 or array.shape[-1] != n:
        raise ValueError(f"{field}: got shape {array.shape}; expected [..., t, N={n}] (N = len(centers))")
    if full and array.shape[-2] != big_t:
        raise ValueError(
            f"{field}: got {array.shape[-2]} dates (shape {array.shape}); Omega* has T = {big_t} dates, "
            f"expected [..., T={big_t}, N={n}]"
        )
    if array.shape[-2] > big_t:
        raise ValueError(
            f"{field}: got a history of {array.shape[-2]} dates (shape {array.shape}); Omega* has only "
            f"T = {big_t} dates, so 0 <= t <= {big_t} is allowed"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{field}: contains NaN or infinity; reports must be finite numbers >= 0")
    if np.any(array < 0):
        raise ValueError(
            f"{field}: contains {float(array.min())!r}; reports lie in [0, inf) (Omega = [0, inf)^NT)"
        )
    return array


def _check_slack(slack: float) -> float:
    if not (np.isfinite(slack) and 0.0 <= slack < TOLERANCE):
        raise ValueError(
            f"slack: got {slack!r}; allowed is 0 <= slack < TOLERANCE = {TOLERANCE:g} (so that the continuation "
            "still passes OmegaStar.contains)"
        )
    return float(slack)


def _prefix_intervals(
    omega_star: OmegaStar, history: FloatArray, slack: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Feasible totals after every prefix of ``history`` (already checked), and the prefix sums.

    Returns ``(low, high, prefix_sum)``, each ``[..., t + 1, N]``; entry ``k`` is for the prefix of the first
    ``k`` dates (k = 0 is the empty prefix). Infeasible prefixes get ``low = inf, high = -inf``.

    Derivation (total S = sum of all T values, prefix sum P over the first k dates, r = T - k dates left,
    per-date bounds [L, U], center c, radius x, m = T - 1):

    - a full sequence with total S lies in Omega*n (leave-one-out) iff every value omega_s lies in
      ``[S - m (c + x), S - m (c - x)]`` (|(S - omega_s) / m - c| <= x) and in [L, U];
    - for the k known values this is ``max_s omega_s + m (c - x) <= S <= min_s omega_s + m (c + x)`` and
      ``L <= omega_s <= U``;
    - the r remaining values must lie in ``[a(S), b(S)] = [max(L, S - m (c + x)), min(U, S - m (c - x))]`` and
      sum to S - P, which is possible iff ``r a(S) <= S - P <= r b(S)`` (then the equal split
      ``(S - P) / r`` works). Written out: ``S >= P + r L``, ``S <= P + r U``,
      ``(r - 1) S <= r m (c + x) - P`` and ``(r - 1) S >= r m (c - x) - P``. For r >= 2 these bound S; for
      r = 1 they say ``m (c - x) <= P <= m (c + x)`` (the last date's leave-one-out mean is the prefix mean);
      for r = 0, S = P.

    Every constraint is linear in S, so the feasible totals form an interval. The ``mean`` kind replaces the
    leave-one-out constraints by ``T (c - x) <= S <= T (c + x)``; ``per_date`` keeps only the bounds.
    """
    big_t = omega_star.num_dates
    lower, upper = omega_star.lower, omega_star.upper
    centers = omega_star.centers
    radius = omega_star.radius + slack
    lead = history.shape[:-2]
    n = omega_star.num_agents
    k_max = history.shape[-2]
    prefix_sum = np.concatenate([np.zeros(lead + (1, n)), np.cumsum(history, axis=-2)], axis=-2)
    in_bounds = (history >= lower - TOLERANCE) & (history <= upper + TOLERANCE)
    ok = np.concatenate(
        [np.ones(lead + (1, n), dtype=bool), np.logical_and.accumulate(in_bounds, axis=-2)], axis=-2
    )
    remaining = (big_t - np.arange(k_max + 1, dtype=np.float64))[:, None]  # r, [t + 1, 1]
    low = prefix_sum + remaining * lower
    if np.isfinite(upper):
        high = prefix_sum + remaining * upper
    else:
        high = np.where(remaining > 0, np.inf, prefix_sum)
    if omega_star.kind == "mean":
        low = np.maximum(low, big_t * (centers - radius))
        high = np.minimum(high, big_t * (centers + radius))
    elif omega_star.kind == "leave_one_out":
        m = big_t - 1
        if k_max > 0:
            running_max = np.maximum.accumulate(history, axis=-2)
            running_min = np.minimum.accumulate(history, axis=-2)
            low[..., 1:, :] = np.maximum(low[..., 1:, :], running_max + m * (centers - radius))
            high[..., 1:, :] = np.minimum(high[..., 1:, :], running_min + m * (centers + radius))
        upper_rhs = remaining * m * (centers + radius) - prefix_sum  # (r - 1) S <= upper_rhs
        lower_rhs = remaining * m * (centers - radius) - prefix_sum  # (r - 1) S >= lower_rhs
        several = remaining >= 2
        divisor = np.where(several, remaining - 1, 1.0)
        high = np.where(several, np.minimum(high, upper_rhs / divisor), high)
        low = np.where(several, np.maximum(low, lower_rhs / divisor), low)
        last = remaining == 1
        ok = ok & ~(last & ((upper_rhs < 0) | (lower_rhs > 0)))
    ok = ok & (low <= high)
    return np.where(ok, low, np.inf), np.where(ok, high, -np.inf), prefix_sum


def feasible_totals(
    omega_star: OmegaStar, history: FloatArray, slack: float = RADIUS_SLACK
) -> tuple[FloatArray, FloatArray]:
    """The interval of totals S = sum_{s <= T} omega_s with which each agent's prefix can end inside Omega*n.

    Args:
        omega_star: the event; every kind is supported.
        history: ``[..., t, N]`` reports of the first t dates, 0 <= t <= T, finite and >= 0.
        slack: added to the radius x (see :data:`RADIUS_SLACK`); 0 gives the exact interval.

    Returns:
        ``(low, high)``, each ``[..., N]``. The prefix can be continued inside Omega*n iff ``low <= high``;
        an empty interval is returned as ``low = inf, high = -inf``. For leave_one_out the interval is the
        intersection of ``[max_s omega_s + (T-1)(c-x), min_s omega_s + (T-1)(c+x)]`` (prefix values),
        ``[P + r L, P + r U]`` (per-date bounds for the r = T - t remaining values) and the conditions that the
        remaining values can have leave-one-out means within x (see :func:`_prefix_intervals`).
    """
    array = _check_history(omega_star, history, "history")
    low, high, _ = _prefix_intervals(omega_star, array, _check_slack(slack))
    return low[..., -1, :], high[..., -1, :]


def can_continue(
    omega_star: OmegaStar, history: FloatArray, slack: float = RADIUS_SLACK
) -> NDArray[np.bool_]:
    """``[..., N]`` whether each agent's prefix ``history[..., :, n]`` extends to a sequence in Omega*n."""
    low, high = feasible_totals(omega_star, history, slack)
    return np.asarray(low <= high)


def _continuation_value(
    omega_star: OmegaStar,
    judged: tuple[FloatArray, FloatArray],
    built: tuple[FloatArray, FloatArray],
    prefix_sum: FloatArray,
    known: int | FloatArray,
) -> FloatArray:
    """The per-date value of the fixed continuation after a prefix of ``known`` dates (NaN if infeasible).

    ``judged`` is the interval with the judging slack, ``built`` the one with half of it: the total is placed in
    ``built`` when it is nonempty, so the continuation keeps a margin of ``slack / 2`` against rounding when it
    is checked again; otherwise (a prefix continuable only within the margin) in ``judged``.
    """
    low, high = judged
    feasible = low <= high
    inner = built[0] <= built[1]
    low = np.where(inner, built[0], np.where(feasible, low, 0.0))
    high = np.where(inner, built[1], np.where(feasible, high, 0.0))
    total = np.clip(omega_star.num_dates * omega_star.centers, low, high)
    remaining = np.maximum(omega_star.num_dates - np.asarray(known, dtype=np.float64), 1.0)
    value = np.clip((total - prefix_sum) / remaining, omega_star.lower, omega_star.upper)
    return np.where(feasible, value, np.nan)


def continuation(omega_star: OmegaStar, history: FloatArray, slack: float = RADIUS_SLACK) -> FloatArray:
    """The fixed admissible continuation of each agent's prefix: ``[..., T - t, N]`` values for dates t+1..T.

    The rule: take the total ``S* = clip(T c, low, high)``, the feasible total closest to ``T c`` (c = the
    agent's center), and spread what is left, ``S* - P``, equally over the ``T - t`` remaining dates. This is
    admissible: the equal split lies in ``[a(S*), b(S*)]`` (see :func:`feasible_totals`), i.e. within the
    per-date bounds and with every leave-one-out mean within ``x + slack / 2`` of c: ``[low, high]`` is the
    interval for ``slack / 2`` (for the full ``slack`` if that one is empty), which keeps a margin against
    rounding when the result is checked again. The rule is time
    consistent: continuing a prefix by its own continuation and asking again gives the same values, because
    the feasible intervals shrink while still containing S*, so the projection of ``T c`` stays S*.

    Agents whose prefix cannot be continued get NaN.
    """
    array = _check_history(omega_star, history, "history")
    low, high, prefix_sum = _prefix_intervals(omega_star, array, _check_slack(slack))
    inner_low, inner_high, _ = _prefix_intervals(omega_star, array, slack / 2)
    known = array.shape[-2]
    value = _continuation_value(
        omega_star,
        (low[..., -1, :], high[..., -1, :]),
        (inner_low[..., -1, :], inner_high[..., -1, :]),
        prefix_sum[..., -1, :],
        known,
    )
    return np.repeat(value[..., None, :], omega_star.num_dates - known, axis=-2)


def _check_nonempty(omega_star: OmegaStar, low: FloatArray, high: FloatArray) -> None:
    empty = ~(low[..., 0, :] <= high[..., 0, :])
    if np.any(empty):
        agents = sorted({int(i) for i in np.nonzero(empty)[-1]})
        raise ValueError(
            f"Omega*n is empty for agents {agents} (centers {omega_star.centers[agents].tolist()}, radius "
            f"{omega_star.radius!r}, per-date bounds [{omega_star.lower!r}, {omega_star.upper!r}]); "
            "a retraction needs a nonempty Omega*n"
        )


def retract_step(
    omega_star: OmegaStar,
    reported_history: FloatArray,
    retracted_history: FloatArray,
    frozen: NDArray[np.bool_],
    slack: float = RADIUS_SLACK,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """One date of the retraction [.]^n of Lemma 1, computed online.

    Args:
        omega_star: the event Omega*.
        reported_history: ``[..., t, N]`` reports of dates 1..t (1 <= t <= T).
        retracted_history: ``[..., t - 1, N]`` retracted values of dates 1..t-1 (from earlier calls).
        frozen: ``[..., N]`` whether each agent was retracted at an earlier date.
        slack: see :data:`RADIUS_SLACK`.

    Returns:
        ``(value, frozen)``: ``[..., N]`` the retracted value at date t and the updated flags. An agent that
        is not frozen and whose reported prefix of t dates can still be continued inside Omega*n keeps its
        report. At the first date t where it cannot (Lemma 1's stopping time), the agent is frozen and gets
        the fixed continuation (:func:`continuation`) of its last continuable prefix (dates 1..t-1). A frozen
        agent keeps the value of the previous date (the continuation spreads equally over the remaining
        dates). Only the history enters, so the map is adapted.
    """
    reported = _check_history(omega_star, reported_history, "reported_history")
    date = reported.shape[-2]
    if date < 1:
        raise ValueError(
            f"reported_history: got shape {reported.shape}; it needs at least date 1, [..., t >= 1, N]"
        )
    retracted = np.asarray(retracted_history, dtype=np.float64)
    expected = reported.shape[:-2] + (date - 1, omega_star.num_agents)
    if retracted.shape != expected:
        raise ValueError(
            f"retracted_history: got shape {retracted.shape}; expected {expected} (one date fewer than "
            f"reported_history {reported.shape})"
        )
    flags = np.asarray(frozen)
    if flags.dtype != np.bool_ or flags.shape != reported.shape[:-2] + (omega_star.num_agents,):
        raise ValueError(
            f"frozen: got dtype {flags.dtype} shape {flags.shape}; expected booleans of shape "
            f"{reported.shape[:-2] + (omega_star.num_agents,)}"
        )
    if date == 1 and np.any(flags):
        raise ValueError("frozen: got True at date 1; no agent can have been retracted before the first date")
    low, high, prefix_sum = _prefix_intervals(omega_star, reported, _check_slack(slack))
    _check_nonempty(omega_star, low, high)
    inner_low, inner_high, _ = _prefix_intervals(omega_star, reported[..., :-1, :], slack / 2)
    ok_now = low[..., -1, :] <= high[..., -1, :]
    fallback = _continuation_value(
        omega_star,
        (low[..., -2, :], high[..., -2, :]),
        (inner_low[..., -1, :], inner_high[..., -1, :]),
        prefix_sum[..., -2, :],
        date - 1,
    )
    previous = retracted[..., -1, :] if date >= 2 else np.zeros_like(fallback)
    value = np.where(flags, previous, np.where(ok_now, reported[..., -1, :], fallback))
    return np.asarray(value, dtype=np.float64), np.asarray(flags | ~ok_now)


def retract(omega_star: OmegaStar, reports: FloatArray, slack: float = RADIUS_SLACK) -> FloatArray:
    """The retraction profile [.] : Omega -> Omega* applied to whole report arrays ``[..., T, N]``.

    Equal to running :func:`retract_step` date by date (vectorised here). It is the identity on Omega*
    (sequences within ``x + slack``), always lands in Omega* (``omega_star.contains`` is True) and is
    adapted (the values of dates 1..t depend only on the reports of dates 1..t).
    """
    array = _check_history(omega_star, reports, "reports", full=True)
    low, high, prefix_sum = _prefix_intervals(omega_star, array, _check_slack(slack))
    _check_nonempty(omega_star, low, high)
    ok = np.logical_and.accumulate(low <= high, axis=-2)  # [..., T + 1, N]
    known = ok[..., 1:, :].sum(axis=-2)  # length of the last continuable prefix, [..., N]
    index = known[..., None, :]
    inner_low, inner_high, _ = _prefix_intervals(omega_star, array, slack / 2)

    def at_known(values: FloatArray) -> FloatArray:
        return np.take_along_axis(values, index, axis=-2)[..., 0, :]

    value = _continuation_value(
        omega_star,
        (at_known(low), at_known(high)),
        (at_known(inner_low), at_known(inner_high)),
        at_known(prefix_sum),
        known,
    )
    dates = np.arange(omega_star.num_dates)[:, None]
    return np.where(dates >= index, value[..., None, :], array)


class Retraction:
    """Online retraction of a batch of report streams (stateful wrapper of :func:`retract_step`).

    ``step(report [..., N])`` returns the retracted values of the next date; ``frozen`` tells which agents
    have been retracted; ``reset()`` starts a new episode.
    """

    def __init__(self, omega_star: OmegaStar, batch_shape: tuple[int, ...] = (), slack: float = RADIUS_SLACK):
        self.omega_star = omega_star
        self.batch_shape = tuple(int(b) for b in batch_shape)
        self.slack = _check_slack(slack)
        self.reset()

    def reset(self) -> None:
        """Forget the history (a new episode)."""
        n = self.omega_star.num_agents
        self.reported = np.zeros(self.batch_shape + (0, n))
        self.retracted = np.zeros(self.batch_shape + (0, n))
        self.frozen = np.zeros(self.batch_shape + (n,), dtype=bool)

    @property
    def date(self) -> int:
        """The number of dates already processed."""
        return int(self.reported.shape[-2])

    def step(self, report: FloatArray) -> FloatArray:
        """``[..., N]`` retracted values for the next date's reports ``[..., N]``."""
        array = np.asarray(report, dtype=np.float64)
        expected = self.batch_shape + (self.omega_star.num_agents,)
        if array.shape != expected:
            raise ValueError(f"report: got shape {array.shape}; expected {expected}")
        if self.date >= self.omega_star.num_dates:
            raise ValueError(f"step: all T = {self.omega_star.num_dates} dates are done; call reset()")
        reported = np.concatenate([self.reported, array[..., None, :]], axis=-2)
        value, frozen = retract_step(self.omega_star, reported, self.retracted, self.frozen, self.slack)
        self.reported = reported
        self.retracted = np.concatenate([self.retracted, value[..., None, :]], axis=-2)
        self.frozen = frozen
        return value


# ---------------------------------------------------------------------------------------------------------------
# Designing Omega* from statistics (Proposition 1, Corollary 1, Section 3.5)
# ---------------------------------------------------------------------------------------------------------------


def _as_scalar_or_tuple(
    value: float | FloatArray | tuple[float, ...], field: str
) -> float | tuple[float, ...]:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or array.size == 0:
        raise ValueError(f"{field}: got shape {array.shape}; give one number or one number per agent ([N])")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{field}: got {array.tolist()}; values must be finite")
    return float(array) if array.ndim == 0 else tuple(float(v) for v in array)


def _per_agent(value: float | tuple[float, ...], num_agents: int, field: str) -> FloatArray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(num_agents, float(array))
    if array.shape != (num_agents,):
        raise ValueError(
            f"{field}: got {len(array)} per-agent values; the design has N = {num_agents} agents"
        )
    return array


@dataclass(frozen=True)
class Statistics:
    """What the designer is told about the endowment process (only statistics, never the law itself).

    Attributes:
        mean: E omega_t^n, common (a float) or per agent (a tuple of N floats); the same for every date.
        bound: w-bar, a known upper bound on every omega_t^n (None if unknown).
        variance: a known upper bound on every Var(omega_t^n), common or per agent (None if unknown).
        independent: whether each agent's endowments are known to be independent across dates (nothing is
            claimed across agents; Chebyshev designs only use that they are uncorrelated).
        lower: a known lower bound on every omega_t^n (>= 0; endowments are nonnegative).
    """

    mean: float | tuple[float, ...]
    bound: float | None = None
    variance: float | tuple[float, ...] | None = None
    independent: bool = False
    lower: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _as_scalar_or_tuple(self.mean, "mean"))
        means = np.asarray(self.mean)
        if not (np.isfinite(self.lower) and self.lower >= 0):
            raise ValueError(
                f"lower: got {self.lower!r}; endowments are >= 0, so the lower bound must be >= 0"
            )
        if np.any(means < self.lower):
            raise ValueError(f"mean: got {self.mean!r}; every mean must be >= lower = {self.lower!r}")
        if self.bound is not None and not (np.isfinite(self.bound) and self.bound > self.lower):
            raise ValueError(
                f"bound: got w-bar = {self.bound!r}; it must be a finite number > lower = {self.lower!r}"
            )
        if self.bound is not None and np.any(means > self.bound):
            raise ValueError(f"mean: got {self.mean!r}; every mean must be <= bound w-bar = {self.bound!r}")
        if self.variance is not None:
            object.__setattr__(self, "variance", _as_scalar_or_tuple(self.variance, "variance"))
            variances = np.asarray(self.variance)
            if np.any(variances < 0):
                raise ValueError(f"variance: got {self.variance!r}; a variance bound must be >= 0")
            if self.bound is not None:
                largest = (means - self.lower) * (self.bound - means)  # Bhatia-Davis
                if np.any(variances > largest * (1 + 1e-9) + 1e-12):
                    raise ValueError(
                        f"variance: got {self.variance!r}, but a law on [{self.lower!r}, {self.bound!r}] with mean "
                        f"{self.mean!r} has variance at most (mean - lower)(bound - mean) = {largest.tolist()}"
                    )
        if not isinstance(self.independent, (bool, np.bool_)):
            raise ValueError(f"independent: got {self.independent!r}; give True or False")

    def means(self, num_agents: int) -> FloatArray:
        """``[N]`` the per-agent means."""
        return _per_agent(self.mean, num_agents, "mean")

    def variances(self, num_agents: int) -> FloatArray:
        """``[N]`` the per-agent variance bounds (ValueError if no variance is known)."""
        if self.variance is None:
            raise ValueError("variance: not known (Statistics.variance is None)")
        return _per_agent(self.variance, num_agents, "variance")

    def deviation_cap(self, num_agents: int) -> FloatArray:
        """``[N]`` the largest possible |mean of values - mean| (inf without a bound): ``max(w-bar - mu, mu - lower)``."""
        means = self.means(num_agents)
        if self.bound is None:
            return np.full(num_agents, np.inf)
        return np.maximum(self.bound - means, means - self.lower)


def regret_bound(
    num_agents: int,
    num_dates: int,
    resource: float,
    project: ProjectType,
    epsilon: float,
    discount: float = 1.0,
) -> float:
    """R-bar: an upper bound on every R_t^n(omega^n|_t) of a linked VCG statistical mechanism, at least epsilon.

    ``R-bar = max(q-bar f'(0) sum_{s=1}^T beta^(s-T), epsilon)``, which is ``max(T q-bar f'(0), epsilon)`` for
    beta = 1. In Section 3.5's family (T = N, q-bar = N q, beta = 1) this is Zhu's ``N^2 q f'(0) v epsilon``.

    Why it bounds R_t^n: by concavity and f(0) = 0, ``omega f(a / omega) <= f'(0) a``, so a date's surplus is at
    most ``f'(0) q-bar``, whoever reports what. Agent n's utility from date t on, in date-t units, is its own
    surplus at dates s >= t plus ``beta^(T-t)`` times its transfer ``V*^n in [0, V^n]``, and ``beta^(T-t) V^n``
    is the others' surplus at every date s weighted by ``beta^(s-t)``. Both parts come from disjoint allocations
    of each date's q-bar, so the utility lies in ``[0, q-bar f'(0) sum_s beta^(s-t)]``, and
    ``sum_s beta^(s-t) <= sum_s beta^(s-T)``. R_t^n is a difference of two such utilities.
    """
    if not isinstance(num_agents, (int, np.integer)) or num_agents < 2:
        raise ValueError(f"num_agents: got {num_agents!r}; allowed are integers N >= 2")
    if not isinstance(num_dates, (int, np.integer)) or num_dates < 1:
        raise ValueError(f"num_dates: got {num_dates!r}; allowed are integers T >= 1")
    if not (np.isfinite(resource) and resource > 0):
        raise ValueError(f"resource: got q-bar = {resource!r}; it must be a finite number > 0")
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon: got {epsilon!r}; it must be a finite number > 0")
    if not (np.isfinite(discount) and 0 < discount <= 1):
        raise ValueError(f"discount: got beta = {discount!r}; allowed is 0 < beta <= 1")
    weights = float(np.sum(discount ** (np.arange(1, num_dates + 1) - num_dates)))
    return max(float(resource) * project.slope_at_zero * weights, float(epsilon))


def proposition_target(num_agents: int, c: float, epsilon: float, regret: float) -> float:
    """Proposition 1's bound on P^n(omega^n not in Omega*n): ``c / (N - 1) * epsilon / R-bar``."""
    if not isinstance(num_agents, (int, np.integer)) or num_agents < 2:
        raise ValueError(f"num_agents: got {num_agents!r}; allowed are integers N >= 2")
    if not (np.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon: got {epsilon!r}; it must be a finite number > 0")
    if not (np.isfinite(c) and 0 < c <= epsilon and c < 1):
        raise ValueError(f"c: got {c!r}; Proposition 1 needs 0 < c <= epsilon = {epsilon!r} (and c < 1)")
    if not (np.isfinite(regret) and regret >= epsilon):
        raise ValueError(
            f"regret: got R-bar = {regret!r}; Proposition 1 needs R-bar >= epsilon = {epsilon!r}"
        )
    return float(c) / (num_agents - 1) * float(epsilon) / float(regret)


def _check_design_inputs(stats: Statistics, num_agents: int, num_dates: int, radius: float | None) -> None:
    if not isinstance(stats, Statistics):
        raise ValueError(f"stats: got {type(stats).__name__}; give a Statistics")
    if not isinstance(num_agents, (int, np.integer)) or num_agents < 2:
        raise ValueError(f"num_agents: got {num_agents!r}; allowed are integers N >= 2")
    if not isinstance(num_dates, (int, np.integer)) or num_dates < 2:
        raise ValueError(f"num_dates: got {num_dates!r}; leave-one-out means need integers T >= 2")
    stats.means(num_agents)
    if radius is not None and not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius: got x = {radius!r}; the window half-width must be a finite number > 0")


def hoeffding_bound(stats: Statistics, num_agents: int, num_dates: int, radius: float) -> FloatArray:
    """``[N]`` bound on P(some leave-one-out mean of agent n is more than x from its mean), by Hoeffding.

    Needs independence across dates and a bound w-bar: each leave-one-out mean averages T - 1 independent
    values in [lower, w-bar] with mean mu, so ``P(|mean - mu| > x) <= 2 exp(-2 (T - 1) x^2 / (w-bar - lower)^2)``;
    a union bound over the T dates gives ``min(1, 2 T exp(...))``, and 0 once x reaches
    :meth:`Statistics.deviation_cap`.
    """
    _check_design_inputs(stats, num_agents, num_dates, radius)
    if stats.bound is None or not stats.independent:
        raise ValueError(
            f"Hoeffding needs a known bound w-bar and independence across dates; got bound={stats.bound!r}, "
            f"independent={stats.independent!r}"
        )
    spread = stats.bound - stats.lower
    value = min(1.0, 2.0 * num_dates * float(np.exp(-2.0 * (num_dates - 1) * radius**2 / spread**2)))
    return np.where(radius >= stats.deviation_cap(num_agents), 0.0, value)


def chebyshev_bound(stats: Statistics, num_agents: int, num_dates: int, radius: float) -> FloatArray:
    """``[N]`` bound on P(omega^n not in Omega*n) from the variance alone, by Chebyshev.

    With values uncorrelated across dates (``stats.independent``), each leave-one-out mean has variance at most
    ``sigma^2 / (T - 1)``; the union over T dates gives ``T sigma^2 / ((T - 1) x^2)``. A second bound splits the
    deviation, ``LOO_t - mu = (S - T mu) / (T - 1) - (omega_t - mu) / (T - 1)``: asking both parts to be within
    x / 2 costs ``8 T sigma^2 / ((T - 1)^2 x^2)``. Without independence (any dependence) Var(LOO mean) <=
    sigma^2, giving ``T sigma^2 / x^2`` (and ``4 (T^2 + T) sigma^2 / ((T - 1)^2 x^2)`` by the split). The
    smaller applies, capped at 1, and 0 once x reaches :meth:`Statistics.deviation_cap` (if w-bar is known).
    """
    _check_design_inputs(stats, num_agents, num_dates, radius)
    variances = stats.variances(num_agents)
    value = np.minimum(1.0, _chebyshev_coefficient(stats, num_dates) * variances / radius**2)
    return np.where(radius >= stats.deviation_cap(num_agents), 0.0, value)


def _chebyshev_coefficient(stats: Statistics, num_dates: int) -> float:
    t, m = float(num_dates), float(num_dates - 1)
    if stats.independent:
        return min(t / m, 8.0 * t / m**2)
    return min(t, 4.0 * (t**2 + t) / m**2)


def bernstein_bound(stats: Statistics, num_agents: int, num_dates: int, radius: float) -> FloatArray:
    """``[N]`` bound on P(omega^n not in Omega*n) by Bernstein's inequality.

    Needs independence across dates, a bound (so ``|omega - mu| <= b``, b = :meth:`Statistics.deviation_cap`)
    and a variance bound sigma^2: ``P(|mean of m values - mu| >= x) <= 2 exp(-m x^2 / (2 sigma^2 + 2 b x / 3))``
    with m = T - 1; union over T dates: ``min(1, 2 T exp(...))``, and 0 once x >= b.
    """
    _check_design_inputs(stats, num_agents, num_dates, radius)
    if stats.bound is None or not stats.independent:
        raise ValueError(
            f"Bernstein needs a known bound w-bar and independence across dates; got bound={stats.bound!r}, "
            f"independent={stats.independent!r}"
        )
    variances = stats.variances(num_agents)
    cap = stats.deviation_cap(num_agents)
    exponent = -(num_dates - 1) * radius**2 / (2.0 * variances + 2.0 * cap * radius / 3.0)
    value = np.minimum(1.0, 2.0 * num_dates * np.exp(exponent))
    return np.where(radius >= cap, 0.0, value)


def _smallest_radius(method: str, stats: Statistics, num_agents: int, num_dates: int, target: float) -> float:
    """The smallest x with ``bound(x) <= target`` for every agent (closed forms; then nudged up past rounding)."""
    m = num_dates - 1
    cap = stats.deviation_cap(num_agents)
    log_term = float(np.log(2.0 * num_dates / target))  # > 0 since target < 1 < 2T
    if method == "hoeffding":
        assert stats.bound is not None
        per_agent = np.full(num_agents, (stats.bound - stats.lower) * np.sqrt(log_term / (2.0 * m)))
    elif method == "chebyshev":
        per_agent = np.sqrt(_chebyshev_coefficient(stats, num_dates) * stats.variances(num_agents) / target)
    else:
        linear = 2.0 * cap * log_term / 3.0
        variances = stats.variances(num_agents)
        per_agent = (linear + np.sqrt(linear**2 + 8.0 * m * variances * log_term)) / (2.0 * m)
    per_agent = np.minimum(per_agent, cap)  # at x = cap the bound is 0
    radius = float(np.max(per_agent))
    if radius <= 0:  # zero variance and zero spread: any x > 0 works; take a tiny one
        radius = TOLERANCE
    bound = BOUNDS[method]
    for _ in range(200):
        if np.max(bound(stats, num_agents, num_dates, radius)) <= target:
            break
        radius = float(np.nextafter(radius, np.inf)) * (1 + 1e-12)
    return radius


BOUNDS = {"hoeffding": hoeffding_bound, "chebyshev": chebyshev_bound, "bernstein": bernstein_bound}
"""Per-agent bounds on P^n(omega^n not in Omega*n) for a leave-one-out Omega* of radius x, by method."""


@dataclass(frozen=True)
class Design:
    """A designed Omega* and what Proposition 1 and Corollary 1 then guarantee.

    Attributes:
        method: ``hoeffding``, ``chebyshev`` or ``bernstein``.
        radius: x, the half-width of the leave-one-out windows.
        per_agent_bound: for each agent, the bound on ``P^n(omega^n not in Omega*n)`` at x (a union bound over
            the T leave-one-out means), valid for every law with the given statistics.
        target: Proposition 1's requirement ``c / (N - 1) * epsilon / R-bar``.
        met: whether every per-agent bound is <= target (always for a chosen x; maybe not for a given x).
        epsilon, c, regret: epsilon, c <= epsilon and R-bar >= epsilon.
        num_agents, num_dates: N and T.
    """

    method: str
    radius: float
    per_agent_bound: tuple[float, ...]
    target: float
    met: bool
    epsilon: float
    c: float
    regret: float
    num_agents: int
    num_dates: int

    @property
    def worst_bound(self) -> float:
        """The largest per-agent bound."""
        return max(self.per_agent_bound)

    @property
    def outside_bound(self) -> float:
        """A bound on P(omega not in Omega*) (union over agents)."""
        return min(1.0, float(sum(self.per_agent_bound)))

    @property
    def others_deviate_bound(self) -> float | None:
        """Proposition 1: under every reasonable profile, ``P(sigma^-n(omega^-n) != omega^-n) <= c`` (None if not met)."""
        return self.c if self.met else None

    @property
    def implementation_probability(self) -> float | None:
        """Corollary 1's lower bound ``1 - N c / (N - 1)`` (None if the condition is not met).

        Under every reasonable sigma, ``P(omega in Omega*, sigma(omega) = omega) >= 1 - N c / (N - 1)``, so a
        statistical mechanism M* o [.] whose M* ex-post implements the desired outcome over Omega* implements
        it with at least this probability.
        """
        if not self.met:
            return None
        return max(0.0, 1.0 - self.num_agents * self.c / (self.num_agents - 1))

    @property
    def equilibrium(self) -> str:
        """Proposition 1's statement for this design, in words."""
        if not self.met:
            return (
                f"not guaranteed: the bound {self.worst_bound:.3g} on P^n(omega^n not in Omega*n) exceeds the "
                f"target c/(N-1) * eps/R-bar = {self.target:.3g}"
            )
        return (
            f"truth-telling (id) is an epsilon-ex-post equilibrium (epsilon = {self.epsilon:g}) of every "
            f"statistical mechanism M* o [.] over this Omega*: every reasonable profile has "
            f"P(sigma^-n(omega^-n) != omega^-n) <= c = {self.c:g} for all n, and, when M* ex-post implements "
            f"the desired outcome over Omega*, P(omega in Omega*, sigma(omega) = omega) >= 1 - N c/(N-1) = "
            f"{self.implementation_probability:.6g}"
        )


def design(
    method: str,
    stats: Statistics,
    num_agents: int,
    num_dates: int,
    resource: float,
    project: ProjectType,
    epsilon: float,
    c: float | None = None,
    radius: float | None = None,
    discount: float = 1.0,
    per_date_bounds: bool = False,
) -> tuple[OmegaStar, Design]:
    """A leave-one-out Omega* (centers = the known means) meeting Proposition 1's condition, by ``method``.

    Args:
        method: one of :data:`BOUNDS` (``hoeffding``, ``chebyshev``, ``bernstein``).
        stats: what the designer knows.
        num_agents: N >= 2.
        num_dates: T >= 2.
        resource: q-bar, the resource per date (for R-bar, :func:`regret_bound`).
        project: the project type f (R-bar uses f'(0)).
        epsilon: epsilon > 0.
        c: 0 < c <= epsilon, c < 1; defaults to epsilon (the largest c, hence the smallest x).
        radius: a given x to evaluate instead of choosing the smallest x with bound(x) <= target.
        discount: beta in (0, 1] (for R-bar).
        per_date_bounds: also put the known per-date bounds [lower, w-bar] into Omega* (they hold surely, so the
            probability bound is unchanged).

    Returns:
        ``(omega_star, design)``.
    """
    if method not in BOUNDS:
        raise ValueError(f"method: got {method!r}; allowed are {sorted(BOUNDS)}")
    _check_design_inputs(stats, num_agents, num_dates, radius)
    regret = regret_bound(num_agents, num_dates, resource, project, epsilon, discount)
    c_value = float(epsilon) if c is None else float(c)
    target = proposition_target(num_agents, c_value, epsilon, regret)
    x = _smallest_radius(method, stats, num_agents, num_dates, target) if radius is None else float(radius)
    bounds = BOUNDS[method](stats, num_agents, num_dates, x)
    lower, upper = 0.0, float("inf")
    if per_date_bounds:
        lower = stats.lower
        upper = float("inf") if stats.bound is None else float(stats.bound)
    omega_star = OmegaStar(num_dates, stats.means(num_agents), x, "leave_one_out", lower, upper)
    record = Design(
        method=method,
        radius=x,
        per_agent_bound=tuple(float(b) for b in bounds),
        target=target,
        met=bool(np.all(bounds <= target)),
        epsilon=float(epsilon),
        c=c_value,
        regret=regret,
        num_agents=int(num_agents),
        num_dates=int(num_dates),
    )
    return omega_star, record


def hoeffding_design(
    stats: Statistics,
    num_agents: int,
    num_dates: int,
    resource: float,
    project: ProjectType,
    epsilon: float,
    c: float | None = None,
    radius: float | None = None,
    discount: float = 1.0,
    per_date_bounds: bool = False,
) -> tuple[OmegaStar, Design]:
    """:func:`design` with Hoeffding's inequality (independent across dates, bounded by w-bar, known mean).

    The smallest x is ``min(b, (w-bar - lower) sqrt(ln(2 T / target) / (2 (T - 1))))`` with
    ``b = max(w-bar - mu, mu - lower)``.
    """
    return design(
        "hoeffding",
        stats,
        num_agents,
        num_dates,
        resource,
        project,
        epsilon,
        c,
        radius,
        discount,
        per_date_bounds,
    )


def chebyshev_design(
    stats: Statistics,
    num_agents: int,
    num_dates: int,
    resource: float,
    project: ProjectType,
    epsilon: float,
    c: float | None = None,
    radius: float | None = None,
    discount: float = 1.0,
    per_date_bounds: bool = False,
) -> tuple[OmegaStar, Design]:
    """:func:`design` with Chebyshev's inequality (known variance bound; uncorrelated or any dependence).

    The smallest x is ``sqrt(k sigma^2 / target)`` with ``k = min(T / (T - 1), 8 T / (T - 1)^2)`` (uncorrelated)
    or ``k = min(T, 4 (T^2 + T) / (T - 1)^2)`` (any dependence), capped by b when w-bar is known. Note: the
    bound is polynomial, so in Section 3.5's family (target ~ N^-3) x grows like N: Chebyshev alone does not
    satisfy Assumption 1 (it needs z^5 g(z) -> 0).
    """
    return design(
        "chebyshev",
        stats,
        num_agents,
        num_dates,
        resource,
        project,
        epsilon,
        c,
        radius,
        discount,
        per_date_bounds,
    )


def bernstein_design(
    stats: Statistics,
    num_agents: int,
    num_dates: int,
    resource: float,
    project: ProjectType,
    epsilon: float,
    c: float | None = None,
    radius: float | None = None,
    discount: float = 1.0,
    per_date_bounds: bool = False,
) -> tuple[OmegaStar, Design]:
    """:func:`design` with Bernstein's inequality (independent across dates, bounded, known variance bound).

    With ``L = ln(2 T / target)``, m = T - 1 and b as for Hoeffding, the smallest x solves
    ``m x^2 = L (2 sigma^2 + 2 b x / 3)``: ``x = (2 b L / 3 + sqrt((2 b L / 3)^2 + 8 m sigma^2 L)) / (2 m)``,
    capped by b.
    """
    return design(
        "bernstein",
        stats,
        num_agents,
        num_dates,
        resource,
        project,
        epsilon,
        c,
        radius,
        discount,
        per_date_bounds,
    )


DESIGNERS = {"hoeffding": hoeffding_design, "chebyshev": chebyshev_design, "bernstein": bernstein_design}
"""Designers by name."""
