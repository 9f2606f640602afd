"""The unlinked second best: the best incentive-compatible mechanism for ONE problem, by linear programming.

Jackson and Sonnenschein measure what linking gains against the best a mechanism can do problem by problem.
The paper's baselines (:mod:`linkmech.mechanisms.baselines`) are one-parameter families whose parameter is
derived from the incentive constraints; :func:`second_best` instead searches EVERY direct mechanism of a
finite problem: a lottery ``p(d | theta)`` over alternatives for each type profile, subject to

- Bayesian incentive compatibility: for every agent i, true type t and announcement t',
  ``E[u_i(t, d) | i announces t] >= E[u_i(t, d) | i announces t']`` (others truthful, types independent);
- optionally interim participation: ``E[u_i(t, d) | t] >= E[u_i(t, e) | t]`` for the status quo e;
- or, with ``incentives="dominant"``, the same at every profile of the others' types (strategy-proofness,
  Appendix 4, and ex post participation);

and maximises either ex ante welfare (``objective="welfare"``) or the probability of choosing what the
target f would choose (``objective="target"``, i.e. one minus the expected total-variation distance to f's
lottery). By the revelation principle no unlinked mechanism, direct or not, does better on that objective.

The LP is built in exact fractions (probabilities and utilities read as in
:mod:`linkmech.mechanisms.incentives`) and solved in floats (HiGHS dual simplex, a vertex). Two exact
certificates then replace the floats:

- primal: every probability is read as a fraction (denominators up to 10^6, then larger), rows summing to
  exactly 1, and the mechanism is checked against every row of the exact LP (every incentive and
  participation slack >= 0): ``certified``; ``value`` is its exact objective;
- dual: the solver's multipliers, read as fractions and clipped to their signs, give an exact upper bound on
  the objective of EVERY feasible mechanism (weak duality; the bounds ``0 <= p <= 1`` absorb the rest):
  ``bound``. When ``bound == value`` the mechanism is exactly optimal (``optimal``).

When no reading of the floats is exactly feasible (a vertex with larger denominators), the vertex is solved
exactly from the constraints active at it (:meth:`_LinearProgram.exact_vertex`).

Size: the LP has ``P * A`` variables (P profiles, A alternatives; twice that for ``"target"``) and
``sum_i T_i (T_i - 1)`` incentive rows over ``P / T_i`` profiles each (``P (T_i - 1)`` rows of 2A entries
for ``"dominant"``), so it is for small problems: public goods up to n = 8 (65,536 variables, certified
optimal in about 16 s), two linked votes (256 profiles), any two-agent problem with tens of types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from linkmech.mechanisms.incentives import (
    ObjectArray,
    SocialChoiceFunction,
    exact_array,
    expected_disagreement,
    expected_utilities,
    expected_welfare,
    incentive_constraints,
    profile_weights,
)
from linkmech.mechanisms.problem import (
    MAX_EXACT_DENOMINATOR,
    FiniteProblem,
    FloatArray,
    IntArray,
    Lottery,
    as_fraction,
)

OBJECTIVES = ("welfare", "target")
"""What :func:`second_best` maximises: ex ante welfare, or agreement with the target f."""

INCENTIVES = ("bayesian", "dominant")
"""The incentive constraints: Bayesian (interim) or dominant-strategy (strategy-proof, ex post)."""

MAX_VARIABLES = 400_000
"""Default largest LP (variables) :func:`second_best` builds before a ValueError."""

_CLEAN = 1e-9  # LP values this close to 0 or 1 are read as 0 or 1 before the fraction search
_DENOMINATORS = (MAX_EXACT_DENOMINATOR, 10**9, 10**12)  # tried in turn when reading the LP solution

MAX_FREE = 400
"""Most variables strictly between their bounds for which :meth:`_LinearProgram.exact_vertex` solves a vertex."""


@dataclass(frozen=True)
class SecondBest:
    """The best unlinked incentive-compatible mechanism of one problem (see the module docstring).

    Attributes:
        problem: the problem.
        objective: ``"welfare"`` or ``"target"``.
        participation: whether participation constraints were imposed.
        incentives: ``"bayesian"`` or ``"dominant"`` (strategy-proof).
        table: ``[P, A]`` probabilities (Fractions) of each alternative at each profile, profiles in the
            order of :meth:`FiniteProblem.all_profiles`.
        value: the exact objective of ``table`` (ex ante welfare, or probability of agreeing with f).
        welfare: its exact ex ante welfare (equal to ``value`` for ``"welfare"``).
        bound: an exact upper bound on the objective of every feasible mechanism (from the LP's dual).
        certified: whether ``table`` passed the exact incentive (and participation) checks.
    """

    problem: FiniteProblem
    objective: str
    participation: bool
    incentives: str
    table: ObjectArray
    value: Fraction
    welfare: Fraction
    bound: Fraction
    certified: bool

    @property
    def optimal(self) -> bool:
        """Whether ``table`` is exactly optimal: feasible (certified) and its value meets the dual bound."""
        return self.certified and self.value == self.bound

    @property
    def scf(self) -> SocialChoiceFunction:
        """The mechanism as a social choice function (``announced [B, n] -> Lottery``)."""
        return tabular_scf(self.problem, self.table.astype(np.float64))

    def describe(self) -> str:
        """One line: objective, exact value, whether it is certified feasible and optimal."""
        kind = "strategy-proof" if self.incentives == "dominant" else "incentive"
        constraints = f"{kind} and participation" if self.participation else kind
        if self.optimal:
            check = "exactly feasible and optimal (dual bound met)"
        elif self.certified:
            check = f"exactly feasible; dual bound {float(self.bound):.9f}"
        else:
            check = "NOT certified feasible in exact arithmetic"
        return (
            f"second best ({self.objective}; {constraints} constraints): {self.value} = "
            f"{float(self.value):.6f}, welfare {float(self.welfare):.6f}; {check}"
        )


def profile_index(problem: FiniteProblem, announced: IntArray) -> IntArray:
    """Row of each announced profile ``[B, n]`` in :meth:`FiniteProblem.all_profiles` (agent 0 slowest)."""
    announced = np.asarray(announced, dtype=np.int64)
    problem.check_announced(announced)
    return np.ravel_multi_index(tuple(announced.T), problem.type_counts).astype(np.int64)


def tabular_scf(problem: FiniteProblem, table: FloatArray) -> SocialChoiceFunction:
    """A social choice function given by a ``[P, A]`` table of lotteries, one row per type profile."""
    table = np.asarray(table, dtype=np.float64)
    expected = (int(np.prod(problem.type_counts)), problem.num_alternatives)
    if table.shape != expected:
        raise ValueError(
            f"table: got shape {table.shape}; expected [profiles, alternatives] = {list(expected)}"
        )
    alternatives = np.arange(problem.num_alternatives, dtype=np.int64)

    def scf(announced: IntArray) -> Lottery:
        rows = table[profile_index(problem, announced)]
        return Lottery(alternatives=np.broadcast_to(alternatives, rows.shape).copy(), probs=rows)

    return scf


def second_best(
    problem: FiniteProblem,
    objective: str = "welfare",
    participation: bool = False,
    incentives: str = "bayesian",
    weights: Sequence[Any] | None = None,
    max_variables: int = MAX_VARIABLES,
) -> SecondBest:
    """The best incentive-compatible direct mechanism of ``problem`` for ``objective`` (module docstring).

    Args:
        problem: a finite problem (types independent across agents).
        objective: ``"welfare"`` (ex ante sum of utilities) or ``"target"`` (probability of choosing what the
            target f chooses).
        participation: also impose participation (individual rationality) against the problem's status
            quo, as the paper's second best of Examples 2 and 3 does: interim under ``"bayesian"``, ex post
            (at every profile) under ``"dominant"``.
        incentives: ``"bayesian"`` (truth is a Bayesian equilibrium, interim constraints) or ``"dominant"``
            (strategy-proof: truth is best against every announcement of the others, Appendix 4).
        weights: with ``"welfare"``, maximise ``sum_i weights[i] * E[u_i]`` instead of the plain sum (one
            weight >= 0 per agent, e.g. ``(1, 0)`` for the mechanism best for agent 0; sweeping them traces
            the Pareto frontier of incentive-compatible mechanisms). ``welfare`` stays the plain sum.
        max_variables: the largest LP to build.

    Raises:
        ValueError: on an unknown objective, participation without a status quo, a problem too large, or
            probabilities and utilities that are not rational.
        RuntimeError: if the LP solver fails (it should not: a constant mechanism is always feasible).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: got {objective!r}; allowed are {OBJECTIVES}")
    if incentives not in INCENTIVES:
        raise ValueError(f"incentives: got {incentives!r}; allowed are {INCENTIVES}")
    exact_weights = _check_weights(problem, objective, weights)
    if participation and problem.status_quo is None:
        raise ValueError(
            f"participation=True: problem {problem.name!r} has no status quo to compare with; pass "
            "participation=False or give the problem a status_quo"
        )
    num_profiles = int(np.prod(problem.type_counts))
    size = num_profiles * problem.num_alternatives * (2 if objective == "target" else 1)
    if size > max_variables:
        raise ValueError(
            f"second_best: {num_profiles} profiles x {problem.num_alternatives} alternatives make an LP of "
            f"{size} variables, above max_variables={max_variables}; use a smaller problem or raise the limit"
        )
    lp = _LinearProgram.build(problem, objective, participation, incentives, exact_weights)
    solution, multipliers = lp.solve()
    table, certified = lp.exact_table(solution)
    point = lp.point(table)
    value = Fraction(sum(lp.gain * point, Fraction(0)))
    return SecondBest(
        problem=problem,
        objective=objective,
        participation=participation,
        incentives=incentives,
        table=table,
        value=value,
        welfare=Fraction(sum(lp.welfare * point[: len(lp.welfare)], Fraction(0))),
        bound=lp.best_dual_bound(*multipliers, value),
        certified=certified,
    )


@dataclass
class _LinearProgram:
    """``max gain.x`` over ``0 <= x <= upper``, ``A x <= rhs`` and one sum-to-1 row per profile, in fractions.

    x is the ``[P, A]`` table (row-major), then for ``"target"`` the agreement terms ``t <= min(p, f)``.
    ``A`` is kept as coordinates (``rows``, ``cols``, ``values``).
    """

    num_profiles: int
    num_alternatives: int
    gain: ObjectArray
    welfare: ObjectArray  # [P * A]: weight of each cell in ex ante welfare
    upper: ObjectArray
    rows: list[IntArray]
    cols: list[IntArray]
    values: list[ObjectArray]
    rhs: list[Fraction]

    @staticmethod
    def build(
        problem: FiniteProblem,
        objective: str,
        participation: bool,
        incentives: str = "bayesian",
        weights: Sequence[Fraction] | None = None,
    ) -> _LinearProgram:
        profiles = problem.all_profiles()
        num_profiles, num_alt = len(profiles), problem.num_alternatives
        alternatives = np.broadcast_to(np.arange(num_alt, dtype=np.int64), (num_profiles, num_alt)).copy()
        utility = exact_array(problem.utility(profiles, alternatives), f"utility of {problem.name!r}")
        weight = profile_weights(problem, profiles)
        cells = num_profiles * num_alt
        ones = np.full(cells, Fraction(1), dtype=object)
        welfare = (weight[:, None] * utility.sum(axis=2)).ravel()
        if objective == "welfare":
            weighted = utility if weights is None else utility * np.array(weights, dtype=object)
            gain, upper = (weight[:, None] * weighted.sum(axis=2)).ravel(), ones
        else:
            target = exact_array(problem.target(profiles).dense(num_alt), "target probability").ravel()
            gain = np.concatenate([np.full(cells, Fraction(0), dtype=object), np.repeat(weight, num_alt)])
            upper = np.concatenate([ones, target])
        lp = _LinearProgram(num_profiles, num_alt, gain, welfare, upper, [], [], [], [])
        lp._add_incentive_rows(problem, profiles, utility, participation, incentives)
        if objective == "target":  # agreement: t - p <= 0, cell by cell
            k = np.arange(cells)
            signs = np.tile(np.array([Fraction(1), Fraction(-1)], dtype=object), (cells, 1))
            lp._add_rows(
                np.stack([cells + k, k], axis=1), signs, np.full(cells, Fraction(0), dtype=object), False
            )
        return lp

    def _add_row(self, cols: IntArray, values: ObjectArray, rhs: Fraction = Fraction(0)) -> None:
        self.rows.append(np.full(len(cols), len(self.rhs)))
        self.cols.append(cols)
        self.values.append(values)
        self.rhs.append(rhs)

    def _add_rows(self, cols: IntArray, values: ObjectArray, rhs: ObjectArray, together: bool) -> None:
        """Add ``[R, m]`` rows ``values . x[cols] <= rhs``, or (``together``) their sum as one row."""
        if together:
            self._add_row(cols.ravel(), values.ravel(), Fraction(sum(rhs, Fraction(0))))
            return
        first = len(self.rhs)
        self.rows.append(np.repeat(np.arange(first, first + len(cols)), cols.shape[1]))
        self.cols.append(cols.ravel())
        self.values.append(values.ravel())
        self.rhs.extend(Fraction(r) for r in rhs)

    def _add_incentive_rows(
        self,
        problem: FiniteProblem,
        profiles: IntArray,
        utility: ObjectArray,
        participation: bool,
        incentives: str,
    ) -> None:
        """Incentive rows per (agent, true type, lie) and participation rows per (agent, type).

        Bayesian: one row each, the others' profiles weighted by their probability (interim). Dominant: one
        row per profile of the others (ex post).
        """
        num_alt, bayesian = self.num_alternatives, incentives == "bayesian"
        strides = np.cumprod([1, *problem.type_counts[::-1]])[:-1][::-1]
        columns = np.arange(num_alt)
        for i, count in enumerate(problem.type_counts):
            others = profile_weights(problem, profiles, skip=i)
            for true_type in range(count):
                rows = np.flatnonzero(profiles[:, i] == true_type)
                weight = others[rows] if bayesian else np.full(len(rows), Fraction(1), dtype=object)
                coef = weight[:, None] * utility[rows, :, i]  # [R, A]: weight of p[theta, d] in u_i
                own = rows[:, None] * num_alt + columns
                if participation:
                    outside = exact_array(
                        problem.status_quo_utility(profiles[rows])[:, i], "status quo utility"
                    )
                    self._add_rows(own, -coef, -(weight * outside), bayesian)
                zeros = np.full(len(rows), Fraction(0), dtype=object)
                for lie in range(count):
                    if lie != true_type:
                        lied = (rows + (lie - true_type) * strides[i])[:, None] * num_alt + columns
                        cols = np.concatenate([own, lied], axis=1)
                        self._add_rows(cols, np.concatenate([-coef, coef], axis=1), zeros, bayesian)

    def _matrices(self) -> tuple[Any, Any]:
        from scipy.sparse import coo_matrix

        size, cells = len(self.gain), self.num_profiles * self.num_alternatives
        a_ub = coo_matrix(
            (
                np.concatenate(self.values).astype(np.float64),
                (np.concatenate(self.rows), np.concatenate(self.cols)),
            ),
            shape=(len(self.rhs), size),
        ).tocsr()
        a_eq = coo_matrix(
            (
                np.ones(cells),
                (np.repeat(np.arange(self.num_profiles), self.num_alternatives), np.arange(cells)),
            ),
            shape=(self.num_profiles, size),
        ).tocsr()
        return a_ub, a_eq

    def solve(self) -> tuple[FloatArray, tuple[FloatArray, FloatArray]]:
        """An optimal vertex (floats, every variable) and the multipliers (of the ``<=`` rows, of the sum rows)."""
        from scipy.optimize import linprog

        a_ub, a_eq = self._matrices()
        result = linprog(
            -self.gain.astype(np.float64),
            A_ub=a_ub,
            b_ub=np.array(self.rhs, dtype=np.float64),
            A_eq=a_eq,
            b_eq=np.ones(self.num_profiles),
            bounds=np.stack([np.zeros(len(self.gain)), self.upper.astype(np.float64)], axis=1),
            method="highs-ds",
            options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        )
        if result.status != 0:
            raise RuntimeError(f"second_best: the LP solver failed ({result.message})")
        return np.asarray(result.x), (-result.ineqlin.marginals, -result.eqlin.marginals)

    def point(self, table: ObjectArray) -> ObjectArray:
        """The LP variables of a mechanism ``table``: its cells, then (``"target"``) the agreements min(p, f)."""
        cells = table.ravel()
        if len(self.gain) == len(cells):
            return cells
        return np.concatenate([cells, np.minimum(cells, self.upper[len(cells) :])])

    def is_feasible(self, table: ObjectArray) -> bool:
        """Whether ``table`` satisfies every row exactly (its rows are lotteries, every slack >= 0)."""
        if any(p < 0 for p in table.ravel()) or any(sum(row, Fraction(0)) != 1 for row in table):
            return False
        x = self.point(table)
        lhs = np.full(len(self.rhs), Fraction(0), dtype=object)
        np.add.at(lhs, np.concatenate(self.rows), np.concatenate(self.values) * x[np.concatenate(self.cols)])
        return all(left <= right for left, right in zip(lhs, self.rhs))

    def exact_table(self, solution: FloatArray) -> tuple[ObjectArray, bool]:
        """The LP solution (every variable, floats) as an exact table, and whether it is exactly feasible.

        Each row is read with denominators up to 10^6, then 10^9 and 10^12, the row's rounding residual put on
        its largest entry. If no reading is exactly feasible (a vertex with larger denominators), the vertex
        is solved exactly from its active constraints (:meth:`exact_vertex`). Otherwise the last reading is
        returned, with False.
        """
        cells = self.num_profiles * self.num_alternatives
        floats = solution[:cells].reshape(self.num_profiles, self.num_alternatives)
        clean = np.where(floats < _CLEAN, 0.0, np.where(floats > 1 - _CLEAN, 1.0, floats))
        table = np.empty(clean.shape, dtype=object)
        for limit in _DENOMINATORS:
            for r, row in enumerate(clean):
                values = [Fraction(float(v)).limit_denominator(limit) for v in row]
                values[int(np.argmax(row))] += 1 - sum(values, Fraction(0))
                table[r] = values
            if self.is_feasible(table):
                return table, True
        vertex = self.exact_vertex(solution)
        if vertex is not None:
            exact = vertex[:cells].reshape(self.num_profiles, self.num_alternatives)
            if self.is_feasible(exact):
                return exact, True
        return table, False

    def exact_vertex(self, solution: FloatArray, max_free: int = MAX_FREE) -> ObjectArray | None:
        """The vertex near ``solution``, solved in fractions from the constraints active there.

        Variables within 1e-9 of a bound are fixed at it; the others (at most ``max_free``) solve the active
        rows (slack within 1e-9) and the sum rows, of which a full-rank square subset is picked by a pivoted
        QR in floats and solved by exact Gaussian elimination. None when the point is not a vertex (fewer
        independent active rows than free variables) or too many variables are free.
        """
        from scipy.linalg import qr
        from scipy.sparse import vstack

        upper = self.upper.astype(np.float64)
        low, high = solution <= _CLEAN, solution >= upper - _CLEAN
        free = np.flatnonzero(~(low | high))
        if len(free) > max_free:
            return None
        exact = np.full(len(solution), Fraction(0), dtype=object)
        exact[high] = self.upper[high]
        if len(free) == 0:
            return exact
        rows, cols, values, rhs = self._exact_rows()
        a_ub, a_eq = self._matrices()
        slack = np.array(self.rhs, dtype=np.float64) - a_ub @ solution
        active = np.concatenate(
            [np.flatnonzero(slack <= _CLEAN), len(self.rhs) + np.arange(self.num_profiles)]
        )
        dense = vstack([a_ub, a_eq]).tocsr()[active][:, free].toarray()
        _, r, order = qr(dense.T, pivoting=True, mode="economic")
        if np.sum(np.abs(np.diag(r)) > 1e-9 * np.abs(r).max()) < len(free):
            return None
        chosen = active[order[: len(free)]]
        position = {int(c): k for k, c in enumerate(free)}
        system = [[Fraction(0)] * len(free) + [rhs[int(row)]] for row in chosen]
        index = {int(row): k for k, row in enumerate(chosen)}
        for row, col, value in zip(rows, cols, values):
            k = index.get(int(row))
            if k is None:
                continue
            if int(col) in position:
                system[k][position[int(col)]] += value
            else:
                system[k][-1] -= value * exact[col]
        exact[free] = _solve_exactly(system)
        return exact

    def _exact_rows(self) -> tuple[IntArray, IntArray, ObjectArray, list[Fraction]]:
        """Every row in coordinates, the sum-to-1 rows after the ``<=`` rows, with their right-hand sides."""
        cells = self.num_profiles * self.num_alternatives
        sums = len(self.rhs) + np.repeat(np.arange(self.num_profiles), self.num_alternatives)
        rows = np.concatenate([*self.rows, sums])
        cols = np.concatenate([*self.cols, np.arange(cells)])
        values = np.concatenate([*self.values, np.full(cells, Fraction(1), dtype=object)])
        return rows, cols, values, [*self.rhs, *([Fraction(1)] * self.num_profiles)]

    def best_dual_bound(self, row_prices: FloatArray, sum_prices: FloatArray, value: Fraction) -> Fraction:
        """The smallest :meth:`dual_bound` over readings of the multipliers (denominators 10^6, 10^9, 10^12).

        Stops at the first reading that meets ``value``; every reading is a valid bound.
        """
        best = None
        for limit in _DENOMINATORS:
            bound = self.dual_bound(row_prices, sum_prices, limit)
            best = bound if best is None else min(best, bound)
            if best <= value:
                break
        assert best is not None
        return best

    def dual_bound(
        self, row_prices: FloatArray, sum_prices: FloatArray, limit: int = MAX_EXACT_DENOMINATOR
    ) -> Fraction:
        """Exact upper bound from any multipliers: ``rhs.y + sum(z) + upper.max(0, gain - A'y - E'z)``, y >= 0."""
        y = np.array(
            [max(Fraction(0), Fraction(float(v)).limit_denominator(limit)) for v in row_prices], dtype=object
        )
        z = np.array([Fraction(float(v)).limit_denominator(limit) for v in sum_prices], dtype=object)
        reduced = self.gain.copy()
        np.subtract.at(
            reduced, np.concatenate(self.cols), np.concatenate(self.values) * y[np.concatenate(self.rows)]
        )
        cells = self.num_profiles * self.num_alternatives
        reduced[:cells] -= np.repeat(z, self.num_alternatives)
        slack = sum((u * r for u, r in zip(self.upper, reduced) if r > 0), Fraction(0))
        return Fraction(sum(np.array(self.rhs, dtype=object) * y, Fraction(0)) + sum(z, Fraction(0)) + slack)


def _check_weights(
    problem: FiniteProblem, objective: str, weights: Sequence[Any] | None
) -> list[Fraction] | None:
    """The weights as exact fractions, or a ValueError saying what is wrong with them."""
    if weights is None:
        return None
    if objective != "welfare":
        raise ValueError(
            f"weights: got {list(weights)!r} with objective {objective!r}; weights go with 'welfare'"
        )
    exact = [as_fraction(w, "weights") for w in weights]
    if len(exact) != problem.num_agents or any(w < 0 for w in exact) or not any(exact):
        raise ValueError(
            f"weights: got {list(weights)!r}; give {problem.num_agents} numbers >= 0 (one per agent), not all 0"
        )
    return exact


def _solve_exactly(system: list[list[Fraction]]) -> list[Fraction]:
    """Solve a square system given as augmented rows ``[a_1 .. a_f, b]`` by Gaussian elimination in fractions."""
    size = len(system)
    for col in range(size):
        pivot = next(r for r in range(col, size) if system[r][col] != 0)
        system[col], system[pivot] = system[pivot], system[col]
        head = system[col]
        for r in range(size):
            if r != col and system[r][col] != 0:
                ratio = system[r][col] / head[col]
                system[r] = [a - ratio * b for a, b in zip(system[r], head)]
    return [system[r][-1] / system[r][r] for r in range(size)]


def pareto_frontier(
    problem: FiniteProblem, steps: int = 8, participation: bool = False, incentives: str = "bayesian"
) -> list[tuple[Fraction, ...]]:
    """Ex ante utilities of Pareto-optimal incentive-compatible mechanisms of a two-agent problem.

    Maximises ``w_0 E[u_0] + w_1 E[u_1]`` for ``w = (k + 1/100, steps - k + 1/100)``, ``k = 0..steps`` (both
    weights positive, so every point is Pareto optimal among the feasible mechanisms); returns the exact
    ``(E[u_0], E[u_1])`` of each optimum, from agent 1's best to agent 0's.
    """
    if problem.num_agents != 2:
        raise ValueError(f"pareto_frontier: got {problem.num_agents} agents; it traces two-agent problems")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: got {steps!r}; give an integer >= 1")
    points = []
    for k in range(steps + 1):
        weights = (k + Fraction(1, 100), steps - k + Fraction(1, 100))
        best = second_best(problem, "welfare", participation, incentives, weights)
        points.append(expected_utilities(problem, best.scf))
    return points


DEFAULT_ENVS = ("linked_voting_v0", "linked_public_goods_v0", "linked_bargaining_v0", "linked_allocation_v0")
"""The environments ``linkmech second-best`` compares by default (one problem of each)."""


def comparison_rows(
    problem: FiniteProblem, objective: str = "welfare", incentives: str = "bayesian"
) -> list[dict[str, Any]]:
    """The target, the paper's unlinked baseline and the LP second best (with and without participation).

    One dict per mechanism: ``mechanism``, ``value`` (Fraction: welfare, or agreement with the target),
    ``share`` (of the target's value), ``note``.
    """
    from linkmech.mechanisms.baselines import unlinked_baseline

    def measure(scf: SocialChoiceFunction) -> Fraction:
        if objective == "welfare":
            return expected_welfare(problem, scf)
        return 1 - expected_disagreement(problem, scf, problem.target)

    target = measure(problem.target)
    target_ic = all(c.slack >= 0 for c in incentive_constraints(problem, problem.target))
    rows: list[dict[str, Any]] = [
        {
            "mechanism": "target f",
            "value": target,
            "note": f"incentive compatible: {'yes' if target_ic else 'no'}",
        }
    ]
    try:
        baseline = unlinked_baseline(problem)
        rows.append(
            {"mechanism": f"paper baseline: {baseline.name}", "value": measure(baseline.scf), "note": ""}
        )
    except (TypeError, ValueError) as error:
        rows.append({"mechanism": "paper baseline", "value": None, "note": str(error).split(";")[0]})
    for participation in (False, True) if problem.status_quo is not None else (False,):
        best = second_best(problem, objective, participation, incentives)
        kind = "strategy-proof" if incentives == "dominant" else "incentive"
        label = f"LP second best, {kind}" + (" + participation" if participation else "")
        note = "optimal (exact certificate)" if best.optimal else best.describe()
        rows.append({"mechanism": label, "value": best.value, "note": note})
    for row in rows:
        row["share"] = None if row["value"] is None or target == 0 else row["value"] / target
    return rows


def comparison_table(
    name: str, problem: FiniteProblem, objective: str = "welfare", incentives: str = "bayesian"
) -> str:
    """:func:`comparison_rows` as a text table headed by the env name and the problem."""
    lines = [f"{name}: {problem.name}, n = {problem.num_agents}, {objective} per problem"]
    lines.append(f"  {'mechanism':48s} {'value':>22s} {'share of f':>10s}  note")
    for row in comparison_rows(problem, objective, incentives):
        value = "-" if row["value"] is None else f"{row['value']} = {float(row['value']):.4f}"
        share = "-" if row["share"] is None else f"{float(row['share']):.4f}"
        lines.append(f"  {row['mechanism']:48s} {value:>22s} {share:>10s}  {row['note']}")
    return "\n".join(lines)


def run_second_best_command(specs: list[str] | None, objective: str, incentives: str = "bayesian") -> str:
    """``linkmech second-best``: the comparison table of each env's problem (``NAME[:key=value,...]``)."""
    from linkmech import envs
    from linkmech.evaluation.tournament_setup import parse_env

    parts = []
    for spec in specs or list(DEFAULT_ENVS):
        name, options = parse_env(spec)
        env = envs.make(name, **options)
        problem = getattr(env, "problem", None)
        if not isinstance(problem, FiniteProblem):
            raise ValueError(
                f"--env: {name} has no finite one-shot problem; the second best is for the linking envs "
                f"({', '.join(DEFAULT_ENVS)}); for your own problem call linkmech.evaluation.second_best.second_best"
            )
        parts.append(comparison_table(spec, problem, objective, incentives))
    return "\n\n".join(parts)
