"""Vectorised multi-agent rollouts: ``num_envs`` copies of one environment stepped in lockstep.

:class:`SeatVectorEnv` exposes only the LEARNER seats, as arrays with a leading axis over copies; every other
seat is played inside by a scripted :class:`linkmech.agents.base.Strategy`. Each copy resets itself when its
episode ends (the observation returned with ``done = True`` is already the next episode's first one).

Seeding: the run seed gives one generator; every new episode of every copy draws its episode seed from it
(copies in order), and that episode seed feeds :func:`linkmech.evaluation.play.seat_generators` exactly as
:func:`linkmech.evaluation.play.play_episode` does. An episode of this class is therefore the same episode
``play_episode(env, strategies, seed=episode_seed)`` plays, given the same actions.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from linkmech import envs
from linkmech.agents.base import Seat, Strategy, make_strategy
from linkmech.evaluation.play import seat_generators


@dataclass
class SeatBatch:
    """Learner observations for one seat: vectors ``[B, D]`` float32 and masks ``[B, A]`` (``A = 0``: none)."""

    obs: np.ndarray
    mask: np.ndarray


@dataclass
class VectorStep:
    """What one lockstep step returns.

    Attributes:
        batches: next observations per learner seat (after auto-reset where ``done``).
        rewards: reward per learner seat ``[B]``.
        done: copies whose episode ended at this step ``[B]``.
        returns: per learner seat, the finished episodes' total rewards (for logging).
    """

    batches: dict[str, SeatBatch]
    rewards: dict[str, np.ndarray]
    done: np.ndarray
    returns: dict[str, list[float]]


def _split(observation: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(observation, dict):
        return np.asarray(observation["observation"]), np.asarray(observation["action_mask"])
    return np.asarray(observation), np.zeros(0, dtype=np.int8)


def resolve_opponents(
    agents: Sequence[str], learners: Sequence[str], opponents: Mapping[str, str | Strategy], default: str
) -> dict[str, Strategy]:
    """A strategy for every non-learner seat; unknown seats are an error naming the env's seats."""
    unknown = sorted((set(learners) | set(opponents)) - set(agents))
    if unknown:
        raise ValueError(f"seats {unknown} are not in this environment; its seats are {list(agents)}")
    resolved: dict[str, Strategy] = {}
    for agent in agents:
        if agent in learners:
            continue
        spec = opponents.get(agent, default)
        resolved[agent] = make_strategy(spec) if isinstance(spec, str) else spec
    return resolved


class SeatVectorEnv:
    """Lockstep copies of a linkmech environment, learner seats as arrays, other seats scripted.

    Args:
        env: registered environment name.
        env_options: its keyword options.
        learners: the seats whose actions the caller supplies.
        opponents: strategy (object or ``"name:k=v"``) per other seat; missing seats get ``default_opponent``.
        num_envs: number of copies B.
        seed: the run seed (module docstring).
    """

    def __init__(
        self,
        env: str,
        env_options: Mapping[str, Any],
        learners: Sequence[str],
        opponents: Mapping[str, str | Strategy],
        num_envs: int,
        seed: int | Sequence[int] | None,
        default_opponent: str = "approximately_truthful",
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs}; use at least 1")
        self.envs = [envs.make(env, **dict(env_options)) for _ in range(num_envs)]
        first = self.envs[0]
        self.agents: list[str] = list(first.possible_agents)
        self.learners = list(learners)
        scripted = resolve_opponents(self.agents, self.learners, opponents, default_opponent)
        self.scripted = [{a: copy.deepcopy(s) for a, s in scripted.items()} for _ in range(num_envs)]
        self.rng = np.random.default_rng(seed)
        self.num_envs = num_envs
        self.episode_seeds: list[int] = [0] * num_envs
        self._obs: list[dict[str, Any]] = [{} for _ in range(num_envs)]
        self._returns = [dict.fromkeys(self.learners, 0.0) for _ in range(num_envs)]
        self.last_rewards: list[dict[str, float]] = [{} for _ in range(num_envs)]

    def observation_dim(self, agent: str) -> int:
        """Length of ``agent``'s observation vector."""
        space = self.envs[0].observation_space(agent)
        inner = space["observation"] if hasattr(space, "spaces") and "observation" in space.spaces else space
        return int(np.prod(inner.shape))

    def action_space(self, agent: str) -> Any:
        """``agent``'s action space."""
        return self.envs[0].action_space(agent)

    def problems_per_episode(self) -> int:
        """K (linked problems) or T (dates): the divisor of 'utility per problem'."""
        return problems_per_episode(self.envs[0])

    def reset(self) -> dict[str, SeatBatch]:
        """Start a fresh episode in every copy."""
        for b in range(self.num_envs):
            self._start(b)
        return self._batches()

    def _start(self, b: int) -> None:
        seed = int(self.rng.integers(0, 2**32))
        self.episode_seeds[b] = seed
        env_seed, generators = seat_generators(seed, self.agents)
        env = self.envs[b]
        self._obs[b], _ = env.reset(seed=env_seed)
        for agent, strategy in self.scripted[b].items():
            strategy.reset(Seat.from_env(env, agent), generators[agent])
        self._returns[b] = dict.fromkeys(self.learners, 0.0)

    def _batches(self) -> dict[str, SeatBatch]:
        batches = {}
        for agent in self.learners:
            parts = [_split(self._obs[b][agent]) for b in range(self.num_envs)]
            batches[agent] = SeatBatch(
                np.stack([p[0] for p in parts]).astype(np.float32), np.stack([p[1] for p in parts])
            )
        return batches

    def step(self, actions: Mapping[str, np.ndarray]) -> VectorStep:
        """Step every copy with the learners' ``actions[seat][b]`` and the scripted seats' own actions."""
        missing = sorted(set(self.learners) - set(actions))
        if missing:
            raise ValueError(f"actions: no actions for learner seats {missing}")
        rewards = {a: np.zeros(self.num_envs) for a in self.learners}
        done = np.zeros(self.num_envs, dtype=bool)
        returns: dict[str, list[float]] = {a: [] for a in self.learners}
        for b, env in enumerate(self.envs):
            joint = {a: s.act(*_split(self._obs[b][a])) for a, s in self.scripted[b].items()}
            for agent in self.learners:
                joint[agent] = actions[agent][b]
            self._obs[b], step_rewards, _, _, _ = env.step(joint)
            self.last_rewards[b] = {a: float(r) for a, r in step_rewards.items()}
            for agent in self.learners:
                rewards[agent][b] = step_rewards[agent]
                self._returns[b][agent] += float(step_rewards[agent])
            if not env.agents:
                done[b] = True
                for agent in self.learners:
                    returns[agent].append(self._returns[b][agent])
                self._start(b)
            elif len(env.agents) != len(self.agents):
                raise RuntimeError("SeatVectorEnv: agents left the episode at different times; not supported")
        return VectorStep(self._batches(), rewards, done, returns)


def problems_per_episode(env: Any) -> int:
    """K for linking envs, T for the resource-allocation env, else 1."""
    options = getattr(env, "options", None)
    for name in ("num_problems", "num_dates"):
        value = getattr(options, name, None)
        if value is None:
            value = getattr(env, name, None)
        if value is not None:
            return int(value)
    return 1
