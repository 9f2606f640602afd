"""Tournament results: a table of match rows, their summaries, payoff matrices, plots and ratings.

The rows are those of :func:`linkmech.evaluation.match.play_match` (one per match and seat, columns
:data:`~linkmech.evaluation.match.ROW_FIELDS`). :func:`results_frame` turns them into a typed
:class:`pandas.DataFrame`; :func:`save_results` / :func:`load_results` store it (Parquet when pyarrow is
importable, else CSV); :func:`summary_table` aggregates it per strategy (or per environment and strategy);
:func:`payoff_matrix` gives the meta-game payoff table of one environment; :func:`write_plots` draws the
figures (matplotlib, the ``[plots]`` extra); :func:`elo_ratings` ranks strategies from their pairwise results
within matches.

A match is identified by ``(env, match_id, seed)`` (:data:`MATCH_KEY`), so frames of several tournaments can be
concatenated without merging their matches (unless they share all three).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from linkmech.evaluation.match import ROW_FIELDS

Frame = Any
"""A :class:`pandas.DataFrame` (pandas' types are too loose to check usefully here)."""

MATCH_KEY = ("env", "match_id", "seed")
"""The columns that identify one match."""

INTEGER_FIELDS = ("match_id", "num_problems", "repetition", "seed", "episodes")
TEXT_FIELDS = ("env", "env_options", "seat", "strategy", "profile")
FLOAT_FIELDS = tuple(name for name in ROW_FIELDS if name not in INTEGER_FIELDS + TEXT_FIELDS)

Z_95 = 1.96
"""Normal quantile of the 95% intervals."""

PLOTS_HINT = 'plots need matplotlib: pip install -e ".[plots]"'

SUMMARY_COLUMNS = (
    "matches",
    "seats",
    "utility",
    "utility_ci95",
    "target_utility",
    "target_share",
    "efficiency",
    "error_rate",
    "lie_fraction",
    "flags_per_match",
    "cost_over_surplus",
)
"""The measured columns of :func:`summary_table` (after the grouping columns)."""


# --------------------------------------------------------------------------------------------- the table


def results_frame(rows: Iterable[dict[str, Any]]) -> Frame:
    """One row per match and seat, the columns :data:`ROW_FIELDS` in order, with their dtypes set.

    Integer columns are int64, measurements float64 (NaN where absent), text columns pandas' string type.
    """
    records = list(rows)
    frame = pd.DataFrame(records) if records else pd.DataFrame(columns=list(ROW_FIELDS))
    return _set_dtypes(frame)


def _set_dtypes(frame: Frame) -> Frame:
    """``frame`` restricted to :data:`ROW_FIELDS`, in order, with their dtypes."""
    missing = [name for name in ROW_FIELDS if name not in frame.columns]
    if missing:
        raise ValueError(f"results are missing the columns {missing}; expected {list(ROW_FIELDS)}")
    frame = frame.loc[:, list(ROW_FIELDS)].copy()
    for name in INTEGER_FIELDS:
        frame[name] = frame[name].astype("int64")
    for name in FLOAT_FIELDS:
        frame[name] = frame[name].astype("float64")
    for name in TEXT_FIELDS:
        frame[name] = frame[name].astype(str)
    return frame.reset_index(drop=True)


def parquet_available() -> bool:
    """Whether pyarrow is importable (then results are saved as Parquet)."""
    return importlib.util.find_spec("pyarrow") is not None


def save_results(frame: Frame, directory: str | Path, format: str = "auto") -> Path:
    """Write ``frame`` to ``directory`` and return the file written.

    ``format``: ``"parquet"`` (``results.parquet``, needs pyarrow), ``"csv"`` (``results.csv``) or ``"auto"``
    (Parquet when pyarrow is importable, else CSV). The returned path's suffix says which was written.
    """
    chosen = _storage_format(format)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frame = _set_dtypes(frame)
    if chosen == "parquet":
        path = directory / "results.parquet"
        frame.to_parquet(path, index=False)
    else:
        path = directory / "results.csv"
        frame.to_csv(path, index=False)
    return path


def _storage_format(format: str) -> str:
    if format == "auto":
        return "parquet" if parquet_available() else "csv"
    if format not in ("parquet", "csv"):
        raise ValueError(f"format {format!r}; expected 'auto', 'parquet' or 'csv'")
    if format == "parquet" and not parquet_available():
        raise ImportError("saving Parquet needs pyarrow (pip install pyarrow), or use format='csv'")
    return format


_EXACT_FLOATS: dict[str, Any] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
)
"""pandas >= 3 parses CSV floats exactly by default (and deprecates ``float_precision``)."""


def load_results(directory: str | Path) -> Frame:
    """Read what :func:`save_results` wrote.

    ``directory``: a directory (its ``results.parquet``, else its ``results.csv``) or the file itself.
    """
    path = Path(directory)
    if path.is_dir():
        parquet, csv = path / "results.parquet", path / "results.csv"
        if parquet.exists():
            path = parquet
        elif csv.exists():
            path = csv
        else:
            raise FileNotFoundError(f"no results.parquet or results.csv in {path}")
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(
            path,
            **_EXACT_FLOATS,
            dtype=dict.fromkeys(TEXT_FIELDS, str),
            keep_default_na=False,
            na_values={name: ["", "NaN", "nan"] for name in FLOAT_FIELDS},
        )
    return _set_dtypes(frame)


# ----------------------------------------------------------------------------------------------- summary


def half_width_95(values: Any) -> float:
    """Half-width of the normal 95% interval of the mean of ``values`` (NaN ignored).

    1.96 sd / sqrt(n) with the sample sd (n - 1); 0 for a single value, NaN for none.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan
    if values.size == 1:
        return 0.0
    return float(Z_95 * values.std(ddof=1) / math.sqrt(values.size))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator != 0 else math.nan


def _match_count(group: Frame) -> int:
    return int(group.loc[:, list(MATCH_KEY)].drop_duplicates().shape[0])


def _group_summary(group: Frame) -> dict[str, float]:
    """The measured columns of one group (see :func:`summary_table`)."""
    matches = _match_count(group)
    utility = float(group["utility_per_problem"].mean())
    target = float(group["target_utility_per_problem"].mean())
    welfare = float(group["welfare_per_problem"].mean())
    first_best = float(group["first_best_welfare_per_problem"].mean())
    return {
        "matches": matches,
        "seats": len(group),
        "utility": utility,
        "utility_ci95": half_width_95(group["utility_per_problem"]),
        "target_utility": target,
        "target_share": _ratio(utility, target),
        "efficiency": _ratio(welfare, first_best),
        "error_rate": float(group["error_rate"].mean(skipna=True)),
        "lie_fraction": float(group["lie_fraction"].mean(skipna=True)),
        "flags_per_match": _ratio(float(group["flags"].sum()), matches),
        "cost_over_surplus": float(group["cost_over_surplus"].mean(skipna=True)),
    }


def summary_table(frame: Frame, by: Sequence[str] = ("strategy",)) -> Frame:
    """Aggregate match rows per group of ``by`` (``("strategy",)``, or ``("env", "strategy")`` per environment).

    One row per group, the ``by`` columns then :data:`SUMMARY_COLUMNS`, sorted by mean utility, descending:

    - ``matches``: distinct matches (:data:`MATCH_KEY`) in which the group played a seat; ``seats``: its rows;
    - ``utility``: mean ``utility_per_problem`` over the group's match-seat rows; ``utility_ci95``: half-width
      of its normal 95% interval, 1.96 sd / sqrt(n) (0 for one row);
    - ``target_utility``: mean ``target_utility_per_problem``; ``target_share``: utility / target utility (the
      share of what the target f would give the same seats at their true types: the first-best share);
    - ``efficiency``: mean ``welfare_per_problem`` / mean ``first_best_welfare_per_problem`` over the group's
      rows: a match's (seat-independent) welfare counts once per seat the group holds in it;
    - ``error_rate``, ``lie_fraction``, ``cost_over_surplus``: means ignoring NaN (NaN where every row is
      NaN: error rates exist only with a target f, cost / surplus only in the statistical mechanism);
    - ``flags_per_match``: policing flags on the group's seats, summed, per match.
    """
    by = list(by)
    if frame.empty:
        return pd.DataFrame(columns=by + list(SUMMARY_COLUMNS))
    records = []
    for keys, group in frame.groupby(by, sort=True):
        record = dict(zip(by, keys if isinstance(keys, tuple) else (keys,)))
        record.update(_group_summary(group))
        records.append(record)
    table = pd.DataFrame(records, columns=by + list(SUMMARY_COLUMNS))
    table = table.sort_values("utility", ascending=False, kind="mergesort")
    return table.reset_index(drop=True)


_LABELS = {
    "matches": "matches",
    "seats": "seats",
    "utility": "utility/problem",
    "utility_ci95": "+-95%",
    "target_utility": "target",
    "target_share": "share of target",
    "efficiency": "efficiency",
    "error_rate": "error rate",
    "lie_fraction": "lies",
    "flags_per_match": "flags/match",
    "cost_over_surplus": "cost/surplus",
}


def _cell(value: Any) -> str:
    """One summary cell as text: integers plain, reals with 4 decimals (signed for utilities), NaN as '-'."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _text_rows(table: Frame) -> tuple[list[str], list[list[str]]]:
    header = [_LABELS.get(name, name) for name in table.columns]
    rows = [[_cell(value) for value in record] for record in table.itertuples(index=False)]
    return header, rows


def format_summary(table: Frame) -> str:
    """``table`` (from :func:`summary_table`) as a fixed-width text table for the terminal."""
    header, rows = _text_rows(table)
    text_columns = {i for i, name in enumerate(table.columns) if name not in SUMMARY_COLUMNS}
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            cell.ljust(width) if i in text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * width for width in widths]), *map(line, rows)])


def markdown_summary(table: Frame) -> str:
    """``table`` (from :func:`summary_table`) as a Markdown table."""
    header, rows = _text_rows(table)
    text_columns = {i for i, name in enumerate(table.columns) if name not in SUMMARY_COLUMNS}
    align = ["---" if i in text_columns else "---:" for i in range(len(header))]
    lines = [header, align, *[[cell.replace("|", "\\|") for cell in row] for row in rows]]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


# ------------------------------------------------------------------------------------------ payoff matrix

OPPONENT_SEPARATOR = " + "
"""Joins the sorted strategies of the other seats into the opponents' label of :func:`payoff_matrix`."""


def opponents_column(frame: Frame) -> Any:
    """For every row, the strategies of the other seats of its match.

    Sorted and joined with :data:`OPPONENT_SEPARATOR`; for two seats: the opponent's strategy.
    """
    labels = pd.Series("", index=frame.index, dtype=object)
    for _, match in frame.groupby(list(MATCH_KEY), sort=False):
        strategies = list(match["strategy"])
        for position, index in enumerate(match.index):
            others = strategies[:position] + strategies[position + 1 :]
            labels[index] = OPPONENT_SEPARATOR.join(sorted(others))
    return labels


def payoff_matrix(frame: Frame, env: str) -> Frame:
    """Mean ``utility_per_problem`` of the row strategy (index) against the opponents (columns) in ``env``.

    The opponents of a seat are the other seats' strategies: for two seats the opponent's strategy, for n
    seats their multiset as a sorted joined string (:func:`opponents_column`). Every row of ``env`` counts,
    whatever its options (filter ``frame`` first to separate, e.g., values of K). Pairs never played are
    NaN.
    """
    rows = frame[frame["env"] == env]
    if rows.empty:
        raise ValueError(f"no results for env {env!r}; envs here: {sorted(frame['env'].unique())}")
    rows = rows.assign(opponents=opponents_column(rows))
    matrix = rows.pivot_table(
        index="strategy", columns="opponents", values="utility_per_problem", aggfunc="mean", sort=True
    )
    matrix.index.name, matrix.columns.name = "strategy", "opponents"
    return matrix


# ------------------------------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    """Matplotlib's pyplot on the Agg backend, or an ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(PLOTS_HINT) from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _short_env(env: str) -> str:
    return env.split("/")[-1]


def _save(figure: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    _pyplot().close(figure)
    return path


def plot_utility_distributions(frame: Frame, path: str | Path) -> Path:
    """Box plots of ``utility_per_problem`` per strategy (means marked), one panel per env; returns ``path``."""
    plt = _pyplot()
    envs = sorted(frame["env"].unique())
    figure, axes = plt.subplots(len(envs), 1, figsize=(8, 3.2 * len(envs)), squeeze=False)
    for ax, env in zip(axes[:, 0], envs):
        rows = frame[frame["env"] == env]
        strategies = sorted(rows["strategy"].unique())
        data = [rows.loc[rows["strategy"] == name, "utility_per_problem"].to_numpy() for name in strategies]
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(strategies) + 1), strategies, rotation=20, ha="right", fontsize=8)
        ax.set_title(_short_env(env))
        ax.set_ylabel("utility per problem")
    return _save(figure, path)


def plot_payoff_heatmap(frame: Frame, env: str, path: str | Path) -> Path:
    """Heat map of :func:`payoff_matrix` for ``env`` with the value in every cell; returns ``path``."""
    plt = _pyplot()
    matrix = payoff_matrix(frame, env)
    values = matrix.to_numpy(dtype=np.float64)
    figure, ax = plt.subplots(figsize=(2.0 + 1.3 * values.shape[1], 1.5 + 0.6 * values.shape[0]))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto")
    figure.colorbar(image, ax=ax, label="utility per problem")
    ax.set_xticks(range(values.shape[1]), list(matrix.columns), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(values.shape[0]), list(matrix.index), fontsize=8)
    ax.set_xlabel("opponents")
    ax.set_ylabel("strategy")
    ax.set_title(f"{_short_env(env)}: row strategy's utility per problem")
    finite = values[np.isfinite(values)]
    middle = float(finite.mean()) if finite.size else 0.0
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            colour = "black" if value > middle else "white"
            ax.text(j, i, f"{value:+.3f}", ha="center", va="center", color=colour, fontsize=8)
    return _save(figure, path)


def efficiency_by_k(frame: Frame) -> Frame:
    """Efficiency per env, strategy and number of problems K: the data of :func:`plot_efficiency_vs_k`.

    Mean welfare / mean first-best welfare over the rows, as in :func:`summary_table`.
    """
    by = ["env", "strategy", "num_problems"]
    sums = frame.groupby(by, sort=True)[["welfare_per_problem", "first_best_welfare_per_problem"]].mean()
    efficiency = sums["welfare_per_problem"] / sums["first_best_welfare_per_problem"].replace(0.0, np.nan)
    return efficiency.rename("efficiency").reset_index()


def plot_efficiency_vs_k(frame: Frame, path: str | Path) -> Path:
    """Efficiency against the number of problems K; returns ``path``.

    One panel per env, one line per strategy (over the matches in which it held a seat); K on a log2 axis
    when it varies.
    """
    plt = _pyplot()
    data = efficiency_by_k(frame)
    envs = sorted(data["env"].unique())
    figure, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 3.8), squeeze=False)
    for ax, env in zip(axes[0], envs):
        rows = data[data["env"] == env]
        for strategy, line in rows.groupby("strategy", sort=True):
            ax.plot(line["num_problems"], line["efficiency"], marker="o", label=strategy)
        values = sorted(int(k) for k in rows["num_problems"].unique())
        if len(values) > 1:
            ax.set_xscale("log", base=2)
        ax.set_xticks(values, [str(k) for k in values])
        ax.set_title(_short_env(env))
        ax.set_xlabel("K (problems)")
        ax.set_ylabel("efficiency (welfare / first best)")
        ax.legend(fontsize=7)
    return _save(figure, path)


def _file_name(env: str) -> str:
    return "".join(char if char.isalnum() else "_" for char in _short_env(env)).strip("_")


def write_plots(frame: Frame, directory: str | Path) -> list[Path]:
    """Write every plot of ``frame`` into ``directory`` and return the paths written.

    ``utility_distributions.png``, ``payoff_<env>.png`` for each env, and ``efficiency_vs_k.png``.
    """
    _pyplot()
    directory = Path(directory)
    if frame.empty:
        return []
    paths = [plot_utility_distributions(frame, directory / "utility_distributions.png")]
    for env in sorted(frame["env"].unique()):
        paths.append(plot_payoff_heatmap(frame, env, directory / f"payoff_{_file_name(env)}.png"))
    paths.append(plot_efficiency_vs_k(frame, directory / "efficiency_vs_k.png"))
    return paths


# ----------------------------------------------------------------------------------------------- ranking

ELO_START = 1500.0
"""Every strategy's rating before the first comparison."""


def pairwise_comparisons(frame: Frame, measure: str = "utility_per_problem") -> list[tuple[str, str, float]]:
    """The games of :func:`elo_ratings`: ``(strategy a, strategy b, score of a)``.

    One for every pair of seats with different strategies in every match: score 1 when a's ``measure`` is
    larger, 0.5 on a tie, 0 when smaller. Fixed order: matches by :data:`MATCH_KEY`, seats by name.
    """
    ordered = frame.sort_values(list(MATCH_KEY) + ["seat"], kind="mergesort")
    comparisons = []
    for _, match in ordered.groupby(list(MATCH_KEY), sort=True):
        seats = list(zip(match["strategy"], match[measure]))
        for i, (first, first_value) in enumerate(seats):
            for second, second_value in seats[i + 1 :]:
                if first != second:
                    score = 1.0 if first_value > second_value else 0.0 if first_value < second_value else 0.5
                    comparisons.append((first, second, score))
    return comparisons


def elo_ratings(
    frame: Frame, k_factor: float = 16.0, rounds: int = 10, measure: str = "utility_per_problem"
) -> Frame:
    """Elo ratings of the strategies from their pairwise comparisons within matches.

    Every pair of seats with different strategies in a match is a game (:func:`pairwise_comparisons`): the
    seat with the larger ``measure`` (utility per problem) wins. Starting from :data:`ELO_START`, the games are
    replayed ``rounds`` times in a fixed order with the usual update ``r_a += k (s_a - E_a)``,
    ``E_a = 1 / (1 + 10 ** ((r_b - r_a) / 400))``, so the result is deterministic and, with several rounds,
    depends little on the order. A difference of 400 points means the higher strategy is expected to get
    about 10 times the lower's score head to head. Elo assumes a transitive strength: with cycles
    (rock-paper-scissors) use the payoff matrix. In envs with asymmetric seats (bargaining's seller and
    buyer) a comparison also reflects the seat: play every strategy in every seat.

    Returns one row per strategy (``strategy``, ``rating``, ``games``, ``score``: mean score per game),
    highest rating first.
    """
    comparisons = pairwise_comparisons(frame, measure)
    strategies = sorted(frame["strategy"].unique())
    ratings = dict.fromkeys(strategies, ELO_START)
    for _ in range(rounds):
        for first, second, score in comparisons:
            expected = 1.0 / (1.0 + 10.0 ** ((ratings[second] - ratings[first]) / 400.0))
            ratings[first] += k_factor * (score - expected)
            ratings[second] -= k_factor * (score - expected)
    games = dict.fromkeys(strategies, 0)
    points = dict.fromkeys(strategies, 0.0)
    for first, second, score in comparisons:
        games[first] += 1
        games[second] += 1
        points[first] += score
        points[second] += 1.0 - score
    table = pd.DataFrame(
        {
            "strategy": strategies,
            "rating": [ratings[name] for name in strategies],
            "games": [games[name] for name in strategies],
            "score": [_ratio(points[name], games[name]) for name in strategies],
        }
    )
    return table.sort_values("rating", ascending=False, kind="mergesort").reset_index(drop=True)
