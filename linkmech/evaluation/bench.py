"""``linkmech bench``: throughput of the environments, the batched engine, linked VCG and tournaments.

Every number is measured in the same run on the same machine, so the ratios between them mean something:

- ``voting.pettingzoo_loop``: agent decisions per second of the PettingZoo parallel loop of linked voting
  (K = 100, 2 agents, uniformly random allowed announcements drawn from one generator);
- ``voting.batched_{1,64,4096}``: the same in :class:`linkmech.envs.batched.BatchedLinkingEnv` with B episodes
  (actions drawn for all episodes at once: random scores arg-maxed over the mask);
- ``rps.pettingzoo_loop``: PettingZoo's own rock-paper-scissors (``pettingzoo.classic.rps_v2``) in the same
  loop: the yardstick of PettingZoo's API overhead per agent step;
- ``zhu.linked_vcg_n{100,1000}_seconds``: all N linked VCG transfers for N = T (leave-one-out Omega* just wide
  enough for the drawn endowments, q-bar = N, 1 - exp(-y)); ``zhu.generic_solver_n100_seconds``: SciPy's
  SLSQP for one agent at N = T = 100, times N (a local method; it is exact only in the convex case);
- ``allocation.pettingzoo_loop`` and ``allocation.batched_256``: reports per second of Zhu's resource
  allocation (linked VCG, N = T = 10, truthful reports) in the PettingZoo loop and in
  :class:`linkmech.envs.batched_allocation.BatchedAllocationEnv` with 256 episodes (transfers included);
- ``zhu.*_n10_*``: the same linked-VCG-against-SLSQP comparison at N = T = 10;
- ``training.ppo_{copies,batched}``: learner steps per second of ``linkmech train``'s PPO (collection and
  updates) on lockstep copies of the PettingZoo env and on the batched engine (the default);
- ``tournament.workers_{1,2}``: matches per second of a 768-match voting tournament in 1 and 2 processes.
Time goes by ``time.perf_counter``; each measurement runs for at least ``seconds`` (or its fixed work).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Result = dict[str, Any]


def _rate(work: Callable[[], int], seconds: float) -> float:
    """Units of work per second: ``work()`` returns units done; repeated until ``seconds`` have passed."""
    done, start = 0, time.perf_counter()
    while True:
        done += work()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def pettingzoo_loop_rate(env: Any, seconds: float, seed: int = 0) -> float:
    """Agent decisions per second of a parallel env with random allowed actions."""
    rng = np.random.default_rng(seed)

    def episode() -> int:
        observations, _ = env.reset(seed=int(rng.integers(2**31)))
        decisions = 0
        while env.agents:
            actions = {}
            for agent in env.agents:
                observation = observations[agent]
                if isinstance(observation, dict) and "action_mask" in observation:
                    allowed = np.flatnonzero(observation["action_mask"])
                    actions[agent] = int(allowed[rng.integers(len(allowed))])
                else:
                    actions[agent] = int(rng.integers(env.action_space(agent).n))
            observations, _, _, _, _ = env.step(actions)
            decisions += len(actions)
        return decisions

    return _rate(episode, seconds)


def random_allowed_actions(
    masks: Mapping[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One uniformly random allowed action per episode and agent: random scores arg-maxed over each mask."""
    return {agent: np.argmax(rng.random(mask.shape) * mask, axis=1) for agent, mask in masks.items()}


def batched_rate(num_envs: int, seconds: float, num_problems: int = 100, seed: int = 0) -> float:
    """Agent decisions per second of the batched engine on linked voting with random allowed actions."""
    from linkmech.envs.batched import BatchedLinkingEnv

    batched = BatchedLinkingEnv("linked_voting_v0", num_envs, num_problems=num_problems)
    rng = np.random.default_rng(seed)

    def episode() -> int:
        _, masks = batched.reset(int(rng.integers(2**31)))
        done, decisions = False, 0
        while not done:
            _, masks, _, done = batched.step(random_allowed_actions(masks, rng))
            decisions += num_envs * len(masks)
        return decisions

    return _rate(episode, seconds)


def allocation_loop_rate(seconds: float, size: int = 10, seed: int = 0) -> float:
    """Agent reports per second of the resource allocation env's PettingZoo loop (N = T = ``size``, truthful)."""
    from linkmech import envs

    env = envs.make("resource_allocation_v0", num_agents=size, num_dates=size)
    rng = np.random.default_rng(seed)
    endowment = env.observation_fields("agent_0")[1][1]

    def episode() -> int:
        observations, _ = env.reset(seed=int(rng.integers(2**31)))
        decisions = 0
        while env.agents:
            reports = {a: observations[a][endowment] for a in env.agents}
            observations, _, _, _, _ = env.step(reports)
            decisions += len(reports)
        return decisions

    return _rate(episode, seconds)


def allocation_batched_rate(num_envs: int, seconds: float, size: int = 10, seed: int = 0) -> float:
    """The same in :class:`~linkmech.envs.batched_allocation.BatchedAllocationEnv` with B episodes."""
    from linkmech.envs.batched_allocation import BatchedAllocationEnv

    batched = BatchedAllocationEnv("resource_allocation_v0", num_envs, num_agents=size, num_dates=size)
    rng = np.random.default_rng(seed)
    endowment = batched.observation_fields("agent_0")[1][1]

    def episode() -> int:
        obs, _ = batched.reset(int(rng.integers(2**31)))
        done, decisions = False, 0
        while not done:
            reports = np.stack([obs[a][:, endowment][:, 0] for a in batched.possible_agents], axis=1)
            obs, _, _, done = batched.step(reports.astype(np.float64))
            decisions += reports.size
        return decisions

    return _rate(episode, seconds)


def ppo_rate(vector: str, updates: int = 3, seed: int = 0) -> float:
    """Learner steps per second of ``linkmech train``'s PPO (linked voting, K = 20, defaults) on ``vector``.

    Collection and updates together, ``updates`` x 32 episodes x 40 steps; ``vector`` is ``"batched"`` (the
    batched engine) or ``"copies"`` (lockstep copies of the PettingZoo env).
    """
    from linkmech.training.config import TrainConfig
    from linkmech.training.ppo import train

    config = TrainConfig(total_steps=updates * TrainConfig().batch_size, vector=vector, seed=seed)
    result = train(config)
    return result.env_steps / result.wall_seconds


def linked_vcg_seconds(size: int, seed: int = 0) -> float:
    """Seconds for all N linked VCG transfers at N = T = ``size``."""
    from linkmech.mechanisms.allocation import EXPONENTIAL
    from linkmech.mechanisms.linked_vcg import linked_vcg_transfers

    endowments, omega_star = vcg_instance(size, seed)
    start = time.perf_counter()
    linked_vcg_transfers(endowments, float(size), EXPONENTIAL, omega_star)
    return time.perf_counter() - start


def vcg_instance(size: int, seed: int = 0, shocks: bool = False) -> tuple[np.ndarray, Any]:
    """Endowments ``[N, N]`` and a leave-one-out Omega* 1.05 x as wide as their largest deviation."""
    from linkmech.mechanisms.omega_star import OmegaStar

    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 1.5, size) if shocks else np.ones(size)
    endowments = scale[:, None] * rng.uniform(0.5, 1.5, (size, size))
    centers = endowments.mean(axis=0)
    leave_one_out = (endowments.sum(axis=0) - endowments) / (size - 1)
    radius = 1.05 * float(np.abs(leave_one_out - centers).max()) + 1e-9
    return endowments, OmegaStar(size, centers, radius)


def slsqp_one_agent_seconds(
    endowments: np.ndarray, omega_star: Any, project: Any, q: float, beta: float
) -> float:
    """Seconds SciPy's SLSQP takes to minimise agent 0's unlinked transfer over its leave-one-out Omega*."""
    from scipy.optimize import minimize

    from linkmech.mechanisms.allocation import date_weights

    big_t = omega_star.num_dates
    others = endowments.sum(axis=1) - endowments[:, 0]
    weights = date_weights(big_t, beta, anchor=big_t)
    c, x = omega_star.centers[0], omega_star.radius

    def value(h: np.ndarray) -> float:
        return float(np.sum(weights * others * project.f(q / (h + others))))

    def grad(h: np.ndarray) -> np.ndarray:
        y = q / (h + others)
        return -(weights * others / q) * y * y * project.derivative(y)

    m = np.ones((big_t, big_t)) - np.eye(big_t)
    constraints = [
        {"type": "ineq", "fun": lambda h: (big_t - 1) * (c + x) - m @ h, "jac": lambda h: -m},
        {"type": "ineq", "fun": lambda h: m @ h - (big_t - 1) * (c - x), "jac": lambda h: m},
    ]
    start = time.perf_counter()
    minimize(
        value,
        endowments[:, 0],
        jac=grad,
        method="SLSQP",
        constraints=constraints,
        bounds=[(0.0, None)] * big_t,
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    return time.perf_counter() - start


def tournament_rate(workers: int, episodes: int = 4, seed: int = 0, repetitions: int = 48) -> float:
    """Matches per second of a linked-voting round robin (4 strategies, K = 20) in ``workers`` processes.

    768 matches by default (about 11 s in one process), so the pool's start-up (about 0.3 s a worker) does
    not dominate.
    """
    from linkmech.evaluation.tournament import TournamentConfig, run_tournament, schedule

    config = TournamentConfig(
        envs=(("linked_voting_v0", (("num_problems", 20),)),),
        strategies=("approximately_truthful", "front_loading", "random", "lagged_truth"),
        repetitions=repetitions,
        episodes=episodes,
        seed=seed,
    )
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_tournament(config, out, workers=workers, progress=False)
        elapsed = time.perf_counter() - start
    return len(schedule(config)) / elapsed


def run_bench(quick: bool = False, progress: Callable[[str], None] | None = None) -> list[Result]:
    """Every measurement; ``quick`` shortens them (numbers are then noisier) and skips N = 1000."""
    try:
        from pettingzoo.classic import rps_v2
    except ImportError as error:  # rps renders with pygame
        raise ImportError(
            f"linkmech bench needs PettingZoo's rps env, which imports pygame ({error}); "
            'install it with pip install -c constraints.txt -e ".[bench]"'
        ) from error

    from linkmech import envs
    from linkmech.mechanisms.allocation import EXPONENTIAL

    seconds = 0.5 if quick else 3.0
    results: list[Result] = []

    def add(rid: str, value: float, unit: str) -> None:
        results.append({"id": rid, "value": float(value), "unit": unit})
        if progress is not None:
            progress(f"[{len(results):2d}] measured {rid} = {value:.4g} {unit}")

    add(
        "voting.pettingzoo_loop",
        pettingzoo_loop_rate(envs.make("linked_voting_v0", num_problems=100), seconds),
        "decisions/s",
    )
    for size in (1, 64, 4096):
        add(f"voting.batched_{size}", batched_rate(size, seconds), "decisions/s")
    rps = rps_v2.parallel_env(max_cycles=100)
    add("rps.pettingzoo_loop", pettingzoo_loop_rate(rps, seconds), "decisions/s")
    add("allocation.pettingzoo_loop", allocation_loop_rate(seconds), "decisions/s")
    add("allocation.batched_256", allocation_batched_rate(256, seconds), "decisions/s")
    for size in (10, 100):
        add(f"zhu.linked_vcg_n{size}_seconds", min(linked_vcg_seconds(size, s) for s in range(3)), "s")
        endowments, omega_star = vcg_instance(size)
        one_agent = min(
            slsqp_one_agent_seconds(endowments, omega_star, EXPONENTIAL, float(size), 1.0) for _ in range(2)
        )
        add(f"zhu.generic_solver_n{size}_seconds", size * one_agent, "s")
    if not quick:
        add("zhu.linked_vcg_n1000_seconds", linked_vcg_seconds(1000), "s")
    for vector in ("copies", "batched"):
        add(f"training.ppo_{vector}", ppo_rate(vector, updates=1 if quick else 3), "learner steps/s")
    for workers in (1, 2):
        add(
            f"tournament.workers_{workers}", tournament_rate(workers, episodes=1 if quick else 4), "matches/s"
        )
    return results


def ratios(results: list[Result]) -> list[Result]:
    """The issue's target ratios from one run's results (ids missing from the run are skipped)."""
    value = {r["id"]: r["value"] for r in results}
    wanted = [
        ("ratio.batched_4096_over_loop", "voting.batched_4096", "voting.pettingzoo_loop", 100.0, ">="),
        ("ratio.loop_cost_over_rps_cost", "rps.pettingzoo_loop", "voting.pettingzoo_loop", 3.0, "<="),
        (
            "ratio.allocation_batched_256_over_loop",
            "allocation.batched_256",
            "allocation.pettingzoo_loop",
            0,
            ">=",
        ),
        ("ratio.ppo_batched_over_copies", "training.ppo_batched", "training.ppo_copies", 0, ">="),
        (
            "ratio.generic_over_linked_n10",
            "zhu.generic_solver_n10_seconds",
            "zhu.linked_vcg_n10_seconds",
            0,
            ">=",
        ),
        (
            "ratio.generic_over_linked_n100",
            "zhu.generic_solver_n100_seconds",
            "zhu.linked_vcg_n100_seconds",
            50.0,
            ">=",
        ),
        ("ratio.tournament_2_over_1", "tournament.workers_2", "tournament.workers_1", 1.7, ">="),
    ]
    out = []
    for rid, top, bottom, target, sense in wanted:
        if top in value and bottom in value and value[bottom] > 0:
            ratio = value[top] / value[bottom]
            met = ratio >= target if sense == ">=" else ratio <= target
            if target == 0:  # no target in the issue: reported for reading
                out.append({"id": rid, "value": ratio, "unit": "x"})
                continue
            out.append({"id": rid, "value": ratio, "unit": f"target {sense} {target:g}", "met": bool(met)})
    return out
