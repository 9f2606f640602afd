"""Policing of joint announcements against collusion (Appendix 1 of Jackson and Sonnenschein, 2007).

With three or more agents the linking mechanism has collusive equilibria (Example 4: agents 2..n announce
1 on the first 2K/3 problems and 0 on the rest). The proof of Theorem 1 removes them by testing, for every
agent i and every coalition C not containing i, whether C's announcements look like truth conditionally on
what i announced::

    d_{i,C}(m) = max_{u_i, u_C} | P^K_C(u_C) - F^K(u_C | {k : m_i^k = u_i}) |

with ``P^K_C(u_C) = prod_{j in C} quota_j[u_j] / K`` and ``F^K`` the empirical joint frequency of C's
announcements on the problems where i announced ``u_i``. Announcements are budgeted per *class* of types,
so everything here works on class indices (``classes[b, k, i]`` = class of the type agent i announced on
problem k of episode b).

- **All at once** (Appendix 1): if some ``d_{i,C} > epsilon^K``, take for each i the smallest such C
  (footnote 41: smallest, so honest agents are not punished along with a manipulating coalition), and for
  the lowest such i replace C's whole messages by independent uniformly random admissible messages; repeat
  until no test fails (:func:`police_all_at_once`). The default ``epsilon^K`` (:func:`default_threshold`)
  bounds the probability of flagging approximately truthful announcements by 1/K.
- **Over time** (footnote 35): the same test on the cumulative history after each date k, with a threshold
  falling like ``1 / log k`` (:func:`time_threshold`); counts are kept incrementally
  (:class:`CumulativePolicing`).

Cost: ``n * sum_{s=1..S} C(n-1, s)`` tests (one per pair (i, C), S = the largest coalition size), a test
with coalition size s having ``c^(s+1)`` cells when every agent has c classes (:func:`policing_cost`).

Everything is numpy only and batched over a leading axis B of independent episodes.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from linkmech.mechanisms.problem import FloatArray, IntArray

BoolArray = NDArray[np.bool_]

DrawMessage = Callable[[int, np.random.Generator], Any]
"""``draw_message(j, rng)`` -> an admissible class vector ``[K]`` for agent j, drawn from ``rng``."""

_CHUNK_ELEMENTS = 1 << 22
"""Largest intermediate index array (elements) built when counting a whole history."""


# --------------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class PolicingConfig:
    """Parameters of the collusion test.

    Attributes:
        max_coalition_size: the largest coalition C tested (>= 1). The paper tests every C; sizes up to 2
            catch Example 4 (single-member coalitions already fail) at a cost quadratic in n. Where it
            exceeds n - 1 the functions taking a config use n - 1.
        threshold: the all-at-once threshold epsilon^K (>= 0); None uses :func:`default_threshold`.
            Ignored over time, where :func:`time_threshold` applies.
        time_scale: over time, the threshold after k dates is ``time_scale / log(k + 1)`` (> 0). With
            n = 7, Example 2's types and pairs tested, truthful announcements failed at about a quarter
            of the dates of K = 480 with 1.0 and almost never with 2.0 (measured on 100 episodes), while
            Example 4's collusion was caught at date 10 with 1.0 and at date 36 with 2.0.
        min_samples: a class u_i of the tested agent enters the maximum only if i announced it on at least
            this many of the problems looked at (>= 1; 1 is the paper's "announced at least once"). A
            frequency over a handful of problems is far from its mean by chance alone, so early in the
            over-time form, when every class of i has been announced only a few times, the test would
            flag honest agents; requiring a few conditioning problems keeps such false positives rare
            (default 10: a frequency over N >= 10 problems has standard deviation <= 0.16). All at
            once, classes whose quota is below ``min_samples`` are not tested (they cover fewer than
            ``min_samples`` problems each, a vanishing share as K grows) and :func:`default_threshold`
            leaves them out of its union bound.
        max_rounds: the most replacement rounds of :func:`police_all_at_once` per episode (>= 0).
    """

    max_coalition_size: int = 2
    threshold: float | None = None
    time_scale: float = 2.0
    min_samples: int = 10
    max_rounds: int = 50

    def __post_init__(self) -> None:
        _check_int("max_coalition_size", self.max_coalition_size, 1)
        if self.threshold is not None and not (
            _is_real(self.threshold) and math.isfinite(self.threshold) and self.threshold >= 0
        ):
            raise ValueError(f"threshold: got {self.threshold!r}; allowed are None or a finite number >= 0")
        if not (_is_real(self.time_scale) and math.isfinite(self.time_scale) and self.time_scale > 0):
            raise ValueError(f"time_scale: got {self.time_scale!r}; allowed is a finite number > 0")
        _check_int("min_samples", self.min_samples, 1)
        _check_int("max_rounds", self.max_rounds, 0)

    def effective_max_size(self, num_agents: int) -> int:
        """The largest coalition size tested with ``num_agents`` agents: ``min(max_coalition_size, n - 1)``."""
        return min(self.max_coalition_size, num_agents - 1)


@dataclass(frozen=True)
class Flag:
    """A failed test: coalition C's announcements are too far from truth given agent i's.

    Attributes:
        episode: index of the episode in the batch.
        agent: the tested agent i.
        coalition: the coalition C (sorted agent indices, not containing i).
        distance: ``d_{i,C}``.
        threshold: the threshold it exceeded.
        stopped: True only on the extra flag :func:`police_all_at_once` appends when it stopped after
            ``max_rounds`` rounds with this flag still standing (nothing was replaced for it).
        date: over time, the date (1-based) whose cumulative test failed; None all at once.
    """

    episode: int
    agent: int
    coalition: tuple[int, ...]
    distance: float
    threshold: float
    stopped: bool = False
    date: int | None = None

    def as_dict(self) -> dict[str, object]:
        """A plain, JSON-friendly dict (for ``infos`` and result tables)."""
        return {
            "tested_agent": self.agent,
            "coalition": list(self.coalition),
            "distance": self.distance,
            "threshold": self.threshold,
            "stopped": self.stopped,
            "date": self.date,
        }


# --------------------------------------------------------------------------------------------------------
# coalitions and cost


def coalitions(num_agents: int, agent: int, max_size: int) -> list[tuple[int, ...]]:
    """All coalitions C not containing ``agent`` with ``1 <= |C| <= max_size``, by size then lexicographically.

    Raises:
        ValueError: if ``agent`` is not in ``0..num_agents-1`` or ``max_size`` not in ``1..num_agents-1``.
    """
    _check_int("num_agents", num_agents, 1)
    _check_agent(agent, num_agents)
    _check_max_size(max_size, num_agents)
    others = [j for j in range(num_agents) if j != agent]
    return [c for size in range(1, max_size + 1) for c in itertools.combinations(others, size)]


@dataclass(frozen=True)
class PolicingCost:
    """Size of the collusion test.

    Attributes:
        tests: number of pairs (i, C): ``n * sum_{s=1..S} C(n-1, s)``.
        tests_by_size: tests with ``|C| = s`` for s = 1..S.
        cells_per_test_by_size: cells (u_i, u_C) of a test with ``|C| = s``: ``c^(s+1)``.
        cells: total cells over all tests.
    """

    tests: int
    tests_by_size: tuple[int, ...]
    cells_per_test_by_size: tuple[int, ...]
    cells: int


def policing_cost(num_agents: int, max_size: int, num_classes: int = 2) -> PolicingCost:
    """Number of tests and cells when every agent has ``num_classes`` budget classes.

    The over-time form updates one cell per test per date (O(tests)) and evaluates all cells per date.
    """
    _check_int("num_agents", num_agents, 2)
    _check_max_size(max_size, num_agents)
    _check_int("num_classes", num_classes, 1)
    by_size = tuple(num_agents * math.comb(num_agents - 1, s) for s in range(1, max_size + 1))
    cells_per = tuple(num_classes ** (s + 1) for s in range(1, max_size + 1))
    return PolicingCost(sum(by_size), by_size, cells_per, sum(t * c for t, c in zip(by_size, cells_per)))


# --------------------------------------------------------------------------------------------------------
# one test


def coalition_distance(
    classes: IntArray,
    quotas: Sequence[ArrayLike],
    num_problems: int,
    agent: int,
    coalition: Sequence[int],
    min_samples: int = 1,
) -> FloatArray:
    """``d_{i,C}`` of every episode: the largest gap between C's conditional frequencies and ``P^K_C``.

    Args:
        classes: ``[B, T, n]`` announced class indices on T <= K problems (over time: the history so far).
        quotas: per-agent class counts, each summing to K.
        num_problems: K.
        agent: the tested agent i.
        coalition: C, distinct agents other than i.
        min_samples: classes u_i announced fewer times than this on the T problems are left out
            (1: only classes announced at least once, as in the paper).

    Returns:
        ``[B]`` distances; 0 where no class of i qualifies.
    """
    qs = _check_quotas(quotas, num_problems)
    arr = _check_classes(classes, qs, num_problems)
    members = _check_coalition(coalition, agent, len(qs))
    _check_int("min_samples", min_samples, 1)
    batch = arr.shape[0]
    sizes = [len(qs[j]) for j in members]
    width = math.prod(sizes)
    rows = len(qs[agent])
    codes = arr[:, :, agent] * width
    for j, radix in zip(members, _radices(sizes)):
        codes = codes + arr[:, :, j] * radix
    codes = codes + (np.arange(batch, dtype=np.int64) * (rows * width))[:, None]
    counts = np.bincount(codes.ravel(), minlength=batch * rows * width).reshape(batch, rows, width)
    row_sums = counts.sum(axis=2, keepdims=True)
    diff = np.abs(counts / np.maximum(row_sums, 1) - _joint_target(qs, members, num_problems))
    diff = np.where(row_sums >= min_samples, diff, 0.0)
    return np.asarray(diff.reshape(batch, -1).max(axis=1, initial=0.0), dtype=np.float64)


def default_threshold(
    quotas: Sequence[ArrayLike], num_problems: int, num_agents: int, max_size: int, min_samples: int = 1
) -> float:
    """epsilon^K: flags approximately truthful announcements with probability at most 1/K.

    Derivation. Let every agent j in C announce a uniformly random arrangement of its quota multiset,
    independently of the others (label-free approximately truthful announcements of i.i.d. types); the
    tested agent i may do anything independent of C. Fix i, C, u_i and u_C, and let S be the
    ``N = quota_i[u_i]`` problems where i announced u_i. For each j the indicators ``1[m_j^k = u_j]`` of a
    random arrangement are negatively associated (sampling without replacement); the products
    ``X_k = prod_j 1[m_j^k = u_j]`` are non-decreasing functions of disjoint sets of independent negatively
    associated variables, hence negatively associated, with mean exactly ``P^K_C(u_C)``. Hoeffding's
    inequality holds for negatively associated indicators (and in particular for sampling without
    replacement), so ``P(|F(u_C | S) - P^K_C(u_C)| > eps) <= 2 exp(-2 N eps^2)``. A union bound over the
    cells (i, C, u_i, u_C) with ``N >= min_samples`` (the cells tested) and ``P^K_C(u_C) > 0`` (otherwise
    F is 0 too) gives

        P(some d_{i,C} > eps) <= sum_cells 2 exp(-2 N_cell eps^2),

    and epsilon^K is the smallest eps in [0, 1] making this at most 1/K (found by bisection; 1, which no
    distance exceeds, when none is). With ``cells`` cells and ``N_min`` the smallest tested quota,

        epsilon^K <= sqrt(log(2 * cells * K) / (2 * N_min)),

    and as ``N_min`` grows like K for fixed class probabilities, epsilon^K -> 0 like sqrt(log K / K).

    Args:
        quotas: per-agent class counts, each summing to K.
        num_problems: K.
        num_agents: n (must equal ``len(quotas)``).
        max_size: the largest coalition size tested, ``1..n-1``.
        min_samples: classes u_i with ``quota_i[u_i] < min_samples`` are not tested.
    """
    qs = _check_quotas(quotas, num_problems)
    if num_agents != len(qs):
        raise ValueError(f"num_agents: got {num_agents}; the quotas are for {len(qs)} agents")
    _check_max_size(max_size, num_agents)
    _check_int("min_samples", min_samples, 1)
    positive = [int((q > 0).sum()) for q in qs]
    sizes: list[float] = []
    weights: list[float] = []
    for i, quota in enumerate(qs):
        others = [positive[j] for j in range(num_agents) if j != i]
        joint_cells = sum(_elementary_symmetric(others, max_size)[1:])
        for count in quota:
            if count >= min_samples:
                sizes.append(float(count))
                weights.append(2.0 * joint_cells)
    if not sizes:
        return 1.0
    n_arr, w_arr = np.array(sizes), np.array(weights)

    def bound(eps: float) -> float:
        return float((w_arr * np.exp(-2.0 * n_arr * eps * eps)).sum())

    target = 1.0 / num_problems
    if bound(1.0) > target:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(64):
        mid = 0.5 * (low + high)
        if bound(mid) <= target:
            high = mid
        else:
            low = mid
    return high


def time_threshold(date: int, time_scale: float = 1.0) -> float:
    """The over-time threshold after ``date`` >= 1 dates: ``time_scale / log(date + 1)``.

    It falls to 0 like 1/log k (footnote 35), more slowly than the ~1/sqrt(k) fluctuations of truthful
    frequencies, so the share of dates at which truthful announcements fail the test vanishes as K grows.
    At date 1 it is 1.44 * time_scale, above any distance (all are below 1) when time_scale >= 0.7.
    """
    _check_int("date", date, 1)
    if not (_is_real(time_scale) and math.isfinite(time_scale) and time_scale > 0):
        raise ValueError(f"time_scale: got {time_scale!r}; allowed is a finite number > 0")
    return float(time_scale / math.log(date + 1))


# --------------------------------------------------------------------------------------------------------
# all tests at once


@dataclass(frozen=True)
class _PairTable:
    """All pairs (i, C) of a batch laid out as one flat vector of cells, pair-major then u_i then u_C.

    ``members[p]`` is ``(i, C..., padding)`` and ``radices[p]`` the mixed-radix weights (0 on padding), so
    the cell of pair p hit by a profile ``m [n]`` is ``offsets[p] + sum(m[members[p]] * radices[p])``.
    """

    num_agents: int
    pairs: tuple[tuple[int, tuple[int, ...]], ...]
    members: IntArray  # [P, S + 1]
    radices: IntArray  # [P, S + 1]
    offsets: IntArray  # [P] first cell of each pair
    pair_agent: IntArray  # [P]
    pair_size: IntArray  # [P]
    row_starts: IntArray  # [R] first cell of each (pair, u_i) row
    row_of_cell: IntArray  # [cells]
    target: FloatArray  # [cells] P^K_C(u_C)
    num_cells: int

    @staticmethod
    def build(quotas: Sequence[IntArray], num_problems: int, max_size: int) -> _PairTable:
        n = len(quotas)
        pairs = tuple((i, c) for i in range(n) if max_size >= 1 for c in coalitions(n, i, max_size))
        width = max_size + 1
        members = np.zeros((len(pairs), width), dtype=np.int64)
        radices = np.zeros((len(pairs), width), dtype=np.int64)
        offsets, row_starts, row_of_cell, targets = [], [], [], []
        cell = 0
        for p, (i, coalition) in enumerate(pairs):
            sizes = [len(quotas[j]) for j in coalition]
            joint = math.prod(sizes)
            members[p, : len(coalition) + 1] = (i, *coalition)
            radices[p, : len(coalition) + 1] = (joint, *_radices(sizes))
            offsets.append(cell)
            target = _joint_target(quotas, coalition, num_problems)
            for _ in range(len(quotas[i])):
                row_starts.append(cell)
                row_of_cell.extend([len(row_starts) - 1] * joint)
                targets.append(target)
                cell += joint
        return _PairTable(
            num_agents=n,
            pairs=pairs,
            members=members,
            radices=radices,
            offsets=np.array(offsets, dtype=np.int64),
            pair_agent=np.array([i for i, _ in pairs], dtype=np.int64),
            pair_size=np.array([len(c) for _, c in pairs], dtype=np.int64),
            row_starts=np.array(row_starts, dtype=np.int64),
            row_of_cell=np.array(row_of_cell, dtype=np.int64),
            target=np.concatenate(targets) if targets else np.zeros(0),
            num_cells=cell,
        )

    def cell_index(self, classes: IntArray) -> IntArray:
        """``[..., P]`` flat cell hit by each pair for profiles ``classes [..., n]``."""
        return np.asarray(self.offsets + (classes[..., self.members] * self.radices).sum(axis=-1))

    def count_history(self, classes: IntArray) -> IntArray:
        """``[B, cells]`` counts of a whole history ``classes [B, T, n]``."""
        batch, length, _ = classes.shape
        counts = np.zeros((batch, self.num_cells), dtype=np.int64)
        if not self.pairs or length == 0:
            return counts
        chunk = max(1, _CHUNK_ELEMENTS // (length * self.members.size))
        for start in range(0, batch, chunk):
            part = classes[start : start + chunk]
            size = part.shape[0]
            flat = self.cell_index(part) + (np.arange(size, dtype=np.int64) * self.num_cells)[:, None, None]
            counts[start : start + size] = np.bincount(flat.ravel(), minlength=size * self.num_cells).reshape(
                size, self.num_cells
            )
        return counts

    def distances(self, counts: IntArray, min_samples: int) -> FloatArray:
        """``[B, P]`` distances d_{i,C} from cell counts ``[B, cells]``."""
        batch = counts.shape[0]
        if not self.pairs:
            return np.zeros((batch, 0))
        row_sums = np.add.reduceat(counts, self.row_starts, axis=1)[:, self.row_of_cell]
        diff = np.abs(counts / np.maximum(row_sums, 1) - self.target)
        diff = np.where(row_sums >= min_samples, diff, 0.0)
        return np.asarray(np.maximum.reduceat(diff, self.offsets, axis=1), dtype=np.float64)

    def select_flags(
        self, distances: FloatArray, threshold: float, episodes: Sequence[int] | None = None
    ) -> list[Flag]:
        """Per episode and tested agent, the smallest failing coalition (then largest distance, then lexicographic)."""
        rows, cols = np.nonzero(distances > threshold)
        if len(rows) == 0:
            return []
        dist = distances[rows, cols]
        agents = self.pair_agent[cols]
        order = np.lexsort((cols, -dist, self.pair_size[cols], agents, rows))
        rows, cols, dist, agents = rows[order], cols[order], dist[order], agents[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (agents[1:] != agents[:-1])
        names = list(range(distances.shape[0])) if episodes is None else list(episodes)
        return [
            Flag(names[int(b)], int(a), self.pairs[int(p)][1], float(d), float(threshold))
            for b, a, p, d in zip(rows[first], agents[first], cols[first], dist[first])
        ]


def find_flags(
    classes: IntArray,
    quotas: Sequence[ArrayLike],
    num_problems: int,
    config: PolicingConfig | None = None,
    threshold: float | None = None,
) -> list[Flag]:
    """Failed tests of every episode: for each agent i the smallest coalition C with ``d_{i,C} > threshold``.

    Among failing coalitions of the same (smallest) size the largest distance wins, then the
    lexicographically first. At most one flag per (episode, agent); sorted by (episode, agent).

    Args:
        classes: ``[B, T, n]`` announced class indices (T = K all at once).
        quotas: per-agent class counts, each summing to K.
        num_problems: K.
        config: test parameters (default :class:`PolicingConfig`).
        threshold: overrides ``config.threshold``; if both are None, :func:`default_threshold`
            (calibrated for T = K; over time use :func:`time_threshold`).
    """
    config = config if config is not None else PolicingConfig()
    qs = _check_quotas(quotas, num_problems)
    arr = _check_classes(classes, qs, num_problems)
    max_size = config.effective_max_size(len(qs))
    if max_size < 1:
        return []
    table = _PairTable.build(qs, num_problems, max_size)
    limit = _resolve_threshold(threshold, config, qs, num_problems, max_size)
    return table.select_flags(table.distances(table.count_history(arr), config.min_samples), limit)


def uniform_arrangement(quota: ArrayLike, rng: np.random.Generator) -> IntArray:
    """A uniformly random admissible class vector: a random permutation of the quota multiset."""
    counts = np.asarray(quota)
    if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any():
        raise ValueError(f"quota: got {np.ravel(counts).tolist()}; expected non-negative integer counts")
    return np.asarray(rng.permutation(np.repeat(np.arange(len(counts), dtype=np.int64), counts)))


def police_all_at_once(
    classes: IntArray,
    quotas: Sequence[ArrayLike],
    num_problems: int,
    config: PolicingConfig | None = None,
    draw_message: DrawMessage | None = None,
    generators: Sequence[np.random.Generator] = (),
) -> tuple[IntArray, list[list[Flag]]]:
    """Appendix 1's iteration: replace failing coalitions' messages by random ones until all tests pass.

    Per episode: find the flags; for the lowest tested agent with a flag, replace the whole K-vectors of
    its coalition's members (in increasing agent order) by ``draw_message(j, generators[b])``; repeat until
    no flag remains or ``config.max_rounds`` replacements were made. In the latter case a last flag with
    ``stopped=True`` records the test still failing. Episodes without flags draw nothing.

    Args:
        classes: ``[B, K, n]`` announced class indices (not modified).
        quotas: per-agent class counts, each summing to K.
        num_problems: K.
        config: test parameters (default :class:`PolicingConfig`).
        draw_message: ``(j, rng) -> [K]`` admissible class vector of agent j; default
            :func:`uniform_arrangement` of j's quota (independent uniformly random admissible messages).
        generators: one generator per episode.

    Returns:
        (final classes ``[B, K, n]``, per episode the flags acted on, in order).
    """
    config = config if config is not None else PolicingConfig()
    qs = _check_quotas(quotas, num_problems)
    out = _check_classes(classes, qs, num_problems).copy()
    batch, length, n = out.shape
    if length != num_problems:
        raise ValueError(f"classes: got {length} problems; the all-at-once form needs all K={num_problems}")
    if len(generators) != batch:
        raise ValueError(f"generators: got {len(generators)}; give one per episode ({batch})")
    history: list[list[Flag]] = [[] for _ in range(batch)]
    max_size = config.effective_max_size(n)
    if max_size < 1:
        return out, history
    table = _PairTable.build(qs, num_problems, max_size)
    limit = _resolve_threshold(None, config, qs, num_problems, max_size)

    def draw(j: int, rng: np.random.Generator) -> IntArray:
        message = draw_message(j, rng) if draw_message is not None else uniform_arrangement(qs[j], rng)
        return _check_message(message, qs[j], num_problems, j)

    def episode_flags(b: int) -> list[Flag]:
        counts = table.count_history(out[b : b + 1])
        return table.select_flags(table.distances(counts, config.min_samples), limit, [b])

    flags = table.select_flags(table.distances(table.count_history(out), config.min_samples), limit)
    for b in sorted({f.episode for f in flags}):
        pending = [f for f in flags if f.episode == b]
        for _ in range(config.max_rounds):
            if not pending:
                break
            history[b].append(pending[0])
            for j in pending[0].coalition:
                out[b, :, j] = draw(j, generators[b])
            pending = episode_flags(b)
        if pending:
            history[b].append(replace(pending[0], stopped=True))
    return out, history


# --------------------------------------------------------------------------------------------------------
# over time


class CumulativePolicing:
    """The test over time (footnote 35): cumulative counts of every pair (i, C) over a batch of episodes.

    Call :meth:`update` with the classes of each date (those the mechanism uses, after any policing
    replacement); then :meth:`flags` tests the history so far against ``time_threshold(date)``
    (``config.threshold`` is not used). An update costs O(number of pairs) per episode; a test costs
    O(number of cells) per episode, whatever the date. Memory: ``B * cells`` integers.

    Args:
        quotas: per-agent class counts, each summing to K.
        num_problems: K (the most dates).
        num_agents: n (must equal ``len(quotas)``).
        batch_size: B.
        config: test parameters (default :class:`PolicingConfig`).
    """

    def __init__(
        self,
        quotas: Sequence[ArrayLike],
        num_problems: int,
        num_agents: int,
        batch_size: int,
        config: PolicingConfig | None = None,
    ) -> None:
        self._config = config if config is not None else PolicingConfig()
        self._quotas = _check_quotas(quotas, num_problems)
        if num_agents != len(self._quotas):
            raise ValueError(f"num_agents: got {num_agents}; the quotas are for {len(self._quotas)} agents")
        _check_int("batch_size", batch_size, 1)
        self._num_problems = num_problems
        self._table = _PairTable.build(
            self._quotas, num_problems, self._config.effective_max_size(num_agents)
        )
        self._counts = np.zeros((batch_size, self._table.num_cells), dtype=np.int64)
        self._date = 0

    @property
    def config(self) -> PolicingConfig:
        """The test parameters."""
        return self._config

    @property
    def date(self) -> int:
        """Number of dates recorded so far."""
        return self._date

    @property
    def batch_size(self) -> int:
        """B."""
        return int(self._counts.shape[0])

    @property
    def pairs(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """The tested pairs (i, C), by agent, then coalition size, then lexicographically."""
        return self._table.pairs

    @property
    def num_cells(self) -> int:
        """Number of counted cells (i, C, u_i, u_C) per episode."""
        return self._table.num_cells

    def update(self, classes_at_date: IntArray) -> None:
        """Add one date: ``classes_at_date [B, n]`` class indices announced (used) at that date."""
        if self._date >= self._num_problems:
            raise ValueError(f"all {self._num_problems} dates are recorded; no date is left to add")
        arr = np.asarray(classes_at_date)
        expected = (self.batch_size, self._table.num_agents)
        if arr.shape != expected:
            raise ValueError(
                f"classes_at_date: got shape {arr.shape}; expected {expected} = [episodes, agents]"
            )
        arr = _check_classes(arr[:, None, :], self._quotas, self._num_problems)[:, 0, :]
        if self._table.pairs:
            cells = self._table.cell_index(arr)
            self._counts[np.arange(self.batch_size)[:, None], cells] += 1
        self._date += 1

    def distances(self) -> FloatArray:
        """``[B, P]`` d_{i,C} of the history so far, pair p as in :attr:`pairs`."""
        return self._table.distances(self._counts, self._config.min_samples)

    def threshold(self, date: int | None = None) -> float:
        """``time_threshold`` at ``date`` (default: the dates recorded)."""
        return time_threshold(self._check_date(date), self._config.time_scale)

    def flags(self, date: int | None = None) -> list[Flag]:
        """Failed tests on the history so far (as :func:`find_flags`, against the time threshold).

        Args:
            date: the number of dates recorded, as a check (default: :attr:`date`); none before date 1.
        """
        day = self._check_date(date)
        if day == 0 or not self._table.pairs:
            return []
        flags = self._table.select_flags(self.distances(), self.threshold(day))
        return [dataclasses.replace(flag, date=day) for flag in flags]

    def flagged_agents(self, date: int | None = None) -> BoolArray:
        """``[B, n]`` members of flagged coalitions: whose announcements the mechanism should randomise."""
        mask = np.zeros((self.batch_size, self._table.num_agents), dtype=bool)
        for flag in self.flags(date):
            mask[flag.episode, list(flag.coalition)] = True
        return mask

    def copy(self) -> CumulativePolicing:
        """An independent copy (the immutable pair layout is shared)."""
        twin = object.__new__(CumulativePolicing)
        twin.__dict__.update(self.__dict__)
        twin._counts = self._counts.copy()
        return twin

    def __deepcopy__(self, memo: dict[int, Any]) -> CumulativePolicing:
        return self.copy()

    def _check_date(self, date: int | None) -> int:
        if date is None:
            return self._date
        if date != self._date:
            raise ValueError(
                f"date: got {date!r}; {self._date} dates are recorded, so the date is {self._date}"
            )
        return self._date


# --------------------------------------------------------------------------------------------------------
# helpers


def _resolve_threshold(
    threshold: float | None,
    config: PolicingConfig,
    quotas: Sequence[IntArray],
    num_problems: int,
    max_size: int,
) -> float:
    if threshold is not None:
        if not (_is_real(threshold) and math.isfinite(threshold) and threshold >= 0):
            raise ValueError(f"threshold: got {threshold!r}; allowed is a finite number >= 0")
        return float(threshold)
    if config.threshold is not None:
        return float(config.threshold)
    return default_threshold(quotas, num_problems, len(quotas), max_size, config.min_samples)


def _joint_target(quotas: Sequence[IntArray], coalition: Sequence[int], num_problems: int) -> FloatArray:
    """``[prod c_j]`` P^K_C(u_C) in mixed-radix order (first member most significant)."""
    product = np.ones(1, dtype=np.int64)
    for j in coalition:
        product = np.multiply.outer(product, quotas[j]).ravel()
    return np.asarray(product / float(num_problems) ** len(coalition), dtype=np.float64)


def _radices(sizes: Sequence[int]) -> list[int]:
    return [math.prod(sizes[s + 1 :]) for s in range(len(sizes))]


def _elementary_symmetric(values: Sequence[int], degree: int) -> list[int]:
    """``e_0..e_degree`` of ``values``: e_s = sum over s-subsets of the product."""
    e = [1] + [0] * degree
    for v in values:
        for s in range(degree, 0, -1):
            e[s] += e[s - 1] * v
    return e


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: got {value!r}; allowed is an integer >= {minimum}")
    if value < minimum:
        raise ValueError(f"{name}: got {value}; allowed is an integer >= {minimum}")


def _check_agent(agent: int, num_agents: int) -> None:
    if isinstance(agent, (bool, np.bool_)) or not isinstance(agent, (int, np.integer)):
        raise ValueError(f"agent: got {agent!r}; allowed are 0..{num_agents - 1}")
    if not 0 <= agent < num_agents:
        raise ValueError(f"agent: got {agent}; allowed are 0..{num_agents - 1}")


def _check_max_size(max_size: int, num_agents: int) -> None:
    if isinstance(max_size, (bool, np.bool_)) or not isinstance(max_size, (int, np.integer)):
        raise ValueError(f"max_size: got {max_size!r}; allowed are 1..{num_agents - 1}")
    if not 1 <= max_size <= num_agents - 1:
        raise ValueError(
            f"max_size: got {max_size} with {num_agents} agents; allowed are 1..{num_agents - 1} "
            "(a coalition excludes the tested agent)"
        )


def _check_coalition(coalition: Sequence[int], agent: int, num_agents: int) -> tuple[int, ...]:
    _check_agent(agent, num_agents)
    members = tuple(int(j) for j in coalition)
    if not 1 <= len(members) <= num_agents - 1:
        raise ValueError(
            f"coalition: got {list(members)} (size {len(members)}) with {num_agents} agents; allowed sizes "
            f"are 1..{num_agents - 1}"
        )
    if len(set(members)) != len(members) or any(not 0 <= j < num_agents for j in members):
        raise ValueError(
            f"coalition: got {list(members)}; allowed are distinct agents in 0..{num_agents - 1}"
        )
    if agent in members:
        raise ValueError(
            f"coalition: got {list(members)}, which contains the tested agent {agent}; leave it out"
        )
    return members


def _check_quotas(quotas: Sequence[ArrayLike], num_problems: int) -> list[IntArray]:
    _check_int("num_problems", num_problems, 1)
    if len(quotas) == 0:
        raise ValueError("quotas: got none; give one array of class counts per agent")
    checked = []
    for i, quota in enumerate(quotas):
        arr = np.asarray(quota)
        if (
            arr.ndim != 1
            or len(arr) == 0
            or not np.issubdtype(arr.dtype, np.integer)
            or (arr < 0).any()
            or int(arr.sum()) != num_problems
        ):
            raise ValueError(
                f"quotas[{i}]: got {np.ravel(arr).tolist()}; expected non-negative integer class counts "
                f"summing to K={num_problems}"
            )
        checked.append(arr.astype(np.int64))
    return checked


def _check_classes(classes: IntArray, quotas: Sequence[IntArray], num_problems: int) -> IntArray:
    arr = np.asarray(classes)
    n = len(quotas)
    if arr.ndim != 3 or arr.shape[2] != n or arr.shape[1] > num_problems:
        raise ValueError(
            f"classes: got shape {arr.shape}; expected [episodes, T <= K={num_problems} problems, n={n} agents]"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"classes: got dtype {arr.dtype}; expected integer class indices")
    arr = arr.astype(np.int64)
    counts = np.array([len(q) for q in quotas])
    bad = (arr < 0) | (arr >= counts)
    if bad.any():
        b, k, i = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(
            f"classes: episode {b}, problem {k}, agent {i} has class {int(arr[b, k, i])}; allowed are "
            f"0..{counts[i] - 1}"
        )
    return arr


def _check_message(message: Any, quota: IntArray, num_problems: int, agent: int) -> IntArray:
    arr = np.asarray(message)
    ok = arr.shape == (num_problems,) and np.issubdtype(arr.dtype, np.integer)
    ok = ok and bool(((arr >= 0) & (arr < len(quota))).all())
    if not ok or not np.array_equal(np.bincount(arr, minlength=len(quota)), quota):
        raise ValueError(
            f"draw_message({agent}, rng): got {np.ravel(arr).tolist()[:12]} (shape {arr.shape}); expected an "
            f"admissible class vector of length K={num_problems} with class counts {quota.tolist()}"
        )
    return arr.astype(np.int64)
