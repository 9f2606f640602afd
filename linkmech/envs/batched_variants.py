"""The batched engine of the linked-voting variants: B independent episodes stepped in one call.

:class:`BatchedVariantEnv` runs the distribution-free ranked vote (``ranked_voting_v0``,
:class:`~linkmech.envs.ranked_voting_v0.RankedVotingEnv`) and Appendix 3's importance vote
(``importance_vote_v0``, :class:`~linkmech.envs.importance_vote_v0.ImportanceVoteEnv`). Both envs hold a
state of B episodes with a leading batch axis and step it with the SAME methods their PettingZoo interface
uses (``start_batch``, ``batch_observations``, ``check_actions``, ``apply_actions``): the mechanism functions
of :mod:`linkmech.mechanisms.variants` decide all B episodes in one call. The single env is the B = 1 view.

Seeding: ``reset(seeds)`` with a list gives episode b the generator ``numpy.random.default_rng(seeds[b])``,
exactly what the single env's ``reset(seed=seeds[b])`` uses, so for the same seeds and actions the
per-episode outcomes equal the single env's (tested). ``reset(seed)`` with one integer derives the B seeds
from it (:func:`linkmech.envs.batched.episode_seeds`); they are kept in ``seeds``.

Arrays: observations ``{agent: [B, D] float32}`` (layout: :meth:`BatchedVariantEnv.observation_fields`), masks
``{agent: [B, A] int8}``, actions ``{agent: [B] ints}`` or one ``[B, n]`` int array, rewards ``[B, n]``
float64. Every episode has the same number of steps (K for the ranked vote, 1 for the importance vote), so all
episodes end together; ``done`` is one bool. Infos are not built (they are per-episode Python dicts: use the
single env).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from linkmech import envs
from linkmech.envs.batched import episode_seeds, joint_actions
from linkmech.envs.importance_vote_v0 import ImportanceVoteEnv
from linkmech.envs.ranked_voting_v0 import RankedVotingEnv

VariantEnv = RankedVotingEnv | ImportanceVoteEnv
"""The envs :class:`BatchedVariantEnv` runs."""


class BatchedVariantEnv:
    """B episodes of the ranked-voting or the importance-vote env.

    Args:
        env: ``"ranked_voting_v0"`` or ``"importance_vote_v0"`` (or their ids), or an instance of either env
            (its options are used, and its state is replaced by the B episodes).
        num_envs: B.
        **options: the env's options (when ``env`` is a name).
    """

    def __init__(self, env: str | VariantEnv, num_envs: int, **options: Any) -> None:
        base = envs.make(env, **options) if isinstance(env, str) else env
        if not isinstance(base, (RankedVotingEnv, ImportanceVoteEnv)):
            raise ValueError(
                f"BatchedVariantEnv: got {type(base).__name__}; it runs ranked_voting_v0 and importance_vote_v0; "
                "for the linking envs use BatchedLinkingEnv, for resource_allocation_v0 BatchedAllocationEnv"
            )
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs!r}; use an integer >= 1")
        self.env: VariantEnv = base
        self.num_envs = num_envs
        self.possible_agents = list(base.possible_agents)
        self.seeds: list[int | None] = []

    @property
    def num_steps(self) -> int:
        """Steps per episode: K for the ranked vote, 1 for the importance vote."""
        return self.env.num_steps

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """The observation layout of ``agent`` (as in the single env)."""
        return self.env.observation_fields(agent)

    def action_space(self, agent: str) -> Any:
        """``agent``'s Discrete action space."""
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
        """Apply every episode's actions; returns (observations, masks, rewards ``[B, n]``, done).

        A rejected step raises a ValueError (naming the episode, agent, action and what is allowed) and
        changes nothing.
        """
        env = self.env
        if env.batch_state is None or not env.agents:
            raise ValueError("the episodes are over or have not started; call reset() first")
        rewards = env.apply_actions(self._joint(actions))
        done = env.batch_state.date >= env.num_steps
        if done:
            env.agents = []
        obs, masks = self._observations()
        return obs, masks, rewards, done

    def _observations(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        vectors, masks = self.env.batch_observations()
        obs = {a: vectors[:, i] for i, a in enumerate(self.possible_agents)}
        return obs, {a: masks[:, i] for i, a in enumerate(self.possible_agents)}

    def _joint(self, actions: Mapping[str, Any] | np.ndarray) -> np.ndarray:
        """The ``[B, n]`` array of every agent's actions (values are checked by the env)."""
        return joint_actions(actions, self.possible_agents, self.num_envs)
