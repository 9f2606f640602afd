"""Tests of linkmech.mechanisms.variants: Section 5's ranking mechanism and Appendix 3's two-problem one."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from linkmech.mechanisms.catalogue import VotingProblem
from linkmech.mechanisms.processes import IntensityCorrelated, RepeatCorrelated
from linkmech.mechanisms.variants import (
    Claim,
    SymmetricValues,
    appendix3_value_pairs,
    approximately_truthful_claims,
    approximately_truthful_ranking,
    check_rankings,
    importance_vote_error,
    importance_vote_lottery,
    majority_vote_lottery,
    ranked_vote_lottery,
    separate_voting_error,
)

FIRST, SECOND, EQUAL = Claim.FIRST_MATTERS_MORE, Claim.SECOND_MATTERS_MORE, Claim.EQUAL


def prob_b(lottery):
    """Probability of b per row."""
    return lottery.dense(2)[:, 1]


# --- Section 5: ranked voting -----------------------------------------------------------------------


def test_ranked_vote_two_agents_hand_cases():
    votes = np.array([[1, 0], [0, 1], [1, 0], [1, 1], [0, 0], [True, False]])
    ranks = np.array([[1, 3], [1, 3], [2, 2], [5, 1], [1, 5], [4, 2]])
    got = prob_b(ranked_vote_lottery(votes, ranks))
    # b ranked higher -> b; a ranked higher -> a; same rank -> coin; agreement decides; a ranked higher -> a
    expected = [1.0, 0.0, 0.5, 1.0, 0.0, 0.0]
    assert got.tolist() == expected, f"two-agent ranked votes gave P(b) {got.tolist()}, expected {expected}"


def test_ranked_vote_four_agents_rank_ties():
    votes = np.array([[1, 1, 0, 0]] * 4)
    ranks = np.array([[3, 2, 2, 5], [3, 2, 4, 1], [1, 1, 2, 3], [2, 1, 1, 1]])
    got = prob_b(ranked_vote_lottery(votes, ranks))
    # best rank shared across sides -> coin; a-voter best -> a; two b-voters share best -> b;
    # best rank 1 held by one b-voter and two a-voters -> coin
    expected = [0.5, 0.0, 1.0, 0.5]
    assert got.tolist() == expected, f"four-agent rank ties gave P(b) {got.tolist()}, expected {expected}"


def test_ranked_vote_three_agents_majority_ignores_ranks():
    votes = np.array([[1, 1, 0], [0, 0, 1], [1, 0, 0]])
    ranks = np.array([[3, 3, 1], [2, 2, 1], [1, 1, 1]])
    got = prob_b(ranked_vote_lottery(votes, ranks))
    expected = [1.0, 0.0, 0.0]
    assert got.tolist() == expected, f"n=3 has no vote ties, so majority decides; got {got.tolist()}"


def test_ranked_vote_lottery_layout_and_majority_agree():
    votes = np.array([[1, 0], [1, 1]])
    lottery = ranked_vote_lottery(votes, np.array([[1, 1], [1, 2]]))
    assert lottery.alternatives.tolist() == [[0, 1], [0, 1]], f"alternatives {lottery.alternatives.tolist()}"
    assert lottery.probs.tolist() == [[0.5, 0.5], [0.0, 1.0]], f"probs {lottery.probs.tolist()}"
    plain = prob_b(majority_vote_lottery(votes))
    assert plain.tolist() == [0.5, 1.0], f"majority with coin gave {plain.tolist()}"


@pytest.mark.parametrize(
    ("votes", "ranks", "fragment"),
    [
        (np.array([[2, 0]]), np.array([[1, 2]]), "votes_for_b: got vote 2"),
        (np.array([[0.5, 0.0]]), np.array([[1, 2]]), "votes_for_b: got dtype float64"),
        (np.array([[1, 0]]), np.array([[1, 2, 3]]), "ranks: got shape (1, 3)"),
        (np.array([[1, 0]]), np.array([[0, 2]]), "ranks: got rank 0"),
        (np.array([[1, 0]]), np.array([[1.0, 2.0]]), "ranks: got dtype float64"),
    ],
)
def test_ranked_vote_lottery_errors(votes, ranks, fragment):
    with pytest.raises(ValueError) as caught:
        ranked_vote_lottery(votes, ranks)
    assert fragment in str(caught.value), f"error {caught.value!s} should contain {fragment!r}"


def test_check_rankings_accepts_permutations():
    ranks = np.array([[[1, 3], [2, 1], [3, 2]], [[3, 1], [1, 2], [2, 3]]])
    assert check_rankings(ranks) is None, "valid permutations should pass silently"


def test_check_rankings_names_agent_duplicates_and_missing():
    ranks = np.array([[[1, 3], [2, 1], [3, 2]], [[1, 1], [2, 1], [3, 3]]])  # episode 1, agent 1: 1,1,3
    with pytest.raises(ValueError) as caught:
        check_rankings(ranks)
    message = str(caught.value)
    for fragment in ("episode 1, agent 1", "[1, 1, 3]", "duplicated: [1]", "missing: [2]", "1..3"):
        assert fragment in message, f"check_rankings error {message!r} should contain {fragment!r}"


def test_check_rankings_out_of_range_and_shape():
    with pytest.raises(ValueError) as caught:
        check_rankings(np.array([[[1], [2], [4]]]))
    message = str(caught.value)
    assert "out of range: [4]" in message and "missing: [3]" in message, f"got {message!r}"
    with pytest.raises(ValueError) as shape_error:
        check_rankings(np.array([[1, 2]]))
    assert "expected [B, K >= 1, n]" in str(shape_error.value), f"got {shape_error.value!s}"


# --- Section 5: symmetric values and the approximately truthful ranking ------------------------------


def test_symmetric_values_reproducible_and_bounded():
    for kind in ("uniform", "two_point"):
        dist = SymmetricValues(bound=2.0, kind=kind)
        first = dist.sample(5, 3, np.random.default_rng(7))
        again = dist.sample(5, 3, np.random.default_rng(7))
        other = dist.sample(5, 3, np.random.default_rng(8))
        assert first.shape == (5, 3), f"{kind}: shape {first.shape}, expected (5, 3)"
        assert np.array_equal(first, again), f"{kind}: the same seed gave different draws"
        assert not np.array_equal(first, other), f"{kind}: different seeds gave identical draws"
        assert np.all(np.abs(first) <= 2.0), f"{kind}: a draw left [-2, 2]: {first}"


def test_symmetric_values_symmetry():
    rng = np.random.default_rng(0)
    uniform = SymmetricValues(bound=3.0).sample(200_000, 1, rng)
    assert abs(uniform.mean()) < 0.03, f"uniform mean {uniform.mean()} should be near 0"
    assert abs((uniform > 0).mean() - 0.5) < 0.01, f"uniform P(v > 0) {(uniform > 0).mean()} not near 1/2"
    two = SymmetricValues(bound=2.0, kind="two_point").sample(200_000, 1, rng)
    support, counts = np.unique(two, return_counts=True)
    assert support.tolist() == [-2.0, -1.0, 1.0, 2.0], f"two_point support {support.tolist()}"
    assert np.all(np.abs(counts / counts.sum() - 0.25) < 0.01), (
        f"two_point frequencies {counts / counts.sum()}"
    )
    assert abs(two.mean()) < 0.02, f"two_point mean {two.mean()} should be near 0"


@pytest.mark.parametrize(
    ("kwargs", "fragment"), [({"bound": 0.0}, "bound: got 0.0"), ({"kind": "normal"}, "kind")]
)
def test_symmetric_values_errors(kwargs, fragment):
    with pytest.raises(ValueError) as caught:
        SymmetricValues(**kwargs)
    assert fragment in str(caught.value), f"error {caught.value!s} should contain {fragment!r}"


def test_symmetric_values_sample_errors():
    with pytest.raises(ValueError) as caught:
        SymmetricValues().sample(0, 2, np.random.default_rng(0))
    assert "num_problems: got 0" in str(caught.value), f"got {caught.value!s}"


def test_approximately_truthful_ranking_hand_case():
    values = np.array([[[0.5, -2.0], [-1.5, 1.0], [1.5, -0.1]]])  # [B=1, K=3, n=2]
    votes, ranks = approximately_truthful_ranking(values)
    expected_votes = [[[True, False], [False, True], [True, False]]]
    # agent 0: |v| = 0.5, 1.5, 1.5 -> problem 1 first (tie broken by index), then 2, then 0
    # agent 1: |v| = 2, 1, 0.1 -> 1, 2, 3
    expected_ranks = [[[3, 1], [1, 2], [2, 3]]]
    assert votes.tolist() == expected_votes, f"votes {votes.tolist()}, expected {expected_votes}"
    assert ranks.tolist() == expected_ranks, f"ranks {ranks.tolist()}, expected {expected_ranks}"
    assert check_rankings(ranks) is None, "truthful ranks must be permutations"


def test_ranking_mechanism_beats_majority_on_two_point_values():
    rng = np.random.default_rng(3)
    dist = SymmetricValues(bound=2.0, kind="two_point")
    values = np.stack([dist.sample(8, 2, rng) for _ in range(2000)])  # [B, K, n]
    votes, ranks = approximately_truthful_ranking(values)
    flat_votes, flat_ranks = votes.reshape(-1, 2), ranks.reshape(-1, 2)
    target = (values.sum(axis=-1) > 0).reshape(-1).astype(float)
    strict = values.sum(axis=-1).reshape(-1) != 0
    ranked = np.abs(prob_b(ranked_vote_lottery(flat_votes, flat_ranks)) - target)[strict].mean()
    plain = np.abs(prob_b(majority_vote_lottery(flat_votes)) - target)[strict].mean()
    assert ranked < plain, f"ranked error {ranked} should be below majority-with-coin error {plain}"


# --- Appendix 3: the two-problem importance mechanism --------------------------------------------------


def test_importance_vote_lottery_hand_cases():
    # votes [B, problem, agent]; agent 0 votes b on both problems, agent 1 votes a on both
    disagree = [[1, 0], [1, 0]]
    votes = np.array([disagree] * 6 + [[[1, 1], [0, 0]]])
    claims = np.array(
        [
            [FIRST, SECOND],
            [EQUAL, SECOND],
            [EQUAL, EQUAL],
            [FIRST, FIRST],
            [SECOND, EQUAL],
            [FIRST, EQUAL],
            [SECOND, FIRST],
        ]
    )
    first, second = importance_vote_lottery(votes, claims)
    expected_first = [1.0, 1.0, 0.5, 0.5, 0.0, 1.0, 1.0]
    expected_second = [0.0, 0.0, 0.5, 0.5, 1.0, 0.0, 0.0]
    assert prob_b(first).tolist() == expected_first, f"problem 0 P(b) {prob_b(first).tolist()}"
    assert prob_b(second).tolist() == expected_second, f"problem 1 P(b) {prob_b(second).tolist()}"


def test_importance_vote_named_only_rule():
    votes = np.array([[[1, 0], [1, 0]]] * 3)
    claims = np.array([[EQUAL, SECOND], [FIRST, EQUAL], [FIRST, SECOND]])
    first, second = importance_vote_lottery(votes, claims, rule="named_only")
    # "equal" against "the other problem" is a coin under named_only (agent 0 wins it under ordinal)
    assert prob_b(first).tolist() == [0.5, 1.0, 1.0], f"problem 0 P(b) {prob_b(first).tolist()}"
    assert prob_b(second).tolist() == [0.0, 0.5, 0.0], f"problem 1 P(b) {prob_b(second).tolist()}"


@pytest.mark.parametrize(
    ("votes", "claims", "rule", "fragment"),
    [
        (np.zeros((1, 2, 2), int), np.array([[0, 3]]), "ordinal", "claims: got 3"),
        (np.zeros((1, 2, 2), int), np.array([[0, 1, 2]]), "ordinal", "claims: got shape (1, 3)"),
        (np.zeros((1, 3, 2), int), np.array([[0, 1]]), "ordinal", "votes_for_b: got shape (1, 3, 2)"),
        (np.zeros((1, 2, 2), int), np.array([[0, 1]]), "majority", "rule: got 'majority'"),
    ],
)
def test_importance_vote_lottery_errors(votes, claims, rule, fragment):
    with pytest.raises(ValueError) as caught:
        importance_vote_lottery(votes, claims, rule=rule)
    assert fragment in str(caught.value), f"error {caught.value!s} should contain {fragment!r}"


def test_approximately_truthful_claims_hand_case():
    values = np.array([[[2, -1], [1, 2]], [[-1, 1], [-1, -1]]])  # [B, problem, agent]
    votes, claims = approximately_truthful_claims(values)
    assert votes.tolist() == [[[True, False], [True, True]], [[False, True], [False, False]]], f"{votes}"
    expected = [[FIRST, SECOND], [EQUAL, EQUAL]]
    assert claims.tolist() == expected, f"claims {claims.tolist()}, expected {expected}"


# --- Appendix 3: exact errors ----------------------------------------------------------------------------


def test_separate_voting_error_is_one_eighth():
    got = separate_voting_error()
    assert got == Fraction(1, 8), f"separate voting error {got}, paper says 1/8"
    assert separate_voting_error(count_ties=True) == got, "a coin on a value tie matches the target's coin"


CASES = [("repeat", Fraction(p)) for p in ("0", "1/2", "1")] + [
    ("intensity", Fraction(p)) for p in ("-1", "-1/2", "0", "1/2", "1")
]


@pytest.mark.parametrize(("construction", "p"), CASES)
def test_importance_error_matches_paper(construction, p):
    paper = (1 + p) ** 2 / 32
    for problem in (0, 1):
        got = importance_vote_error(p, construction, problem=problem)
        assert got == paper, (
            f"{construction}, p={p}, problem {problem}: error {got}, paper (1+p)^2/32 = {paper}"
        )


@pytest.mark.parametrize(("construction", "p"), CASES)
def test_importance_error_variants(construction, p):
    # hand derivations: ties in value (2 vs -2, 1 vs -1) add (1 - p^2)/16 to the total variation distance
    # under the ordinal rule; the named_only rule errs with (1 + p)/16 on strict profiles
    with_ties = (1 + p) * (3 - p) / 32
    for problem in (0, 1):
        tv = importance_vote_error(p, construction, problem=problem, count_ties=True)
        assert tv == with_ties, (
            f"{construction}, p={p}, problem {problem}: TV error {tv}, expected {with_ties}"
        )
        named = importance_vote_error(p, construction, problem=problem, rule="named_only")
        assert named == (1 + p) / 16, (
            f"{construction}, p={p}: named_only error {named}, expected {(1 + p) / 16}"
        )


def test_importance_error_endpoints():
    assert importance_vote_error(0, "repeat") == Fraction(1, 32), "independent problems should give 1/32"
    assert importance_vote_error(1, "repeat") == separate_voting_error(), "p=1 should equal separate voting"
    assert importance_vote_error(-1, "intensity") == 0, "opposite intensities should give no error"


@pytest.mark.parametrize(
    ("p", "construction", "fragment"),
    [
        (Fraction(-1, 2), "repeat", "allowed range is [0, 1]"),
        (Fraction(3, 2), "intensity", "allowed range is [-1, 1]"),
        (0, "swap", "construction: got 'swap'"),
    ],
)
def test_importance_error_argument_errors(p, construction, fragment):
    with pytest.raises(ValueError) as caught:
        importance_vote_error(p, construction)
    assert fragment in str(caught.value), f"error {caught.value!s} should contain {fragment!r}"


def test_value_pairs_are_distributions_with_uniform_marginals():
    for construction, p in CASES:
        pairs = appendix3_value_pairs(p, construction)
        assert sum(pairs.values()) == 1, f"{construction}, p={p}: probabilities sum to {sum(pairs.values())}"
        for v in (-2, -1, 1, 2):
            first = sum(w for (a, _), w in pairs.items() if a == v)
            second = sum(w for (_, b), w in pairs.items() if b == v)
            assert first == second == Fraction(1, 4), (
                f"{construction}, p={p}: marginals of {v}: {first}, {second}"
            )


@pytest.mark.parametrize(
    ("process", "construction", "p"),
    [
        (RepeatCorrelated(p=0.5), "repeat", Fraction(1, 2)),
        (IntensityCorrelated(p=-0.5), "intensity", Fraction(-1, 2)),
    ],
)
def test_value_pairs_match_the_type_processes(process, construction, p):
    problem = VotingProblem()
    chain = process.sample(problem, 100_001, np.random.default_rng(11))  # [K, n] type indices
    values = problem.type_values[0][chain]
    pairs = np.stack([values[:-1], values[1:]], axis=-1).reshape(-1, 2)  # consecutive problems, both agents
    for (first, second), weight in appendix3_value_pairs(p, construction).items():
        share = np.mean((pairs[:, 0] == first) & (pairs[:, 1] == second))
        assert abs(share - float(weight)) < 0.006, (
            f"{construction}: P({first}, {second}) {share} vs exact {weight}"
        )
