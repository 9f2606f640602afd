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

from typing import Any

import numpy as np

from linkmech.envs.batched import BatchedEngine
from linkmech.envs.resource_allocation_v0 import ResourceAllocationEnv


class BatchedAllocationEnv(BatchedEngine):
    """B episodes of the repeated resource allocation env.

    Args:
        env: ``"resource_allocation_v0"`` (or its id) or a ResourceAllocationEnv instance (its options are used,
            and its state is replaced by the B episodes).
        num_envs: B.
        **options: the env's options (when ``env`` is a name).
    """

    runs = (ResourceAllocationEnv,)
    runs_text = "it runs the resource allocation env (resource_allocation_v0); for the linking envs use BatchedLinkingEnv"
    env: ResourceAllocationEnv

    def __init__(
        self, env: str | ResourceAllocationEnv = "resource_allocation_v0", num_envs: int = 1, **options: Any
    ) -> None:
        super().__init__(env, num_envs, **options)

    @property
    def num_steps(self) -> int:
        """Steps per episode: T, the number of dates."""
        return self.env.num_dates

    @property
    def transfers(self) -> np.ndarray | None:
        """``[B, N]`` transfers at T once the episodes are done (None before)."""
        return None if self.env.batch_state is None else self.env.batch_state.transfers

    def _apply(self, joint: np.ndarray) -> np.ndarray:
        """The ``[B, N]`` reported endowments, as float64, checked and played by the env."""
        return self.env.apply_reports(joint.astype(np.float64))

    def _observations(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        vectors = self.env.batch_observations()
        obs = {a: vectors[:, i] for i, a in enumerate(self.possible_agents)}
        masks = {a: np.zeros((self.num_envs, 0), dtype=np.int8) for a in self.possible_agents}
        return obs, masks
