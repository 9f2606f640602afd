"""Quotas (nearest integer counts) and the gamma-mixing of Theorem 1's proof, in exact fractions."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from linkmech.mechanisms import (
    PublicGoodsProblem,
    VotingProblem,
    make_budget,
    mixing_prob,
    nearest_quota,
    replacement_distribution,
)

F = Fraction


@pytest.mark.parametrize(
    ("probs", "k", "expected"),
    [
        ([F(1, 4)] * 4, 12, [3, 3, 3, 3]),  # Section 5: K = 12 votes, three of each value
        ([F(1, 3), F(2, 3)], 3, [1, 2]),  # Example 4: K a multiple of 3
        ([F(1, 3), F(2, 3)], 2, [1, 1]),  # Example 2 linked twice: one 0 and one 1
        ([F(1, 3), F(2, 3)], 5, [2, 3]),  # 5/3 and 10/3: remainders 2/3 > 1/3
        ([F(1, 2), F(1, 2)], 10, [5, 5]),  # Example 3 with K = 10
        ([F(1, 4)] * 4, 2, [1, 1, 0, 0]),  # a tie among four remainders 1/2: lowest indices first
        ([F(1, 10), F(9, 10)], 1, [0, 1]),
    ],
)
def test_quota_hand_cases(probs: list[Fraction], k: int, expected: list[int]) -> None:
    quota = nearest_quota(probs, k)
    assert quota.tolist() == expected, (
        f"quota of {probs} over K={k}: got {quota.tolist()}, expected {expected}"
    )


def _brute_force_nearest(probs: list[Fraction], k: int) -> Fraction:
    best = None
    for counts in itertools.product(range(k + 1), repeat=len(probs)):
        if sum(counts) != k:
            continue
        distance = sum((c - k * p) ** 2 for c, p in zip(counts, probs))
        best = distance if best is None else min(best, distance)
    assert best is not None
    return best


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7, 8])
@pytest.mark.parametrize(
    "probs", [[F(1, 3), F(2, 3)], [F(1, 6), F(1, 3), F(1, 2)], [F(1, 4)] * 4, [F(1, 7), F(2, 7), F(4, 7)]]
)
def test_quota_is_euclidean_nearest(probs: list[Fraction], k: int) -> None:
    quota = nearest_quota(probs, k)
    assert quota.sum() == k and (quota >= 0).all(), f"quota {quota.tolist()} must be >= 0 and sum to K={k}"
    ours = sum((int(c) - k * p) ** 2 for c, p in zip(quota, probs))
    assert ours == _brute_force_nearest(probs, k), f"quota {quota.tolist()} is not nearest to K*P for {probs}"


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 11, 12, 100])
@pytest.mark.parametrize(
    "probs", [[F(1, 3), F(2, 3)], [F(1, 4)] * 4, [F(1, 6), F(1, 3), F(1, 2)], [F(1, 10), F(9, 10)]]
)
def test_mixing_makes_used_announcements_exactly_p(probs: list[Fraction], k: int) -> None:
    quota = nearest_quota(probs, k)
    gamma = mixing_prob(probs, quota, k)
    hat = replacement_distribution(probs, quota, k, gamma)
    assert 0 <= gamma < 1, f"gamma {gamma} must be in [0, 1)"
    assert all(h >= 0 for h in hat) and sum(hat) == 1, f"P_hat {hat} must be a distribution"
    mixed = [(1 - gamma) * F(int(c), k) + gamma * h for c, h in zip(quota, hat)]
    assert mixed == probs, f"(1-gamma) quota/K + gamma P_hat = {mixed}, expected exactly {probs}"


@pytest.mark.parametrize("k", [1, 2, 4, 5, 7])
def test_gamma_is_smallest(k: int) -> None:
    probs = [F(1, 3), F(2, 3)]
    quota = nearest_quota(probs, k)
    gamma = mixing_prob(probs, quota, k)
    if gamma == 0:
        return
    smaller = gamma - F(1, 10**6)
    hat = [(p - (1 - smaller) * F(int(c), k)) / smaller for p, c in zip(probs, quota)]
    assert min(hat) < 0, f"a gamma below {gamma} should leave a negative P_hat entry, got {hat}"


def test_gamma_hand_case() -> None:
    # P = (1/3, 2/3), K = 5: quota (2, 3); type 0 is over-announced (2/5 > 1/3):
    # gamma = 1 - (1/3)/(2/5) = 1/6 and P_hat = (0, 1).
    quota = nearest_quota([F(1, 3), F(2, 3)], 5)
    gamma = mixing_prob([F(1, 3), F(2, 3)], quota, 5)
    assert gamma == F(1, 6), f"gamma: got {gamma}, expected 1/6"
    assert replacement_distribution([F(1, 3), F(2, 3)], quota, 5, gamma) == (0, 1)


def test_gamma_vanishes_as_k_grows() -> None:
    gammas = [
        mixing_prob([F(1, 3), F(2, 3)], nearest_quota([F(1, 3), F(2, 3)], k), k) for k in (4, 16, 64, 256)
    ]
    assert all(g <= F(1, k) * 2 for g, k in zip(gammas, (4, 16, 64, 256))), (
        f"gamma should be O(1/K): {gammas}"
    )
    assert mixing_prob([F(1, 3), F(2, 3)], [1, 2], 3) == 0, "K a multiple of 3 needs no mixing"


def test_intensity_budget_for_voting() -> None:
    voting = VotingProblem()
    budgets = make_budget(voting, 2, voting.intensity_classes())
    assert budgets[0].quota.tolist() == [1, 1], "Example 1 with K = 2: one vote of each intensity"
    assert budgets[0].class_of_type.tolist() == [1, 0, 0, 1], "classes of -2, -1, 1, 2 by |v|"
    assert budgets[0].mixing_prob == 0, "intensities are 1/2 each: K = 2 needs no mixing"


def test_replacement_type_probs_within_classes() -> None:
    budgets = make_budget(PublicGoodsProblem(2), 5)
    assert np.allclose(budgets[0].replacement_type_probs, [0.0, 1.0]), "P_hat for K = 5 replaces by value 1"


@pytest.mark.parametrize("k", [0, -3])
def test_bad_num_problems(k: int) -> None:
    with pytest.raises(ValueError, match="num_problems: got K = "):
        nearest_quota([F(1, 2), F(1, 2)], k)


def test_bad_classes() -> None:
    with pytest.raises(ValueError, match="budget classes for agent 0"):
        make_budget(VotingProblem(), 4, [[0, 0, 2, 2], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="expected 4 integer class indices"):
        make_budget(VotingProblem(), 4, [[0, 1], [0, 1]])
