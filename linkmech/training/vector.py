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
from linkmech.agents.base import Episodes, Seat, Strategy, make_strategy
from linkmech.envs.batched import batched_env
from linkmech.evaluation.play import seat_column, seat_generators, start_seats


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


class _ScriptedSeats:
    """What both vector envs share: the seats, the scripted copies and the run's episode seeds."""

    def __init__(
        self,
        agents: Sequence[str],
        learners: Sequence[str],
        opponents: Mapping[str, str | Strategy],
        num_envs: int,
        seed: int | Sequence[int] | None,
        default_opponent: str,
    ) -> None:
        self.agents: list[str] = list(agents)
        self.learners = list(learners)
        self.strategies = resolve_opponents(self.agents, self.learners, opponents, default_opponent)
        self.rng = np.random.default_rng(seed)
        self.num_envs = num_envs
        self.episode_seeds: list[int] = [0] * num_envs

    def _next_episode(self, b: int) -> tuple[int, dict[str, np.random.Generator]]:
        """Draw copy ``b``'s next episode seed from the run generator: (env seed, one generator per seat)."""
        seed = int(self.rng.integers(0, 2**32))
        self.episode_seeds[b] = seed
        return seat_generators(seed, self.agents)


def _check_num_envs(num_envs: int) -> None:
    if num_envs < 1:
        raise ValueError(f"num_envs: got {num_envs}; use at least 1")


class SeatVectorEnv(_ScriptedSeats):
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
        _check_num_envs(num_envs)
        self.envs = [envs.make(env, **dict(env_options)) for _ in range(num_envs)]
        agents = self.envs[0].possible_agents
        super().__init__(agents, learners, opponents, num_envs, seed, default_opponent)
        self.scripted = [{a: copy.deepcopy(s) for a, s in self.strategies.items()} for _ in range(num_envs)]
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
        env_seed, generators = self._next_episode(b)
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


class BatchedSeatVectorEnv(_ScriptedSeats):
    """:class:`SeatVectorEnv`'s interface over the batched engine: B episodes stepped in one call.

    The environment's B episodes live in one batched state (:func:`linkmech.envs.batched.batched_env`), and
    each scripted seat acts on all B with one call of its policy kernel
    (:meth:`~linkmech.agents.base.Strategy.act_batch`; episode b draws from its own seat generator).
    Every episode of an environment has the same length, so all B episodes end at the same step; then B new
    episode seeds are drawn from the run generator in copy order, exactly as :class:`SeatVectorEnv` draws
    them. Given the same actions, both classes produce the same episodes, rewards and observations (tested).

    Args: as :class:`SeatVectorEnv`.

    Raises:
        ValueError: if ``env`` has no batched engine (use :func:`make_vector_env`, which falls back).
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
        _check_num_envs(num_envs)
        self.engine = batched_env(env, num_envs, **dict(env_options))
        if self.engine is None:
            raise ValueError(
                f"env: {env!r} has no batched engine; use SeatVectorEnv (or make_vector_env, which picks one)"
            )
        super().__init__(self.engine.possible_agents, learners, opponents, num_envs, seed, default_opponent)
        self._continuous = not hasattr(self.engine.action_space(self.agents[0]), "n")
        self._obs: dict[str, np.ndarray] = {}
        self._masks: dict[str, np.ndarray] = {}
        self._episodes: dict[str, Episodes] = {}
        self._returns = {a: np.zeros(num_envs) for a in self.learners}
        self._last = np.zeros((num_envs, len(self.agents)))
        self.terminal: dict[str, SeatBatch] | None = None
        """The learner seats' last observations of the episodes that ended at the last step (None before)."""

    def observation_dim(self, agent: str) -> int:
        """Length of ``agent``'s observation vector."""
        return int(self.engine.observation_fields(agent)[-1][1].stop)

    def action_space(self, agent: str) -> Any:
        """``agent``'s action space."""
        return self.engine.action_space(agent)

    def problems_per_episode(self) -> int:
        """K (linked problems) or T (dates): the divisor of 'utility per problem'."""
        return problems_per_episode(self.engine.env)

    @property
    def last_rewards(self) -> list[dict[str, float]]:
        """Every seat's reward at the last step, one dict per copy (as :class:`SeatVectorEnv` keeps them)."""
        return [{a: float(self._last[b, i]) for i, a in enumerate(self.agents)} for b in range(self.num_envs)]

    def reset(self) -> dict[str, SeatBatch]:
        """Start a fresh episode in every copy."""
        drawn = [self._next_episode(b) for b in range(self.num_envs)]
        self._obs, self._masks = self.engine.reset([env_seed for env_seed, _ in drawn])
        self._episodes = start_seats(self.engine.env, self.strategies, [g for _, g in drawn])
        self._returns = {a: np.zeros(self.num_envs) for a in self.learners}
        return self._batches()

    def _batches(self) -> dict[str, SeatBatch]:
        return {a: SeatBatch(self._obs[a].astype(np.float32), self._masks[a]) for a in self.learners}

    def _joint(self, actions: Mapping[str, np.ndarray]) -> np.ndarray:
        """Every seat's action of every copy, ``[B, n]`` (ints, or reported numbers for Box actions)."""
        joint = np.zeros(
            (self.num_envs, len(self.agents)), dtype=np.float64 if self._continuous else np.int64
        )
        for i, agent in enumerate(self.agents):
            if agent in self.learners:
                joint[:, i] = self._column(agent, actions[agent])
                continue
            scripted = self.strategies[agent].act_batch(
                self._episodes[agent], self._obs[agent], self._masks[agent]
            )
            joint[:, i] = seat_column(scripted, agent, self.num_envs)
        return joint

    def _column(self, agent: str, values: Any) -> np.ndarray:
        """One seat's B actions as a ``[B]`` array: one number per copy (Box actions of shape (1,) unwrapped)."""
        array = np.asarray(values)
        if self._continuous and array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.shape != (self.num_envs,):
            raise ValueError(
                f"actions of {agent}: got shape {array.shape}; expected one action per copy, [{self.num_envs}]"
                + (" (or [B, 1] for Box actions)" if self._continuous else "")
            )
        if not self._continuous and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"actions of {agent}: got dtype {array.dtype}; Discrete actions are integers")
        return array

    def step(self, actions: Mapping[str, np.ndarray]) -> VectorStep:
        """Step every copy with the learners' ``actions[seat][b]`` and the scripted seats' own actions."""
        missing = sorted(set(self.learners) - set(actions))
        if missing:
            raise ValueError(f"actions: no actions for learner seats {missing}")
        self._obs, self._masks, rewards, done = self.engine.step(self._joint(actions))
        self._last = rewards
        index = {a: i for i, a in enumerate(self.agents)}
        seat_rewards = {a: rewards[:, index[a]].copy() for a in self.learners}
        returns: dict[str, list[float]] = {a: [] for a in self.learners}
        for agent in self.learners:
            self._returns[agent] += seat_rewards[agent]
        if not done:
            return VectorStep(self._batches(), seat_rewards, np.zeros(self.num_envs, dtype=bool), returns)
        for agent in self.learners:
            returns[agent] = [float(x) for x in self._returns[agent]]
        self.terminal = self._batches()
        batches = self.reset()
        return VectorStep(batches, seat_rewards, np.ones(self.num_envs, dtype=bool), returns)


VectorEnv = SeatVectorEnv | BatchedSeatVectorEnv
"""Either vector env: both have the same interface."""


def make_vector_env(
    env: str,
    env_options: Mapping[str, Any],
    learners: Sequence[str],
    opponents: Mapping[str, str | Strategy],
    num_envs: int,
    seed: int | Sequence[int] | None,
    default_opponent: str = "approximately_truthful",
    batched: bool | None = None,
) -> VectorEnv:
    """The vector env for training: the batched engine where the env has one, else lockstep copies.

    ``batched``: None picks; True insists on the batched engine (ValueError if there is none); False forces
    the copies. Both give the same episodes for the same seed and actions.
    """
    args = (env, env_options, learners, opponents, num_envs, seed, default_opponent)
    if batched is False:
        return SeatVectorEnv(*args)
    if batched is None and batched_env(env, 1, **dict(env_options)) is None:
        return SeatVectorEnv(*args)
    return BatchedSeatVectorEnv(*args)


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
