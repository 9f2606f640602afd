"""Gymnasium's ``VectorEnv`` over the batched engine: one learner seat, B episodes stepped in one call.

``gymnasium.make_vec("linkmech/LinkedVoting-single-v0", num_envs=64, num_problems=20)`` builds a
:class:`BatchedGymVectorEnv` (the ids' ``vector_entry_point``; pass ``vectorization_mode="sync"`` for
Gymnasium's own ``SyncVectorEnv`` of :class:`~linkmech.envs.single_agent.SingleAgentEnv` copies instead).
The learner seat, spaces and default opponents are SingleAgentEnv's; the B episodes are stepped together by
the environment's batched engine (:class:`~linkmech.training.vector.BatchedSeatVectorEnv`), the scripted
opponents acting per episode.

Conventions (Gymnasium 1.x): ``metadata["autoreset_mode"]`` is ``SAME_STEP``: every episode of an env has the
same length, so all B end at the same step, and that step returns the next episodes' first observations with
``infos["final_obs"]`` (and ``infos["_final_obs"]``) holding the last ones. ``infos["action_mask"]`` is the
learner's ``[B, A]`` int8 mask after every reset and step (Discrete actions only). Actions the mask or the
space forbids raise a ``ValueError`` naming the episode; nothing is coerced. ``reset(seed=s)`` fixes the run
generator from which every episode's seed is drawn (as in ``linkmech train``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from linkmech.envs.single_agent import OpponentSpec, SingleAgentEnv
from linkmech.training.vector import BatchedSeatVectorEnv, SeatBatch


def learner_engine(
    env: str,
    num_envs: int,
    learner: str,
    opponents: OpponentSpec | Mapping[str, OpponentSpec] | None,
    seed: int | None,
    action_high: float | None,
    **options: Any,
) -> tuple[SingleAgentEnv, BatchedSeatVectorEnv]:
    """The single-agent view (spaces, resolved opponents) and the batched learner-seat engine of ``env``."""
    single = SingleAgentEnv(env, learner, opponents, action_high=action_high, **options)
    engine = BatchedSeatVectorEnv(env, options, [learner], single.opponents, num_envs, seed)
    return single, engine


class BatchedGymVectorEnv(gymnasium.vector.VectorEnv):  # type: ignore[misc]
    """One learner seat of B episodes on the batched engine, as a Gymnasium ``VectorEnv`` (module docstring).

    Args:
        num_envs: B.
        env: an environment id or module name (``"linkmech/LinkedVoting-v0"``).
        learner, opponents, action_high: as for :class:`~linkmech.envs.single_agent.SingleAgentEnv`.
        **options: the env's options.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int = 8,
        env: str = "linkmech/LinkedVoting-v0",
        learner: str = "agent_0",
        opponents: OpponentSpec | Mapping[str, OpponentSpec] | None = None,
        action_high: float | None = None,
        **options: Any,
    ) -> None:
        single, self.engine = learner_engine(env, num_envs, learner, opponents, None, action_high, **options)
        self.learner = learner
        self.num_envs = num_envs
        self.single_observation_space = single.observation_space
        self.single_action_space = single.action_space
        self.observation_space = batch_space(single.observation_space, num_envs)
        self.action_space = batch_space(single.action_space, num_envs)
        self._discrete = isinstance(single.action_space, gymnasium.spaces.Discrete)
        self._started = False

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start B episodes; an int ``seed`` fixes the run generator (a list is not supported: one run)."""
        if isinstance(seed, list):
            raise ValueError(
                "seed: got a list; the B episodes draw their seeds from one run generator, give one int"
            )
        if seed is not None:
            self.engine.rng = np.random.default_rng(seed)
        self._started = True
        return self._observe(self.engine.reset()[self.learner], {})

    def _observe(self, batch: SeatBatch, infos: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
        if self._discrete:
            infos["action_mask"] = batch.mask.copy()
            infos["_action_mask"] = np.ones(self.num_envs, dtype=bool)
        return np.asarray(batch.obs, dtype=np.float32), infos

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every episode with the learner's actions ``[B]`` (``[B, 1]`` for reports)."""
        if not self._started:
            raise ValueError("step: call reset() first")
        array = np.asarray(actions)
        if not self.action_space.contains(array.astype(self.action_space.dtype)) or (
            self._discrete and not np.array_equal(array, array.astype(np.int64))
        ):
            raise ValueError(f"actions: got {actions!r}; expected an element of {self.action_space}")
        result = self.engine.step({self.learner: array})
        infos: dict[str, Any] = {}
        if result.done.any() and self.engine.terminal is not None:
            final = self.engine.terminal[self.learner].obs
            infos["final_obs"] = np.empty(self.num_envs, dtype=object)
            for b in np.flatnonzero(result.done):
                infos["final_obs"][b] = final[b]
            infos["_final_obs"] = result.done.copy()
            infos["final_info"] = {}
            infos["_final_info"] = result.done.copy()
        observations, infos = self._observe(result.batches[self.learner], infos)
        rewards = np.asarray(result.rewards[self.learner], dtype=np.float64)
        return observations, rewards, result.done.copy(), np.zeros(self.num_envs, dtype=bool), infos
