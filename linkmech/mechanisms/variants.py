"""Distribution-free and two-problem variants of the linked voting mechanism.

Two mechanisms from Jackson and Sonnenschein (2007) that need no (or little) knowledge of the type
distribution, and an exact analysis of the second one.

- Section 5 ("What does the mechanism need to know?"): each of ``n`` agents votes a or b on each of K
  problems and ranks the problems 1..K (rank 1 = matters most). The majority decides each problem; a tie
  in votes is broken in favour of the side of the agent who ranked the problem highest (smallest rank),
  and by a fair coin if agents on both sides share that best rank (:func:`ranked_vote_lottery`,
  :func:`check_rankings`). Its types are values from any distribution on ``[-v, v]`` symmetric about 0
  (:class:`SymmetricValues`); :func:`approximately_truthful_ranking` is the strategy "vote your sign and
  rank the problems by intensity".
- Appendix 3 ("Correlation"): two agents, two problems; each votes on both and says which problem
  matters more to them, or that both matter equally (:class:`Claim`, :func:`importance_vote_lottery`).
- Exact error probabilities (as fractions) of that mechanism under Appendix 3's two correlation
  constructions (:func:`importance_vote_error`) and of separate majority voting
  (:func:`separate_voting_error`), with the paper's values {-2, -1, 1, 2}, each with probability 1/4.

Alternatives follow :class:`~linkmech.mechanisms.catalogue.VotingProblem`: 0 = a, 1 = b, and a value is
the value of b over a. Everything is batched: the leading axis indexes independent episodes.

How a disagreement is settled in the two-problem mechanism. On a problem where the two votes differ,
each agent's claim gives the problem a priority: under the default rule ``"ordinal"`` a claim that this
problem matters more counts 2, "equal" counts 1 and "the other problem matters more" counts 0; the agent
with the higher priority wins and equal priorities give a fair coin. This is the rule behind the
paper's footnote 46 (an error is possible only when both agents announce "equal") and its error
``(1 + p)^2 / 32``. Under the rule ``"named_only"`` only a claim naming this problem counts (1, all
others 0): an agent wins only by naming the problem while the other agent does not, so "equal" against
"the other problem" is a coin flip; its error is larger, ``(1 + p) / 16``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import IntEnum
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from linkmech.mechanisms.problem import FloatArray, IntArray, Lottery, as_fraction, two_outcome_lottery

BoolArray = NDArray[np.bool_]

ALTERNATIVE_A = 0
"""Index of alternative a (chosen when b loses)."""

ALTERNATIVE_B = 1
"""Index of alternative b."""

VALUE_KINDS = ("uniform", "two_point")
"""Allowed ``kind`` values of :class:`SymmetricValues`."""

IMPORTANCE_RULES = ("ordinal", "named_only")
"""Allowed ``rule`` values of :func:`importance_vote_lottery` (see the module docstring)."""

CONSTRUCTIONS = ("repeat", "intensity")
"""Appendix 3's correlation constructions accepted by :func:`importance_vote_error`."""

APPENDIX3_VALUES = (-2, -1, 1, 2)
"""The values of b over a in Appendix 3 (and Example 1), each with probability 1/4 on each problem."""

NUM_LINKED = 2
"""Number of problems (and of agents) in Appendix 3's two-problem mechanism."""


class Claim(IntEnum):
    """What an agent says about the two problems in Appendix 3's mechanism."""

    FIRST_MATTERS_MORE = 0
    """Problem 0 (the paper's first problem) matters more to me."""
    SECOND_MATTERS_MORE = 1
    """Problem 1 (the paper's second problem) matters more to me."""
    EQUAL = 2
    """Both problems matter equally to me."""


# ---------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------


def binary_lottery(prob_b: FloatArray) -> Lottery:
    """A lottery over (a, b) per row from the probability ``prob_b [B]`` of choosing b."""
    return two_outcome_lottery(prob_b, ALTERNATIVE_A, ALTERNATIVE_B)


def side_prob_b(b_wins: ArrayLike, a_wins: ArrayLike) -> FloatArray:
    """1 where only b wins, 0 where only a wins, 1/2 (a fair coin) otherwise (bool arrays of one shape)."""
    b_wins, a_wins = np.asarray(b_wins, dtype=np.bool_), np.asarray(a_wins, dtype=np.bool_)
    return np.where(b_wins & ~a_wins, 1.0, np.where(a_wins & ~b_wins, 0.0, 0.5))


def utilitarian_prob_b(values: Any) -> FloatArray:
    """Probability of b under the utilitarian target.

    b if the values (last axis) sum to more than 0, a if less, a fair coin on a tie.
    """
    total = np.asarray(values, dtype=np.float64).sum(axis=-1)
    return np.where(total > 0, 1.0, np.where(total < 0, 0.0, 0.5))


def _check_votes(votes_for_b: Any, field: str, shape_text: str, ndim: int) -> BoolArray:
    """Votes as a bool array; accepts bools or integers 0/1."""
    votes = np.asarray(votes_for_b)
    if votes.ndim != ndim:
        raise ValueError(f"{field}: got shape {votes.shape}; expected {shape_text}")
    if votes.dtype == np.bool_:
        return votes
    if not np.issubdtype(votes.dtype, np.integer):
        raise ValueError(f"{field}: got dtype {votes.dtype}; allowed are bool or integers 0 (a) / 1 (b)")
    bad = (votes != 0) & (votes != 1)
    if bad.any():
        raise ValueError(f"{field}: got vote {int(votes[bad][0])}; allowed votes are 0 (for a) and 1 (for b)")
    return votes.astype(np.bool_)


def _check_integers(array: Any, field: str) -> IntArray:
    """An integer array (bools are refused)."""
    values = np.asarray(array)
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{field}: got dtype {values.dtype}; allowed are integer arrays")
    return values.astype(np.int64)


# ---------------------------------------------------------------------------------------------------
# Section 5: the distribution-free ranking mechanism
# ---------------------------------------------------------------------------------------------------


def majority_vote_lottery(votes_for_b: Any) -> Lottery:
    """Majority voting on one problem per row, a fair coin on a tie.

    Args:
        votes_for_b: bool or 0/1 array ``[B, n]``; True / 1 = a vote for b.

    Returns:
        A :class:`Lottery` of batch ``B`` over alternatives (0 = a, 1 = b).
    """
    votes = _check_votes(votes_for_b, "votes_for_b", "[B, n] votes (True = b)", 2)
    count_b = votes.sum(axis=1)
    count_a = votes.shape[1] - count_b
    return binary_lottery(side_prob_b(count_b > count_a, count_a > count_b))


def ranked_vote_lottery(votes_for_b: Any, ranks: Any) -> Lottery:
    """Section 5's mechanism on one problem per row: majority, ties broken by the best rank.

    The side with more votes wins. On a tie in votes, the side of the agent who gave this problem the
    smallest rank (rank 1 = matters most) wins; if agents on both sides share that smallest rank, a fair
    coin decides. With an odd number of agents votes never tie and the ranks never matter.

    Args:
        votes_for_b: bool or 0/1 array ``[B, n]``; True / 1 = a vote for b.
        ranks: int array ``[B, n]``; the rank (>= 1) each agent gave this problem. That each agent's ranks
            over the K problems form a permutation is checked by :func:`check_rankings`.

    Returns:
        A :class:`Lottery` of batch ``B`` over alternatives (0 = a, 1 = b).
    """
    votes = _check_votes(votes_for_b, "votes_for_b", "[B, n] votes (True = b)", 2)
    given = _check_integers(ranks, "ranks")
    if given.shape != votes.shape:
        raise ValueError(f"ranks: got shape {given.shape}; expected the shape of votes_for_b, {votes.shape}")
    if (given < 1).any():
        raise ValueError(f"ranks: got rank {int(given.min())}; allowed ranks are 1 (matters most) .. K")
    count_b = votes.sum(axis=1)
    count_a = votes.shape[1] - count_b
    at_best = given == given.min(axis=1, keepdims=True)
    tie_prob_b = side_prob_b((at_best & votes).any(axis=1), (at_best & ~votes).any(axis=1))
    prob_b = np.where(count_b > count_a, 1.0, np.where(count_a > count_b, 0.0, tie_prob_b))
    return binary_lottery(prob_b)


def check_rankings(ranks: Any) -> None:
    """Check that every agent's ranks over the K problems are a permutation of 1..K.

    Args:
        ranks: int array ``[B, K, n]`` (episode, problem, agent).

    Raises:
        ValueError: naming the first episode and agent whose ranks are not a permutation, with the ranks
            that agent gave and the duplicated and missing ranks.
    """
    given = _check_integers(ranks, "ranks")
    if given.ndim != 3 or given.shape[1] < 1:
        raise ValueError(f"ranks: got shape {given.shape}; expected [B, K >= 1, n] (episode, problem, agent)")
    num_problems = given.shape[1]
    expected = np.arange(1, num_problems + 1)
    valid = (np.sort(given, axis=1) == expected[None, :, None]).all(axis=1)
    if valid.all():
        return
    episode, agent = (int(x) for x in np.argwhere(~valid)[0])
    column = given[episode, :, agent]
    values, counts = np.unique(column, return_counts=True)
    duplicated = [int(v) for v in values[counts > 1]]
    missing = [int(r) for r in expected if r not in set(column.tolist())]
    outside = [int(v) for v in values if not 1 <= v <= num_problems]
    raise ValueError(
        f"ranks: episode {episode}, agent {agent} ranked the {num_problems} problems {column.tolist()}; "
        f"each agent's ranks must be a permutation of 1..{num_problems} "
        f"(duplicated: {duplicated}, missing: {missing}, out of range: {outside})"
    )


@dataclass(frozen=True)
class SymmetricValues:
    """A continuous-style value distribution on ``[-bound, bound]``, symmetric about 0.

    The mechanism of Section 5 does not need to know it; it is here to draw types for that mechanism.

    Attributes:
        bound: ``v`` > 0, the largest possible intensity.
        kind: ``"uniform"`` (uniform on ``[-bound, bound]``) or ``"two_point"`` (``-bound``,
            ``-bound/2``, ``bound/2``, ``bound`` with probability 1/4 each; Example 1 when bound = 2).
    """

    bound: float = 1.0
    kind: str = "uniform"

    def __post_init__(self) -> None:
        if isinstance(self.bound, bool) or not np.isfinite(self.bound) or self.bound <= 0:
            raise ValueError(f"bound: got {self.bound!r}; allowed are finite numbers > 0")
        if self.kind not in VALUE_KINDS:
            raise ValueError(f"kind: got {self.kind!r}; allowed kinds are {list(VALUE_KINDS)}")

    def sample(self, num_problems: int, num_agents: int, rng: np.random.Generator) -> FloatArray:
        """Independent values ``[K, n]`` for one episode, drawn only from ``rng``."""
        for field, count in (("num_problems", num_problems), ("num_agents", num_agents)):
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
                raise ValueError(f"{field}: got {count!r}; allowed are integers >= 1")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: got {type(rng).__name__}; give a numpy.random.Generator")
        shape = (int(num_problems), int(num_agents))
        if self.kind == "uniform":
            return rng.uniform(-self.bound, self.bound, size=shape)
        support = np.array([-1.0, -0.5, 0.5, 1.0]) * self.bound
        return support[rng.integers(0, len(support), size=shape)]


def approximately_truthful_ranking(values: Any) -> tuple[BoolArray, IntArray]:
    """Vote your sign and rank the problems by intensity.

    Args:
        values: float array ``[B, K, n]`` of true values of b over a.

    Returns:
        ``(votes_for_b, ranks)``, both ``[B, K, n]``: a vote for b iff the value is > 0 (a value of
        exactly 0 votes a), and ranks 1..K by ``|value|`` descending, equal intensities in problem order.
    """
    given = np.asarray(values, dtype=np.float64)
    if given.ndim != 3:
        raise ValueError(f"values: got shape {given.shape}; expected [B, K, n] (episode, problem, agent)")
    if not np.all(np.isfinite(given)):
        raise ValueError("values: got NaN or infinity; values must be finite")
    order = np.argsort(-np.abs(given), axis=1, kind="stable")
    ranks = np.empty(given.shape, dtype=np.int64)
    positions = np.broadcast_to(np.arange(1, given.shape[1] + 1)[None, :, None], given.shape)
    np.put_along_axis(ranks, order, positions, axis=1)
    return given > 0, ranks


# ---------------------------------------------------------------------------------------------------
# Appendix 3: vote and say which of two problems matters more
# ---------------------------------------------------------------------------------------------------


def _claim_priorities(rule: str) -> IntArray:
    """Priority table ``[problem, claim]`` of a claim on a problem under ``rule``."""
    if rule == "ordinal":
        return np.array([[2, 0, 1], [0, 2, 1]], dtype=np.int64)
    if rule == "named_only":
        return np.array([[1, 0, 0], [0, 1, 0]], dtype=np.int64)
    raise ValueError(f"rule: got {rule!r}; allowed rules are {list(IMPORTANCE_RULES)}")


def _check_claims(claims: Any, batch: int) -> IntArray:
    """Claims as an int array ``[B, 2]`` with entries in :class:`Claim`."""
    given = _check_integers(claims, "claims")
    if given.shape != (batch, NUM_LINKED):
        raise ValueError(f"claims: got shape {given.shape}; expected ({batch}, {NUM_LINKED}) = [B, 2 agents]")
    bad = (given < 0) | (given > max(Claim))
    if bad.any():
        allowed = ", ".join(f"{int(c)} ({c.name})" for c in Claim)
        raise ValueError(f"claims: got {int(given[bad][0])}; allowed claims are {allowed}")
    return given


def importance_vote_lottery(votes_for_b: Any, claims: Any, rule: str = "ordinal") -> tuple[Lottery, Lottery]:
    """Appendix 3's mechanism: two agents vote on two problems and say which matters more to them.

    On each problem, agreeing votes decide. If the votes differ, the agent whose claim gives the problem
    the higher priority wins, and equal priorities give a fair coin (priorities per ``rule``, see the
    module docstring: ``"ordinal"``, the paper's, ranks "this problem" > "equal" > "the other problem";
    ``"named_only"`` only counts "this problem").

    Args:
        votes_for_b: bool or 0/1 array ``[B, 2 problems, 2 agents]``; True / 1 = a vote for b.
        claims: int array ``[B, 2 agents]`` of :class:`Claim` values.
        rule: ``"ordinal"`` (default) or ``"named_only"``.

    Returns:
        ``(lottery on problem 0, lottery on problem 1)``, each of batch ``B`` over (0 = a, 1 = b).
    """
    priorities = _claim_priorities(rule)
    votes = _check_votes(votes_for_b, "votes_for_b", "[B, 2 problems, 2 agents] votes (True = b)", 3)
    if votes.shape[1:] != (NUM_LINKED, NUM_LINKED):
        raise ValueError(
            f"votes_for_b: got shape {votes.shape}; expected [B, {NUM_LINKED} problems, {NUM_LINKED} agents]"
        )
    given = _check_claims(claims, votes.shape[0])
    lotteries = []
    for problem in range(NUM_LINKED):
        problem_votes = votes[:, problem, :]
        priority = priorities[problem][given]
        wins = np.stack([priority[:, 0] > priority[:, 1], priority[:, 1] > priority[:, 0]], axis=1)
        b_wins = (problem_votes & (wins | problem_votes.all(axis=1, keepdims=True))).any(axis=1)
        a_wins = (~problem_votes & (wins | ~problem_votes.any(axis=1, keepdims=True))).any(axis=1)
        lotteries.append(binary_lottery(side_prob_b(b_wins, a_wins)))
    return lotteries[0], lotteries[1]


def approximately_truthful_claims(values: Any) -> tuple[BoolArray, IntArray]:
    """Vote your sign on both problems and claim the problem with the larger ``|value|`` (or equal).

    Args:
        values: number array ``[B, 2 problems, 2 agents]`` of true values of b over a.

    Returns:
        ``(votes_for_b [B, 2, 2], claims [B, 2])``; a value of exactly 0 votes a.
    """
    given = np.asarray(values, dtype=np.float64)
    if given.ndim != 3 or given.shape[1:] != (NUM_LINKED, NUM_LINKED):
        raise ValueError(f"values: got shape {given.shape}; expected [B, 2 problems, 2 agents]")
    first, second = np.abs(given[:, 0, :]), np.abs(given[:, 1, :])
    claims = np.where(
        first > second,
        int(Claim.FIRST_MATTERS_MORE),
        np.where(second > first, int(Claim.SECOND_MATTERS_MORE), int(Claim.EQUAL)),
    )
    return given > 0, claims.astype(np.int64)


# ---------------------------------------------------------------------------------------------------
# Appendix 3: exact error probabilities
# ---------------------------------------------------------------------------------------------------


def _check_p(p: Any, construction: str) -> Fraction:
    """The correlation parameter as a fraction in the construction's range."""
    if construction not in CONSTRUCTIONS:
        raise ValueError(f"construction: got {construction!r}; allowed are {list(CONSTRUCTIONS)}")
    exact = as_fraction(p, "p")
    low = Fraction(0) if construction == "repeat" else Fraction(-1)
    if not low <= exact <= 1:
        raise ValueError(f"p: got {exact} for construction {construction!r}; allowed range is [{low}, 1]")
    return exact


def appendix3_value_pairs(p: Any, construction: str) -> dict[tuple[int, int], Fraction]:
    """One agent's exact joint distribution of (value on problem 0, value on problem 1).

    The first value is uniform on {-2, -1, 1, 2}. ``"repeat"``: the second equals the first with
    probability ``p`` (in [0, 1]) and is an independent uniform draw otherwise. ``"intensity"``: the
    second's sign is a fair coin independent of everything, and its intensity equals the first's with
    probability ``(1 + p) / 2`` (``p`` in [-1, 1]) and is the other intensity otherwise.
    """
    exact = _check_p(p, construction)
    quarter = Fraction(1, 4)
    pairs = {}
    for first, second in itertools.product(APPENDIX3_VALUES, repeat=2):
        if construction == "repeat":
            conditional = exact * (first == second) + (1 - exact) * quarter
        else:
            same = abs(first) == abs(second)
            conditional = Fraction(1, 2) * ((1 + exact) / 2 if same else (1 - exact) / 2)
        pairs[(first, second)] = quarter * conditional
    return pairs


def _two_agent_profiles(pairs: dict[tuple[int, int], Fraction]) -> tuple[FloatArray, list[Fraction]]:
    """All joint draws ``values [M, 2 problems, 2 agents]`` of two independent agents and their weights."""
    draws = list(itertools.product(pairs.items(), repeat=NUM_LINKED))
    values = np.array(
        [[[pair[k] for pair, _ in draw] for k in range(NUM_LINKED)] for draw in draws], dtype=np.float64
    )
    weights = [draw[0][1] * draw[1][1] for draw in draws]
    return values, weights


def _exact_error(
    values: FloatArray, weights: list[Fraction], mechanism_prob_b: FloatArray, count_ties: bool
) -> Fraction:
    """Sum of ``weight * |P_mechanism(b) - P_target(b)|`` over the profiles ``values [M, n]``.

    Profiles where the values tie are skipped unless ``count_ties``.
    """
    target = utilitarian_prob_b(values)
    counted = np.ones(len(weights), dtype=np.bool_) if count_ties else values.sum(axis=-1) != 0
    total = Fraction(0)
    for weight, use, mech, goal in zip(weights, counted, mechanism_prob_b, target, strict=True):
        if use:
            total += weight * abs(Fraction(float(mech)) - Fraction(float(goal)))
    return total


def _check_problem(problem: int) -> int:
    if isinstance(problem, bool) or problem not in range(NUM_LINKED):
        raise ValueError(f"problem: got {problem!r}; allowed are 0 (the first problem) and 1 (the second)")
    return int(problem)


def importance_vote_error(
    p: Any, construction: str, *, problem: int = 0, rule: str = "ordinal", count_ties: bool = False
) -> Fraction:
    """Exact probability that Appendix 3's mechanism errs on one problem, agents approximately truthful.

    Enumerates every joint draw of both agents' values on both problems under ``construction``
    (:func:`appendix3_value_pairs`), plays :func:`approximately_truthful_claims` through
    :func:`importance_vote_lottery` and compares with the utilitarian target.

    Args:
        p: correlation parameter (int, Fraction, ``"p/q"`` or float): [0, 1] for ``"repeat"``,
            [-1, 1] for ``"intensity"``.
        construction: ``"repeat"`` or ``"intensity"``.
        problem: 0 (the paper's first problem) or 1 (the second).
        rule: how disagreements are settled, see :func:`importance_vote_lottery`.
        count_ties: False (default, the paper's error): the probability that the decision goes against
            a strict majority of value (in favour of the agent who cares less); with these values this is
            also the expected utilitarian welfare loss. True: the total variation distance between the
            mechanism's and the target's lotteries, so profiles whose values sum to 0 (e.g. 2 and -2),
            where the target flips a coin, count when the mechanism decides them deterministically.

    Returns:
        The error probability as an exact fraction.
    """
    _claim_priorities(rule)
    index = _check_problem(problem)
    values, weights = _two_agent_profiles(appendix3_value_pairs(p, construction))
    votes, claims = approximately_truthful_claims(values)
    lottery = importance_vote_lottery(votes, claims, rule)[index]
    return _exact_error(values[:, index, :], weights, lottery.dense(2)[:, ALTERNATIVE_B], count_ties)


def separate_voting_error(*, count_ties: bool = False) -> Fraction:
    """Exact error probability of majority voting (coin on a tie) on one problem, two truthful agents.

    Values are independent and uniform on {-2, -1, 1, 2}; ``count_ties`` as in
    :func:`importance_vote_error` (a tie in votes and a tie in values coincide here, so it gives the
    same number).
    """
    draws = list(itertools.product(APPENDIX3_VALUES, repeat=NUM_LINKED))
    values = np.array(draws, dtype=np.float64)
    weights = [Fraction(1, len(draws))] * len(draws)
    lottery = majority_vote_lottery(values > 0)
    return _exact_error(values, weights, lottery.dense(2)[:, ALTERNATIVE_B], count_ties)
