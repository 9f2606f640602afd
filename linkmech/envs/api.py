"""Shared PettingZoo plumbing: the AEC view of a parallel env that checks each action as it arrives.

Every linkmech environment is written once as a :class:`pettingzoo.ParallelEnv` (announcements are
simultaneous) with a ``check_action(agent, action)`` method. :func:`constructors` derives the module-level
``env()`` (AEC, with PettingZoo's order enforcing), ``raw_env()`` (AEC, unwrapped) and ``parallel_env()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.wrappers import OrderEnforcingWrapper


class CheckedParallelEnv(Protocol):
    """A parallel env that can validate one agent's action without changing any state."""

    def check_action(self, agent: str, action: Any) -> None:
        """Raise a ValueError saying what is wrong with ``action``, if anything."""


class CheckedAEC(parallel_to_aec_wrapper):  # type: ignore[misc]
    """AEC view of a parallel env that rejects a bad action at the agent's own turn, changing nothing."""

    def step(self, action: Any) -> None:
        """Check the action (for a live agent) before buffering it."""
        agent = self.agent_selection
        if not (self.terminations[agent] or self.truncations[agent]):
            self.env.check_action(agent, action)
        super().step(action)


def constructors(
    parallel_class: Callable[..., ParallelEnv],
) -> tuple[Callable[..., AECEnv], Callable[..., AECEnv], Callable[..., ParallelEnv]]:
    """``(env, raw_env, parallel_env)`` factories for a parallel env class."""

    def parallel_env(**kwargs: Any) -> ParallelEnv:
        return parallel_class(**kwargs)

    def raw_env(**kwargs: Any) -> AECEnv:
        return CheckedAEC(parallel_class(**kwargs))

    def env(**kwargs: Any) -> AECEnv:
        return OrderEnforcingWrapper(raw_env(**kwargs))

    parallel_env.__doc__ = f"A parallel (simultaneous-move) {parallel_class.__name__}."
    raw_env.__doc__ = f"The AEC view of {parallel_class.__name__}, without wrappers."
    env.__doc__ = f"The AEC view of {parallel_class.__name__} with PettingZoo's order enforcing."
    return env, raw_env, parallel_env


def check_action_dict(actions: dict[str, Any], live_agents: list[str]) -> None:
    """Raise a ValueError unless ``actions`` has exactly one entry per live agent."""
    if not live_agents:
        raise ValueError("the episode is over or has not started; call reset() first")
    if not isinstance(actions, dict):
        raise ValueError(
            f"actions: got {type(actions).__name__}; give a dict with one action per agent {live_agents}"
        )
    missing = [a for a in live_agents if a not in actions]
    extra = [a for a in actions if a not in live_agents]
    if missing or extra:
        raise ValueError(
            f"actions: missing for {missing}, unknown agents {extra}; give one per live agent {live_agents}"
        )


def as_discrete_action(action: Any, agent: str, num_actions: int) -> int:
    """The action as an int, or a ValueError naming the agent, the value and the allowed range."""
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(
            f"{agent} sent action {action!r} of type {type(action).__name__}; actions are integers "
            f"0..{num_actions - 1} (Discrete({num_actions}))"
        )
    value = int(action)
    if not 0 <= value < num_actions:
        raise ValueError(f"{agent} sent action {value}; allowed actions are 0..{num_actions - 1}")
    return value


def masked_observation_space(low: np.ndarray, high: np.ndarray, num_actions: int) -> spaces.Dict:
    """``{"observation": Box(low, high) float32, "action_mask": Box int8 [num_actions]}``."""
    return spaces.Dict(
        {
            "observation": spaces.Box(
                low=low.astype(np.float32), high=high.astype(np.float32), dtype=np.float32
            ),
            "action_mask": spaces.Box(low=0, high=1, shape=(num_actions,), dtype=np.int8),
        }
    )


def reseed(current: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    """The env's single generator after ``reset(seed)``: a new one for a seed (or none yet), else ``current``."""
    if seed is not None or current is None:
        return np.random.default_rng(seed)
    return current


class SharedSpacesEnv(ParallelEnv):  # type: ignore[misc]
    """Base of parallel envs whose agents all have one observation space and one action space."""

    _observation_space: spaces.Space[Any]
    _action_space: spaces.Space[Any]

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        """The observation space shared by every agent (the same object every call)."""
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Space[Any]:
        """The action space shared by every agent (the same object every call)."""
        return self._action_space


def check_joint_shape(chosen: np.ndarray, batch_size: int, num_agents: int) -> None:
    """Raise a ValueError unless ``chosen`` is a ``[B, n]`` integer array (the joint Discrete actions)."""
    if chosen.shape != (batch_size, num_agents) or not np.issubdtype(chosen.dtype, np.integer):
        raise ValueError(
            f"actions: got an array of shape {chosen.shape} and dtype {chosen.dtype}; expected integers "
            f"of shape [B, n] = [{batch_size}, {num_agents}] (the actions of these envs are Discrete)"
        )


def check_against_mask(agent: str, column: np.ndarray, mask: np.ndarray, encoding: str = "") -> None:
    """Raise a ValueError naming the first episode whose action in ``column [B]`` its ``mask [B, A]`` forbids.

    ``encoding`` says how actions are numbered (shown in the message, e.g. ``"side * K + rank - 1"``).
    """
    inside = (column >= 0) & (column < mask.shape[1])
    allowed = np.zeros(len(column), dtype=bool)
    allowed[inside] = mask[np.flatnonzero(inside), column[inside]] == 1
    if not allowed.all():
        b = int(np.flatnonzero(~allowed)[0])
        how = f"{encoding}; " if encoding else ""
        raise ValueError(
            f"episode {b}: {agent} sent action {int(column[b])}; its mask allows "
            f"{np.flatnonzero(mask[b]).tolist()} ({how}nothing was changed)"
        )
