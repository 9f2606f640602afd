"""The decision problems of Jackson and Sonnenschein (2007), Examples 1-5, as :class:`FiniteProblem`s.

- :class:`VotingProblem` (Example 1): binary decision a/b, type = value of b over a.
- :class:`PublicGoodsProblem` (Examples 2 and 4): build a project of a given cost, shared equally among
  those who value it.
- :class:`BargainingProblem` (Example 3): a seller and a buyer trade at the midpoint price.
- :class:`AllocationProblem` (Example 5): one object to the agent who values it most.

Each target is the paper's ex ante efficient rule; the unlinked baselines the paper compares against
live in :mod:`linkmech.mechanisms.baselines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from linkmech.mechanisms.problem import (
    FiniteProblem,
    FloatArray,
    IntArray,
    Lottery,
    TabularProblem,
    as_fraction,
    two_outcome_lottery,
)


def _uniform(count: int) -> list[Fraction]:
    return [Fraction(1, count)] * count


class VotingProblem(FiniteProblem):
    """Example 1: n agents choose between a (index 0) and b (index 1).

    A type is the value ``v = u(b) - u(a)`` (we normalise ``u(a) = 0``). The target f chooses the
    alternative with the larger sum of values and flips a fair coin on a tie (utilitarian with coin flip).

    Args:
        num_agents: n >= 2.
        values: the possible values of b over a; default the paper's {-2, -1, 1, 2}.
        probs: their probabilities; default uniform.
    """

    name = "voting"

    def __init__(
        self,
        num_agents: int = 2,
        values: Sequence[float] = (-2, -1, 1, 2),
        probs: Sequence[Any] | None = None,
    ) -> None:
        probs = list(probs) if probs is not None else _uniform(len(values))
        self._set_types([probs] * _check_agents(num_agents), [list(values)] * num_agents)
        if any(v == 0 for v in values):
            raise ValueError(f"values: got {list(values)}; a voting type must strictly prefer a or b (no 0)")
        self.num_alternatives = 2
        self.status_quo = 0
        self.validate()

    def alternative_label(self, alternative: int) -> str:
        """``a`` or ``b``."""
        return "ab"[alternative]

    def target(self, announced: IntArray) -> Lottery:
        """B if the announced values sum to more than 0, a if less, a coin flip on a tie."""
        total = self._value_sum(announced)
        prob_b = np.where(total > 0, 1.0, np.where(total < 0, 0.0, 0.5))
        return two_outcome_lottery(prob_b, 0, 1)

    def _value_sum(self, announced: IntArray) -> FloatArray:
        return self.values_of(announced).sum(axis=1)

    def utility(self, types: IntArray, alternatives: IntArray) -> FloatArray:
        """``v_i`` if the alternative is b, else 0."""
        return (alternatives == 1)[..., None] * self.values_of(types)[:, None, :]

    def intensity_classes(self) -> tuple[IntArray, ...]:
        """Budget classes by intensity |v| (Example 1's "one vote of each magnitude" budget)."""
        classes = []
        for values in self.type_values:
            magnitudes = sorted({abs(float(v)) for v in values})
            classes.append(np.array([magnitudes.index(abs(float(v))) for v in values], dtype=np.int64))
        return tuple(classes)


class PublicGoodsProblem(FiniteProblem):
    """Examples 2 and 4: build a public project of cost c; values are 0 or 1.

    Alternative 0 is "not built" (the status quo). Alternative ``S > 0`` is read as a bit mask over agents:
    "built, with the cost shared equally by the agents in S". The target builds when the values sum to at
    least c and splits c equally among the agents who value the project, so no share exceeds a value.

    Args:
        num_agents: n >= 2 (at most 62, as alternatives are bit masks).
        cost: c > 0; default 3/4.
        value_prob: P(v_i = 1); default 2/3.
    """

    name = "public_goods"

    def __init__(
        self, num_agents: int = 2, cost: Any = Fraction(3, 4), value_prob: Any = Fraction(2, 3)
    ) -> None:
        n = _check_agents(num_agents)
        if n > 62:
            raise ValueError(f"num_agents: got {n}; PublicGoodsProblem supports at most 62 agents")
        p = as_fraction(value_prob, "value_prob")
        self.exact_cost = as_fraction(cost, "cost")
        if self.exact_cost <= 0:
            raise ValueError(f"cost: got {cost!r}; the project cost must be > 0")
        self.cost = float(self.exact_cost)
        self._set_types([[1 - p, p]] * n, [[0, 1]] * n)
        self.num_alternatives = 2**n
        self.status_quo = 0
        self._bits = np.int64(1) << np.arange(n, dtype=np.int64)
        self.validate()

    def alternative_label(self, alternative: int) -> str:
        """Label: not built, or built and paid by a set of agents."""
        if alternative == 0:
            return "not built"
        payers = [str(i) for i in range(self.num_agents) if alternative >> i & 1]
        return "built, paid by {" + ",".join(payers) + "}"

    def payer_mask(self, announced: IntArray) -> IntArray:
        """Bit mask of the agents announcing value 1, shape ``[B]``."""
        return (announced.astype(np.int64) * self._bits).sum(axis=1)

    def target(self, announced: IntArray) -> Lottery:
        """Build, shared by those announcing 1, iff at least c is announced in total."""
        mask = self.payer_mask(announced)
        build = announced.sum(axis=1) >= self.cost
        chosen = np.where(build, mask, 0)
        return Lottery(alternatives=chosen[:, None], probs=np.ones((len(chosen), 1)))

    def utility(self, types: IntArray, alternatives: IntArray) -> FloatArray:
        """``v_i`` if built, minus ``c/|S|`` if i is in the paying set S."""
        pays = (alternatives[..., None] & self._bits) != 0
        share = self.cost / np.maximum(pays.sum(axis=-1), 1)
        built = (alternatives != 0)[..., None]
        values = types.astype(np.float64)[:, None, :]
        return built * values - pays * share[..., None]


class BargainingProblem(FiniteProblem):
    """Example 3: agent 0 sells one object to agent 1.

    Alternative 0 is "no trade" (the status quo); alternative ``j >= 1`` is "trade at ``prices[j-1]``",
    where ``prices`` are the distinct midpoints of all (seller value, buyer value) pairs plus any
    ``extra_prices``. The target trades iff the buyer values the object more, at the midpoint price.

    Args:
        seller_values / seller_probs: default {0, 8}, 1/2 each.
        buyer_values / buyer_probs: default {10, 2}, 1/2 each.
        extra_prices: prices to offer as alternatives beyond the midpoints (for other mechanisms).
    """

    name = "bargaining"

    def __init__(
        self,
        seller_values: Sequence[float] = (0, 8),
        buyer_values: Sequence[float] = (10, 2),
        seller_probs: Sequence[Any] | None = None,
        buyer_probs: Sequence[Any] | None = None,
        extra_prices: Sequence[float] = (),
    ) -> None:
        self._set_types(
            [
                list(seller_probs) if seller_probs is not None else _uniform(len(seller_values)),
                list(buyer_probs) if buyer_probs is not None else _uniform(len(buyer_values)),
            ],
            [list(seller_values), list(buyer_values)],
        )
        midpoints = {(s + b) / 2 for s in seller_values for b in buyer_values}
        self.prices = np.array(sorted(midpoints | {float(p) for p in extra_prices}))
        self.num_alternatives = 1 + len(self.prices)
        self.status_quo = 0
        self.validate()

    def alternative_label(self, alternative: int) -> str:
        """Label: no trade, or trade at a price."""
        return "no trade" if alternative == 0 else f"trade at {self.prices[alternative - 1]:g}"

    def trade_at(self, price: FloatArray) -> IntArray:
        """Alternative index of trading at each given price (which must be one of ``prices``)."""
        price = np.asarray(price, dtype=np.float64)
        index = np.argmin(np.abs(self.prices[None, :] - price.reshape(-1, 1)), axis=1).reshape(price.shape)
        if not np.allclose(self.prices[index], price):
            raise ValueError(
                f"price {price}: not an alternative of this problem; offered prices are {self.prices.tolist()} "
                "(pass extra_prices=...)"
            )
        return (index + 1).astype(np.int64)

    def target(self, announced: IntArray) -> Lottery:
        """Trade iff buyer value > seller value, at the midpoint price."""
        seller = self.type_values[0][announced[:, 0]]
        buyer = self.type_values[1][announced[:, 1]]
        trade = np.where(buyer > seller, self.trade_at((seller + buyer) / 2), 0)
        return Lottery(alternatives=trade[:, None], probs=np.ones((len(trade), 1)))

    def utility(self, types: IntArray, alternatives: IntArray) -> FloatArray:
        """Seller: price - value on trade; buyer: value - price on trade; 0 without trade."""
        prices = np.concatenate([[0.0], self.prices])[alternatives]
        traded = alternatives != 0
        seller = traded * (prices - self.type_values[0][types[:, 0]][:, None])
        buyer = traded * (self.type_values[1][types[:, 1]][:, None] - prices)
        return np.stack([seller, buyer], axis=-1)


class AllocationProblem(FiniteProblem):
    """Example 5: one object to one of n agents, no transfers.

    Alternatives ``0..n-1`` give the object to that agent; alternative ``n`` leaves it unallocated (the
    status quo). The target gives it to an agent with the highest value, uniformly among ties.

    Args:
        num_agents: n >= 2.
        values: possible values; default the paper's {1, 10}.
        probs: their probabilities; default uniform.
    """

    name = "allocation"

    def __init__(
        self,
        num_agents: int = 2,
        values: Sequence[float] = (1, 10),
        probs: Sequence[Any] | None = None,
    ) -> None:
        probs = list(probs) if probs is not None else _uniform(len(values))
        self._set_types([probs] * _check_agents(num_agents), [list(values)] * num_agents)
        self.num_alternatives = num_agents + 1
        self.status_quo = num_agents
        self.validate()

    def alternative_label(self, alternative: int) -> str:
        """Label: to agent i, or unallocated."""
        return "unallocated" if alternative == self.num_agents else f"to agent {alternative}"

    def target(self, announced: IntArray) -> Lottery:
        """Highest announced value wins; ties split uniformly."""
        values = np.stack([self.type_values[i][announced[:, i]] for i in range(self.num_agents)], axis=1)
        winners = values == values.max(axis=1, keepdims=True)
        probs = winners / winners.sum(axis=1, keepdims=True)
        alternatives = np.broadcast_to(np.arange(self.num_agents), probs.shape)
        return Lottery(alternatives=np.ascontiguousarray(alternatives), probs=probs)

    def utility(self, types: IntArray, alternatives: IntArray) -> FloatArray:
        """``v_i`` if agent i gets the object, else 0."""
        values = np.stack([self.type_values[i][types[:, i]] for i in range(self.num_agents)], axis=-1)
        gets = alternatives[..., None] == np.arange(self.num_agents)
        return gets * values[:, None, :]


def _check_agents(num_agents: int) -> int:
    if isinstance(num_agents, bool) or not isinstance(num_agents, (int, np.integer)):
        raise TypeError(f"num_agents: got {num_agents!r}; give an integer >= 2")
    if num_agents < 2:
        raise ValueError(f"num_agents: got {num_agents}; a decision problem needs n >= 2 agents")
    return int(num_agents)


CATALOGUE: dict[str, type[FiniteProblem]] = {
    "voting": VotingProblem,
    "public_goods": PublicGoodsProblem,
    "bargaining": BargainingProblem,
    "allocation": AllocationProblem,
}
"""The paper's problems by name."""


def tabular_voting() -> TabularProblem:
    """Example 1 for two agents written as tables: how a user defines a problem in a few lines.

    Types are the values -2, -1, 1, 2 of b over a; utilities are ``u(a) = 0, u(b) = v``; the target
    picks the side with the larger sum and flips a coin on a tie. It must agree with
    :class:`VotingProblem` on every profile (tested).
    """
    values = np.array([-2.0, -1.0, 1.0, 2.0])
    table = np.stack([np.zeros(4), values], axis=1)  # [type, alternative (a, b)]

    def utilitarian(announced: IntArray) -> FloatArray:
        total = values[announced].sum(axis=1)
        prob_b = np.where(total > 0, 1.0, np.where(total < 0, 0.0, 0.5))
        return np.stack([1.0 - prob_b, prob_b], axis=1)

    return TabularProblem(
        utilities=[table, table],
        type_probs=[_uniform(4), _uniform(4)],
        target=utilitarian,
        type_values=[values.tolist(), values.tolist()],
        alternative_labels=["a", "b"],
        status_quo=0,
        name="tabular_voting",
    )
