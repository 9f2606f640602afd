"""Utility per problem of a profile, measured on common episodes (paired comparison of two profiles).

:func:`utility_per_problem` plays ``episodes`` episodes in lockstep batches; the episode seeds come from
``seed`` alone, so two profiles evaluated with the same seed face the same type draws and the same scripted
opponents' randomness streams (common random numbers), and their difference has a small variance.
Networks act greedily (the most likely allowed action, or the mean report) in one batched forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from linkmech import envs
from linkmech.agents.base import Strategy
from linkmech.training.ppo import Learner
from linkmech.training.vector import make_vector_env, problems_per_episode

CHUNK = 256
"""Episodes played in lockstep per batch."""


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% normal interval half-width and the sample size."""

    mean: float
    half_width: float
    count: int

    @classmethod
    def of(cls, values: np.ndarray) -> Estimate:
        """From per-episode values."""
        data = np.asarray(values, dtype=np.float64)
        half = 1.96 * data.std(ddof=1) / np.sqrt(len(data)) if len(data) > 1 else 0.0
        return cls(float(data.mean()), float(half), len(data))

    def as_dict(self) -> dict[str, Any]:
        """``{"mean", "ci95": [lo, hi], "episodes"}``."""
        return {
            "mean": self.mean,
            "ci95": [self.mean - self.half_width, self.mean + self.half_width],
            "episodes": self.count,
        }


def _greedy_actions(learner: Learner, seat: str, batch: Any) -> np.ndarray:
    with torch.no_grad():
        obs = learner.features(seat, batch.obs)
        action = learner.policy.greedy(obs, torch.as_tensor(batch.mask))
    if learner.policy.kind == "gaussian":
        return learner.policy.to_env(action.numpy())  # type: ignore[operator]
    return action.numpy().astype(np.int64)


def utility_per_problem(
    env: str,
    env_options: Mapping[str, Any],
    learners: list[Learner],
    opponents: Mapping[str, str | Strategy],
    episodes: int,
    seed: int,
    default_opponent: str = "approximately_truthful",
) -> dict[str, np.ndarray]:
    """Per-episode total reward / K of every seat, ``{seat: values [episodes]}``.

    Seats owned by ``learners`` act greedily; every other seat plays its scripted strategy.
    """
    owner = {seat: learner for learner in learners for seat in learner.seats}
    totals: dict[str, list[float]] = {}
    for chunk, start in enumerate(range(0, episodes, CHUNK)):
        size = min(CHUNK, episodes - start)
        vec = make_vector_env(env, env_options, list(owner), opponents, size, [seed, chunk], default_opponent)
        batches = vec.reset()
        first = [dict.fromkeys(vec.agents, 0.0) for _ in range(size)]
        running = [dict.fromkeys(vec.agents, 0.0) for _ in range(size)]
        finished = np.zeros(size, dtype=bool)
        while not finished.all():
            actions = {seat: _greedy_actions(owner[seat], seat, batches[seat]) for seat in owner}
            step = vec.step(actions)
            last_rewards = vec.last_rewards
            for b in range(size):
                if finished[b]:
                    continue
                for agent, reward in last_rewards[b].items():
                    running[b][agent] += reward
                if step.done[b]:
                    finished[b] = True
                    first[b] = running[b]
            batches = step.batches
        for record in first:
            for agent, total in record.items():
                totals.setdefault(agent, []).append(total)
    per_problem = problems_per_episode(envs.make(env, **dict(env_options)))
    return {agent: np.asarray(values) / per_problem for agent, values in totals.items()}
