"""The collusion measurements on small sizes: the numbers they report follow from the rules."""

from __future__ import annotations

import pytest

from linkmech.cli import main
from linkmech.evaluation.collusion import (
    deviation_rows,
    example4_rows,
    false_positive_rows,
    markdown_table,
    mean_ci,
    secure_level_rows,
)


def test_mean_ci_hand_case() -> None:
    mean, half = mean_ci([1.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(1.96 * 2**0.5 / 2**0.5), f"mean {mean}, half-width {half}"


def test_example4_rows_without_and_with_policing() -> None:
    rows = example4_rows(7, [60], episodes=4, form="all_at_once")
    plain, policed = rows
    assert plain["policing"] is False and policed["policing"] is True
    assert 0.8 < plain["built"] < 0.97, f"collusion builds about 8/9: {plain['built']}"
    assert plain["built (truthful)"] > 0.97, "truthful play builds nearly everything at n = 7"
    assert plain["agent 0 cost share"] > 1 / 7, (
        f"the cost skews onto agent 0: share {plain['agent 0 cost share']}"
    )
    assert plain["detection rate"] == 0.0, "nothing is policed without policing"
    assert policed["detection rate"] == 1.0, "all at once at K = 60 the coalition is always detected"
    assert policed["built"] > plain["built"], "policing restores building on the last third"


def test_deviation_rows_shape() -> None:
    rows = deviation_rows(7, 30, episodes=3)
    assert [r["deviation of agent 1"] for r in rows] == [
        "move one 1 into the last third",
        "approximately truthful",
    ]
    assert all(r["ci95"] >= 0 for r in rows)


def test_false_positive_rows_all_at_once() -> None:
    rows = false_positive_rows(5, [60], episodes=5, form="all_at_once")
    assert rows[0]["episodes flagged"] <= 0.2, f"truthful agents rarely flagged: {rows[0]}"


def test_secure_level_rows_against_random() -> None:
    rows = secure_level_rows("linked_voting_v0", 2, [64], ["random"], episodes=20)
    assert rows[0]["target"] == pytest.approx(7 / 16), "voting's target utility per problem is 7/16"
    assert abs(rows[0]["utility"] - 7 / 16) < 0.12, f"approximate truth secures about the target: {rows[0]}"


def test_markdown_table() -> None:
    table = markdown_table([{"K": 3, "x": 0.12345}])
    assert table.splitlines() == ["| K | x |", "|---|---|", "| 3 | 0.123 |"], table


def test_cli_strategies_and_play(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies"]) == 0
    listed = capsys.readouterr().out
    for name in ("approximately_truthful", "front_loading", "skimmer", "example4_member"):
        assert name in listed, f"{name} missing from `linkmech strategies`"
    assert (
        main(["play", "--option", "num_problems=8", "--strategy", "agent_1=random", "--episodes", "3"]) == 0
    )
    out = capsys.readouterr().out
    assert "RandomAdmissible" in out and "ApproximatelyTruthful" in out, out
    assert main(["play", "--strategy", "agent_9=random"]) == 2, "an unknown seat is a clear error"
    assert main(["play", "--strategy", "nonsense"]) == 2, "an unknown strategy is a clear error"
