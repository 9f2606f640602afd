"""The paper's "skimming" example (Jackson and Sonnenschein 2007, Section 4, "Difficulties with Skimming").

Linked bargaining with K = 10: the seller (agent_0) values each object 0 or 8, the buyer (agent_1) 10 or 2,
each with probability 1/2; with mixing off each side must call itself eager (seller 0, buyer 10) on exactly
5 objects and reluctant on the other 5. The target trades iff the announced buyer value exceeds the
announced seller value, at the midpoint price: (seller 0, buyer 10) -> 5, (0, 2) -> 1, (8, 10) -> 9,
(8, 2) -> no trade.

The seller's true values are 8 on problems 1-5 and 0 on problems 6-10. The test sets them by overwriting
``env.state_.types[0, :, 0]`` right after ``reset(seed)``: the seller is scripted, so its first (stale)
observation is never read, and the buyer's observations never contain the seller's true types. The buyer's
types are the env's own seeded draws; it plays :class:`linkmech.agents.ApproximatelyTruthful` (truthful
until the budget of its true type is spent, then the one type left) and accepts a participation question
iff its ``offer`` says accepting is worth at least the status quo (individual rationality).

Seller strategies:

(a) truthful: announce 8 on 1-5 and 0 on 6-10, accept everything;
(b) skimming: announce 0 on 1-5 and 8 on 6-10, then walk away from problems 1-5.

First principles, ignoring the buyer's forced lies and his refusals: at every date the buyer announces 10
with probability exactly 1/2 (swap the labels 10 <-> 2: types, quotas and the rule are symmetric). Truthful,
the seller's last five objects sell at 5 or 1, an expected price of (5 + 1) / 2 = 3, and the first five sell
at 9 half the time (profit 1): 2.5 + 5 * 3 = 17.5. Skimming, the last five sell at 9 or not at all, an
expected price of 9 / 2 = 4.5 (the paper's "rises from 3 to 4.5"), the first five are declined: 5 * 4.5 =
22.5. The exact expectations with the buyer's budget-forced lies and his per-problem refusals are computed
below by enumerating all 2**10 buyer type sequences (14.42 vs 16.96 per problem; the gain, 2.54 with a
per-episode standard deviation of 5.4, is about 9 standard errors over 400 episodes).

With whole participation the seller cannot walk away from problems 1-5 alone: if the mechanism is
implemented, announcing 0 there sells at 5 or 1 what it values at 8. With a of the buyer's first five
announcements equal to 10 (no forced lie can occur in the first five), the skimming seller's total is
a * (5 - 8) + (5 - a) * (1 - 8) + (5 - a) * 9 = 10 - 5a, which is positive only for a <= 1 (probability
6/32); even declining whenever that is better, it expects at most 10/32 + 5 * 5/32 < 1.1, far below truthful.
"""

from __future__ import annotations

import copy
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from linkmech.agents import ApproximatelyTruthful, Seat
from linkmech.envs import linked_bargaining_v0

K = 10
EPISODES = 400
SELLER_TRUE = [8] * 5 + [0] * 5
TRUTHFUL = [8] * 5 + [0] * 5
SKIM = [0] * 5 + [8] * 5
SELLER_INDEX = {0: 0, 8: 1}  # seller type indices (values 0, 8)
BUYER_VALUE = (10, 2)  # buyer type index -> value


# --- first principles -------------------------------------------------------------------------------------


def buyer_announcements(true_values: tuple[int, ...]) -> list[int]:
    """Approximate truth with quota 5/5: truthful until that value's budget is spent, then the other value."""
    left = {10: 5, 2: 5}
    out = []
    for value in true_values:
        announced = value if left[value] > 0 else 12 - value
        left[announced] -= 1
        out.append(announced)
    return out


def price(seller: int, buyer: int) -> Fraction | None:
    """The target: trade at the midpoint iff the announced buyer value exceeds the announced seller value."""
    return Fraction(seller + buyer, 2) if buyer > seller else None


def seller_total(buyer_true: tuple[int, ...], seller_announced: list[int], mode: str, skim: bool) -> Fraction:
    """The seller's realised total utility for one buyer type sequence (by hand)."""
    prices = [price(s, b) for s, b in zip(seller_announced, buyer_announcements(buyer_true))]
    seller = [p - v if p is not None else Fraction(0) for p, v in zip(prices, SELLER_TRUE)]
    buyer = [v - p if p is not None else Fraction(0) for p, v in zip(prices, buyer_true)]
    if mode == "per_problem":
        seller_accepts = [not (skim and k < 5) for k in range(K)]
        return sum((s for s, ok, b in zip(seller, seller_accepts, buyer) if ok and b >= 0), Fraction(0))
    if sum(buyer) < 0:  # the buyer walks away from the whole mechanism
        return Fraction(0)
    return max(sum(seller), Fraction(0)) if skim else sum(seller, Fraction(0))


def exact_expectation(mode: str, skim: bool) -> Fraction:
    announced = SKIM if skim else TRUTHFUL
    sequences = list(itertools.product(BUYER_VALUE, repeat=K))
    return sum((seller_total(t, announced, mode, skim) for t in sequences), Fraction(0)) / len(sequences)


def test_first_principles_numbers():
    # the paper's numbers: the expected proposed price on problems 6-10 is 3 truthful and 4.5 skimming, exactly
    # (the buyer's forced lies do not change it: each date's announcement is 10 with probability 1/2)
    sequences = list(itertools.product(BUYER_VALUE, repeat=K))
    for announced, expected in ((TRUTHFUL, Fraction(3)), (SKIM, Fraction(9, 2))):
        mean_price = sum(
            (
                sum(
                    (price(s, b) or Fraction(0) for s, b in zip(announced[5:], buyer_announcements(t)[5:])),
                    Fraction(0),
                )
                for t in sequences
            ),
            Fraction(0),
        ) / (5 * len(sequences))
        assert mean_price == expected, f"expected price on problems 6-10: {mean_price}, paper says {expected}"
    per_truth, per_skim = exact_expectation("per_problem", False), exact_expectation("per_problem", True)
    whole_truth, whole_skim = exact_expectation("whole", False), exact_expectation("whole", True)
    assert per_skim - per_truth > 2, f"exact per-problem gain {float(per_skim - per_truth)} should exceed 2"
    assert whole_skim < whole_truth - 10, (
        f"exact whole-participation skimming {float(whole_skim)} should be far below truthful {float(whole_truth)}"
    )
    # 10 - 5a > 0 only for a in {0, 1}: the bound from the module docstring
    assert whole_skim <= Fraction(10, 32) + Fraction(25, 32), f"whole skimming {whole_skim} above 35/32"


# --- the environment ----------------------------------------------------------------------------------------


def run_episode(
    env, seed: int, announced: list[int], participation: str
) -> tuple[float, float, tuple[int, ...]]:
    """One episode: (seller's total reward, mean proposed price on problems 6-10, buyer's true values).

    ``participation``: ``"accept"`` (always 1), ``"skim"`` (per problem: decline 1-5) or ``"best"`` (whole:
    the better of accepting and declining for the seller, found by trying both on copies of the env).
    """
    observations, _ = env.reset(seed=seed)
    env.state_.types[0, :, 0] = [SELLER_INDEX[v] for v in SELLER_TRUE]  # the seller's true values, see above
    buyer = ApproximatelyTruthful()
    buyer.reset(Seat.from_env(env, "agent_1"), np.random.default_rng(seed))
    total, prices = 0.0, []
    for date in range(K):
        actions = {
            "agent_0": SELLER_INDEX[announced[date]],
            "agent_1": buyer.act(
                observations["agent_1"]["observation"], observations["agent_1"]["action_mask"]
            ),
        }
        observations, rewards, _, _, infos = env.step(actions)
        total += rewards["agent_0"]
        decision = infos["agent_0"]["decision"]
        if date >= 5:
            prices.append(0.0 if decision == "no trade" else float(decision.removeprefix("trade at ")))
    step = 0
    while env.agents:
        buyer_action = buyer.act(
            observations["agent_1"]["observation"], observations["agent_1"]["action_mask"]
        )
        if participation == "best":
            outcomes = []
            for choice in (1, 0):
                trial = copy.deepcopy(env)
                outcomes.append(
                    (trial.step({"agent_0": choice, "agent_1": buyer_action})[1]["agent_0"], choice)
                )
            seller_action = max(outcomes)[1]
        else:
            seller_action = 0 if participation == "skim" and step < 5 else 1
        observations, rewards, _, _, _ = env.step({"agent_0": seller_action, "agent_1": buyer_action})
        total += rewards["agent_0"]
        step += 1
    buyer_true = tuple(BUYER_VALUE[t] for t in env.state_.types[0, :, 1])
    return total, float(np.mean(prices)), buyer_true


def paired_runs(mode: str, skim_participation: str) -> dict[str, np.ndarray]:
    env = linked_bargaining_v0.parallel_env(num_problems=K, participation=mode, mixing=False)
    assert [b.quota.tolist() for b in env.mechanism.budgets] == [[5, 5], [5, 5]], "budgets should be 5/5"
    out: dict[str, list] = {"truth": [], "skim": [], "truth_price": [], "skim_price": []}
    for seed in range(EPISODES):
        truth, truth_price, buyer_true = run_episode(env, seed, TRUTHFUL, "accept")
        skim, skim_price, buyer_again = run_episode(env, seed, SKIM, skim_participation)
        assert buyer_true == buyer_again, f"seed {seed}: the buyer's types differ between the paired episodes"
        for value, announced, is_skim in ((truth, TRUTHFUL, False), (skim, SKIM, True)):
            expected = seller_total(buyer_true, announced, mode, is_skim)
            assert math.isclose(value, float(expected), abs_tol=1e-9), (
                f"{mode} seed {seed} {'skim' if is_skim else 'truth'}: env total {value} != hand-computed "
                f"{expected} for buyer values {buyer_true}"
            )
        out["truth"].append(truth)
        out["skim"].append(skim)
        out["truth_price"].append(truth_price)
        out["skim_price"].append(skim_price)
    return {key: np.array(values) for key, values in out.items()}


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


@pytest.fixture(scope="module")
def per_problem_runs() -> dict[str, np.ndarray]:
    return paired_runs("per_problem", "skim")


@pytest.fixture(scope="module")
def whole_runs() -> dict[str, np.ndarray]:
    return paired_runs("whole", "best")


@pytest.mark.parametrize("fixture", ["per_problem_runs", "whole_runs"])
def test_expected_price_on_the_last_five_rises_from_3_to_4_5(fixture, request):
    runs = request.getfixturevalue(fixture)
    for key, expected in (("truth_price", 3.0), ("skim_price", 4.5)):
        mean, se = mean_and_se(runs[key])
        assert abs(mean - expected) < 4 * se, (
            f"{fixture}: mean proposed price on problems 6-10 {mean:.3f} +- {se:.3f} is not {expected}"
        )


def test_skimming_pays_with_per_problem_participation(per_problem_runs):
    gain, se = mean_and_se(per_problem_runs["skim"] - per_problem_runs["truth"])
    assert gain > 4 * se, f"skimming gain {gain:.3f} is not > 4 standard errors ({se:.3f})"
    assert gain > 1.5, f"skimming gain {gain:.3f} per episode is not a clear margin"
    for key, skim in (("truth", False), ("skim", True)):
        mean, se_key = mean_and_se(per_problem_runs[key])
        exact = float(exact_expectation("per_problem", skim))
        assert abs(mean - exact) < 4 * se_key, (
            f"per_problem {key}: mean {mean:.3f} +- {se_key:.3f} vs exact {exact:.3f}"
        )


def test_skimming_does_not_pay_with_whole_participation(whole_runs):
    gain, se = mean_and_se(whole_runs["skim"] - whole_runs["truth"])
    assert gain < 4 * se, f"with whole participation skimming gains {gain:.3f} (> 4 SE = {4 * se:.3f})"
    assert gain < 0, f"with whole participation the best skimming choice should lose, gained {gain:.3f}"
    for key, skim in (("truth", False), ("skim", True)):
        mean, se_key = mean_and_se(whole_runs[key])
        exact = float(exact_expectation("whole", skim))
        assert abs(mean - exact) < 4 * se_key + 1e-9, (
            f"whole {key}: mean {mean:.3f} +- {se_key:.3f} vs exact {exact:.3f}"
        )
