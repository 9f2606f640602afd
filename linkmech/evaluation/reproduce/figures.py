"""The figure record and the registry of figure groups."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

Plotter = Callable[[str], str]
"""Writes one plot into a directory and returns the file name."""


@dataclass
class Figure:
    """One reproduced number.

    Attributes:
        id: stable id (``js.ex2.target_welfare``), prefixed by paper and section.
        value: the number as a float.
        exact: the exact fraction when the quantity is exact (computed by the code, never typed in).
        ci95: ``(lo, hi)`` for Monte Carlo estimates.
        paper: the paper's printed value as text (None where the paper prints none).
        agrees: whether ours agrees with the printed value (None when nothing is printed).
        note: how it was computed; where ours and the paper's disagree, the first-principles explanation.
        title: a short human description.
    """

    id: str
    value: float
    exact: Fraction | None = None
    ci95: tuple[float, float] | None = None
    paper: str | None = None
    agrees: bool | None = None
    note: str = ""
    title: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON record: ``{"id", "value", "exact", "ci95", "paper", "agrees", "note", "title"}``."""
        return {
            "id": self.id,
            "value": None if math.isnan(self.value) else float(self.value),
            "exact": None if self.exact is None else f"{self.exact.numerator}/{self.exact.denominator}",
            "ci95": None if self.ci95 is None else [float(self.ci95[0]), float(self.ci95[1])],
            "paper": self.paper,
            "agrees": self.agrees,
            "note": self.note,
            "title": self.title,
        }


def exact_figure(
    fid: str, value: Fraction, paper: str | None = None, note: str = "", title: str = ""
) -> Figure:
    """A figure from an exact fraction; ``agrees`` compares with ``paper`` read as a fraction or decimal."""
    agrees = None if paper is None else agrees_with(float(value), paper)
    return Figure(fid, float(value), Fraction(value), None, paper, agrees, note, title)


def estimate_figure(
    fid: str,
    values: Any,
    paper: str | None = None,
    note: str = "",
    title: str = "",
) -> Figure:
    """A Monte Carlo figure: mean of ``values`` with a 95% normal interval; agrees if the interval covers."""
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean())
    half = float(1.96 * data.std(ddof=1) / np.sqrt(len(data))) if len(data) > 1 else 0.0
    agrees = None
    if paper is not None:
        printed = parse_printed(paper)
        agrees = printed is not None and mean - half - 1e-12 <= printed <= mean + half + 1e-12
    return Figure(fid, mean, None, (mean - half, mean + half), paper, agrees, note, title)


def parse_printed(text: str) -> float | None:
    """A printed value (``"5/7"``, ``"0.875"``, ``"7/16"``) as a float, or None if it is not a number."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        return None


def agrees_with(value: float, paper: str, tolerance: float = 5e-4) -> bool | None:
    """Whether ``value`` matches the printed number (to the printed precision, at least ``tolerance``)."""
    printed = parse_printed(paper)
    if printed is None:
        return None
    digits = len(paper.split(".")[1]) if "." in paper and "/" not in paper else None
    allowed = max(tolerance, 0.5 * 10.0 ** (-digits)) if digits else 1e-12
    return abs(value - printed) <= allowed * max(1.0, abs(printed))


@dataclass
class FigureGroup:
    """A registered function computing related figures (and, optionally, their plots)."""

    name: str
    compute: Callable[[bool], list[Figure]]
    plots: list[Plotter] = field(default_factory=list)
    ids: tuple[str, ...] = ()


GROUPS: dict[str, FigureGroup] = {}
"""Every figure group by name, in registration order."""


def figure_group(name: str, ids: tuple[str, ...] = ()) -> Callable[[Callable[[bool], list[Figure]]], Any]:
    """Register ``compute(quick) -> list[Figure]`` under ``name`` (``ids``: the figure ids it produces)."""

    def wrap(function: Callable[[bool], list[Figure]]) -> Callable[[bool], list[Figure]]:
        GROUPS[name] = FigureGroup(name, function, [], ids)
        return function

    return wrap


def group_plot(name: str) -> Callable[[Plotter], Plotter]:
    """Register ``plot(directory) -> file name`` as a plot of group ``name`` (registered first)."""

    def wrap(function: Plotter) -> Plotter:
        GROUPS[name].plots.append(function)
        return function

    return wrap
