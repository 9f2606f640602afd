"""K copies of a finite problem decided together, as ONE finite problem (exact analysis of linking).

A type of agent i in :class:`LinkedProblem` is the K-vector of its base types and an alternative is the K-vector
of base alternatives, so everything that works on a :class:`~linkmech.mechanisms.problem.FiniteProblem` works
on K linked problems: the exact incentive analysis of :mod:`linkmech.mechanisms.incentives` (the paper's K = 2
tables) and the LP second best of :mod:`linkmech.evaluation.second_best` (the best mechanism of any kind for K
problems together). A linked mechanism is given as a :data:`Treatment`: branches of weights, treated base
profiles and a base rule applied problem by problem.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from linkmech.mechanisms.incentives import SocialChoiceFunction
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray, Lottery

Component = tuple[FloatArray, IntArray, SocialChoiceFunction]
"""One branch of a linked mechanism: weights ``[B]``, treated base profiles ``[B, K, n]``, base rule."""

Treatment = Callable[[IntArray], list[Component]]
"""Maps announced base profiles ``[B, K, n]`` to the branches of the linked mechanism (weights sum to 1)."""


class LinkedProblem(FiniteProblem):
    """K copies of ``base`` decided together, as one finite problem (all announcements at once).

    A type of agent i is a K-vector of base types (index: row-major digits, problem 0 most significant);
    an alternative is a K-vector of base alternatives (the same encoding); utilities add up over the
    problems; the status quo is the status quo on every problem. The target is the base target on every
    problem of the true types.
    """

    def __init__(self, base: FiniteProblem, num_problems: int) -> None:
        self.base = base
        self.num_problems = int(num_problems)
        self.name = f"{base.name}_x{num_problems}"
        self._type_shapes = [(count,) * self.num_problems for count in base.type_counts]
        probs = []
        for i, base_probs in enumerate(base.exact_type_probs):
            vectors = itertools.product(range(base.type_counts[i]), repeat=self.num_problems)
            probs.append(
                [math.prod((base_probs[t] for t in vector), start=Fraction(1)) for vector in vectors]
            )
        self._set_types(probs)
        self.num_alternatives = base.num_alternatives**self.num_problems
        self.status_quo = (
            None
            if base.status_quo is None
            else sum(base.status_quo * base.num_alternatives**k for k in range(self.num_problems))
        )

    def split(self, types: IntArray) -> IntArray:
        """Linked type profiles ``[B, n]`` as base profiles ``[B, K, n]``."""
        columns = [
            np.stack(np.unravel_index(types[:, i], self._type_shapes[i]), axis=1)
            for i in range(len(self._type_shapes))
        ]
        return np.stack(columns, axis=2).astype(np.int64)

    def join(self, base_types: IntArray) -> IntArray:
        """Base profiles ``[B, K, n]`` as linked type profiles ``[B, n]``."""
        return np.stack(
            [
                np.ravel_multi_index(tuple(base_types[:, :, i].T), self._type_shapes[i])
                for i in range(base_types.shape[2])
            ],
            axis=1,
        ).astype(np.int64)

    def mechanism(self, treatment: Treatment) -> SocialChoiceFunction:
        """The joint SCF: each branch's base rule on each problem of its treated profile, independently."""
        size = self.base.num_alternatives

        def scf(announced: IntArray) -> Lottery:
            alternatives, probs = [], []
            for weights, treated, rule in treatment(self.split(announced)):
                alt = np.zeros((len(announced), 1), dtype=np.int64)
                prob = np.asarray(weights, dtype=np.float64)[:, None]
                for k in range(self.num_problems):
                    lottery = rule(treated[:, k, :])
                    alt = (alt[:, :, None] * size + lottery.alternatives[:, None, :]).reshape(
                        len(announced), -1
                    )
                    prob = (prob[:, :, None] * lottery.probs[:, None, :]).reshape(len(announced), -1)
                alternatives.append(alt)
                probs.append(prob)
            return Lottery(np.concatenate(alternatives, axis=1), np.concatenate(probs, axis=1))

        return scf

    def marginal(self, treatment: Treatment, problem: int) -> SocialChoiceFunction:
        """The SCF's lottery over the base alternatives of one problem (for per-problem error rates)."""

        def scf(announced: IntArray) -> Lottery:
            parts = [
                (w, rule(treated[:, problem, :])) for w, treated, rule in treatment(self.split(announced))
            ]
            return Lottery(
                np.concatenate([lot.alternatives for _, lot in parts], axis=1),
                np.concatenate([np.asarray(w)[:, None] * lot.probs for w, lot in parts], axis=1),
            )

        return scf

    def target(self, announced: IntArray) -> Lottery:
        """The base target on every problem."""
        return self.mechanism(truthful(self.base.target))(announced)

    def utility(self, types: IntArray, alternatives: IntArray) -> FloatArray:
        """Sum over problems of the base utility."""
        base_types = self.split(types)
        digits = np.unravel_index(alternatives, (self.base.num_alternatives,) * self.num_problems)
        return sum(
            (
                self.base.utility(base_types[:, k, :], np.asarray(digits[k], dtype=np.int64))
                for k in range(self.num_problems)
            ),
            np.zeros(alternatives.shape + (self.base.num_agents,)),
        )


def truthful(rule: SocialChoiceFunction) -> Treatment:
    """The treatment that feeds the announcements unchanged to ``rule`` on every problem."""
    return lambda announced: [(np.ones(len(announced)), announced, rule)]
