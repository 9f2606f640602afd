"""Finite Bayesian decision problems D = (D, U, P) with a target social choice function f.

A problem has ``n`` agents; agent ``i`` has a finite type set ``U_i`` (indexed ``0..|U_i|-1``) drawn
independently from ``P_i``; there is a finite set of alternatives ``D`` (indexed ``0..|D|-1``); the
target ``f`` maps a profile of announced types to a distribution over alternatives (a :class:`Lottery`).

Everything is batched: a profile array has shape ``[B, n]`` (leading axis = independent episodes or
problems), a lottery has arrays of shape ``[B, S]`` (``S`` = the support size of the target, which lets
problems with very many alternatives, such as public goods with cost shares over subsets of agents, stay
cheap), and utilities come back as ``[B, S, n]``.

Define your own problem in a few lines with :class:`TabularProblem`::

    import numpy as np
    from linkmech.mechanisms import TabularProblem

    def majority(announced):                      # announced: int array [B, 2]
        votes = np.where(announced == 1, 1.0, -1.0).sum(axis=1)
        b = np.where(votes > 0, 1.0, np.where(votes < 0, 0.0, 0.5))
        return np.stack([1 - b, b], axis=1)          # [B, 2] over alternatives (a, b)

    problem = TabularProblem(
        utilities=[[[0, -1], [0, 1]], [[0, -1], [0, 1]]],   # utilities[i][type, alternative]
        type_probs=[[0.5, 0.5], [0.5, 0.5]],
        target=majority,
    )
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

PROBABILITY_TOLERANCE = 1e-9
"""Absolute tolerance when checking that probabilities sum to one."""

MAX_EXACT_DENOMINATOR = 10**6
"""Largest denominator used when exact analyses turn a float probability or utility into a fraction."""


@dataclass(frozen=True)
class Lottery:
    """A batch of distributions over alternatives, stored by support.

    Attributes:
        alternatives: int array ``[B, S]``; the alternatives in each distribution's support
            (entries with probability 0 may repeat any valid alternative).
        probs: float array ``[B, S]``; non-negative, each row sums to 1.
    """

    alternatives: IntArray
    probs: FloatArray

    @property
    def batch_size(self) -> int:
        """Number of distributions in the batch."""
        return int(self.probs.shape[0])

    def sample(self, uniforms: FloatArray) -> IntArray:
        """Draw one alternative per row by inverting the CDF at ``uniforms`` (shape ``[B]``, in [0, 1))."""
        cdf = np.cumsum(self.probs, axis=1)
        index = (cdf <= uniforms[:, None]).sum(axis=1)
        index = np.minimum(index, self.probs.shape[1] - 1)
        return self.alternatives[np.arange(len(index)), index]

    def dense(self, num_alternatives: int) -> FloatArray:
        """The same distributions as a dense ``[B, num_alternatives]`` array."""
        out = np.zeros((self.batch_size, num_alternatives))
        rows = np.broadcast_to(np.arange(self.batch_size)[:, None], self.alternatives.shape)
        np.add.at(out, (rows, self.alternatives), self.probs)
        return out


def two_outcome_lottery(prob_second: Any, first: Any, second: Any) -> Lottery:
    """Lotteries choosing ``second`` with probability ``prob_second [B]`` and ``first`` otherwise.

    ``first`` and ``second`` are alternative indices, each an int or an int array ``[B]``.
    """
    prob = np.asarray(prob_second, dtype=np.float64)
    shape = np.broadcast_shapes(np.shape(first), np.shape(second), prob.shape)
    alternatives = np.empty(shape + (2,), dtype=np.int64)
    alternatives[..., 0], alternatives[..., 1] = first, second
    probs = np.empty(shape + (2,))
    probs[..., 0], probs[..., 1] = 1.0 - prob, prob
    return Lottery(alternatives=alternatives, probs=probs)


def as_fraction(value: Any, field: str) -> Fraction:
    """Read a number given as int, Fraction, ``"p/q"`` string or float as an exact fraction.

    Floats become the nearest fraction with denominator at most :data:`MAX_EXACT_DENOMINATOR`
    (so ``2/3`` typed as ``0.6666666666666666`` is read as ``Fraction(2, 3)``); a float that is not within
    1e-13 of such a fraction is kept as its exact binary value.
    """
    if isinstance(value, bool):
        raise TypeError(f"{field}: got a bool ({value!r}); give a number")
    if isinstance(value, (int, np.integer, Fraction)):
        return Fraction(int(value)) if isinstance(value, np.integer) else Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value)
        except ValueError as error:
            raise ValueError(f"{field}: {value!r} is not a number; give e.g. 2/3 or 0.25") from error
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{field}: got {number!r}; only finite numbers are allowed")
    close = Fraction(number).limit_denominator(MAX_EXACT_DENOMINATOR)
    return close if abs(float(close) - number) <= 1e-13 else Fraction(number)


def check_distribution(probs: Sequence[Any], field: str) -> tuple[Fraction, ...]:
    """Validate a probability vector and return it as exact fractions.

    Raises:
        ValueError: if it is empty, has a negative or non-finite entry, or does not sum to 1.
    """
    values = tuple(as_fraction(p, f"{field}[{k}]") for k, p in enumerate(probs))
    if not values:
        raise ValueError(f"{field}: got an empty distribution; give at least one probability")
    negative = [k for k, p in enumerate(values) if p < 0]
    if negative:
        raise ValueError(
            f"{field}: entries {negative} are negative ({[float(values[k]) for k in negative]}); "
            "probabilities must be >= 0"
        )
    total = sum(values, Fraction(0))
    if abs(float(total) - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(
            f"{field}: probabilities {[float(p) for p in values]} sum to {float(total)!r}, not 1; "
            "normalise them"
        )
    return values


class FiniteProblem(ABC):
    """A finite Bayesian collective decision problem with a (possibly random) target f.

    Subclasses set the type spaces in ``__init__`` through :meth:`_set_types` and implement
    :meth:`target` and :meth:`utility`; the base class validates everything it is given.

    Attributes:
        name: short name used in tables and env ids.
        type_labels: per agent, the printable label of each type.
        type_values: per agent, a numeric value for each type (for observations and plots).
        type_probs: per agent, float array of type probabilities ``P_i``.
        exact_type_probs: the same as exact fractions (used by quotas and exact analyses).
        num_alternatives: ``|D|``.
        status_quo: index of the status-quo alternative ``e`` chosen when an agent declines to
            participate, or ``None`` when the problem has none.
    """

    name: str = "problem"
    type_labels: tuple[tuple[str, ...], ...]
    type_values: tuple[FloatArray, ...]
    type_probs: tuple[FloatArray, ...]
    exact_type_probs: tuple[tuple[Fraction, ...], ...]
    num_alternatives: int
    status_quo: int | None = None

    def _set_types(
        self,
        type_probs: Sequence[Sequence[Any]],
        type_values: Sequence[Sequence[float]] | None = None,
        type_labels: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """Validate and store the agents' type distributions, values and labels."""
        if len(type_probs) < 2:
            raise ValueError(
                f"type_probs: got {len(type_probs)} agent(s); a decision problem needs n >= 2 agents"
            )
        exact = tuple(check_distribution(p, f"type_probs[{i}] (agent {i})") for i, p in enumerate(type_probs))
        counts = [len(p) for p in exact]
        values = type_values if type_values is not None else [list(range(c)) for c in counts]
        labels = (
            type_labels if type_labels is not None else [[_format_value(v) for v in row] for row in values]
        )
        for field, rows in (("type_values", values), ("type_labels", labels)):
            if len(rows) != len(counts) or any(len(r) != c for r, c in zip(rows, counts)):
                raise ValueError(
                    f"{field}: shape {[len(r) for r in rows]} does not match the type counts {counts} "
                    "given by type_probs; give one entry per type of each agent"
                )
        self.exact_type_probs = exact
        self.type_probs = tuple(np.array([float(p) for p in row]) for row in exact)
        self.type_values = tuple(np.asarray(row, dtype=np.float64) for row in values)
        self.type_labels = tuple(tuple(str(x) for x in row) for row in labels)
        if any(not np.all(np.isfinite(v)) for v in self.type_values):
            raise ValueError("type_values: got NaN or infinity; give finite numbers")

    @property
    def num_agents(self) -> int:
        """Number of agents ``n``."""
        return len(self.type_probs)

    @property
    def type_counts(self) -> tuple[int, ...]:
        """``|U_i|`` for each agent (remembered for the current ``type_probs``: this is read every step)."""
        cached = self.__dict__.get("_type_counts")
        if cached is None or cached[0] is not self.type_probs:
            cached = (self.type_probs, tuple(len(p) for p in self.type_probs))
            self.__dict__["_type_counts"] = cached
        return cached[1]

    def values_of(self, types: IntArray) -> FloatArray:
        """``[..., n]``: the numeric value (``type_values``) of each agent's type index in ``types [..., n]``."""
        cached = self.__dict__.get("_value_table")
        if cached is None or cached[0] is not self.type_values:
            table = np.zeros((self.num_agents, max(self.type_counts)))
            for i, row in enumerate(self.type_values):
                table[i, : len(row)] = row
            cached = (self.type_values, table, np.arange(self.num_agents))
            self.__dict__["_value_table"] = cached
        return np.asarray(cached[1][cached[2], types], dtype=np.float64)

    def alternative_label(self, alternative: int) -> str:
        """Printable name of an alternative."""
        return f"d{alternative}"

    @abstractmethod
    def target(self, announced: IntArray) -> Lottery:
        """The target social choice function f on a batch of announced type profiles ``[B, n]``."""

    @abstractmethod
    def utility(self, types: IntArray, alternatives: IntArray) -> FloatArray:
        """Utilities ``[B, S, n]`` of agents with true ``types [B, n]`` for ``alternatives [B, S]``."""

    def status_quo_utility(self, types: IntArray) -> FloatArray:
        """Utility ``u_i(e)`` of each agent at the status quo, shape ``[B, n]``.

        Raises:
            ValueError: if the problem has no status quo.
        """
        if self.status_quo is None:
            raise ValueError(
                f"problem {self.name!r} has no status quo; participation options need one "
                "(set status_quo=<alternative index>)"
            )
        alternatives = np.full((types.shape[0], 1), self.status_quo, dtype=np.int64)
        return self.utility(types, alternatives)[:, 0, :]

    def expected_utility(self, types: IntArray, lottery: Lottery) -> FloatArray:
        """Expected utility ``[B, n]`` of agents with true ``types`` under ``lottery``."""
        return np.einsum("bs,bsn->bn", lottery.probs, self.utility(types, lottery.alternatives))

    def check_announced(self, announced: IntArray, field: str = "announced") -> None:
        """Raise a ValueError naming the agent if any announced type index is out of range."""
        if announced.ndim != 2 or announced.shape[1] != self.num_agents:
            raise ValueError(
                f"{field}: got shape {announced.shape}; expected [batch, {self.num_agents}] type indices"
            )
        for i, count in enumerate(self.type_counts):
            column = announced[:, i]
            bad = (column < 0) | (column >= count)
            if bad.any():
                raise ValueError(
                    f"{field}: agent_{i} announced type {int(column[bad][0])}; "
                    f"allowed type indices are 0..{count - 1} ({', '.join(self.type_labels[i])})"
                )

    def checked_target(self, announced: IntArray) -> Lottery:
        """:meth:`target` with its output checked: shapes, finiteness, range, non-negativity, sums.

        A problem whose :meth:`validate` has checked the target on every type profile (the built-in
        problems, and any problem with at most ``max_profiles`` profiles that calls it) is not checked again:
        the target is a function of the profile, so each row of a later batch has been checked already.
        """
        lottery = self.target(announced)
        if self.__dict__.get("_target_checked_on") is self.type_probs:
            return lottery
        check_lottery(lottery, announced.shape[0], self.num_alternatives, f"target of {self.name!r}")
        return lottery

    def all_profiles(self, limit: int = 1_000_000) -> IntArray:
        """Every type profile ``[M, n]`` in lexicographic order (agent 0 slowest).

        Raises:
            ValueError: if there are more than ``limit`` profiles.
        """
        total = int(np.prod(self.type_counts))
        if total > limit:
            raise ValueError(
                f"{self.name}: {total} type profiles exceed the limit {limit} for exhaustive enumeration; "
                "use sampling or a smaller problem"
            )
        grid = itertools.product(*(range(c) for c in self.type_counts))
        return np.array(list(grid), dtype=np.int64).reshape(total, self.num_agents)

    def profile_probs(self, profiles: IntArray) -> FloatArray:
        """Probability of each profile ``[M]`` under independent types."""
        out = np.ones(profiles.shape[0])
        for i, probs in enumerate(self.type_probs):
            out = out * probs[profiles[:, i]]
        return out

    def validate(self, max_profiles: int = 65_536) -> None:
        """Check the target on every profile (when there are at most ``max_profiles``) and utilities.

        Called by the constructors of the built-in problems and :class:`TabularProblem`.
        """
        if self.status_quo is not None and not 0 <= self.status_quo < self.num_alternatives:
            raise ValueError(
                f"status_quo: got {self.status_quo}; allowed alternatives are 0..{self.num_alternatives - 1}"
            )
        total = int(np.prod(self.type_counts))
        if total > max_profiles:
            return
        profiles = self.all_profiles()
        self.__dict__.pop("_target_checked_on", None)
        lottery = self.checked_target(profiles)
        values = self.utility(profiles, lottery.alternatives)
        if values.shape != lottery.alternatives.shape + (self.num_agents,):
            raise ValueError(
                f"utility of {self.name!r}: returned shape {values.shape}; expected "
                f"{lottery.alternatives.shape + (self.num_agents,)} = [B, S, n]"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"utility of {self.name!r}: returned NaN or infinity; utilities must be finite")
        self.__dict__["_target_checked_on"] = self.type_probs

    def describe(self) -> str:
        """One line per agent with types and probabilities."""
        lines = [f"{self.name}: {self.num_agents} agents, {self.num_alternatives} alternatives"]
        for i in range(self.num_agents):
            pairs = ", ".join(
                f"{label}:{p}" for label, p in zip(self.type_labels[i], self.exact_type_probs[i])
            )
            lines.append(f"  agent {i}: {pairs}")
        return "\n".join(lines)


def check_lottery(lottery: Lottery, batch: int, num_alternatives: int, who: str) -> None:
    """Raise a ValueError saying what is wrong with a target's output, if anything."""
    probs, alternatives = lottery.probs, lottery.alternatives
    if probs.ndim != 2 or probs.shape[0] != batch or alternatives.shape != probs.shape:
        raise ValueError(
            f"{who}: returned probs of shape {probs.shape} and alternatives of shape "
            f"{alternatives.shape}; expected equal shapes [B={batch}, S]"
        )
    if not np.all(np.isfinite(probs)):
        raise ValueError(f"{who}: returned NaN or infinite probabilities; f must return a distribution")
    if (probs < -PROBABILITY_TOLERANCE).any():
        raise ValueError(
            f"{who}: returned a negative probability ({float(probs.min())!r}); probabilities must be >= 0"
        )
    sums = probs.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(
            f"{who}: returned probabilities summing to {float(sums[worst])!r} (row {worst}); "
            "each row must sum to 1"
        )
    if ((alternatives < 0) | (alternatives >= num_alternatives)).any():
        raise ValueError(
            f"{who}: returned alternative {int(alternatives.min())}..{int(alternatives.max())}; "
            f"allowed alternatives are 0..{num_alternatives - 1}"
        )


class TabularProblem(FiniteProblem):
    """A problem given by utility tables and a dense target function.

    Args:
        utilities: per agent, a ``[|U_i|, |D|]`` table of utilities ``u_i(type, alternative)``.
        type_probs: per agent, the type distribution ``P_i``.
        target: function from announced type indices ``[B, n]`` to probabilities ``[B, |D|]``.
        type_values / type_labels: optional numeric values and labels of the types.
        alternative_labels: optional names of the alternatives.
        status_quo: optional index of the status-quo alternative.
        name: short name.
    """

    def __init__(
        self,
        utilities: Sequence[Any],
        type_probs: Sequence[Sequence[Any]],
        target: Callable[[IntArray], Any],
        *,
        type_values: Sequence[Sequence[float]] | None = None,
        type_labels: Sequence[Sequence[str]] | None = None,
        alternative_labels: Sequence[str] | None = None,
        status_quo: int | None = None,
        name: str = "custom",
    ) -> None:
        self.name = name
        self._set_types(type_probs, type_values, type_labels)
        self.utilities = self._check_tables(utilities)
        self.num_alternatives = int(self.utilities[0].shape[1])
        labels = alternative_labels or [f"d{a}" for a in range(self.num_alternatives)]
        if len(labels) != self.num_alternatives:
            raise ValueError(
                f"alternative_labels: got {len(labels)} labels for {self.num_alternatives} alternatives"
            )
        self.alternative_labels = tuple(labels)
        self.status_quo = status_quo
        self._dense_target = target
        self.validate()

    def _check_tables(self, utilities: Sequence[Any]) -> tuple[FloatArray, ...]:
        if len(utilities) != self.num_agents:
            raise ValueError(
                f"utilities: got tables for {len(utilities)} agents; type_probs has {self.num_agents}"
            )
        tables = tuple(np.asarray(u, dtype=np.float64) for u in utilities)
        width = tables[0].shape[1] if tables[0].ndim == 2 else None
        for i, table in enumerate(tables):
            if table.ndim != 2 or table.shape[0] != self.type_counts[i] or table.shape[1] != width:
                raise ValueError(
                    f"utilities[{i}]: got shape {table.shape}; expected ({self.type_counts[i]}, {width}) = "
                    f"[types of agent {i}, alternatives], the same number of alternatives for every agent"
                )
            if not np.all(np.isfinite(table)):
                raise ValueError(f"utilities[{i}]: contains NaN or infinity; utilities must be finite")
        return tables

    def alternative_label(self, alternative: int) -> str:
        """Name of an alternative."""
        return self.alternative_labels[alternative]

    def target(self, announced: IntArray) -> Lottery:
        """Evaluate the dense target and return it as a lottery over all alternatives."""
        probs = np.asarray(self._dense_target(announced), dtype=np.float64)
        if probs.shape != (announced.shape[0], self.num_alternatives):
            raise ValueError(
                f"target of {self.name!r}: returned shape {probs.shape}; expected "
                f"({announced.shape[0]}, {self.num_alternatives}) = [B, alternatives]"
            )
        alternatives = np.broadcast_to(np.arange(self.num_alternatives), probs.shape)
        return Lottery(alternatives=np.ascontiguousarray(alternatives), probs=probs)

    def utility(self, types: IntArray, alternatives: IntArray) -> FloatArray:
        """Look the utilities up in the tables."""
        columns = [table[types[:, i][:, None], alternatives] for i, table in enumerate(self.utilities)]
        return np.stack(columns, axis=-1)


def _format_value(value: float) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def lottery_distance(first: Lottery, second: Lottery) -> FloatArray:
    """Total-variation distance ``[B]`` between two batches of lotteries (supports may differ or repeat).

    For a deterministic ``second`` it is the probability that ``first``'s outcome differs from it.
    """
    rows = first.probs.shape[0]
    if second.probs.shape[0] != rows:
        raise ValueError(f"lottery_distance: batches of {rows} and {second.probs.shape[0]} lotteries")
    keys = np.concatenate(
        [
            np.stack([np.repeat(np.arange(rows), lot.probs.shape[1]), lot.alternatives.reshape(-1)], axis=1)
            for lot in (first, second)
        ]
    )
    signed = np.concatenate([first.probs.reshape(-1), -second.probs.reshape(-1)])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    net = np.zeros(len(unique))
    np.add.at(net, inverse.reshape(-1), signed)
    distance = np.zeros(rows)
    np.add.at(distance, unique[:, 0], np.abs(net))
    return distance / 2
