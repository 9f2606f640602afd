"""Stable-Baselines3's ``VecEnv`` over the batched engine: one learner seat, B episodes in one call.

:class:`BatchedVecEnv` is the fast counterpart of ``DummyVecEnv([SingleAgentEnv(...)] * B)``: the same
learner seat, spaces and opponents as :class:`~linkmech.envs.single_agent.SingleAgentEnv`, but the B
episodes are stepped together by the environment's batched engine
(:class:`~linkmech.training.vector.BatchedSeatVectorEnv`), only the scripted opponents acting episode by
episode. It follows SB3's conventions: episodes reset themselves when they end (every episode of an env has
the same length, so all B end together), ``infos[b]["terminal_observation"]`` holds the last observation of
an ended episode, and sb3-contrib's ``MaskablePPO`` finds the masks through ``env_method("action_masks")``.

Seeding: ``seed(s)`` (which SB3 calls with the model's seed) and the ``seed`` argument both fix the run
generator from which every episode's seed is drawn, exactly as in ``linkmech train``; actions outside the
learner's mask or space raise a ``ValueError`` naming the episode (nothing is coerced).

Example::

    from sb3_contrib import MaskablePPO
    from linkmech.envs.sb3_vec import BatchedVecEnv

    env = BatchedVecEnv("linked_voting_v0", num_envs=64, num_problems=20)
    MaskablePPO("MlpPolicy", env, n_steps=40, seed=0).learn(100_000)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from linkmech.envs.gym_vector import learner_engine
from linkmech.envs.single_agent import OpponentSpec


class BatchedVecEnv(VecEnv):  # type: ignore[misc]
    """One learner seat of B episodes on the batched engine, as an SB3 ``VecEnv`` (module docstring).

    Args:
        env: an environment id or module name (``"linked_voting_v0"``).
        num_envs: B.
        learner: the learner's agent id.
        opponents: as for :class:`~linkmech.envs.single_agent.SingleAgentEnv` (defaults per env included).
        seed: the run seed (None: fresh entropy until :meth:`seed` is called).
        action_high: as for SingleAgentEnv (finite bounds for the resource allocation's reports).
        **options: the env's options.
    """

    def __init__(
        self,
        env: str = "linked_voting_v0",
        num_envs: int = 8,
        learner: str = "agent_0",
        opponents: OpponentSpec | Mapping[str, OpponentSpec] | None = None,
        seed: int | None = None,
        action_high: float | None = None,
        **options: Any,
    ) -> None:
        single, self.vector = learner_engine(env, num_envs, learner, opponents, seed, action_high, **options)
        self.learner = learner
        self._discrete = hasattr(single.action_space, "n")
        self._masks = np.zeros((num_envs, 0), dtype=bool)
        self._actions: np.ndarray | None = None
        self.render_mode = None
        super().__init__(num_envs, single.observation_space, single.action_space)

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Fix the run generator that draws every episode's seed; takes effect at the next :meth:`reset`."""
        self._pending_seed = seed
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        """Start B fresh episodes; returns the learner's observations ``[B, D]``."""
        pending = getattr(self, "_pending_seed", None)
        if pending is not None:
            self.vector.rng = np.random.default_rng(pending)
            self._pending_seed = None
        return self._show(self.vector.reset()[self.learner])

    def _show(self, batch: Any) -> np.ndarray:
        self._masks = batch.mask.astype(bool)
        return np.asarray(batch.obs, dtype=np.float32)

    def action_masks(self) -> np.ndarray:
        """``[B, A]`` bool masks of the learner's admissible actions (sb3-contrib's convention)."""
        return self._masks.copy()

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the learner's actions ``[B]`` (``[B, 1]`` for reports) for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every episode; returns observations, rewards, dones and infos (SB3's ``VecEnv`` contract)."""
        if self._actions is None:
            raise ValueError("step_wait: no actions; call step_async(actions) first")
        actions = self._actions.astype(np.int64) if self._discrete else self._actions
        if self._discrete and not np.array_equal(actions, self._actions):
            raise ValueError(f"actions: got {self._actions!r}; Discrete actions are whole numbers")
        self._actions = None
        result = self.vector.step({self.learner: actions})
        observations = self._show(result.batches[self.learner])
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if result.done.any() and self.vector.terminal is not None:
            terminal = self.vector.terminal[self.learner].obs
            for b in np.flatnonzero(result.done):
                infos[b]["terminal_observation"] = terminal[b]
        rewards = np.asarray(result.rewards[self.learner], dtype=np.float32)
        return observations, rewards, result.done.copy(), infos

    def close(self) -> None:
        """Nothing to release."""

    def _indices(self, indices: int | Iterable[int] | None) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices: int | Iterable[int] | None = None) -> list[Any]:
        """The attribute of this VecEnv, once per episode index (the B episodes share one env object)."""
        value = getattr(self, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: int | Iterable[int] | None = None) -> None:
        """Not supported: the episodes share one batched state."""
        raise NotImplementedError(
            f"set_attr({attr_name!r}): the B episodes of a BatchedVecEnv share one state; set options when "
            "building it"
        )

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: int | Iterable[int] | None = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """``env_method("action_masks")``: one mask row per episode (what MaskablePPO calls); nothing else."""
        if method_name != "action_masks":
            raise NotImplementedError(
                f"env_method({method_name!r}): a BatchedVecEnv answers only 'action_masks'; use the batched "
                "engine (linkmech.envs.batched) for anything else"
            )
        masks = self.action_masks()
        return [masks[b] for b in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: int | Iterable[int] | None = None) -> list[bool]:
        """No episode is wrapped by a Gymnasium wrapper."""
        return [False for _ in self._indices(indices)]
