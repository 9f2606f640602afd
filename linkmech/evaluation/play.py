"""Play one episode of a linkmech environment with one strategy per seat.

Seeding: a run seed ``s`` gives the environment ``reset(seed=...)`` and every seat its own generator, all
derived from ``numpy.random.SeedSequence(s)`` (:func:`seat_generators`), so the same seed and strategies
give the same episode, and no strategy draws from another's generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from linkmech.agents.base import Episodes, Seat, Strategy


@dataclass
class EpisodeResult:
    """What one episode produced.

    Attributes:
        totals: each agent's summed reward.
        steps: number of parallel steps.
        infos: per step, the env's infos dict (only when ``keep_infos``).
    """

    totals: dict[str, float]
    steps: int
    infos: list[dict[str, Any]] = field(default_factory=list)


def seat_generators(seed: int | None, agents: list[str]) -> tuple[int, dict[str, np.random.Generator]]:
    """The env seed and one generator per agent, all derived from ``seed``."""
    sequence = np.random.SeedSequence(seed)
    env_seed = int(sequence.generate_state(1, dtype=np.uint32)[0])
    children = sequence.spawn(len(agents))
    return env_seed, {agent: np.random.default_rng(child) for agent, child in zip(agents, children)}


def _split(observation: Any) -> tuple[np.ndarray, np.ndarray]:
    """(vector, mask) from a masked Dict observation, or (vector, empty mask) from a plain Box observation."""
    if isinstance(observation, dict):
        return observation["observation"], observation["action_mask"]
    return np.asarray(observation), np.zeros(0, dtype=np.int8)


def play_episode(
    env: Any, strategies: Mapping[str, Strategy], seed: int | None = None, keep_infos: bool = False
) -> EpisodeResult:
    """Reset ``env`` and every strategy from ``seed``, then step until the episode ends.

    Args:
        env: a PettingZoo parallel env of linkmech.
        strategies: one strategy per agent id (``env.possible_agents``).
        seed: the run seed (see module docstring).
        keep_infos: keep every step's infos in the result.

    Raises:
        ValueError: if a seat has no strategy.
    """
    missing = [a for a in env.possible_agents if a not in strategies]
    if missing:
        raise ValueError(f"strategies: no strategy for {missing}; give one per agent {env.possible_agents}")
    env_seed, generators = seat_generators(seed, list(env.possible_agents))
    observations, _ = env.reset(seed=env_seed)
    for agent in env.possible_agents:
        strategies[agent].reset(Seat.from_env(env, agent), generators[agent])
    totals = dict.fromkeys(env.possible_agents, 0.0)
    kept: list[dict[str, Any]] = []
    steps = 0
    while env.agents:
        actions = {a: strategies[a].act(*_split(observations[a])) for a in env.agents}
        observations, rewards, _, _, infos = env.step(actions)
        steps += 1
        for agent, reward in rewards.items():
            totals[agent] += reward
        if keep_infos:
            kept.append(infos)
    return EpisodeResult(totals=totals, steps=steps, infos=kept)


@dataclass
class BatchResult:
    """What :func:`play_batch` produced.

    Attributes:
        totals: each agent's summed reward per episode, ``[B, n]`` (columns in ``possible_agents`` order).
        engine: the batched engine after the last step (its ``env`` holds the episodes' final state).
    """

    totals: np.ndarray
    engine: Any


def start_seats(
    env: Any, strategies: Mapping[str, Strategy], generators: Sequence[Mapping[str, np.random.Generator]]
) -> dict[str, Episodes]:
    """Start every seat's strategy on B episodes of ``env``; episode b's seat draws from ``generators[b][seat]``.

    The strategies themselves are not changed (a per-episode strategy is copied for each episode).
    """
    return {
        agent: strategy.start(Seat.from_env(env, agent), [g[agent] for g in generators])
        for agent, strategy in strategies.items()
    }


def seat_column(actions: np.ndarray, agent: str, size: int) -> np.ndarray:
    """One seat's B actions as a ``[B]`` array (Box reports of shape ``[B, 1]`` unwrapped).

    Raises:
        ValueError: unless there is one number per episode.
    """
    array = np.asarray(actions)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape != (size,):
        raise ValueError(
            f"{agent}: the strategy returned actions of shape {np.asarray(actions).shape}; one action (one "
            f"number) per episode, [{size}] or [{size}, 1], was expected"
        )
    return array


def play_batch(
    env: Any, strategies: Mapping[str, Strategy], seeds: Sequence[int | None], **options: Any
) -> BatchResult:
    """Play ``len(seeds)`` episodes at once on ``env``'s batched engine.

    ``env`` is a registered name (built with ``options``) or an env instance (its batched engine takes over
    its state). Episode b is the episode ``play_episode(env, strategies, seed=seeds[b])`` plays (same env
    seed, same seat generators, same rules): the environment steps all episodes in one call, and each seat's
    strategy acts on all of them in one call (:meth:`~linkmech.agents.base.Strategy.act_batch`).

    Raises:
        ValueError: if ``env`` has no batched engine or a seat has no strategy.
    """
    from linkmech.envs.batched import batched_env

    engine = batched_env(env, len(seeds), **options)
    if engine is None:
        raise ValueError(f"env: {env!r} has no batched engine; play its episodes with play_episode")
    agents = list(engine.possible_agents)
    missing = [a for a in agents if a not in strategies]
    if missing:
        raise ValueError(f"strategies: no strategy for {missing}; give one per agent {agents}")
    drawn = [seat_generators(seed, agents) for seed in seeds]
    observations, masks = engine.reset([env_seed for env_seed, _ in drawn])
    episodes = start_seats(engine.env, {a: strategies[a] for a in agents}, [g for _, g in drawn])
    totals = np.zeros((len(seeds), len(agents)))
    done = False
    while not done:
        columns = [
            seat_column(strategies[a].act_batch(episodes[a], observations[a], masks[a]), a, len(seeds))
            for a in agents
        ]
        observations, masks, rewards, done = engine.step(np.stack(columns, axis=1))
        totals += rewards
    return BatchResult(totals=totals, engine=engine)
