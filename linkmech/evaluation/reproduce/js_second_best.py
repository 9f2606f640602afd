"""The unlinked second best of Jackson and Sonnenschein's examples, over EVERY incentive-compatible mechanism.

The paper measures linking against the best unlinked mechanism: Example 2's "second best" (q = 5/7), Example
3's incentive-compatible mechanism (q = 5/8, "not quite second best" by footnote 17), Example 5's coin flip
("the best we can do"), and in Example 1 majority vote (best among anonymous, neutral mechanisms). These
figures solve the linear program of :func:`linkmech.evaluation.second_best.second_best` over all direct
mechanisms and compare its exact optimum (certified by an exactly feasible mechanism and an exact dual bound
that meet) with those mechanisms' welfare, computed by the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from linkmech.evaluation.reproduce import js
from linkmech.evaluation.reproduce.figures import Figure, exact_figure, figure_group, group_plot
from linkmech.evaluation.second_best import SecondBest, pareto_frontier, second_best
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
from linkmech.mechanisms.incentives import SocialChoiceFunction, expected_utilities, expected_welfare
from linkmech.mechanisms.joint import LinkedProblem, Treatment
from linkmech.mechanisms.problem import FiniteProblem

PUBLIC_GOODS_SIZES = (2, 3, 4, 5, 6)
"""Numbers of agents of the public-goods second best (the paper's family exists only up to n = 3)."""

LINKED_K = {"ex1": (2,), "ex2": (2, 3), "ex3": (2, 3), "ex5": (2, 3)}
"""Numbers of linked problems of the best linked mechanism, per example (voting at K = 3 has 4096 profiles)."""


def _solve(problem: FiniteProblem, participation: bool, incentives: str = "bayesian") -> SecondBest:
    """The welfare second best, which must be exactly feasible and exactly optimal to be a figure."""
    best = second_best(problem, participation=participation, incentives=incentives)
    if not best.optimal:
        raise RuntimeError(f"{problem.name}: the LP second best is not certified ({best.describe()})")
    return best


def _verdict(optimum: Fraction, mechanism: Fraction, name: str) -> str:
    if optimum == mechanism:
        return f"{name} attains it ({mechanism}), so it is a second best"
    return f"{name} gets {mechanism} = {float(mechanism):.4f}, {optimum - mechanism} less: it is not a second best"


@figure_group(
    "js.second_best",
    ids=(
        "js.second_best.ex1_welfare",
        "js.second_best.ex2_unlinked_shortfall",
        "js.second_best.ex2_welfare_without_participation",
        "js.second_best.ex3_welfare",
        "js.second_best.ex3_welfare_without_participation",
        "js.second_best.ex5_welfare",
        *(f"js.second_best.public_goods_n{n}_share" for n in PUBLIC_GOODS_SIZES),
        *(f"js.second_best.{ex}_linked_k{k}_welfare" for ex, ks in LINKED_K.items() for k in ks),
    ),
)
def second_best_figures(quick: bool) -> list[Figure]:
    """The LP second best of Examples 1, 2, 3, 5 and of public goods with n agents (per problem)."""
    del quick
    return [
        _voting(),
        *_public_goods(),
        *_bargaining(),
        _allocation(),
        *(_public_goods_share(n) for n in PUBLIC_GOODS_SIZES),
        *_linked_figures(),
    ]


def _voting() -> Figure:
    problem = VotingProblem()
    best = _solve(problem, False)
    majority = expected_welfare(problem, majority_vote(problem))
    return exact_figure(
        "js.second_best.ex1_welfare",
        best.value,
        title="Ex.1 best welfare of any incentive-compatible unlinked mechanism, per problem",
        note=f"LP over all direct mechanisms (not only anonymous and neutral ones); "
        f"{_verdict(best.value, majority, 'majority vote with a coin on ties')}. Target: "
        f"{expected_welfare(problem, problem.target)}.",
    )


def _public_goods() -> list[Figure]:
    problem = PublicGoodsProblem()
    best = _solve(problem, True)
    free = _solve(problem, False)
    target = expected_welfare(problem, problem.target)
    family = expected_welfare(problem, public_goods_baseline(problem).scf)
    return [
        exact_figure(
            "js.second_best.ex2_unlinked_shortfall",
            2 * (target - best.value),
            paper="4/63",
            title="Ex.2 shortfall of the best unlinked mechanism (incentive + participation), two problems",
            note=f"LP optimum {best.value} per problem against the target's {target}; "
            f"{_verdict(best.value, family, 'the paper second best (q = 5/7)')}.",
        ),
        exact_figure(
            "js.second_best.ex2_welfare_without_participation",
            free.value,
            title="Ex.2 best incentive-compatible welfare without participation constraints, per problem",
            note=f"Equals the target's {target}: without participation constraints an expected-externality "
            "mechanism (cost shares that depend on the others' announcements) implements the efficient "
            "decision; the participation constraints are what cost welfare.",
        ),
    ]


def _bargaining() -> list[Figure]:
    problem = BargainingProblem()
    best = _solve(problem, True)
    free = _solve(problem, False)
    target = expected_welfare(problem, problem.target)
    text = expected_welfare(problem, bargaining_baseline(problem).scf)
    reluctant = with_reluctant_prices(problem)
    footnote = expected_welfare(reluctant, bargaining_baseline(reluctant, reluctant_prices=True).scf)
    return [
        exact_figure(
            "js.second_best.ex3_welfare",
            best.value,
            title="Ex.3 best welfare of any incentive-compatible, participating unlinked mechanism",
            note=f"LP over lotteries on no trade and trade at prices {problem.prices.tolist()}; "
            f"{_verdict(best.value, text, 'the text mechanism (q = 5/8, prices 1 and 9)')}; "
            f"{_verdict(best.value, footnote, 'footnote 17 (prices 8 and 2, q = 5/6)')}. Target {target}: "
            "below it, as Myerson-Satterthwaite says.",
        ),
        exact_figure(
            "js.second_best.ex3_welfare_without_participation",
            free.value,
            title="Ex.3 best incentive-compatible welfare without participation constraints",
            note=f"Equals the target's {target}: the inefficiency of Example 3 comes from the participation "
            "constraints (Myerson-Satterthwaite), not from incentive compatibility alone.",
        ),
    ]


def _allocation() -> Figure:
    problem = AllocationProblem()
    best = _solve(problem, False)
    coin = expected_welfare(problem, random_assignment(problem))
    return exact_figure(
        "js.second_best.ex5_welfare",
        best.value,
        paper="5.5",
        title="Ex.5 best welfare of any incentive-compatible unlinked mechanism (no transfers)",
        note=f"LP over all direct mechanisms; {_verdict(best.value, coin, 'the coin flip')}, as the paper says.",
    )


def _public_goods_share(num_agents: int) -> Figure:
    problem = PublicGoodsProblem(num_agents)
    best = _solve(problem, True)
    target = expected_welfare(problem, problem.target)
    try:
        family = expected_welfare(problem, public_goods_baseline(problem).scf)
        versus = _verdict(best.value, family, "the paper family (build for sure with two or more)")
    except ValueError:
        versus = "the paper family has no incentive-compatible q here"
    return exact_figure(
        f"js.second_best.public_goods_n{num_agents}_share",
        best.value / target,
        title=f"Public goods, n = {num_agents}: best unlinked welfare (incentive + participation) / target",
        note=f"Second best {best.value} = {float(best.value):.4f} per problem against the target's {target} "
        f"(cost 3/4, value 1 with probability 2/3); {versus}.",
    )


def _linked_verdict(
    linked: LinkedProblem, best: Fraction, treatment: Treatment, name: str, participation: bool
) -> str:
    """How the paper's K = 2 mechanism compares with the LP optimum ``best`` (per problem)."""
    scf = linked.mechanism(treatment)
    welfare = expected_welfare(linked, scf) / linked.num_problems
    if welfare <= best:
        return _verdict(best, welfare, name)
    incentive, outside = js.min_slacks(linked, scf)
    broken = "participation" if participation and outside is not None and outside < 0 else "incentive"
    return (
        f"{name} gets more, {welfare} = {float(welfare):.4f}, but breaks the {broken} constraints the LP keeps "
        f"(smallest slacks: incentive {incentive}, participation {outside})"
    )


def _linked_figures() -> list[Figure]:
    """The best mechanism for K problems decided together, against the paper's linking mechanism."""
    canonical: dict[str, tuple[FiniteProblem, bool, Callable[[Any], Treatment], str]] = {
        # the paper's K = 2 linking mechanism (approximate truth), as reproduce/js.py builds it
        "ex1": (
            VotingProblem(),
            False,
            js.ex1_treatment,
            "Example 1's K = 2 mechanism (one 2 and one 1 each)",
        ),
        "ex2": (PublicGoodsProblem(), True, js.ex2_coordinated, "Example 2's coordinated K = 2 mechanism"),
        "ex3": (
            BargainingProblem(),
            True,
            js.ex3_treatment,
            "Example 3's K = 2 mechanism (one eager, one reluctant)",
        ),
        "ex5": (AllocationProblem(), False, js.ex5_best, "footnote 39's mechanism (K/2 objects each)"),
    }
    figures = []
    for ex, (problem, participation, treatment, name) in canonical.items():
        unlinked = _solve(problem, participation).value
        target = expected_welfare(problem, problem.target)
        for k in LINKED_K[ex]:
            linked = LinkedProblem(problem, k)
            best = _solve(linked, participation).value / k
            note = (
                f"LP over every mechanism of the {k} problems together (types are {k}-vectors; "
                f"{'incentive and participation' if participation else 'incentive'} constraints), per problem: "
                f"{float(best):.4f} against the unlinked second best {unlinked} = {float(unlinked):.4f} and the "
                f"target {target} = {float(target):.4f}, i.e. {float((best - unlinked) / (target - unlinked)):.0%} "
                "of the gap closed"
            )
            if k == 2:
                note += f"; {_linked_verdict(linked, best, treatment(problem), name, participation)}"
            figures.append(
                exact_figure(
                    f"js.second_best.{ex}_linked_k{k}_welfare",
                    best,
                    paper="7.19" if (ex, k) == ("ex5", 2) else None,
                    title=f"{ex.replace('ex', 'Ex.')}: best welfare of any mechanism for {k} linked problems, per problem",
                    note=note + ".",
                )
            )
    return figures


APP4_K = {"voting": (1, 2), "allocation": (1, 2, 3)}
"""Numbers of linked problems of the best strategy-proof mechanism (Appendix 4), per problem."""


@figure_group(
    "js.app4",
    ids=tuple(f"js.app4.{name}_strategy_proof_k{k}_welfare" for name, ks in APP4_K.items() for k in ks),
)
def strategy_proof_figures(quick: bool) -> list[Figure]:
    """Appendix 4 (Theorem 2): the best strategy-proof mechanism for K linked problems, by the exact LP."""
    del quick
    voting, allocation = VotingProblem(), AllocationProblem()
    separate_rules: dict[str, tuple[FiniteProblem, SocialChoiceFunction]] = {
        "voting": (voting, majority_vote(voting)),
        "allocation": (allocation, random_assignment(allocation)),
    }
    figures = []
    for name, ks in APP4_K.items():
        problem, rule_scf = separate_rules[name]
        separate = expected_welfare(problem, rule_scf)
        for k in ks:
            linked = problem if k == 1 else LinkedProblem(problem, k)
            best = _solve(linked, False, "dominant").value / k
            bayesian = _solve(linked, False).value / k
            rule = "majority vote" if name == "voting" else "the coin flip"
            note = (
                f"LP over every strategy-proof mechanism of {k} problem{'s' if k > 1 else ''} together (truth "
                f"dominant against every announcement of the others), per problem. {rule.capitalize()} on "
                f"each problem is strategy-proof and gets {separate}"
            )
            if k == 1:
                note += f"; {_verdict(best, separate, rule)}."
            else:
                note += (
                    f"; the best linked strategy-proof mechanism gets {best - separate} more per problem, as "
                    "Theorem 2 implies (it builds a strategy-proof linked mechanism that Pareto dominates separate "
                    "strategy-proof rules that are not ex post efficient together). The Bayesian optimum for "
                    f"{k} problems is {bayesian} = {float(bayesian):.4f}."
                )
            figures.append(
                exact_figure(
                    f"js.app4.{name}_strategy_proof_k{k}_welfare",
                    best,
                    title=f"App.4 {name}: best welfare of a strategy-proof mechanism for {k} linked problems, per "
                    "problem",
                    note=note,
                )
            )
    return figures


@group_plot("js.second_best")
def plot_bargaining_frontier(directory: str) -> str:
    """Example 3: the Pareto frontier of incentive-compatible mechanisms, with and without participation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problem = BargainingProblem()
    reluctant = with_reluctant_prices(problem)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for participation, style, label in (
        (False, "o--", "incentive"),
        (True, "s-", "incentive + participation"),
    ):
        points = sorted(set(pareto_frontier(problem, 16, participation)))
        ax.plot(
            [float(u) for u, _ in points], [float(v) for _, v in points], style, label=f"frontier: {label}"
        )
    marks = [
        ("target f (not IC)", expected_utilities(problem, problem.target), "k*"),
        ("text mechanism, q = 5/8", expected_utilities(problem, bargaining_baseline(problem).scf), "C2^"),
        (
            "footnote 17, q = 5/6",
            expected_utilities(reluctant, bargaining_baseline(reluctant, reluctant_prices=True).scf),
            "C3v",
        ),
    ]
    for label, (seller, buyer), style in marks:
        ax.plot([float(seller)], [float(buyer)], style, ms=10, label=label)
    ax.set_xlabel("seller's ex ante utility")
    ax.set_ylabel("buyer's ex ante utility")
    ax.set_title("Ex.3: Pareto frontier of IC mechanisms (exact LP)")
    ax.legend(fontsize=8)
    name = "js_ex3_second_best_frontier.png"
    fig.tight_layout()
    fig.savefig(f"{directory}/{name}", dpi=120)
    plt.close(fig)
    return name
