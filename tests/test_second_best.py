"""The LP second best: exact certificates, hand-worked cases, the paper's mechanisms and the theory's limits."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from linkmech.evaluation.reproduce.command import reproduce
from linkmech.evaluation.second_best import (
    _LinearProgram,
    profile_index,
    second_best,
    tabular_scf,
)
from linkmech.mechanisms.baselines import (
    bargaining_baseline,
    majority_vote,
    public_goods_baseline,
    random_assignment,
    with_reluctant_prices,
)
from linkmech.mechanisms.catalogue import (
    AllocationProblem,
    BargainingProblem,
    PublicGoodsProblem,
    VotingProblem,
)
from linkmech.mechanisms.incentives import (
    expected_disagreement,
    expected_welfare,
    incentive_constraints,
    participation_constraints,
)
from linkmech.mechanisms.joint import LinkedProblem
from linkmech.mechanisms.problem import TabularProblem


def _same_ranking_problem(target_table: np.ndarray | None = None) -> TabularProblem:
    """Agent 0: type a values (x, y) at (3, 0), type b at (1, 0); agent 1 (one type) values y at 2.

    Hand-worked: both types of agent 0 prefer x, so incentive compatibility forces one lottery for both types;
    with P(x) = p the welfare is (3p + 2(1 - p)) / 2 + (p + 2(1 - p)) / 2 = 2 whatever p is. The first best
    (x for a, y for b) is worth (3 + 2) / 2 = 5/2.
    """
    table = np.array([[1.0, 0.0], [0.0, 1.0]]) if target_table is None else target_table
    return TabularProblem(
        utilities=[[[3, 0], [1, 0]], [[0, 2]]],
        type_probs=[[Fraction(1, 2), Fraction(1, 2)], [1]],
        target=lambda announced: table[announced[:, 0]],
        alternative_labels=["x", "y"],
        name="same_ranking",
    )


def test_hand_worked_case_where_every_type_ranks_alternatives_alike() -> None:
    problem = _same_ranking_problem()
    best = second_best(problem)
    assert best.optimal and best.value == 2
    assert expected_welfare(problem, problem.target) == Fraction(5, 2)
    rows = best.table.astype(np.float64)
    assert np.array_equal(rows[0], rows[1]), "incentive compatibility forces one lottery for both types"
    # agreement with the first best: p from type a and 1 - p from type b, half each, so 1/2 for any p
    assert second_best(problem, "target").value == Fraction(1, 2)


def test_example_2_second_best_is_the_papers_mechanism() -> None:
    problem = PublicGoodsProblem()
    best = second_best(problem, participation=True)
    paper_family = expected_welfare(problem, public_goods_baseline(problem).scf)
    assert best.optimal and best.value == paper_family
    # the paper's table: target welfare 2/3 per problem, the unlinked shortfall 4/63 for two problems
    assert 2 * (expected_welfare(problem, problem.target) - best.value) == Fraction(4, 63)
    assert min(c.slack for c in incentive_constraints(problem, best.scf)) >= 0
    assert min(c.slack for c in participation_constraints(problem, best.scf)) >= 0


@pytest.mark.parametrize(
    "problem", [PublicGoodsProblem(2), PublicGoodsProblem(4), BargainingProblem()], ids=["pg2", "pg4", "barg"]
)
def test_without_participation_constraints_the_first_best_is_incentive_compatible(problem) -> None:
    best = second_best(problem, participation=False)
    assert best.optimal and best.value == expected_welfare(problem, problem.target)


def test_bargaining_second_best_is_footnote_17_and_below_the_target() -> None:
    problem = BargainingProblem()
    best = second_best(problem, participation=True)
    reluctant = with_reluctant_prices(problem)
    footnote = expected_welfare(reluctant, bargaining_baseline(reluctant, reluctant_prices=True).scf)
    text = expected_welfare(problem, bargaining_baseline(problem).scf)
    assert best.optimal and best.value == footnote
    assert text < best.value < expected_welfare(problem, problem.target)  # Myerson-Satterthwaite


def test_majority_vote_and_the_coin_flip_are_second_bests() -> None:
    voting = VotingProblem()
    assert second_best(voting).value == expected_welfare(voting, majority_vote(voting))
    agreement = second_best(voting, "target")
    assert agreement.optimal
    assert agreement.value == 1 - expected_disagreement(voting, majority_vote(voting), voting.target)
    allocation = AllocationProblem()
    assert second_best(allocation).value == expected_welfare(allocation, random_assignment(allocation))


def test_public_goods_beyond_the_papers_family() -> None:
    problem = PublicGoodsProblem(4)
    with pytest.raises(ValueError):
        public_goods_baseline(problem)
    best = second_best(problem, participation=True)
    target = expected_welfare(problem, problem.target)
    assert best.optimal and 0 < best.value < target
    assert second_best(problem, participation=False).value == target


def test_dual_bound_is_an_upper_bound_for_any_multipliers() -> None:
    problem = PublicGoodsProblem()
    best = second_best(problem, participation=True)
    lp = _LinearProgram.build(problem, "welfare", True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        prices = rng.uniform(0, 1, len(lp.rhs)), rng.uniform(-1, 1, lp.num_profiles)
        assert lp.dual_bound(*prices) >= best.value
    assert lp.dual_bound(np.zeros(len(lp.rhs)), np.zeros(lp.num_profiles)) >= best.value


def test_table_rows_are_lotteries_and_the_target_is_not_certified() -> None:
    problem = PublicGoodsProblem(3)
    best = second_best(problem, participation=True)
    assert all(sum(row) == 1 and min(row) >= 0 for row in best.table)
    assert min(c.slack for c in incentive_constraints(problem, problem.target)) < 0
    assert "exactly feasible and optimal" in best.describe()


def test_profile_index_is_the_row_of_all_profiles() -> None:
    for problem in (PublicGoodsProblem(3), BargainingProblem(), _same_ranking_problem()):
        profiles = problem.all_profiles()
        assert np.array_equal(profile_index(problem, profiles), np.arange(len(profiles)))


def test_tabular_scf_returns_the_table_rows() -> None:
    problem = BargainingProblem()
    table = np.random.default_rng(1).dirichlet(np.ones(problem.num_alternatives), 4)
    lottery = tabular_scf(problem, table)(problem.all_profiles()[::-1])
    assert np.allclose(lottery.probs, table[::-1])
    with pytest.raises(
        ValueError, match=r"got shape \(3, 4\); expected \[profiles, alternatives\] = \[4, 4\]"
    ):
        tabular_scf(problem, table[:3])


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="objective: got 'utility'"):
        second_best(VotingProblem(), "utility")
    with pytest.raises(ValueError, match="has no status quo"):
        second_best(_same_ranking_problem(), participation=True)
    with pytest.raises(ValueError, match="above max_variables=10"):
        second_best(VotingProblem(), max_variables=10)


@pytest.fixture(scope="module")
def figures() -> dict:
    """The js.second_best figures, computed once for the tests that read them."""
    return {f.id: f for f in reproduce(["js.second_best"], quick=True, progress=False)}


def test_reproduce_second_best_figures(figures) -> None:
    assert figures["js.second_best.ex2_unlinked_shortfall"].agrees is True
    assert figures["js.second_best.ex5_welfare"].agrees is True
    assert (
        figures["js.second_best.ex3_welfare"].exact
        == second_best(BargainingProblem(), participation=True).value
    )
    for n in (2, 4, 6):
        share = figures[f"js.second_best.public_goods_n{n}_share"].exact
        assert share is not None and 0 < share < 1


def test_second_best_command_compares_every_default_env(capsys) -> None:
    from linkmech.cli import main

    assert main(["second-best"]) == 0
    out = capsys.readouterr().out
    for name in (
        "linked_voting_v0",
        "linked_public_goods_v0",
        "linked_bargaining_v0",
        "linked_allocation_v0",
    ):
        assert f"{name}: " in out
    assert out.count("optimal (exact certificate)") == 8  # every env has a status quo: two LPs each
    assert "10/3 = 3.3333" in out and "incentive compatible: no" in out


def test_second_best_command_rows_and_errors(capsys) -> None:
    from linkmech.cli import main
    from linkmech.evaluation.second_best import comparison_rows

    rows = comparison_rows(PublicGoodsProblem(4))
    assert rows[1]["value"] is None and "no q in [0, 1]" in rows[1]["note"]
    assert rows[-1]["value"] == second_best(PublicGoodsProblem(4), participation=True).value
    assert main(["second-best", "--env", "linked_voting_v0", "--incentives", "dominant"]) == 0
    assert (
        "LP second best, strategy-proof + participation             3/4 = 0.7500" in capsys.readouterr().out
    )
    assert main(["second-best", "--env", "resource_allocation_v0"]) == 2
    assert "has no finite one-shot problem" in capsys.readouterr().err


def test_best_linked_mechanism_lies_between_the_unlinked_second_best_and_the_target(figures) -> None:
    from linkmech.evaluation.reproduce.js import ex5_best_values

    cases = [
        ("ex1", VotingProblem(), False, (2,)),
        ("ex2", PublicGoodsProblem(), True, (2, 3)),
        ("ex3", BargainingProblem(), True, (2, 3)),
        ("ex5", AllocationProblem(), False, (2, 3)),
    ]
    for ex, problem, participation, sizes in cases:
        unlinked = second_best(problem, participation=participation).value
        target = expected_welfare(problem, problem.target)
        best = {1: unlinked}
        for k in sizes:
            value = figures[f"js.second_best.{ex}_linked_k{k}_welfare"].exact
            assert value is not None and unlinked <= value < target, (ex, k)
            # the best (k-1)-problem mechanism next to the unlinked one is a feasible k-problem mechanism
            assert k * value >= (k - 1) * best[k - 1] + unlinked, (ex, k)
            best[k] = value
    # the LP over all two-problem mechanisms meets footnote 39's mechanism and the paper's 7.19
    linked = figures["js.second_best.ex5_linked_k2_welfare"]
    assert linked.agrees is True and linked.exact == ex5_best_values(2)[2][0]
    assert second_best(LinkedProblem(AllocationProblem(), 2)).optimal


def _is_strategy_proof(problem, table: np.ndarray) -> bool:
    """Independent exact check: truth is best for every agent, true type, lie and profile of the others."""
    profiles = problem.all_profiles()
    alternatives = np.broadcast_to(
        np.arange(problem.num_alternatives), (len(profiles), problem.num_alternatives)
    )
    utility = problem.utility(profiles, alternatives.copy())
    row = {tuple(p): r for r, p in enumerate(profiles.tolist())}
    for r, profile in enumerate(profiles.tolist()):
        for i, count in enumerate(problem.type_counts):
            values = [Fraction(v).limit_denominator(10**6) for v in utility[r, :, i]]
            truthful = sum((p * v for p, v in zip(table[r], values)), Fraction(0))
            for lie in range(count):
                lied = row[tuple(profile[:i] + [lie] + profile[i + 1 :])]
                if sum((p * v for p, v in zip(table[lied], values)), Fraction(0)) > truthful:
                    return False
    return True


def test_strategy_proof_second_best_of_two_linked_votes_beats_majority_twice() -> None:
    voting = VotingProblem()
    single = second_best(voting, incentives="dominant")
    assert single.optimal and single.value == expected_welfare(voting, majority_vote(voting))
    linked = second_best(LinkedProblem(voting, 2), incentives="dominant")
    assert linked.optimal and _is_strategy_proof(linked.problem, linked.table)
    # Theorem 2 (Appendix 4): linking strictly improves on strategy-proof majority votes taken separately
    assert linked.value > 2 * single.value
    assert linked.value <= second_best(LinkedProblem(voting, 2)).value  # strategy-proof is Bayesian too
    assert "strategy-proof constraints" in linked.describe()


def test_dominant_and_bayesian_coincide_with_one_type_for_the_others() -> None:
    problem = _same_ranking_problem()
    assert second_best(problem, incentives="dominant").value == second_best(problem).value == 2


@pytest.mark.parametrize("participation", [False, True])
def test_strategy_proof_mechanisms_are_bayesian_mechanisms(participation) -> None:
    for problem in (PublicGoodsProblem(2), BargainingProblem()):
        dominant = second_best(problem, participation=participation, incentives="dominant")
        assert dominant.optimal and _is_strategy_proof(problem, dominant.table)
        assert dominant.value <= second_best(problem, participation=participation).value


def test_vertex_with_large_denominators_is_solved_exactly() -> None:
    problem = LinkedProblem(AllocationProblem(), 3)
    best = second_best(problem, incentives="dominant")  # its vertex has denominators above 10^12 readings
    assert best.optimal and _is_strategy_proof(problem, best.table)
    lp = _LinearProgram.build(problem, "welfare", False, "dominant")
    solution, _ = lp.solve()
    vertex = lp.exact_vertex(solution)
    assert vertex is not None and lp.is_feasible(vertex[: len(solution)].reshape(best.table.shape))
    assert lp.exact_vertex(solution, max_free=0) is None


def test_exact_gaussian_elimination() -> None:
    from linkmech.evaluation.second_best import _solve_exactly

    system = [
        [Fraction(0), Fraction(2), Fraction(1), Fraction(3)],
        [Fraction(1), Fraction(1), Fraction(0), Fraction(2)],
    ]
    system.append([Fraction(1), Fraction(0), Fraction(3), Fraction(4)])
    x = _solve_exactly([row[:] for row in system])
    for row in system:
        assert sum((a * b for a, b in zip(row[:3], x)), Fraction(0)) == row[3]


def test_bad_incentives_name() -> None:
    with pytest.raises(ValueError, match="incentives: got 'ex_post'; allowed are"):
        second_best(VotingProblem(), incentives="ex_post")


def test_reproduce_strategy_proof_figures() -> None:
    figures = {f.id: f for f in reproduce(["js.app4"], quick=True, progress=False)}
    voting = VotingProblem()
    assert figures["js.app4.voting_strategy_proof_k1_welfare"].exact == expected_welfare(
        voting, majority_vote(voting)
    )
    k2 = figures["js.app4.voting_strategy_proof_k2_welfare"].exact
    assert k2 is not None and k2 > figures["js.app4.voting_strategy_proof_k1_welfare"].exact


def test_weights_give_each_agents_best_mechanism_and_the_frontier() -> None:
    from linkmech.evaluation.second_best import pareto_frontier
    from linkmech.mechanisms.incentives import expected_utilities

    problem = BargainingProblem()
    seller = second_best(problem, participation=True, weights=(1, 0))
    buyer = second_best(problem, participation=True, weights=(0, 1))
    assert seller.optimal and buyer.optimal
    assert (
        expected_utilities(problem, seller.scf)[0] == seller.value == buyer.value
    )  # the example is symmetric
    assert seller.welfare <= second_best(problem, participation=True).value
    frontier = pareto_frontier(problem, 8, participation=True)
    best = second_best(problem, participation=True).value
    assert all(u + v <= best for u, v in frontier) and (best / 2, best / 2) in frontier
    assert frontier == sorted(frontier) and [(v, u) for u, v in frontier] == frontier[::-1]
    with pytest.raises(ValueError, match="give 2 numbers >= 0"):
        second_best(problem, weights=(1, -1))
    with pytest.raises(ValueError, match="weights go with 'welfare'"):
        second_best(problem, "target", weights=(1, 1))
    with pytest.raises(ValueError, match="two-agent problems"):
        pareto_frontier(PublicGoodsProblem(3))
