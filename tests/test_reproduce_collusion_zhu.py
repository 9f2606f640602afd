"""The figure groups js.ex4, js.skimming and zhu (quick mode): ids, Zhu's N - 1, linked ratios, policing."""

from __future__ import annotations

import pytest

from linkmech.evaluation.reproduce import js_collusion, zhu
from linkmech.evaluation.reproduce.figures import GROUPS

REQUIRED = {
    "js.ex4": ("js.ex4.built_fraction_collusive", "js.ex4.built_fraction_policed", "js.ex4.min_agents"),
    "js.skimming": ("js.skimming.gain_per_problem_participation",),
    "zhu": (
        "zhu.unlinked_ratio_n10",
        "zhu.linked_ratio_n10",
        "zhu.linked_ratio_n100",
        "zhu.linked_ratio_n1000",
        "zhu.linked_ratio_n100.shift_correlated",
        "zhu.design_x_n100",
        "zhu.guarantee_n100",
    ),
}


@pytest.fixture(scope="module")
def figures():
    return {name: {f.id: f for f in GROUPS[name].compute(True)} for name in REQUIRED}


def test_every_required_and_declared_id_is_produced(figures):
    for name, required in REQUIRED.items():
        produced = figures[name]
        missing = [i for i in (*required, *GROUPS[name].ids) if i not in produced]
        assert not missing, f"group {name}: missing ids {missing}"


def test_agrees_is_boolean_where_a_paper_value_is_given(figures):
    for produced in figures.values():
        for figure in produced.values():
            if figure.paper is not None:
                assert isinstance(figure.agrees, bool), f"{figure.id}: agrees {figure.agrees!r} with paper"
            else:
                assert figure.agrees is None, f"{figure.id}: agrees without a paper value"


def test_unlinked_ratio_is_n_minus_one(figures):
    figure = figures["zhu"]["zhu.unlinked_ratio_n10"]
    assert abs(figure.value - 9) < 1e-9, f"unlinked cost/surplus at N = 10 is {figure.value}, not 9"
    assert figure.agrees is True


def test_linked_ratios_are_below_unlinked_and_fall_with_n(figures):
    produced = figures["zhu"]
    for n in (10, 100, 1000):
        for suffix in ("", ".shift_correlated"):
            value = produced[f"zhu.linked_ratio_n{n}{suffix}"].value
            assert 0 < value < n - 1, f"linked ratio at N = {n}{suffix}: {value}"
    small, large = produced["zhu.linked_ratio_n10"], produced["zhu.linked_ratio_n100"]
    assert large.ci95 is not None and small.ci95 is not None
    assert large.ci95[1] < small.ci95[0], f"linked ratio N=100 {large.ci95} not below N=10 {small.ci95}"


def test_guarantee_is_corollary_one(figures):
    produced = figures["zhu"]
    assert produced["zhu.guarantee_n100"].exact == 1 - 100 * zhu.Fraction(1, 10) / 99
    assert 0 < produced["zhu.design_x_n100"].value < produced["zhu.design_x_n10"].value + 1e-12


def test_policing_restores_building(figures):
    produced = figures["js.ex4"]
    collusive, policed = (
        produced["js.ex4.built_fraction_collusive"],
        produced["js.ex4.built_fraction_policed"],
    )
    assert collusive.ci95 is not None and policed.ci95 is not None
    assert collusive.ci95[1] < policed.ci95[0], f"collusive {collusive.ci95} vs policed {policed.ci95}"
    share_c = produced["js.ex4.agent0_cost_share_collusive"].value
    share_p = produced["js.ex4.agent0_cost_share_policed"].value
    assert share_c > share_p > 1 / 7 - 0.05


def test_example4_exact_limits():
    assert js_collusion.limit_built_fraction() == js_collusion.Fraction(8, 9)
    assert js_collusion.limit_cost_share(7) == js_collusion.Fraction(9, 28)
    assert js_collusion.swap_gain(4) > 0 > js_collusion.swap_gain(5)
    assert js_collusion.min_agents() == 5


def test_skimming_exact(figures):
    produced = figures["js.skimming"]
    assert produced["js.skimming.truthful_price_last5"].exact == 3
    assert produced["js.skimming.skim_price_last5"].exact == js_collusion.Fraction(9, 2)
    assert produced["js.skimming.gain_per_problem_participation"].value > 2
    assert produced["js.skimming.gain_whole_participation"].value < 0


def test_plots(tmp_path, figures):
    for name in REQUIRED:
        for plot in GROUPS[name].plots:
            assert (tmp_path / plot(str(tmp_path))).is_file()
