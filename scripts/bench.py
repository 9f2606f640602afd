"""The issue-8 benchmarks as a script: the same measurements and output as ``linkmech bench``.

Usage: python scripts/bench.py [--json docs/bench.json] [--quick]

Every number is measured in one run (see linkmech/evaluation/bench.py for what each id measures); the table
ends with the target ratios. The related studies: scripts/bench_linked_vcg.py (linked VCG against SciPy by
N), scripts/bench_scaling.py (what scales how as B, K, n, N grow) and scripts/bench_policing.py (the cost of
collusion policing per date as n and the coalition bound grow).
"""

from __future__ import annotations

import argparse

from linkmech.cli import run_bench_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help='write {"results": [{"id", "value", "unit"}]} here')
    parser.add_argument("--quick", action="store_true", help="short measurements, no N = 1000 (noisy)")
    args = parser.parse_args()
    print(run_bench_command(args.json, args.quick))


if __name__ == "__main__":
    main()
