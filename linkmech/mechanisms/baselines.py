"""The unlinked (one problem at a time) incentive-compatible baselines the paper compares linking against.

- Voting (Example 1): majority vote on the signs of the announced values, a fair coin on ties.
- Public goods (Example 2): the second best "build for sure when at least two agents announce value 1
  (they share the cost), with probability q when exactly one does (it pays the whole cost), never when
  none"; q is the largest probability satisfying every interim incentive and participation constraint.
- Bargaining (Example 3): trade for sure when both sides are "eager", with probability q when exactly one
  is, at the midpoint price (or, footnote 17, at the reluctant side's value); q derived the same way.
- Allocation (Example 5): give the object to a uniformly random agent, ignoring the reports.

Every parameter is derived from the incentive constraints by
:func:`linkmech.mechanisms.incentives.largest_incentive_compatible`; none is typed in. For the paper's
numbers this gives q = 5/7 (Example 2), 5/8 (Example 3) and 5/6 (footnote 17).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from linkmech.mechanisms.catalogue import (
    AllocationProblem,
    BargainingProblem,
    PublicGoodsProblem,
    VotingProblem,
)
from linkmech.mechanisms.incentives import Family, SocialChoiceFunction, largest_incentive_compatible
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray, Lottery, two_outcome_lottery

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Baseline:
    """An unlinked mechanism for one problem.

    Attributes:
        name: short name of the mechanism.
        scf: the mechanism as a direct social choice function (truthful announcements).
        parameter: the derived parameter q of its family, or ``None`` when it has none.
        derivation: how the mechanism (and q) was obtained, in words.
    """

    name: str
    scf: SocialChoiceFunction
    parameter: Fraction | None
    derivation: str


def majority_vote(problem: VotingProblem) -> SocialChoiceFunction:
    """Majority vote on the signs of the announced values (b wins if more favour it); a fair coin on ties."""

    def scf(announced: IntArray) -> Lottery:
        signs = np.stack(
            [np.sign(problem.type_values[i][announced[:, i]]) for i in range(problem.num_agents)]
        )
        margin = signs.sum(axis=0)
        prob_b = np.where(margin > 0, 1.0, np.where(margin < 0, 0.0, 0.5))
        zeros = np.zeros(len(announced), dtype=np.int64)
        return two_outcome_lottery(prob_b, zeros, zeros + 1)

    return scf


def public_goods_family(problem: PublicGoodsProblem) -> Family:
    """Return the second-best family of Example 2, for any n and cost.

    ``family(q)`` builds with probability 1 when at least two agents announce value 1, with probability q
    when exactly one does, and never when none; the agents announcing 1 share the cost equally (a lone
    announcer pays all of it). For a general cost it builds only where the target builds (announced values
    summing to at least the cost), so with cost > 1 a lone announcer never builds and q has no effect.
    Alternatives use the problem's encoding: 0 = not built, otherwise the bit mask of the payers.
    """

    def family(q: Fraction) -> SocialChoiceFunction:
        def scf(announced: IntArray) -> Lottery:
            payers = problem.target(announced).alternatives[:, 0]
            count = announced.sum(axis=1)
            prob_build = np.where(payers == 0, 0.0, np.where(count >= 2, 1.0, float(q)))
            return two_outcome_lottery(prob_build, np.zeros_like(payers), payers)

        return scf

    return family


def public_goods_baseline(problem: PublicGoodsProblem) -> Baseline:
    """Return Example 2's second best, q derived from the interim incentive and participation constraints.

    Raises:
        ValueError: if no q in [0, 1] makes the family incentive compatible (e.g. at the default values
            with n >= 4 agents, where announcing 0 and free-riding pays even at q = 0).
    """
    q = largest_incentive_compatible(problem, public_goods_family(problem), participation=True)
    scf = public_goods_family(problem)(q)
    if problem.exact_cost > 1:
        derivation = (
            f"cost {problem.exact_cost} > 1: a lone value-1 announcer never builds, so the family does not "
            "depend on q; build only when at least two (and enough) agents announce 1, sharing the cost; "
            "checked to satisfy every interim incentive and participation constraint"
        )
        return Baseline(name="second-best public good", scf=scf, parameter=None, derivation=derivation)
    return Baseline(name="second-best public good", scf=scf, parameter=q, derivation=_q_derivation(q))


def _q_derivation(q: Fraction) -> str:
    """Describe a parameter found by :func:`largest_incentive_compatible`."""
    return (
        f"q = {q}: the largest q in [0, 1] at which every interim incentive and participation constraint of "
        "the family holds, computed exactly from the constraints (largest_incentive_compatible)"
    )


def _bargaining_roles(
    problem: BargainingProblem, announced: IntArray
) -> tuple[FloatArray, FloatArray, BoolArray, BoolArray]:
    """Return the announced seller and buyer values and whether each is eager (lowest / highest value)."""
    seller = problem.type_values[0][announced[:, 0]]
    buyer = problem.type_values[1][announced[:, 1]]
    return seller, buyer, seller == problem.type_values[0].min(), buyer == problem.type_values[1].max()


def _bargaining_prices(problem: BargainingProblem, announced: IntArray, reluctant_prices: bool) -> FloatArray:
    """Return each profile's trade price: the midpoint, or (one side eager) the reluctant side's value."""
    seller, buyer, eager_seller, eager_buyer = _bargaining_roles(problem, announced)
    midpoint = (seller + buyer) / 2
    if not reluctant_prices:
        return midpoint
    reluctant_value = np.where(eager_seller, buyer, seller)
    return np.where(eager_seller & eager_buyer, midpoint, reluctant_value)


def _check_bargaining_prices(problem: BargainingProblem, reluctant_prices: bool) -> None:
    """Raise a ValueError naming the prices the family needs that are not alternatives of ``problem``."""
    prices = _bargaining_prices(problem, problem.all_profiles(), reluctant_prices)
    missing = sorted({float(p) for p in prices if not np.isclose(problem.prices, p).any()})
    if missing:
        raise ValueError(
            f"bargaining family: trading at prices {missing} is not an alternative of this problem (offered "
            f"prices are {problem.prices.tolist()}); construct it with BargainingProblem(..., "
            f"extra_prices={missing}) or use with_reluctant_prices(problem)"
        )


def bargaining_family(problem: BargainingProblem, *, reluctant_prices: bool = False) -> Family:
    """Return Example 3's incentive-compatible family.

    A seller is "eager" at her lowest value and a buyer at his highest. ``family(q)`` trades with
    probability 1 when both are eager and probability q when exactly one is, in both cases only if the
    buyer's value exceeds the seller's, and never otherwise. Trades are at the midpoint price, or, with
    ``reluctant_prices=True`` (footnote 17), at the reluctant side's value when exactly one side is eager.

    Raises:
        ValueError: if a needed price is not one of the problem's alternatives.
    """
    _check_bargaining_prices(problem, reluctant_prices)

    def family(q: Fraction) -> SocialChoiceFunction:
        def scf(announced: IntArray) -> Lottery:
            seller, buyer, eager_seller, eager_buyer = _bargaining_roles(problem, announced)
            gains = buyer > seller
            both, one = gains & eager_seller & eager_buyer, gains & (eager_seller ^ eager_buyer)
            trades = both | one
            alternative = np.zeros(len(announced), dtype=np.int64)
            prices = _bargaining_prices(problem, announced, reluctant_prices)
            alternative[trades] = problem.trade_at(prices[trades])
            prob_trade = np.where(both, 1.0, np.where(one, float(q), 0.0))
            return two_outcome_lottery(prob_trade, np.zeros_like(alternative), alternative)

        return scf

    return family


def with_reluctant_prices(problem: BargainingProblem) -> BargainingProblem:
    """Copy ``problem`` (same values, probabilities and prices), also offering footnote 17's prices."""
    seller, buyer = problem.type_values
    reluctant = {float(v) for v in seller if v != seller.min()} | {
        float(v) for v in buyer if v != buyer.max()
    }
    return BargainingProblem(
        seller_values=problem.type_values[0].tolist(),
        buyer_values=problem.type_values[1].tolist(),
        seller_probs=list(problem.exact_type_probs[0]),
        buyer_probs=list(problem.exact_type_probs[1]),
        extra_prices=sorted(reluctant | {float(p) for p in problem.prices}),
    )


def bargaining_baseline(problem: BargainingProblem, *, reluctant_prices: bool = False) -> Baseline:
    """Return Example 3's incentive-compatible mechanism (or footnote 17's variant) with q derived.

    Raises:
        ValueError: if a needed price is missing or no q in [0, 1] is incentive compatible.
    """
    family = bargaining_family(problem, reluctant_prices=reluctant_prices)
    q = largest_incentive_compatible(problem, family, participation=True)
    name = "bargaining, reluctant-side prices" if reluctant_prices else "bargaining, midpoint prices"
    return Baseline(name=name, scf=family(q), parameter=q, derivation=_q_derivation(q))


def random_assignment(problem: AllocationProblem) -> SocialChoiceFunction:
    """Give the object to each agent with probability 1/n, ignoring the reports."""
    n = problem.num_agents

    def scf(announced: IntArray) -> Lottery:
        alternatives = np.broadcast_to(np.arange(n, dtype=np.int64), (len(announced), n))
        return Lottery(
            alternatives=np.ascontiguousarray(alternatives), probs=np.full((len(announced), n), 1.0 / n)
        )

    return scf


def voting_baseline(problem: VotingProblem) -> Baseline:
    """Return Example 1's unlinked benchmark: majority vote with a coin flip on ties."""
    derivation = (
        "majority vote on announced signs with a fair coin on ties; it ignores intensities, so announcing "
        "the true sign is optimal and no agent gains by exaggerating (no parameter to derive)"
    )
    return Baseline(name="majority vote", scf=majority_vote(problem), parameter=None, derivation=derivation)


def allocation_baseline(problem: AllocationProblem) -> Baseline:
    """Return Example 5's unlinked benchmark: uniformly random assignment."""
    derivation = (
        "without transfers every agent claims the high value, so the reports carry no usable information; "
        "the object goes to each agent with probability 1/n (no parameter to derive)"
    )
    return Baseline(
        name="random assignment", scf=random_assignment(problem), parameter=None, derivation=derivation
    )


_BUILDERS: tuple[tuple[type[FiniteProblem], Callable[..., Baseline]], ...] = (
    (VotingProblem, voting_baseline),
    (PublicGoodsProblem, public_goods_baseline),
    (BargainingProblem, bargaining_baseline),
    (AllocationProblem, allocation_baseline),
)


def unlinked_baseline(problem: FiniteProblem) -> Baseline:
    """Return the paper's unlinked baseline for a catalogue problem (midpoint prices for bargaining).

    Raises:
        TypeError: if ``problem`` is not one of the supported classes.
        ValueError: if a derivation finds no incentive-compatible parameter.
    """
    for cls, build in _BUILDERS:
        if isinstance(problem, cls):
            return build(problem)
    supported = ", ".join(cls.__name__ for cls, _ in _BUILDERS)
    raise TypeError(
        f"unlinked_baseline: no baseline for {type(problem).__name__}; "
        f"supported problem classes are {supported}"
    )
