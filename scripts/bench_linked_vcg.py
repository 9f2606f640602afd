"""Timing of the exact linked VCG minimisation (linkmech.mechanisms.linked_vcg) against SciPy's SLSQP.

Usage: python scripts/bench_linked_vcg.py [--sizes 10 100 1000] [--repeats 1]

Instances: N = T, leave_one_out Omega* whose radius is 1.05 x the largest leave-one-out deviation of the
drawn endowments (so every report lies inside), resource q-bar = N. "iid": omega ~ U(0.5, 1.5); "shocks":
omega_t^n = s_t u_t^n with a common date shock s_t ~ U(0.5, 1.5) (others' totals W_t vary by +-50%). The SciPy
column runs SLSQP (from the agent's own report, exact gradients and linear constraints) for ONE agent at
N = T = 100 and multiplies by N; it is a local method, exact only in the convex case.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from linkmech.evaluation.bench import slsqp_one_agent_seconds, vcg_instance
from linkmech.mechanisms.allocation import EXPONENTIAL, LOG, FloatArray, ProjectType
from linkmech.mechanisms.linked_vcg import convexity_holds, linked_vcg_transfers
from linkmech.mechanisms.omega_star import OmegaStar


def instance(size: int, shocks: bool, seed: int = 0) -> tuple[FloatArray, OmegaStar]:
    return vcg_instance(size, seed, shocks)


def slsqp_one_agent(
    endowments: FloatArray, om: OmegaStar, project: ProjectType, q: float, beta: float
) -> float:
    return slsqp_one_agent_seconds(endowments, om, project, q, beta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"{'N = T':>6} {'project':>10} {'dates':>7} {'beta':>5} {'convex':>7} {'seconds':>8}")
    for size in args.sizes:
        for project in (LOG, EXPONENTIAL):
            for shocks in (False, True):
                for beta in (1.0, 0.99):
                    endowments, om = instance(size, shocks)
                    q = float(size)
                    best = np.inf
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        linked_vcg_transfers(endowments, q, project, om, beta)
                        best = min(best, time.perf_counter() - start)
                    convex = float(np.mean(convexity_holds(endowments, q, project, om)))
                    label = "shocks" if shocks else "iid"
                    print(f"{size:>6} {project.name:>10} {label:>7} {beta:>5} {convex:>7.2f} {best:>8.3f}")
    size = 100
    for project in (LOG, EXPONENTIAL):
        endowments, om = instance(size, True)
        one = slsqp_one_agent(endowments, om, project, float(size), 1.0)
        print(
            f"SciPy SLSQP, N = T = {size}, {project.name}: {one:.3f} s for one agent, x N = {one * size:.1f} s "
            "(one local start; the exact method above handles all N agents at once)"
        )


if __name__ == "__main__":
    main()
