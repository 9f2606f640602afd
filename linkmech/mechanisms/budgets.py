"""Announcement budgets of the linking mechanism and the mixing that makes them exactly P-distributed.

Over K linked problems agent i must announce each budget class ``c`` exactly ``quota[c]`` times, where the
quota is the vector of non-negative integers summing to K nearest (in Euclidean distance) to ``K * P_i``.
By default a class is a single type (Theorem 1); a coarser partition (e.g. Example 1's "one vote of
each intensity", which leaves signs free) is given as ``classes[i][type] = class index``.

Because ``quota / K`` is only close to ``P_i``, the proof of Theorem 1 mixes: on each problem, independently,
the mechanism keeps the announcement with probability ``1 - gamma`` and otherwise replaces it with a draw
from a distribution ``P_hat`` chosen so that ``(1 - gamma) * quota / K + gamma * P_hat = P_i`` exactly, with the
smallest such ``gamma`` (:func:`mixing_prob`). All of this is computed in exact fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray


def nearest_quota(probs: Sequence[Fraction], num_problems: int) -> IntArray:
    """The integer counts summing to ``num_problems`` nearest to ``num_problems * probs``.

    The nearest vector takes each count as the floor or the ceiling of its target and gives the
    ceilings to the entries with the largest fractional parts (largest-remainder rounding, which
    minimises the Euclidean distance). Ties between equal fractional parts go to the lower index.

    Raises:
        ValueError: if ``num_problems < 1``.
    """
    _check_num_problems(num_problems)
    targets = [Fraction(p) * num_problems for p in probs]
    floors = [t.numerator // t.denominator for t in targets]
    missing = num_problems - sum(floors)
    order = sorted(range(len(targets)), key=lambda k: (-(targets[k] - floors[k]), k))
    counts = list(floors)
    for k in order[:missing]:
        counts[k] += 1
    return np.array(counts, dtype=np.int64)


def mixing_prob(probs: Sequence[Fraction], quota: Sequence[int], num_problems: int) -> Fraction:
    """The smallest gamma such that ``(1 - gamma) * quota / K`` is dominated by ``probs``.

    Then ``P_hat = (probs - (1 - gamma) * quota / K) / gamma`` is a distribution and mixing it in with
    probability gamma makes the used announcements exactly ``probs``-distributed.
    """
    gamma = Fraction(0)
    for p, count in zip(probs, quota):
        share = Fraction(int(count), num_problems)
        if share > 0:
            gamma = max(gamma, 1 - Fraction(p) / share)
    return gamma


def replacement_distribution(
    probs: Sequence[Fraction], quota: Sequence[int], num_problems: int, gamma: Fraction
) -> tuple[Fraction, ...]:
    """``P_hat`` of the mixing; equals ``probs`` when gamma is 0 (it is then never used)."""
    if gamma == 0:
        return tuple(Fraction(p) for p in probs)
    return tuple(
        (Fraction(p) - (1 - gamma) * Fraction(int(c), num_problems)) / gamma for p, c in zip(probs, quota)
    )


@dataclass(frozen=True)
class AgentBudget:
    """The budget of one agent over K problems.

    Attributes:
        class_of_type: ``[|U_i|]`` class index of each type.
        class_probs: exact probability of each class under ``P_i``.
        quota: ``[C]`` number of announcements of each class (sums to K).
        mixing_prob: exact gamma.
        replacement_type_probs: ``[|U_i|]`` float distribution of a replacement type: a class drawn
            from ``P_hat``, then a type within it in proportion to ``P_i``.
    """

    class_of_type: IntArray
    class_probs: tuple[Fraction, ...]
    quota: IntArray
    mixing_prob: Fraction
    replacement_type_probs: FloatArray

    @property
    def num_classes(self) -> int:
        """Number of budget classes."""
        return len(self.quota)


def make_budget(
    problem: FiniteProblem, num_problems: int, classes: Sequence[Sequence[int]] | None = None
) -> tuple[AgentBudget, ...]:
    """Budgets of all agents of ``problem`` over ``num_problems`` linked copies.

    Args:
        problem: the base decision problem.
        num_problems: K >= 1.
        classes: optional per-agent partition of types into budget classes (``classes[i][type]``);
            default: each type is its own class.
    """
    _check_num_problems(num_problems)
    if classes is not None and len(classes) != problem.num_agents:
        raise ValueError(
            f"budget classes: got {len(classes)} lists for {problem.num_agents} agents; give one list per agent"
        )
    budgets = []
    for i, probs in enumerate(problem.exact_type_probs):
        class_of_type = _class_map(classes[i] if classes is not None else None, len(probs), i)
        num_classes = int(class_of_type.max()) + 1
        class_probs = tuple(
            sum((p for p, c in zip(probs, class_of_type) if c == k), Fraction(0)) for k in range(num_classes)
        )
        quota = nearest_quota(class_probs, num_problems)
        counts = [int(c) for c in quota]
        gamma = mixing_prob(class_probs, counts, num_problems)
        hat = replacement_distribution(class_probs, counts, num_problems, gamma)
        within = [
            float(p / class_probs[c]) if class_probs[c] > 0 else 0.0 for p, c in zip(probs, class_of_type)
        ]
        replacement = np.array([float(hat[c]) * w for c, w in zip(class_of_type, within)])
        budgets.append(AgentBudget(class_of_type, class_probs, quota, gamma, replacement / replacement.sum()))
    return tuple(budgets)


def _class_map(given: Sequence[int] | None, num_types: int, agent: int) -> IntArray:
    if given is None:
        return np.arange(num_types, dtype=np.int64)
    classes = np.asarray(given)
    if classes.shape != (num_types,) or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"budget classes for agent {agent}: got {np.ravel(classes).tolist()}; expected {num_types} integer "
            "class indices, one per type"
        )
    used = sorted(set(classes.tolist()))
    if used != list(range(len(used))):
        raise ValueError(
            f"budget classes for agent {agent}: got class indices {used}; use 0..C-1 with every class used"
        )
    return classes.astype(np.int64)


def _check_num_problems(num_problems: int) -> None:
    if isinstance(num_problems, bool) or not isinstance(num_problems, (int, np.integer)):
        raise TypeError(f"num_problems: got {num_problems!r}; give an integer K >= 1")
    if num_problems < 1:
        raise ValueError(f"num_problems: got K = {num_problems}; link at least K = 1 problem")
