"""The reproduction framework: figure records, agreement with printed values, JSON and markdown output."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from linkmech.evaluation.reproduce.command import markdown_report, write_json
from linkmech.evaluation.reproduce.figures import (
    Figure,
    agrees_with,
    estimate_figure,
    exact_figure,
    parse_printed,
)


def test_printed_values_are_read_as_fractions_or_decimals() -> None:
    assert parse_printed("5/7") == pytest.approx(5 / 7)
    assert parse_printed(" 0.875 ") == 0.875
    assert parse_printed("garbled") is None
    assert agrees_with(5 / 7, "5/7") is True
    assert agrees_with(1 / 108, "1/98") is False
    assert agrees_with(0.3749, "0.375") is True  # printed to 3 decimals
    assert agrees_with(0.37, "0.375") is False
    assert agrees_with(1.0, "n/a") is None


def test_exact_and_estimated_figures() -> None:
    exact = exact_figure("x.q", Fraction(5, 7), paper="5/7", note="IC bound", title="q")
    assert exact.as_dict() == {
        "id": "x.q",
        "value": 5 / 7,
        "exact": "5/7",
        "ci95": None,
        "paper": "5/7",
        "agrees": True,
        "note": "IC bound",
        "title": "q",
    }
    estimate = estimate_figure("x.mc", [1.0, 2.0, 3.0, 4.0], paper="2.5")
    half = 1.96 * (5 / 3) ** 0.5 / 2
    assert estimate.value == 2.5 and estimate.ci95 == pytest.approx((2.5 - half, 2.5 + half))
    assert estimate.agrees is True
    assert estimate_figure("x.mc", [1.0, 1.0, 1.0], paper="2").agrees is False
    assert estimate_figure("x.none", [1.0, 2.0]).agrees is None


def test_json_and_markdown(tmp_path: Path) -> None:
    figures = [
        exact_figure("js.a", Fraction(1, 8), paper="1/8", title="error"),
        Figure("js.b", 0.5, None, (0.4, 0.6), "0.7", False, "printed value garbled | see text", "b"),
    ]
    path = write_json(figures, tmp_path / "f.json")
    data = json.loads(path.read_text())
    assert [f["id"] for f in data["figures"]] == ["js.a", "js.b"]
    assert data["figures"][0]["exact"] == "1/8" and data["figures"][1]["ci95"] == [0.4, 0.6]
    text = markdown_report(figures, ["plots/a.png"], "linkmech reproduce --quick")
    assert "| `js.a` | error | 1/8 = 0.125 | 1/8 | yes |" in text
    assert "**no**" in text and "garbled \\| see text" in text and "![a](plots/a.png)" in text
