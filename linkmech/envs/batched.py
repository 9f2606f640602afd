"""The batched engine: B independent episodes of a linking environment stepped in one call.

:class:`BatchedLinkingEnv` holds one :class:`~linkmech.mechanisms.linking.LinkingState` over B episodes and
steps it with the SAME code the single PettingZoo env runs: the mechanism functions of
:mod:`linkmech.mechanisms.linking` and the env's own batched observation fields and masks
(:meth:`linkmech.envs.linking_env.LinkingEnv.batch_vector` / ``batch_mask``); the single env is the B = 1 view.

Seeding: ``reset(seeds)`` gives episode b the generator ``numpy.random.default_rng(seeds[b])``, exactly what
the single env's ``reset(seed=seeds[b])`` uses, so for the same seeds and actions the per-episode outcomes equal
the single env's (tested). ``reset(seed)`` with one integer derives the B seeds from it.

Arrays: observations ``{agent: [B, D_i] float32}``, masks ``{agent: [B, A_i] int8}``, actions
``{agent: [B] ints}`` (or one ``[B, n]`` array), rewards ``[B, n]``. Every episode has the same length
(``num_steps``), so all episodes end together; ``done`` is one bool. Infos are not built (they are per-episode
Python dicts: use the single env for them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from linkmech import envs
from linkmech.envs.linking_env import LinkingEnv


def episode_seeds(seed: int | Sequence[int] | None, num_envs: int) -> list[int | None]:
    """The B = ``num_envs`` episode seeds of a batched ``reset(seed)``.

    A sequence is used as is (one seed per episode); one integer derives B seeds with
    ``numpy.random.SeedSequence(seed).generate_state(B, dtype=uint32)``; None gives B fresh (unseeded) episodes.
    """
    if seed is None or isinstance(seed, (int, np.integer)):
        if seed is None:
            return [None] * num_envs
        children = np.random.SeedSequence(int(seed)).generate_state(num_envs, dtype=np.uint32)
        return [int(c) for c in children]
    seeds = [int(s) for s in seed]
    if len(seeds) != num_envs:
        raise ValueError(f"seed: got {len(seeds)} seeds for {num_envs} episodes; give one per episode")
    return list(seeds)


def joint_actions(
    actions: Mapping[str, Any] | np.ndarray, agents: Sequence[str], num_envs: int
) -> np.ndarray:
    """Every agent's actions in B episodes as one ``[B, n]`` array (columns in ``agents`` order).

    ``actions`` is a ``{agent: [B]}`` dict or a ``[B, n]`` array; a missing or unknown agent, a column that is not
    ``[B]``, an array that is not ``[B, n]`` or a non-numeric dtype is a ValueError saying what was expected.
    The values themselves are checked by the env's rules.
    """
    if isinstance(actions, np.ndarray):
        joint = actions
    elif isinstance(actions, Mapping):
        missing = [a for a in agents if a not in actions]
        extra = [a for a in actions if a not in agents]
        if missing or extra:
            raise ValueError(
                f"actions: missing {missing}, unknown {extra}; give one [B] array per agent {list(agents)}"
            )
        columns = [np.asarray(actions[a]) for a in agents]
        for agent, column in zip(agents, columns):
            if column.shape != (num_envs,):
                raise ValueError(
                    f"actions[{agent!r}]: got shape {column.shape}; expected [B] = [{num_envs}], one action "
                    "per episode"
                )
        joint = np.stack(columns, axis=1)
    else:
        raise ValueError(
            f"actions: got {type(actions).__name__}; give a dict of [B] arrays per agent or a [B, n] array"
        )
    if joint.shape != (num_envs, len(agents)) or joint.dtype.kind not in "iuf":
        raise ValueError(
            f"actions: got an array of shape {joint.shape} and dtype {joint.dtype}; expected numbers of shape "
            f"[B, n] = [{num_envs}, {len(agents)}]"
        )
    return joint


class BatchedEngine:
    """The frame every batched engine shares: B episodes of one env, stepped with that env's own batched methods.

    A subclass names the env classes it runs (``runs``) and reads the env's state (``_started``,
    ``_steps_done``, ``_observations``); starting, checking and applying actions are the env's own
    ``start_batch``, ``check_actions`` / ``apply_actions`` (or ``apply_reports``), so the rules live once, in
    the env and the mechanism functions it calls.

    Args:
        env: a registered env name (``"linked_voting_v0"``) or an env instance (its options are used, and its
            state is replaced by the B episodes).
        num_envs: B.
        **options: the env's options (when ``env`` is a name).
    """

    runs: tuple[type, ...] = ()
    """The env classes this engine steps."""
    runs_text = ""
    """What ``runs`` is, in words, for the error on any other env."""
    env: Any

    def __init__(self, env: Any, num_envs: int, **options: Any) -> None:
        base: Any = envs.make(env, **options) if isinstance(env, str) else env
        if not isinstance(base, self.runs):
            raise ValueError(f"{type(self).__name__}: got {type(base).__name__}; {self.runs_text}")
        if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs: got {num_envs!r}; use an integer >= 1")
        self.env = base
        self.num_envs = num_envs
        self.possible_agents = list(self.env.possible_agents)
        self.seeds: list[int | None] = []

    @property
    def num_steps(self) -> int:
        """Steps per episode (every episode has as many, so all end together)."""
        return int(self.env.num_steps)

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """The observation layout of ``agent`` (as in the single env)."""
        return self.env.observation_fields(agent)

    def action_space(self, agent: str) -> Any:
        """``agent``'s action space (as in the single env)."""
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
        if not self._started() or not self.env.agents:
            raise ValueError("the episodes are over or have not started; call reset() first")
        rewards = self._apply(joint_actions(actions, self.possible_agents, self.num_envs))
        done = self._steps_done() >= self.num_steps
        if done:
            self.env.agents = []
        obs, masks = self._observations()
        return obs, masks, rewards, done

    def _apply(self, joint: np.ndarray) -> np.ndarray:
        """Check and apply the ``[B, n]`` actions with the env's own rules; rewards ``[B, n]``."""
        return self.env.apply_actions(joint)

    def _started(self) -> bool:
        return self.env.batch_state is not None

    def _steps_done(self) -> int:
        return int(self.env.batch_state.date)

    def _observations(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        vectors, masks = self.env.batch_observations()
        obs = {a: vectors[:, i] for i, a in enumerate(self.possible_agents)}
        return obs, {a: masks[:, i] for i, a in enumerate(self.possible_agents)}


class BatchedLinkingEnv(BatchedEngine):
    """B episodes of one linking environment (see the module docstring).

    Args:
        env: a registered linking env name (``"linked_voting_v0"``) or a LinkingEnv instance (its problem,
            mechanism and options are used).
        num_envs: B.
        **options: the env's options (when ``env`` is a name).
    """

    runs = (LinkingEnv,)
    runs_text = (
        "the batched engine runs the linking environments "
        "(LinkedVoting, LinkedPublicGoods, LinkedBargaining, LinkedAllocation, LinkedProblem)"
    )
    env: LinkingEnv

    def _apply(self, joint: np.ndarray) -> np.ndarray:
        chosen = joint.astype(np.int64) if np.issubdtype(joint.dtype, np.integer) else joint
        self.env.check_actions(chosen)
        return self.env.apply_actions(chosen)

    def _started(self) -> bool:
        return self.env.state_ is not None

    def _steps_done(self) -> int:
        return self.env._step_count

    def _observations(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        env = self.env
        obs = {a: env.batch_vector(i) for i, a in enumerate(self.possible_agents)}
        allowed = env._allowed()
        masks = {a: env.batch_mask(i, allowed) for i, a in enumerate(self.possible_agents)}
        return obs, masks


def batched_env(env: str | Any, num_envs: int, **options: Any) -> Any:
    """The batched engine of ``env`` with B = ``num_envs`` episodes, or None if it has none.

    Linking environments get :class:`BatchedLinkingEnv`, the resource allocation env
    :class:`~linkmech.envs.batched_allocation.BatchedAllocationEnv`, the ranked-voting and importance-vote
    variants :class:`~linkmech.envs.batched_variants.BatchedVariantEnv`; any other env gets None (step copies
    of the single env instead).
    """
    from linkmech.envs.batched_allocation import BatchedAllocationEnv
    from linkmech.envs.batched_variants import BatchedVariantEnv
    from linkmech.envs.importance_vote_v0 import ImportanceVoteEnv
    from linkmech.envs.ranked_voting_v0 import RankedVotingEnv
    from linkmech.envs.resource_allocation_v0 import ResourceAllocationEnv

    base = envs.make(env, **options) if isinstance(env, str) else env
    if isinstance(base, LinkingEnv):
        return BatchedLinkingEnv(base, num_envs)
    if isinstance(base, ResourceAllocationEnv):
        return BatchedAllocationEnv(base, num_envs)
    if isinstance(base, (RankedVotingEnv, ImportanceVoteEnv)):
        return BatchedVariantEnv(base, num_envs)
    return None
