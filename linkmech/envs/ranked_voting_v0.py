"""Distribution-free linked voting: vote and rank the problems (Section 5 of Jackson and Sonnenschein, 2007).

n agents decide a or b on each of K problems; an agent's value of b over a is drawn from a distribution
symmetric about 0 on ``[-bound, bound]`` (``values="uniform"``, or ``"two_point"``: +-bound/2, +-bound) that
the mechanism does not need to know. Each agent votes on every problem and ranks the problems 1..K (rank 1 =
matters most; every rank used exactly once). Majority decides; a tie in votes goes to the side of the agent
who ranked the problem highest, and a coin decides if both sides share that rank.

Agents ``agent_0 .. agent_{n-1}``. Action: ``Discrete(2K)``, action ``side * K + (rank - 1)`` votes for
``side`` (0 = a, 1 = b) and gives the current problem rank ``rank``; the int8 mask allows exactly the ranks
not yet used. Over time (``form="over_time"``) problem k is decided at date k; all at once
(``form="all_at_once"``) the agent sees all its values and every problem is decided after the last entry.

Observation ``{"observation", "action_mask"}``; the vector is ``[value / bound, progress, ranks left (K),
own values / bound (K, all at once only; zeros over time), last utility]``.
Reward: over time ``discount**(k-1) * v`` when b is chosen at date k (0 for a); all at once, the sum at the
end. ``infos`` report the vote, rank, decision and utility.

Example::

    import pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/RankedVoting-v0", num_problems=8)
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample(observations[a]["action_mask"]) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)

Batches: the env holds a :class:`RankedState` of B episodes (arrays with a leading batch axis) and every rule
(drawing, masks, observations, the ranked vote and its utilities) is computed for all B at once by
:meth:`RankedVotingEnv.start_batch`, :meth:`~RankedVotingEnv.batch_observations`,
:meth:`~RankedVotingEnv.check_actions` and :meth:`~RankedVotingEnv.apply_actions`. The PettingZoo interface is
the B = 1 view (row 0); :class:`linkmech.envs.batched_variants.BatchedVariantEnv` steps B episodes through the
same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from linkmech.envs.api import (
    SharedSpacesEnv,
    as_discrete_action,
    check_action_dict,
    check_against_mask,
    check_joint_shape,
    constructors,
    masked_observation_space,
    reseed,
)
from linkmech.envs.linking_env import FORMS
from linkmech.mechanisms.problem import FloatArray, IntArray
from linkmech.mechanisms.variants import SymmetricValues, ranked_vote_lottery


@dataclass
class _RankedEpisode:
    """One episode's arrays (row b of a :class:`RankedState`, as views)."""

    values: FloatArray  # [K, n]
    uniforms: FloatArray  # [K]
    votes: np.ndarray  # [K, n] bool
    ranks: np.ndarray  # [K, n] int, 0 = not yet
    decisions: np.ndarray  # [K] int, -1 = not yet
    utilities: FloatArray  # [K, n]
    date: int = 0


@dataclass
class RankedState:
    """B episodes of the ranked vote, all at the same date.

    Attributes:
        values: ``[B, K, n]`` values of b over a.
        uniforms: ``[B, K]`` decision coins.
        votes: ``[B, K, n]`` votes for b (False before the problem's date).
        ranks: ``[B, K, n]`` ranks given (0 = not yet).
        decisions: ``[B, K]`` 0 = a, 1 = b, -1 = not decided yet.
        utilities: ``[B, K, n]`` realised (undiscounted) utilities.
        date: problems voted on so far (shared by the B episodes).
    """

    values: FloatArray
    uniforms: FloatArray
    votes: NDArray[np.bool_]
    ranks: IntArray
    decisions: IntArray
    utilities: FloatArray
    date: int = 0

    @property
    def batch_size(self) -> int:
        """B, the number of episodes."""
        return int(self.values.shape[0])

    def row(self, b: int) -> _RankedEpisode:
        """Episode ``b`` as views (no copy)."""
        return _RankedEpisode(
            self.values[b],
            self.uniforms[b],
            self.votes[b],
            self.ranks[b],
            self.decisions[b],
            self.utilities[b],
            self.date,
        )


class RankedVotingEnv(SharedSpacesEnv):
    """K votes with a ranking of the problems, decided by majority with rank tie-breaks."""

    metadata: dict[str, Any] = {"name": "ranked_voting_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        num_agents: int = 2,
        num_problems: int = 8,
        form: str = "over_time",
        bound: float = 2.0,
        values: str = "uniform",
        discount: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        if form not in FORMS:
            raise ValueError(f"form: got {form!r}; allowed are {FORMS}")
        if isinstance(num_agents, bool) or not isinstance(num_agents, int) or num_agents < 2:
            raise ValueError(f"num_agents: got {num_agents!r}; allowed are integers >= 2")
        if isinstance(num_problems, bool) or not isinstance(num_problems, int) or num_problems < 1:
            raise ValueError(f"num_problems: got {num_problems!r}; allowed are integers K >= 1")
        if not (np.isfinite(discount) and 0 < discount <= 1) or (form == "all_at_once" and discount != 1):
            raise ValueError(f"discount: got {discount!r}; allowed is (0, 1], and exactly 1 all at once")
        if render_mode is not None:
            raise ValueError(f"render_mode: got {render_mode!r}; this env has no rendering")
        self.render_mode = None
        self.values = SymmetricValues(bound=bound, kind=values)
        self.num_problems, self.form, self.discount = num_problems, form, discount
        self.possible_agents = [f"agent_{i}" for i in range(num_agents)]
        self.agents: list[str] = []
        size = 2 * num_problems + 3
        low = np.concatenate([[-1.0, 0.0], np.zeros(num_problems), -np.ones(num_problems), [-np.inf]])
        high = np.concatenate([[1.0, 1.0], np.ones(num_problems), np.ones(num_problems), [np.inf]])
        assert low.shape == (size,)
        self._observation_space = masked_observation_space(low, high, 2 * num_problems)
        self._action_space = spaces.Discrete(2 * num_problems)
        self._rng: np.random.Generator | None = None
        self.batch_state: RankedState | None = None

    @property
    def episode(self) -> _RankedEpisode | None:
        """Episode 0 of the state as views (None before the first reset); read it, do not keep it."""
        return None if self.batch_state is None else self.batch_state.row(0)

    @property
    def num_steps(self) -> int:
        """Steps per episode: K, one per problem."""
        return self.num_problems

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """Names and slices of the observation vector (the same for every agent)."""
        k = self.num_problems
        sizes = [("value", 1), ("progress", 1), ("ranks_left", k), ("own_values", k), ("last_utility", 1)]
        out, start = [], 0
        for name, size in sizes:
            out.append((name, slice(start, start + size)))
            start += size
        return out

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Draw the values and decision coins of a new episode from the env's generator."""
        self._rng = reseed(self._rng, seed)
        self.start_batch([self._rng])
        return self._observations(), {a: {"date": 0} for a in self.agents}

    def check_action(self, agent: str, action: Any) -> None:
        """Raise a ValueError if the action is out of range or reuses a rank; changes nothing."""
        state = self._state()
        if agent not in self.agents:
            raise ValueError(f"agent: got {agent!r}; live agents are {self.agents}")
        value = as_discrete_action(action, agent, 2 * self.num_problems)
        i = self.possible_agents.index(agent)
        if not self.batch_masks()[0, i, value]:
            rank = value % self.num_problems + 1
            used = sorted(int(r) for r in state.ranks[0, :, i] if r > 0)
            raise ValueError(
                f"{agent} gave rank {rank} to problem {state.date + 1}, but it already used it; ranks used so "
                f"far: {used}, each of 1..{self.num_problems} exactly once"
            )

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Record every agent's vote and rank; decide the problem (over time) or all problems (at the end)."""
        check_action_dict(actions, self.agents)
        for agent in self.agents:
            self.check_action(agent, actions[agent])
        k = self._state().date
        rewards = self.apply_actions(np.array([[int(actions[a]) for a in self.possible_agents]]))[0]
        episode = self._state().row(0)
        done = episode.date == self.num_problems
        infos = {
            agent: {
                "date": k + 1,
                "vote": "ab"[int(episode.votes[k, i])],
                "rank": int(episode.ranks[k, i]),
                "decision": "ab"[int(episode.decisions[k])] if episode.decisions[k] >= 0 else None,
                "utility": float(episode.utilities[k, i]),
            }
            for i, agent in enumerate(self.possible_agents)
        }
        observations = self._observations()
        if done:
            self.agents = []
        reward_dict = {a: float(rewards[i]) for i, a in enumerate(self.possible_agents)}
        return (
            observations,
            reward_dict,
            dict.fromkeys(self.possible_agents, done),
            dict.fromkeys(self.possible_agents, False),
            infos,
        )

    # Every rule below works on all B episodes of the state at once; the PettingZoo methods above show
    # row 0, and linkmech.envs.batched_variants.BatchedVariantEnv shows every row: one copy of each rule.

    def start_batch(self, generators: Sequence[np.random.Generator]) -> RankedState:
        """Start B = ``len(generators)`` episodes; episode b is drawn only from ``generators[b]``.

        Episode b draws its values ``[K, n]`` and then its K decision coins, exactly what ``reset(seed=s)``
        draws with ``default_rng(s)``. Makes every agent live and returns the new state (kept as
        ``batch_state``).
        """
        if len(generators) < 1:
            raise ValueError("generators: got none; give one numpy.random.Generator per episode")
        k, n = self.num_problems, len(self.possible_agents)
        draws = [(self.values.sample(k, n, rng), rng.random(k)) for rng in generators]
        batch = len(draws)
        self.batch_state = RankedState(
            values=np.stack([values for values, _ in draws]),
            uniforms=np.stack([uniforms for _, uniforms in draws]),
            votes=np.zeros((batch, k, n), dtype=bool),
            ranks=np.zeros((batch, k, n), dtype=np.int64),
            decisions=np.full((batch, k), -1, dtype=np.int64),
            utilities=np.zeros((batch, k, n)),
        )
        self.agents = list(self.possible_agents)
        return self.batch_state

    def batch_masks(self) -> NDArray[np.int8]:
        """``[B, n, 2K]`` int8 action masks: every vote with a rank the agent has not used yet (none at the end)."""
        state = self._state()
        shape = (state.batch_size, len(self.possible_agents), 2 * self.num_problems)
        if state.date >= self.num_problems:
            return np.zeros(shape, dtype=np.int8)
        return np.tile(self._ranks_left(), 2).astype(np.int8)

    def batch_observations(self) -> tuple[NDArray[np.float32], NDArray[np.int8]]:
        """``([B, n, D] float32 vectors, [B, n, 2K] int8 masks)`` of every agent in every episode.

        Agent i's vector in episode b is ``[b, i]``; the layout is :meth:`observation_fields`.
        """
        state = self._state()
        k, big_k, bound = state.date, self.num_problems, self.values.bound
        batch, n = state.batch_size, len(self.possible_agents)
        current = state.values[:, k, :] / bound if k < big_k else np.zeros((batch, n))
        own = (
            state.values.transpose(0, 2, 1) / bound
            if self.form == "all_at_once"
            else np.zeros((batch, n, big_k))
        )
        last = state.utilities[:, k - 1, :] if k > 0 else np.zeros((batch, n))
        parts = [
            current[:, :, None],
            np.full((batch, n, 1), k / big_k),
            self._ranks_left(),
            own,
            last[:, :, None],
        ]
        return np.concatenate(parts, axis=2).astype(np.float32), self.batch_masks()

    def check_actions(self, chosen: np.ndarray) -> None:
        """Raise a ValueError unless ``chosen`` is ``[B, n]`` integers each agent's mask allows; changes nothing.

        The message names the first offending episode, agent and action, and the allowed actions.
        """
        state = self._state()
        check_joint_shape(chosen, state.batch_size, len(self.possible_agents))
        if state.date >= self.num_problems:
            raise ValueError("the episodes are over; call reset() first")
        masks = self.batch_masks()
        for i, agent in enumerate(self.possible_agents):
            check_against_mask(agent, chosen[:, i], masks[:, i], "side * K + rank - 1, ranks not used yet")

    def apply_actions(self, chosen: np.ndarray) -> FloatArray:
        """Play the current problem of every episode with actions ``chosen [B, n]``; rewards ``[B, n]``.

        Records votes and ranks; over time decides the problem, all at once decides every problem after the
        last entry (all B episodes in one call of the ranked vote). A rejected call raises and changes nothing.
        """
        chosen = np.asarray(chosen)
        self.check_actions(chosen)
        state = self._state()
        k = state.date
        state.votes[:, k] = chosen // self.num_problems == 1
        state.ranks[:, k] = chosen % self.num_problems + 1
        state.date += 1
        if self.form == "over_time":
            return self._decide(np.array([k]))[:, 0]
        if state.date == self.num_problems:
            return self._decide(np.arange(self.num_problems)).sum(axis=1)
        return np.zeros((state.batch_size, len(self.possible_agents)))

    def _decide(self, problems: IntArray) -> FloatArray:
        """Decide ``problems`` in every episode; their discounted utilities ``[B, len(problems), n]``."""
        state = self._state()
        batch, n = state.batch_size, len(self.possible_agents)
        rows = batch * len(problems)
        lottery = ranked_vote_lottery(
            state.votes[:, problems].reshape(rows, n), state.ranks[:, problems].reshape(rows, n)
        )
        decisions = lottery.sample(state.uniforms[:, problems].reshape(rows)).reshape(batch, len(problems))
        state.decisions[:, problems] = decisions
        state.utilities[:, problems] = (decisions == 1)[:, :, None] * state.values[:, problems]
        return state.utilities[:, problems] * (self.discount**problems)[None, :, None]

    def _ranks_left(self) -> FloatArray:
        """``[B, n, K]``: 1.0 where the agent has not used the rank (index r = rank r + 1) yet, else 0.0."""
        state = self._state()
        used = (state.ranks[:, :, :, None] == np.arange(1, self.num_problems + 1)).any(axis=1)
        return 1.0 - used

    def _state(self) -> RankedState:
        if self.batch_state is None:
            raise ValueError("call reset() first")
        return self.batch_state

    def _observations(self) -> dict[str, dict[str, Any]]:
        vectors, masks = self.batch_observations()
        return {
            agent: {"observation": vectors[0, i], "action_mask": masks[0, i]}
            for i, agent in enumerate(self.possible_agents)
        }

    def close(self) -> None:
        """Nothing to release."""


env, raw_env, parallel_env = constructors(RankedVotingEnv)
