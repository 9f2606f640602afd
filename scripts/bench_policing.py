"""Policing at scale: measured cost of the collusion test per date (over time) and per episode (all at once).

Usage: python scripts/bench_policing.py [--quick] [--json PATH] [--markdown PATH]

Grid: n in {3, 4, 5, 7, 10} agents of the public-goods problem (two budget classes each), coalitions up to
size {1, 2, 3} (at most n - 1), K in {100, 1000, 10000}, batch B in {1, 64}; approximately truthful
announcements. See linkmech.evaluation.policing_bench for what is timed; docs/policing-bench.md for a run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from linkmech.evaluation.policing_bench import (
    Row,
    late_window_check,
    markdown_table,
    run_grid,
    scaling_summary,
)


def progress_line(row: Row) -> None:
    """Print one measured row."""
    print(
        f"n={row['num_agents']:2d} s={row['max_coalition_size']} K={row['num_problems']:5d} "
        f"B={row['batch_size']:2d} cells={row['cells']:6d}  over time {row['over_time_seconds_per_batch_date']:.3g} "
        f"s/batch-date ({row['over_time_seconds_per_episode_date']:.3g} s/episode-date)  all at once "
        f"{row['all_at_once_seconds_per_episode']:.3g} s/episode",
        flush=True,
    )


def main() -> None:
    """Run the grid, print the table and the scaling summary, write JSON and markdown if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid, short measurements")
    parser.add_argument("--json", type=Path, help="write {'results': rows, ...} here")
    parser.add_argument("--markdown", type=Path, help="write the table and summary here")
    args = parser.parse_args()

    start = time.perf_counter()
    rows = run_grid(quick=args.quick, progress=progress_line)
    late = late_window_check(num_problems=1000 if args.quick else 10000)
    elapsed = time.perf_counter() - start
    table = markdown_table(rows)
    summary = scaling_summary(rows)
    late_line = (
        f"Late dates: n={late['num_agents']}, max size {late['max_coalition_size']}, K={late['num_problems']}, "
        f"B=1: {late['early_seconds_per_date']:.3g} s per date from date 2, "
        f"{late['late_seconds_per_date']:.3g} s per date from date {late['late_first_date']}"
    )
    print()
    print(table)
    print("\n".join(summary))
    print(late_line)
    print(f"({elapsed:.1f} s in all)")
    if args.json is not None:
        payload = {
            "results": rows,
            "late_window": late,
            "scaling": summary,
            "machine": platform.platform(),
            "python": platform.python_version(),
            "seconds": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    if args.markdown is not None:
        lines = ["```text", *summary, late_line, "```", ""]
        args.markdown.write_text(table + "\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
