"""Where the time goes and how it scales as B, K, n, N grow (issue 8).

Usage: python scripts/bench_scaling.py [--quick] [--json PATH] [--markdown PATH]

Sections (see linkmech.evaluation.scaling): the batched linking engine over B x K (linked voting) and B x n
(linked public goods); a cProfile of the single PettingZoo env's loop split into buckets; the batched resource
allocation over B x N = T (linked and unlinked); linked VCG transfers alone over N = T. The markdown adds the
batched gain per step in B and the fitted log-log exponents. The full run takes about two minutes.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from linkmech.evaluation.scaling import exponents, run_scaling, saturation, scaling_markdown


def main() -> None:
    """Run every section (one progress line per row), print the markdown, write JSON and markdown if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grids, short measurements")
    parser.add_argument("--json", type=Path, help="write {'results': {section: rows}, ...} here")
    parser.add_argument("--markdown", type=Path, help="write one table per section and the exponents here")
    args = parser.parse_args()

    start = time.perf_counter()
    results = run_scaling(quick=args.quick, progress=lambda line: print(line, flush=True))
    elapsed = time.perf_counter() - start
    markdown = scaling_markdown(results)
    print()
    print(markdown)
    print(f"({elapsed:.1f} s in all)")
    if args.json is not None:
        payload = {
            "results": results,
            "saturation": saturation(results),
            "exponents": exponents(results),
            "quick": args.quick,
            "machine": platform.platform(),
            "python": platform.python_version(),
            "seconds": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    if args.markdown is not None:
        args.markdown.write_text(markdown)


if __name__ == "__main__":
    main()
