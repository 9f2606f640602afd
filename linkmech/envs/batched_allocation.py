"""The batched engine of the repeated resource allocation: B independent episodes stepped in one call.

:class:`BatchedAllocationEnv` holds one :class:`~linkmech.envs.resource_allocation_v0.AllocationState` over B
episodes and steps it with the SAME methods the single PettingZoo env runs
(:meth:`~linkmech.envs.resource_allocation_v0.ResourceAllocationEnv.start_batch`, ``apply_reports``,
``batch_observations``, ``batch_transfers``): the retraction into Omega*, the efficient allocation, the
utilities and, at the last date, the transfers of all B episodes in one call of the mechanism's transfer rule.
The single env is the B = 1 view.

Seeding: ``reset(seeds)`` with a list gives episode b the generator ``numpy.random.default_rng(seeds[b])``,
exactly what the single env's ``reset(seed=seeds[b])`` uses, so for the same seeds and reports the
per-episode outcomes equal the single env's (tested). ``reset(seed)`` with one integer derives the B seeds
from it (:func:`linkmech.envs.batched.episode_seeds`, as :class:`~linkmech.envs.batched.BatchedLinkingEnv`);
they are kept in ``seeds``.

Arrays: observations ``{agent: [B, D] float32}`` (layout: :meth:`BatchedAllocationEnv.observation_fields`),
masks ``{agent: [B, 0] int8}`` (actions are continuous: nothing to mask), actions ``{agent: [B] numbers}``
or one ``[B, N]`` array of reported endowments (finite, >= 0), rewards ``[B, N]`` float64. Every episode has
T dates, so all episodes end together; ``done`` is one bool, and the transfers are then in
``transfers`` (``[B, N]``). Infos are not built (they are per-episode Python dicts: use the single env).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from linkmech import envs
from linkmech.envs.batched import episode_seeds, joint_actions
from linkmech.envs.resource_allocation_v0 import ResourceAllocationEnv


class BatchedAllocationEnv:
    """B episodes of the repeated resource allocation env.

    Args:
        env: ``"resource_allocation_v0"`` (or its id) or a ResourceAllocationEnv instance (its options are used,
            and its state is replaced by the B episodes).
        num_envs: B.
        **options: the env's options (when ``env`` is a name).
    """

    def __init__(
        self, env: str | ResourceAllocationEnv = "resource_allocation_v0", num_envs: int = 1, **options: Any
    ) -> None:
        base = envs.make(env, **options) if isinstance(env, str) else env
        if not isinstance(base, ResourceAllocationEnv):
            raise ValueError(
                f"BatchedAllocationEnv: got {type(base).__name__}; it runs the resource allocation env "
                "(resource_allocation_v0); for the linking envs use BatchedLinkingEnv"
            )
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs!r}; use an integer >= 1")
        self.env, self.num_envs = base, num_envs
        self.possible_agents = list(base.possible_agents)
        self.seeds: list[int | None] = []

    @property
    def num_steps(self) -> int:
        """Steps per episode: T, the number of dates."""
        return self.env.num_dates

    @property
    def transfers(self) -> np.ndarray | None:
        """``[B, N]`` transfers at T once the episodes are done (None before)."""
        return None if self.env.batch_state is None else self.env.batch_state.transfers

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """The observation layout of ``agent`` (as in the single env)."""
        return self.env.observation_fields(agent)

    def action_space(self, agent: str) -> Any:
        """``agent``'s action space: ``Box(0, inf, (1,))``, the reported endowment."""
        return self.env.action_space(agent)

    def reset(
        self, seed: int | Sequence[int] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Start B episodes: ``seed`` is B episode seeds, or one seed from which they are derived."""
        seeds = episode_seeds(seed, self.num_envs)
        self.env.start_batch([np.random.default_rng(s) for s in seeds])
        self.seeds = seeds
        return self._observations()

    def step(
        self, actions: Mapping[str, Any] | np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, bool]:
        """Play one date of every episode; returns (observations, masks, rewards ``[B, N]``, done).

        A rejected step raises a ValueError and changes nothing.
        """
        env = self.env
        if env.batch_state is None or not env.agents:
            raise ValueError("the episodes are over or have not started; call reset() first")
        rewards = env.apply_reports(self._reports(actions))
        done = env.batch_state.date >= env.num_dates
        if done:
            env.agents = []
        obs, masks = self._observations()
        return obs, masks, rewards, done

    def _observations(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        vectors = self.env.batch_observations()
        obs = {a: vectors[:, i] for i, a in enumerate(self.possible_agents)}
        masks = {a: np.zeros((self.num_envs, 0), dtype=np.int8) for a in self.possible_agents}
        return obs, masks

    def _reports(self, actions: Mapping[str, Any] | np.ndarray) -> np.ndarray:
        """``[B, N]`` float64 reports from the actions; raises a ValueError on a wrong shape or dtype."""
        return joint_actions(actions, self.possible_agents, self.num_envs).astype(np.float64)
