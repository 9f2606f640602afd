"""``linkmech tournament``: build the config from flags and/or a file, check it, run it, summarise it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from linkmech.evaluation.tournament_setup import (
    DEFAULT_ENVS,
    DEFAULT_STRATEGIES,
    check_playable,
    check_strategy_names,
    env_entries,
    load_config_file,
)

DEFAULTS = {"seating": "round_robin", "repetitions": 3, "episodes": 6, "seed": 0, "population_matches": 10}
"""Defaults of the tournament settings (the main job's)."""


def tournament_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings of the run: defaults, then the config file, then the flags given."""
    settings: dict[str, Any] = {
        **DEFAULTS,
        "envs": list(DEFAULT_ENVS),
        "strategies": list(DEFAULT_STRATEGIES),
    }
    if args.config:
        settings.update(load_config_file(args.config))
    flags = {
        "envs": args.env,
        "strategies": args.strategy,
        "seating": args.seating,
        "repetitions": args.repetitions,
        "episodes": args.episodes,
        "seed": args.seed,
        "population_matches": args.population_matches,
    }
    settings.update({key: value for key, value in flags.items() if value is not None})
    return settings


def build_config(settings: dict[str, Any]) -> Any:
    """A checked :class:`~linkmech.evaluation.tournament.TournamentConfig` (names, options, playability)."""
    from linkmech.evaluation.tournament import TournamentConfig

    entries = env_entries(settings["envs"])
    strategies = [str(s) for s in settings["strategies"]]
    check_strategy_names(strategies)
    check_playable(entries, strategies)
    return TournamentConfig(
        envs=tuple((name, tuple(sorted(options.items()))) for name, options in entries),
        strategies=tuple(strategies),
        seating=str(settings["seating"]),
        repetitions=int(settings["repetitions"]),
        episodes=int(settings["episodes"]),
        seed=int(settings["seed"]),
        population_matches=int(settings["population_matches"]),
    )


def run_tournament_command(args: argparse.Namespace) -> str:
    """Run the tournament and return the report: summary tables, ranking and the files written."""
    from linkmech.evaluation import results
    from linkmech.evaluation.tournament import run_tournament, schedule

    config = build_config(tournament_settings(args))
    out = Path(args.out)
    start = time.perf_counter()
    rows = run_tournament(config, out, workers=args.workers, backend=args.backend, progress=not args.quiet)
    seconds = time.perf_counter() - start
    frame = results.results_frame(rows)
    saved = results.save_results(frame, out)
    lines = [
        f"{len(schedule(config))} matches ({config.seating}, {config.repetitions} repetitions, "
        f"{config.episodes} episodes each) of {len(config.strategies)} strategies in {len(config.envs)} "
        f"environments, seed {config.seed}: {seconds:.1f} s with {args.workers} {args.backend} workers",
        "",
        "Per strategy (all environments):",
        results.format_summary(results.summary_table(frame, by=("strategy",))),
        "",
        "Per environment:",
        results.format_summary(results.summary_table(frame, by=("env", "strategy"))),
        "",
        "Elo ranking (pairwise utility within matches):",
        results.format_summary(results.elo_ratings(frame)),
        "",
        f"results: {saved}",
    ]
    if not args.no_plots:
        try:
            paths = results.write_plots(frame, out)
            lines.append("plots: " + ", ".join(str(p) for p in paths))
        except ImportError as error:
            lines.append(f"plots skipped: {error}")
    return "\n".join(lines)
