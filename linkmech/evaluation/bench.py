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
- ``allocation.vcg_last_date_truthful_ms``: mean milliseconds of the last step of an episode (where the
  linked VCG transfers are computed) of the resource allocation env (N = 4, T = 8) with truthful reports;
- ``allocation.vcg_last_date_random_ms``: the same with random reports (each episode's action spaces seeded
  from its seed, so the reports repeat);
- ``training.ppo_{copies,batched}``: learner steps per second of ``linkmech train``'s PPO (collection and
  updates) on lockstep copies of the PettingZoo env and on the batched engine (the default);
- ``training.sb3_maskable_ppo``: learner steps per second of sb3-contrib's ``MaskablePPO`` (collection and
  updates, default hyperparameters, n_steps = 2048, one torch thread) on ``linkmech train``'s default scenario
  through :class:`linkmech.envs.single_agent.SingleAgentEnv`, as docs/rl-libraries.md shows; skipped with a
  progress line when sb3-contrib is not installed;
- ``tournament.workers_{1,2}``: matches per second of a 768-match voting tournament in 1 and 2 processes;
- ``tournament.loop_1``: the same matches played one episode at a time in one process (PettingZoo env,
  ``play_episode`` with per-episode ``act``): the yardstick of the batched match.
Time goes by ``time.perf_counter``; each measurement runs for at least ``seconds`` (or its fixed work).
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from linkmech.evaluation.match import MatchSpec
    from linkmech.evaluation.tournament import TournamentConfig

Result = dict[str, Any]

ALLOCATION_REPORTS = ("truthful", "random")
"""Report rules of :func:`vcg_last_date_ms`."""

SB3_INSTALL = 'pip install -c constraints.txt -e ".[rl]"'


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


def vcg_last_date_ms(
    reports: str, episodes: int = 40, seed: int = 0, num_agents: int = 4, num_dates: int = 8
) -> float:
    """Mean milliseconds of the last step of a resource allocation episode, where linked VCG pays transfers.

    ``envs.make("resource_allocation_v0", num_agents=4, num_dates=8)`` plays ``episodes`` episodes, each
    reset with its own seed drawn from ``seed``; only the step of the last date is timed. ``reports`` is
    ``"truthful"`` (every agent reports its endowment, field 1 of its observation) or ``"random"``
    (``env.action_space(agent).sample()``, the action spaces seeded from the episode's seed first, so the
    reports repeat from run to run). One untimed episode runs first (imports, caches).

    Raises:
        ValueError: for a ``reports`` rule other than :data:`ALLOCATION_REPORTS`.
    """
    from linkmech import envs

    if reports not in ALLOCATION_REPORTS:
        raise ValueError(f"reports: got {reports!r}; allowed are {list(ALLOCATION_REPORTS)}")
    env = envs.make("resource_allocation_v0", num_agents=num_agents, num_dates=num_dates)
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes + 1)]
    _last_step_seconds(env, seeds[0], reports)  # warm-up, not counted
    timed = [_last_step_seconds(env, episode, reports) for episode in seeds[1:]]
    return 1000.0 * float(np.mean(timed))


def _last_step_seconds(env: Any, episode: int, reports: str) -> float:
    """Play one seeded resource allocation episode with ``reports``; seconds of its last step."""
    observations, _ = env.reset(seed=episode)
    if reports == "random":
        _seed_action_spaces(env, episode)
    elapsed = 0.0
    while env.agents:
        actions = {a: _allocation_report(env, a, observations[a], reports) for a in env.agents}
        start = time.perf_counter()
        observations, _, _, _, _ = env.step(actions)
        elapsed = time.perf_counter() - start
    return elapsed


def _seed_action_spaces(env: Any, episode: int) -> None:
    """Seed every distinct action space of ``env`` (agents may share one) from the episode's seed."""
    distinct = list({id(space): space for space in map(env.action_space, env.possible_agents)}.values())
    for index, space in enumerate(distinct):
        space.seed(int(np.random.SeedSequence([episode, index]).generate_state(1)[0]))


def _allocation_report(env: Any, agent: str, observation: np.ndarray, reports: str) -> np.ndarray:
    """``agent``'s report: its endowment (observation field 1) or a sample of its action space."""
    if reports == "truthful":
        return np.array([observation[1]], dtype=np.float32)
    return np.asarray(env.action_space(agent).sample())


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


def sb3_missing() -> str | None:
    """Why sb3-contrib's ``MaskablePPO`` cannot run here (a sentence), or None when it can."""
    absent = [name for name in ("stable_baselines3", "sb3_contrib") if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return f"{' and '.join(absent)} not installed (optional; {SB3_INSTALL})"


def sb3_maskable_ppo_rate(
    updates: int = 3, n_steps: int = 2048, batch_size: int = 64, seed: int = 0
) -> float:
    """Learner steps per second of sb3-contrib's ``MaskablePPO`` on ``linkmech train``'s default scenario.

    The scenario is :class:`~linkmech.training.config.TrainConfig`'s default (env, options, first learner
    seat, default opponent): ``SingleAgentEnv("linked_voting_v0", learner="agent_0",
    opponents="approximately_truthful", num_problems=20)`` handed to ``MaskablePPO("MlpPolicy", env, ...)``
    as docs/rl-libraries.md shows users, so SB3 wraps it itself in ``DummyVecEnv`` of one ``Monitor``-wrapped
    env (the same as ``make_vec_env(..., n_envs=1, vec_env_cls=DummyVecEnv)``). Hyperparameters are
    MaskablePPO's defaults (``n_steps`` 2048, ``batch_size`` 64, 10 epochs) on the CPU; ``learn`` runs
    ``updates`` x ``n_steps`` learner steps (collection and updates together, like :func:`ppo_rate`; building
    the model is not timed). Torch runs with one intra-op thread (``torch.set_num_threads(1)``) during the
    measurement, as our PPO does, and the previous thread count is restored afterwards.

    Raises:
        ImportError: when stable-baselines3 or sb3-contrib is missing (see :func:`sb3_missing`).
    """
    import torch
    from sb3_contrib import MaskablePPO

    from linkmech.envs.single_agent import SingleAgentEnv
    from linkmech.training.config import TrainConfig

    scenario = TrainConfig()
    env = SingleAgentEnv(
        scenario.env,
        learner=scenario.learners[0],
        opponents=scenario.default_opponent,
        **scenario.env_options,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = MaskablePPO("MlpPolicy", env, n_steps=n_steps, batch_size=batch_size, seed=seed, device="cpu")
        start = time.perf_counter()
        model.learn(total_timesteps=updates * n_steps)
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return model.num_timesteps / elapsed


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


def tournament_config(episodes: int = 4, seed: int = 0, repetitions: int = 48) -> TournamentConfig:
    """The benchmark tournament: a linked-voting round robin (4 strategies, K = 20), 16 x ``repetitions`` matches.

    Shared by :func:`tournament_rate` and :func:`tournament_loop_rate`, so both play the same matches.
    """
    from linkmech.evaluation.tournament import TournamentConfig

    return TournamentConfig(
        envs=(("linked_voting_v0", (("num_problems", 20),)),),
        strategies=("approximately_truthful", "front_loading", "random", "lagged_truth"),
        repetitions=repetitions,
        episodes=episodes,
        seed=seed,
    )


def tournament_rate(workers: int, episodes: int = 4, seed: int = 0, repetitions: int = 48) -> float:
    """Matches per second of :func:`tournament_config`'s tournament in ``workers`` processes.

    768 matches by default (about 11 s in one process), so the pool's start-up (about 0.3 s a worker) does
    not dominate.
    """
    from linkmech.evaluation.tournament import run_tournament, schedule

    config = tournament_config(episodes, seed, repetitions)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_tournament(config, out, workers=workers, progress=False)
        elapsed = time.perf_counter() - start
    return len(schedule(config)) / elapsed


def tournament_loop_rate(episodes: int = 4, seed: int = 0, repetitions: int = 48) -> float:
    """Matches per second of :func:`tournament_config`'s matches played one episode at a time in one process.

    Each match builds its PettingZoo env and its strategies, then plays every episode with
    :func:`~linkmech.evaluation.play.play_episode` (per-episode ``act``) from the match's episode seeds; the
    whole loop is timed, env creation included, but not the schedule.
    """
    from linkmech.evaluation.tournament import schedule

    specs = schedule(tournament_config(episodes, seed, repetitions))
    start = time.perf_counter()
    for spec in specs:
        play_match_in_loop(spec)
    return len(specs) / (time.perf_counter() - start)


def play_match_in_loop(spec: MatchSpec) -> None:
    """Play ``spec``'s episodes one by one in the single PettingZoo env (no rows are computed)."""
    from linkmech import envs
    from linkmech.agents.base import make_strategy
    from linkmech.evaluation.match import episode_seed
    from linkmech.evaluation.play import play_episode

    env = envs.make(spec.env, **dict(spec.env_options))
    strategies = {agent: make_strategy(strategy) for agent, strategy in spec.profile}
    for episode in range(spec.episodes):
        play_episode(env, strategies, seed=episode_seed(spec.seed, episode))


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
    for reports in ALLOCATION_REPORTS:
        add(
            f"allocation.vcg_last_date_{reports}_ms",
            vcg_last_date_ms(reports, episodes=10 if quick else 40),
            "ms",
        )
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
    missing = sb3_missing()
    if missing is None:
        add("training.sb3_maskable_ppo", sb3_maskable_ppo_rate(updates=1 if quick else 3), "learner steps/s")
    elif progress is not None:
        progress(f"[--] skipped training.sb3_maskable_ppo: {missing}")
    episodes = 1 if quick else 4
    for workers in (1, 2):
        add(f"tournament.workers_{workers}", tournament_rate(workers, episodes=episodes), "matches/s")
    add("tournament.loop_1", tournament_loop_rate(episodes=episodes), "matches/s")
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
        (
            "ratio.ppo_batched_over_sb3_maskable",
            "training.ppo_batched",
            "training.sb3_maskable_ppo",
            200.0,
            ">=",
        ),
        ("ratio.ppo_batched_over_loop", "training.ppo_batched", "voting.pettingzoo_loop", 7.0, ">="),
        ("ratio.tournament_workers_1_over_loop_1", "tournament.workers_1", "tournament.loop_1", 15.0, ">="),
        (
            "ratio.vcg_random_over_truthful",
            "allocation.vcg_last_date_random_ms",
            "allocation.vcg_last_date_truthful_ms",
            3.0,
            "<=",
        ),
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
