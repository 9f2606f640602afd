"""Results tables, summaries, payoff matrices, plots and Elo ratings on hand-built match rows."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from linkmech.evaluation import results
from linkmech.evaluation.match import ROW_FIELDS
from linkmech.evaluation.results import (
    elo_ratings,
    format_summary,
    half_width_95,
    load_results,
    markdown_summary,
    payoff_matrix,
    results_frame,
    save_results,
    summary_table,
)

VOTING = "linkmech/LinkedVoting-v0"
ALLOCATION = "linkmech/ResourceAllocation-v0"
GOODS = "linkmech/LinkedPublicGoods-v0"
NAN = math.nan


def row(
    match_id, seat, strategy, utility, target, welfare, first_best, error, lies, flags, cost=NAN, **extra
):
    """One match row; the descriptive columns get plain defaults."""
    base = {
        "match_id": match_id,
        "env": VOTING,
        "env_options": '{"num_problems": 8}',
        "num_problems": 8,
        "repetition": 0,
        "seed": 100 + match_id,
        "episodes": 2,
        "seat": seat,
        "strategy": strategy,
        "profile": "{}",
        "utility_per_problem": utility,
        "target_utility_per_problem": target,
        "welfare_per_problem": welfare,
        "first_best_welfare_per_problem": first_best,
        "error_rate": error,
        "lie_fraction": lies,
        "flags": flags,
        "cost_over_surplus": cost,
    }
    base.update(extra)
    return base


def voting_rows():
    """Three two-seat matches of strategies a and b (numbers chosen for hand computation)."""
    return [
        row(0, "agent_0", "a", 0.5, 0.5, 0.6, 1.0, 0.2, 0.0, 0.0),
        row(0, "agent_1", "b", 0.1, 0.5, 0.6, 1.0, 0.2, 0.25, 2.0),
        row(1, "agent_0", "b", 0.2, 0.4, 0.5, 0.8, 0.1, 0.5, 1.0),
        row(1, "agent_1", "a", 0.3, 0.4, 0.5, 0.8, 0.1, 0.1, 0.0),
        row(2, "agent_0", "a", 0.4, 0.3, 0.6, 0.6, NAN, 0.0, 0.0),
        row(2, "agent_1", "a", 0.2, 0.3, 0.6, 0.6, NAN, 0.0, 0.0),
    ]


def allocation_rows():
    """Two matches of the statistical mechanism; the second's cost / surplus is NaN."""
    common = {"env": ALLOCATION, "num_problems": 4}
    return [
        row(3, "agent_0", "a", 1.0, 1.0, 3.0, 3.0, NAN, 0.0, 0.0, 0.4, **common),
        row(3, "agent_1", "b", 2.0, 2.0, 3.0, 3.0, NAN, 0.5, 0.0, 0.4, **common),
        row(4, "agent_0", "b", 0.5, 1.0, 2.0, 4.0, NAN, 1.0, 0.0, NAN, **common),
        row(4, "agent_1", "a", 1.5, 3.0, 2.0, 4.0, NAN, 0.0, 0.0, NAN, **common),
    ]


@pytest.fixture
def voting():
    return results_frame(voting_rows())


@pytest.fixture
def both():
    return results_frame(voting_rows() + allocation_rows())


def by_key(table, **keys):
    selected = table
    for name, value in keys.items():
        selected = selected[selected[name] == value]
    assert len(selected) == 1
    return selected.iloc[0]


# ------------------------------------------------------------------------------------------------ table


def test_results_frame_has_the_columns_in_order_with_dtypes(voting):
    assert tuple(voting.columns) == ROW_FIELDS
    assert len(voting) == 6
    for name in results.INTEGER_FIELDS:
        assert voting[name].dtype == np.int64
    for name in results.FLOAT_FIELDS:
        assert voting[name].dtype == np.float64
    assert voting["strategy"].tolist() == ["a", "b", "b", "a", "a", "a"]
    assert tuple(results_frame([]).columns) == ROW_FIELDS


def test_results_frame_rejects_missing_columns():
    bad = voting_rows()[0]
    del bad["flags"]
    with pytest.raises(ValueError, match="flags"):
        results_frame([bad])


@pytest.mark.parametrize("storage", ["csv", "parquet"])
def test_save_and_load_round_trip(both, tmp_path, storage):
    if storage == "parquet" and not results.parquet_available():
        pytest.skip("pyarrow is not installed")
    path = save_results(both, tmp_path, format=storage)
    assert path == tmp_path / f"results.{storage}"
    loaded = load_results(tmp_path)
    pd.testing.assert_frame_equal(loaded, both, check_exact=True)
    pd.testing.assert_frame_equal(load_results(path), both, check_exact=True)


def test_auto_format_follows_pyarrow(both, tmp_path, monkeypatch):
    expected = "results.parquet" if results.parquet_available() else "results.csv"
    assert save_results(both, tmp_path / "auto").name == expected
    monkeypatch.setattr(results, "parquet_available", lambda: False)
    assert save_results(both, tmp_path / "fallback").name == "results.csv"
    with pytest.raises(ImportError, match="pyarrow"):
        save_results(both, tmp_path / "forced", format="parquet")
    with pytest.raises(ValueError, match="format"):
        save_results(both, tmp_path, format="xlsx")
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "nothing-here")


# ---------------------------------------------------------------------------------------------- summary


def test_half_width():
    assert half_width_95([0.3]) == 0.0
    assert math.isnan(half_width_95([]))
    assert half_width_95([0.1, 0.2, NAN]) == pytest.approx(1.96 * math.sqrt(0.005) / math.sqrt(2))


def test_summary_per_strategy_by_hand(voting):
    table = summary_table(voting)
    assert list(table.columns) == ["strategy", *results.SUMMARY_COLUMNS]
    assert table["strategy"].tolist() == ["a", "b"]  # by mean utility, descending
    a, b = table.iloc[0], table.iloc[1]
    # a: utilities 0.5, 0.3, 0.4, 0.2 in matches 0, 1, 2 (twice in match 2)
    assert (a["matches"], a["seats"]) == (3, 4)
    assert a["utility"] == pytest.approx(0.35)
    assert a["utility_ci95"] == pytest.approx(1.96 * math.sqrt(0.05 / 3) / 2)
    assert a["target_utility"] == pytest.approx(0.375)
    assert a["target_share"] == pytest.approx(0.35 / 0.375)
    assert a["efficiency"] == pytest.approx(0.575 / 0.75)
    assert a["error_rate"] == pytest.approx(0.15)  # NaN of match 2 ignored
    assert a["lie_fraction"] == pytest.approx(0.025)
    assert a["flags_per_match"] == 0.0
    assert math.isnan(a["cost_over_surplus"])
    # b: utilities 0.1, 0.2 in matches 0 and 1
    assert (b["matches"], b["seats"]) == (2, 2)
    assert b["utility"] == pytest.approx(0.15)
    assert b["utility_ci95"] == pytest.approx(1.96 * math.sqrt(0.005) / math.sqrt(2))
    assert b["target_share"] == pytest.approx(0.15 / 0.45)
    assert b["efficiency"] == pytest.approx(0.55 / 0.9)
    assert b["error_rate"] == pytest.approx(0.15)
    assert b["lie_fraction"] == pytest.approx(0.375)
    assert b["flags_per_match"] == pytest.approx(1.5)


def test_summary_single_row_groups_have_zero_half_width(voting):
    table = summary_table(voting[voting["match_id"] == 0])
    assert table["utility_ci95"].tolist() == [0.0, 0.0]
    assert table["matches"].tolist() == [1, 1]


def test_summary_per_env_and_nan_aware_cost(both):
    table = summary_table(both, by=("env", "strategy"))
    assert list(table.columns[:2]) == ["env", "strategy"]
    assert len(table) == 4
    assert table["utility"].is_monotonic_decreasing
    a = by_key(table, env=ALLOCATION, strategy="a")
    assert a["utility"] == pytest.approx(1.25)
    assert a["target_share"] == pytest.approx(1.25 / 2.0)
    assert a["efficiency"] == pytest.approx(2.5 / 3.5)
    assert a["cost_over_surplus"] == pytest.approx(0.4)  # the NaN of match 4 ignored
    assert math.isnan(a["error_rate"])  # every row NaN
    b = by_key(table, env=ALLOCATION, strategy="b")
    assert b["lie_fraction"] == pytest.approx(0.75)
    assert by_key(table, env=VOTING, strategy="a")["utility"] == pytest.approx(0.35)
    assert math.isnan(by_key(table, env=VOTING, strategy="b")["cost_over_surplus"])


def test_summary_of_nothing_is_empty():
    table = summary_table(results_frame([]))
    assert table.empty
    assert list(table.columns) == ["strategy", *results.SUMMARY_COLUMNS]


def test_text_and_markdown_tables(both):
    table = summary_table(both, by=("env", "strategy"))
    text = format_summary(table).splitlines()
    assert len(text) == 2 + len(table)
    assert "utility/problem" in text[0] and "share of target" in text[0]
    assert set(text[1]) <= {"-", " "}
    assert len({len(line) for line in text[:2]}) == 1  # header and rule aligned
    assert "0.3500" in format_summary(table)
    markdown = markdown_summary(table).splitlines()
    assert markdown[0].startswith("| env | strategy | matches")
    assert markdown[1].startswith("| --- | --- | ---: |")
    assert len(markdown) == 2 + len(table)
    assert "| - |" in markdown_summary(table)  # NaN shown as '-'


# -------------------------------------------------------------------------------------------- payoffs


def test_payoff_matrix_two_seats(both):
    matrix = payoff_matrix(both, VOTING)
    assert matrix.index.tolist() == ["a", "b"]
    assert matrix.columns.tolist() == ["a", "b"]
    assert matrix.loc["a", "b"] == pytest.approx(0.4)  # 0.5 (match 0), 0.3 (match 1)
    assert matrix.loc["a", "a"] == pytest.approx(0.3)  # 0.4, 0.2 (match 2)
    assert matrix.loc["b", "a"] == pytest.approx(0.15)
    assert math.isnan(matrix.loc["b", "b"])
    with pytest.raises(ValueError, match="no results"):
        payoff_matrix(both, "nope")


def test_payoff_matrix_n_seats_uses_the_sorted_multiset_of_others():
    rows = [
        row(0, "agent_0", "b", 1.0, 1.0, 3.0, 3.0, 0.0, 0.0, 0.0, env=GOODS),
        row(0, "agent_1", "a", 2.0, 1.0, 3.0, 3.0, 0.0, 0.0, 0.0, env=GOODS),
        row(0, "agent_2", "a", 4.0, 1.0, 3.0, 3.0, 0.0, 0.0, 0.0, env=GOODS),
    ]
    matrix = payoff_matrix(results_frame(rows), GOODS)
    assert matrix.loc["a", "a + b"] == pytest.approx(3.0)
    assert matrix.loc["b", "a + a"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------- plots


def test_plots_write_png_files(both, tmp_path):
    pytest.importorskip("matplotlib")
    frame = pd.concat(
        [
            both,
            results_frame([r | {"num_problems": 32, "match_id": 9 + i} for i, r in enumerate(voting_rows())]),
        ]
    )
    paths = results.write_plots(frame, tmp_path)
    names = sorted(path.name for path in paths)
    assert names == [
        "efficiency_vs_k.png",
        "payoff_LinkedVoting_v0.png",
        "payoff_ResourceAllocation_v0.png",
        "utility_distributions.png",
    ]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000
    single = results.plot_payoff_heatmap(both, VOTING, tmp_path / "one" / "heat.png")
    assert single.stat().st_size > 0


def test_plots_without_matplotlib_say_how_to_install(both, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[plots\]"'):
        results.plot_utility_distributions(both, tmp_path / "x.png")
    with pytest.raises(ImportError, match="plots"):
        results.write_plots(both, tmp_path)


# ---------------------------------------------------------------------------------------------- ratings


def winner_rows(matches=6):
    """``strong`` beats ``weak`` in every match, in alternating seats."""
    rows = []
    for m in range(matches):
        strong, weak = ("agent_0", "agent_1") if m % 2 == 0 else ("agent_1", "agent_0")
        rows.append(row(m, strong, "strong", 1.0, 1.0, 1.5, 2.0, 0.0, 0.0, 0.0))
        rows.append(row(m, weak, "weak", 0.5, 1.0, 1.5, 2.0, 0.0, 0.0, 0.0))
    return rows


def test_elo_always_winner_ends_above_and_is_deterministic():
    frame = results_frame(winner_rows())
    ratings = elo_ratings(frame)
    assert ratings["strategy"].tolist() == ["strong", "weak"]
    strong, weak = ratings.iloc[0], ratings.iloc[1]
    assert strong["rating"] > results.ELO_START > weak["rating"]
    assert strong["rating"] + weak["rating"] == pytest.approx(2 * results.ELO_START)  # zero-sum updates
    assert (strong["games"], strong["score"], weak["score"]) == (6, 1.0, 0.0)
    pd.testing.assert_frame_equal(elo_ratings(frame), ratings, check_exact=True)
    shuffled = frame.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(elo_ratings(shuffled), ratings, check_exact=True)  # row order irrelevant


def test_elo_first_update_by_hand():
    frame = results_frame(winner_rows(matches=1))
    ratings = elo_ratings(frame, k_factor=16, rounds=1).set_index("strategy")["rating"]
    assert ratings["strong"] == pytest.approx(1508.0)  # 1500 + 16 (1 - 1/2)
    assert ratings["weak"] == pytest.approx(1492.0)


def test_elo_ties_and_same_strategy_pairs(voting):
    comparisons = results.pairwise_comparisons(voting)
    assert comparisons == [("a", "b", 1.0), ("b", "a", 0.0)]  # match 2 (a vs a) is no game
    tied = results_frame(
        [row(0, "agent_0", "x", 1.0, 1, 1, 1, 0, 0, 0), row(0, "agent_1", "y", 1.0, 1, 1, 1, 0, 0, 0)]
    )
    ratings = elo_ratings(tied).set_index("strategy")
    assert ratings.loc["x", "rating"] == ratings.loc["y", "rating"] == results.ELO_START
    assert ratings.loc["x", "score"] == 0.5
