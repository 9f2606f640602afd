"""The unlinked second best: the best incentive-compatible mechanism for ONE problem, by linear programming.

Jackson and Sonnenschein measure what linking gains against the best a mechanism can do problem by problem.
The paper's baselines (:mod:`linkmech.mechanisms.baselines`) are one-parameter families whose parameter is
derived from the incentive constraints; :func:`second_best` instead searches EVERY direct mechanism of a
finite problem: a lottery ``p(d | theta)`` over alternatives for each type profile, subject to

- Bayesian incentive compatibility: for every agent i, true type t and announcement t',
  ``E[u_i(t, d) | i announces t] >= E[u_i(t, d) | i announces t']`` (others truthful, types independent);
- optionally interim participation: ``E[u_i(t, d) | t] >= E[u_i(t, e) | t]`` for the status quo e;

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

Size: the LP has ``P * A`` variables (P profiles, A alternatives; twice that for ``"target"``) and
``sum_i T_i (T_i - 1)`` incentive rows over ``P / T_i`` profiles each, so it is for small problems:
public goods up to n = 8 (65,536 variables, certified optimal in about 16 s), any two-agent problem with tens of types.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from linkmech.mechanisms.incentives import (
    ObjectArray,
    SocialChoiceFunction,
    exact_array,
    expected_disagreement,
    expected_welfare,
    incentive_constraints,
)
from linkmech.mechanisms.problem import MAX_EXACT_DENOMINATOR, FiniteProblem, FloatArray, IntArray, Lottery

OBJECTIVES = ("welfare", "target")
"""What :func:`second_best` maximises: ex ante welfare, or agreement with the target f."""

MAX_VARIABLES = 400_000
"""Default largest LP (variables) :func:`second_best` builds before a ValueError."""

_CLEAN = 1e-9  # LP values this close to 0 or 1 are read as 0 or 1 before the fraction search
_DENOMINATORS = (MAX_EXACT_DENOMINATOR, 10**9, 10**12)  # tried in turn when reading the LP solution


@dataclass(frozen=True)
class SecondBest:
    """The best unlinked incentive-compatible mechanism of one problem (see the module docstring).

    Attributes:
        problem: the problem.
        objective: ``"welfare"`` or ``"target"``.
        participation: whether interim participation constraints were imposed.
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
        constraints = "incentive and participation" if self.participation else "incentive"
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
    index = np.zeros(len(announced), dtype=np.int64)
    for i, count in enumerate(problem.type_counts):
        index = index * count + announced[:, i]
    return index


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
    max_variables: int = MAX_VARIABLES,
) -> SecondBest:
    """The best incentive-compatible direct mechanism of ``problem`` for ``objective`` (module docstring).

    Args:
        problem: a finite problem (types independent across agents).
        objective: ``"welfare"`` (ex ante sum of utilities) or ``"target"`` (probability of choosing what the
            target f chooses).
        participation: also impose interim participation (individual rationality) against the problem's
            status quo, as the paper's second best of Examples 2 and 3 does.
        max_variables: the largest LP to build.

    Raises:
        ValueError: on an unknown objective, participation without a status quo, a problem too large, or
            probabilities and utilities that are not rational.
        RuntimeError: if the LP solver fails (it should not: a constant mechanism is always feasible).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: got {objective!r}; allowed are {OBJECTIVES}")
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
    lp = _LinearProgram.build(problem, objective, participation)
    floats, multipliers = lp.solve()
    table, certified = lp.exact_table(floats)
    point = lp.point(table)
    value = Fraction(sum(lp.gain * point, Fraction(0)))
    return SecondBest(
        problem=problem,
        objective=objective,
        participation=participation,
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
    def build(problem: FiniteProblem, objective: str, participation: bool) -> _LinearProgram:
        profiles = problem.all_profiles()
        num_profiles, num_alt = len(profiles), problem.num_alternatives
        alternatives = np.broadcast_to(np.arange(num_alt, dtype=np.int64), (num_profiles, num_alt)).copy()
        utility = exact_array(problem.utility(profiles, alternatives), f"utility of {problem.name!r}")
        weight = _weights(problem, profiles)
        cells = num_profiles * num_alt
        ones = np.full(cells, Fraction(1), dtype=object)
        welfare = (weight[:, None] * utility.sum(axis=2)).ravel()
        if objective == "welfare":
            gain, upper = welfare, ones
        else:
            target = exact_array(problem.target(profiles).dense(num_alt), "target probability").ravel()
            gain = np.concatenate([np.full(cells, Fraction(0), dtype=object), np.repeat(weight, num_alt)])
            upper = np.concatenate([ones, target])
        lp = _LinearProgram(num_profiles, num_alt, gain, welfare, upper, [], [], [], [])
        lp._add_incentive_rows(problem, profiles, utility, participation)
        if objective == "target":  # agreement: t - p <= 0, cell by cell
            for k in range(cells):
                lp._add_row(np.array([cells + k, k]), np.array([Fraction(1), Fraction(-1)], dtype=object))
        return lp

    def _add_row(self, cols: IntArray, values: ObjectArray, rhs: Fraction = Fraction(0)) -> None:
        self.rows.append(np.full(len(cols), len(self.rhs)))
        self.cols.append(cols)
        self.values.append(values)
        self.rhs.append(rhs)

    def _add_incentive_rows(
        self, problem: FiniteProblem, profiles: IntArray, utility: ObjectArray, participation: bool
    ) -> None:
        num_alt = self.num_alternatives
        strides = np.cumprod([1, *problem.type_counts[::-1]])[:-1][::-1]
        columns = np.arange(num_alt)
        for i, count in enumerate(problem.type_counts):
            others = _weights(problem, profiles, skip=i)
            for true_type in range(count):
                rows = np.flatnonzero(profiles[:, i] == true_type)
                coef = (others[rows, None] * utility[rows, :, i]).ravel()  # weight of p[theta, d] in E[u_i]
                own = (rows[:, None] * num_alt + columns).ravel()
                if participation:
                    outside = exact_array(
                        problem.status_quo_utility(profiles[rows])[:, i], "status quo utility"
                    )
                    self._add_row(own, -coef, -Fraction(sum(others[rows] * outside, Fraction(0))))
                for lie in range(count):
                    if lie != true_type:
                        lied = rows + (lie - true_type) * strides[i]
                        cols = np.concatenate([own, (lied[:, None] * num_alt + columns).ravel()])
                        self._add_row(cols, np.concatenate([-coef, coef]))

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
        """The optimal ``[P, A]`` table (floats) and the multipliers (of the ``<=`` rows, of the sum rows)."""
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
        cells = self.num_profiles * self.num_alternatives
        table = result.x[:cells].reshape(self.num_profiles, self.num_alternatives)
        return table, (-result.ineqlin.marginals, -result.eqlin.marginals)

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

    def exact_table(self, floats: FloatArray) -> tuple[ObjectArray, bool]:
        """The LP solution read as fractions, and whether it is exactly feasible.

        Each row is read with denominators up to 10^6, then 10^9 and 10^12 (a vertex of a larger LP can have
        large denominators), the row's rounding residual put on its largest entry; the first exactly feasible
        reading is returned, else the last one (with False).
        """
        clean = np.where(floats < _CLEAN, 0.0, np.where(floats > 1 - _CLEAN, 1.0, floats))
        table = np.empty(clean.shape, dtype=object)
        for limit in _DENOMINATORS:
            for r, row in enumerate(clean):
                values = [Fraction(float(v)).limit_denominator(limit) for v in row]
                values[int(np.argmax(row))] += 1 - sum(values, Fraction(0))
                table[r] = values
            if self.is_feasible(table):
                return table, True
        return table, False

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


def _weights(problem: FiniteProblem, profiles: IntArray, skip: int | None = None) -> ObjectArray:
    """Exact probability of each profile's types, leaving out agent ``skip``."""
    weights = np.full(len(profiles), Fraction(1), dtype=object)
    for j, probs in enumerate(problem.exact_type_probs):
        if j != skip:
            weights = weights * np.array(probs, dtype=object)[profiles[:, j]]
    return weights


DEFAULT_ENVS = ("linked_voting_v0", "linked_public_goods_v0", "linked_bargaining_v0", "linked_allocation_v0")
"""The environments ``linkmech second-best`` compares by default (one problem of each)."""


def comparison_rows(problem: FiniteProblem, objective: str = "welfare") -> list[dict[str, Any]]:
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
        best = second_best(problem, objective, participation)
        label = "LP second best, incentive" + (" + participation" if participation else "")
        note = "optimal (exact certificate)" if best.optimal else best.describe()
        rows.append({"mechanism": label, "value": best.value, "note": note})
    for row in rows:
        row["share"] = None if row["value"] is None or target == 0 else row["value"] / target
    return rows


def comparison_table(name: str, problem: FiniteProblem, objective: str = "welfare") -> str:
    """:func:`comparison_rows` as a text table headed by the env name and the problem."""
    lines = [f"{name}: {problem.name}, n = {problem.num_agents}, {objective} per problem"]
    lines.append(f"  {'mechanism':48s} {'value':>22s} {'share of f':>10s}  note")
    for row in comparison_rows(problem, objective):
        value = "-" if row["value"] is None else f"{row['value']} = {float(row['value']):.4f}"
        share = "-" if row["share"] is None else f"{float(row['share']):.4f}"
        lines.append(f"  {row['mechanism']:48s} {value:>22s} {share:>10s}  {row['note']}")
    return "\n".join(lines)


def run_second_best_command(specs: list[str] | None, objective: str) -> str:
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
        parts.append(comparison_table(spec, problem, objective))
    return "\n\n".join(parts)
