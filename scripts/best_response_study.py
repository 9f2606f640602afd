"""Exploitability of approximate truth over time: exact best-response gains per problem as K grows.

For each K: the value per problem of approximate truth in seat 0 (the others approximately truthful too),
of the exact best response, their difference (the gain), and the history-free best response's gain (a lower
bound), with the peak number of DP states per date and the seconds each method took. Usage::

    python scripts/best_response_study.py --env voting --ks 2 4 8 16 32
    python scripts/best_response_study.py --env public_goods --ks 3 6 12 24 48 96
    python scripts/best_response_study.py --env voting --ks 64 128 --methods history_free
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import linkmech
from linkmech.training.best_response import (
    BestResponseResult,
    exact_best_response,
    history_free_best_response,
)

ENVS = {"voting": "linked_voting_v0", "public_goods": "linked_public_goods_v0"}
SOLVERS = {"exact": exact_best_response, "history_free": history_free_best_response}


def timed(method: str, env: Any, lies: str) -> tuple[BestResponseResult, float]:
    start = time.perf_counter()
    result = SOLVERS[method](env, 0, f"approximately_truthful:lies={lies}", keep_policy=False)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(ENVS), default="voting")
    parser.add_argument("--ks", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    parser.add_argument("--methods", nargs="+", choices=sorted(SOLVERS), default=["exact", "history_free"])
    parser.add_argument("--lies", choices=["random", "myopic"], default="random")
    args = parser.parse_args()
    print(f"{args.env}, seat 0 deviates, every other seat approximately truthful (lies={args.lies})")
    print("| K | approx. truth / K | method | best response / K | gain / K | peak states | seconds |")
    print("|---|---|---|---|---|---|---|")
    for k in args.ks:
        env = linkmech.make(ENVS[args.env], num_problems=k)
        for method in args.methods:
            result, seconds = timed(method, env, args.lies)
            print(
                f"| {k} | {result.replaced_per_problem:.5f} | {method} | {result.best_per_problem:.5f} | "
                f"{result.gain_per_problem:.5f} | {max(result.states_per_date)} | {seconds:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
