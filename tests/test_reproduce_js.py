"""Tests of linkmech.evaluation.reproduce.js: every Jackson-Sonnenschein figure, against hand derivations."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest

from linkmech.evaluation.reproduce import js
from linkmech.evaluation.reproduce.figures import GROUPS, Figure
from linkmech.mechanisms.catalogue import PublicGoodsProblem
from linkmech.mechanisms.incentives import expected_welfare

JS_GROUPS = ("js.ex1", "js.ex2", "js.ex3", "js.ex5", "js.cor2", "js.app3")

REQUIRED = (
    "js.ex1.unlinked_error",
    "js.ex1.linked_error_k2",
    "js.ex2.target_welfare",
    "js.ex2.unlinked_shortfall",
    "js.ex2.linked_shortfall",
    "js.ex3.ic_trade_prob",
    "js.ex5.utility_k1",
    "js.ex5.utility_k2",
    "js.ex5.utility_k4",
    "js.ex5.utility_k6",
    "js.ex5.utility_limit",
    "js.app3.error_p0",
    "js.app3.error_p0.5",
    "js.app3.error_p1",
)


@pytest.fixture(scope="module")
def quick() -> dict[str, Figure]:
    """Every js figure in quick mode, by id (and the time it took)."""
    start = time.perf_counter()
    figures: dict[str, Figure] = {}
    for name in JS_GROUPS:
        for figure in GROUPS[name].compute(True):
            assert figure.id not in figures, f"duplicate figure id {figure.id}"
            assert figure.id.startswith(name + "."), f"{figure.id} is not in its group {name}"
            assert figure.id in GROUPS[name].ids, f"{figure.id} is not declared in the ids of {name}"
            figures[figure.id] = figure
    figures["_seconds"] = Figure("_seconds", time.perf_counter() - start)
    return figures


def _exact(figures: dict[str, Figure], fid: str) -> Fraction:
    exact = figures[fid].exact
    assert exact is not None, f"{fid} should be an exact fraction"
    return exact


def test_every_required_id_is_produced_quickly(quick: dict[str, Figure]) -> None:
    missing = [fid for fid in REQUIRED if fid not in quick]
    assert not missing, f"missing required figures: {missing}"
    assert quick["_seconds"].value < 30, f"quick mode took {quick['_seconds'].value:.1f} s (limit 30 s)"
    extras = {"ex1.error_k", "ex2.linked_shortfall_participation", "ex3.welfare_ic", "ex3.linked_welfare_k"}
    for fragment in (*extras, "cor2.utility_k"):
        assert any(fragment in fid for fid in quick), f"no figure id contains {fragment!r}"


def test_agrees_is_a_boolean_exactly_where_a_paper_value_is_given(quick: dict[str, Figure]) -> None:
    for fid, figure in quick.items():
        if fid == "_seconds":
            continue
        if figure.paper is None:
            assert figure.agrees is None, f"{fid}: no printed value, so agrees should be None"
        else:
            assert isinstance(figure.agrees, bool), f"{fid}: agrees should be a bool, got {figure.agrees!r}"
        assert np.isfinite(figure.value), f"{fid}: value {figure.value} should be finite"
        assert figure.title, f"{fid} should have a title"
        if figure.agrees is False:
            assert len(figure.note) > 100, f"{fid} disagrees with the paper; its note should explain why"


def test_example_1_hand_derived(quick: dict[str, Figure]) -> None:
    # Signs differ (1/2) and magnitudes differ (1/2): majority flips a coin, error 1/2 -> 1/8.
    assert _exact(quick, "js.ex1.unlinked_error") == Fraction(1, 8)
    # Footnote 13: on that 1/4 of profiles each agent's announced magnitude is true w.p. 3/4; both right
    # (9/16) no error, both wrong (1/16) error, one wrong (6/16) coin -> 1/16 + 3/16 = 1/4 -> 1/16 overall.
    assert _exact(quick, "js.ex1.linked_error_k2") == Fraction(1, 16)
    assert _exact(quick, "js.ex1.linked_disagreement_k2") >= Fraction(1, 16), "TV counts value ties as well"
    assert _exact(quick, "js.ex1.linked_min_incentive_slack_k2") >= 0, "approximate truth should be IC"
    assert quick["js.ex1.unlinked_error"].agrees is True
    assert quick["js.ex1.linked_error_k2"].agrees is True
    for fid in ("js.ex1.error_k64_over_time", "js.ex1.error_k64_over_time_intensity"):
        lo, hi = quick[fid].ci95 or (np.nan, np.nan)
        assert lo <= quick[fid].value <= hi and hi < 1 / 8, f"{fid} should be below the unlinked 1/8"
    assert quick["js.ex1.error_k64_over_time"].value < quick["js.ex1.error_k4_over_time"].value


def test_example_2_hand_derived(quick: dict[str, Figure]) -> None:
    # Value 1: truthful 2/3 * (1 - 3/8) + 1/3 * q * (1 - 3/4) vs pretending 0: 2/3 * q -> q <= 5/7.
    assert _exact(quick, "js.ex2.ic_probability") == Fraction(5, 7)
    # Per problem: E[v1 + v2] - c * P(build) = 4/3 - 3/4 * 8/9 = 2/3; two problems: 4/3.
    assert _exact(quick, "js.ex2.target_welfare") == Fraction(4, 3)
    # Per problem: exactly one 1 (4/9), not built (2/7), surplus 1 - 3/4: 4/9 * 2/7 * 1/4 = 2/63; two: 4/63.
    assert _exact(quick, "js.ex2.unlinked_shortfall") == Fraction(4, 63)
    # Only (0,0) meets (0,0) (1/81) errs, building one project of cost 3/4 nobody values: 1/108.
    assert _exact(quick, "js.ex2.linked_shortfall") == Fraction(1, 108)
    assert quick["js.ex2.linked_shortfall"].agrees is False, "the printed 1/98 should be flagged"
    assert "1/108" in quick["js.ex2.linked_shortfall"].note
    assert _exact(quick, "js.ex2.linked_min_incentive_slack") >= 0, "footnote 16: the coordination is IC"
    assert _exact(quick, "js.ex2.linked_min_participation_slack") < 0, "the (0,0) type's participation fails"
    # (0,1) truthful: 4/9 * 1/4 + 2/9 * 1/4 + 2/9 * 5/8 + 1/9 * 5/7 * 1/4 = 41/126; pretending (0,0):
    # unlinked second best, never pays, project 2 built w.p. 2/3 * 5/7 = 60/126 -> slack -19/126.
    assert _exact(quick, "js.ex2.participation_min_incentive_slack") == Fraction(-19, 126)
    assert _exact(quick, "js.ex2.participation_min_participation_slack") >= 0
    assert _exact(quick, "js.ex2.no_projects_min_incentive_slack") >= 0
    assert Fraction(1, 108) < _exact(quick, "js.ex2.linked_shortfall_participation") < Fraction(4, 63)


def test_example_3_hand_derived(quick: dict[str, Figure]) -> None:
    # Seller 0: (5 + q) / 2 truthful vs 9q / 2 pretending 8 -> q <= 5/8.
    assert _exact(quick, "js.ex3.ic_trade_prob") == Fraction(5, 8)
    assert _exact(quick, "js.ex3.ic_trade_prob_footnote17") == Fraction(5, 6)
    assert quick["js.ex3.ic_trade_prob"].agrees is True
    # Surpluses 10 (0 meets 10), 2 (0 meets 2), 2 (8 meets 10), each profile 1/4.
    assert _exact(quick, "js.ex3.target_welfare") == Fraction(7, 2)
    assert _exact(quick, "js.ex3.welfare_ic") == Fraction(10, 4) + Fraction(5, 8) * Fraction(4, 4)
    assert _exact(quick, "js.ex3.welfare_footnote17") == Fraction(10, 4) + Fraction(5, 6) * Fraction(4, 4)
    # K = 2: expected loss per pair of problems, by (seller pair, buyer pair), each 1/16:
    # seller (0,0): 5 + 1 + 1 + 1; seller (8,8): 1 + 9 + 3 + 3; seller (0,8) or (8,0): 1 + 3 + 0 + 0 each.
    loss_per_pair = Fraction(8 + 16 + 4 + 4, 16)
    assert _exact(quick, "js.ex3.linked_welfare_k2") == Fraction(7, 2) - loss_per_pair / 2
    assert quick["js.ex3.linked_welfare_k2_over_time"].value == pytest.approx(5 / 2)
    assert _exact(quick, "js.ex3.linked_min_incentive_slack_k2") >= 0


def _best_linking_loss(num_problems: int) -> Fraction:
    """9 per object beyond K/2 that only one agent values at 10 (a ~ Bin(K, 1/4) for each agent)."""
    half = num_problems // 2
    excess = sum(
        (
            Fraction(math.comb(num_problems, a) * 3 ** (num_problems - a), 4**num_problems) * (a - half)
            for a in range(half + 1, num_problems + 1)
        ),
        Fraction(0),
    )
    return 9 * 2 * excess / num_problems


def test_example_5_hand_derived(quick: dict[str, Figure]) -> None:
    limit = Fraction(3, 4) * 10 + Fraction(1, 4) * 1  # 10 unless both values are 1
    assert limit == Fraction(31, 4)
    assert _exact(quick, "js.ex5.utility_limit") == limit
    assert _exact(quick, "js.ex5.utility_k1") == Fraction(11, 2), "random assignment: E[v] = 11/2"
    for k in (2, 4, 6):
        assert _exact(quick, f"js.ex5.utility_k{k}") == limit - _best_linking_loss(k), f"K={k}"
    assert _exact(quick, "js.ex5.utility_k2") == Fraction(115, 16)
    assert [quick[f"js.ex5.utility_k{k}"].agrees for k in (1, 2, 4, 6)] == [True, True, True, False]
    assert quick["js.ex5.utility_limit"].agrees is True
    for k in (2, 4):
        assert _exact(quick, f"js.ex5.best_min_incentive_slack_k{k}") >= 0, f"K={k}: truth should be IC"
    plain = [quick[f"js.ex5.plain_utility_k{k}_over_time"].value for k in (2, 4, 6, 8)]
    assert plain == sorted(plain) and plain[-1] < 31 / 4


def test_corollary_2_and_appendix_3_hand_derived(quick: dict[str, Figure]) -> None:
    # Target: value 1 gets b w.p. 5/8, 2 w.p. 7/8, -1 w.p. 3/8, -2 w.p. 1/8 -> (5/8 + 7/4 - 3/8 - 1/4) / 4.
    assert _exact(quick, "js.cor2.target_utility") == Fraction(7, 16)
    assert _exact(quick, "js.cor2.unlinked_utility") == Fraction(3, 8)
    values = [quick[f"js.cor2.utility_k{k}_delta1.0"].value for k in (4, 8, 12, 16)]
    assert values == sorted(values) and values[-1] < 7 / 16, f"utility should rise toward 7/16: {values}"
    for p in (Fraction(0), Fraction(1, 2), Fraction(1)):
        fid = f"js.app3.error_p{float(p):g}"
        assert _exact(quick, fid) == (1 + p) ** 2 / 32, f"{fid}: (1+p)^2/32"
        assert quick[fid].agrees is True
    assert _exact(quick, "js.app3.intensity_error_p-1") == 0


def test_linked_problem_adds_up() -> None:
    base = PublicGoodsProblem()
    linked = js.LinkedProblem(base, 2)
    assert expected_welfare(linked, linked.target) == 2 * expected_welfare(base, base.target)
    profiles = linked.all_profiles()
    assert np.array_equal(linked.join(linked.split(profiles)), profiles), "split and join should invert"
    assert linked.status_quo == 0 and linked.num_alternatives == base.num_alternatives**2


def test_plots_are_written(tmp_path) -> None:
    for name in ("js.ex1", "js.ex5"):
        assert GROUPS[name].plots, f"{name} should register a plot"
        for plot in GROUPS[name].plots:
            file_name = plot(str(tmp_path))
            assert (tmp_path / file_name).stat().st_size > 1000, f"{file_name} should be a real image"
