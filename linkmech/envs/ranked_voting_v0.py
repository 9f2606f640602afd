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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from linkmech.envs.api import (
    SharedSpacesEnv,
    as_discrete_action,
    check_action_dict,
    constructors,
    masked_observation_space,
    reseed,
)
from linkmech.envs.linking_env import FORMS
from linkmech.mechanisms.problem import FloatArray
from linkmech.mechanisms.variants import SymmetricValues, ranked_vote_lottery


@dataclass
class _RankedEpisode:
    values: FloatArray  # [K, n]
    uniforms: FloatArray  # [K]
    votes: np.ndarray  # [K, n] bool
    ranks: np.ndarray  # [K, n] int, 0 = not yet
    decisions: np.ndarray  # [K] int, -1 = not yet
    utilities: FloatArray  # [K, n]
    date: int = 0


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
        self.episode: _RankedEpisode | None = None

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Draw the values and decision coins of a new episode from the env's generator."""
        self._rng = reseed(self._rng, seed)
        k, n = self.num_problems, len(self.possible_agents)
        self.episode = _RankedEpisode(
            values=self.values.sample(k, n, self._rng),
            uniforms=self._rng.random(k),
            votes=np.zeros((k, n), dtype=bool),
            ranks=np.zeros((k, n), dtype=np.int64),
            decisions=np.full(k, -1, dtype=np.int64),
            utilities=np.zeros((k, n)),
        )
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {"date": 0} for a in self.agents}

    def check_action(self, agent: str, action: Any) -> None:
        """Raise a ValueError if the action is out of range or reuses a rank; changes nothing."""
        episode = self._episode()
        if agent not in self.agents:
            raise ValueError(f"agent: got {agent!r}; live agents are {self.agents}")
        value = as_discrete_action(action, agent, 2 * self.num_problems)
        rank = value % self.num_problems + 1
        i = self.possible_agents.index(agent)
        if rank in episode.ranks[:, i]:
            used = sorted(int(r) for r in episode.ranks[:, i] if r > 0)
            raise ValueError(
                f"{agent} gave rank {rank} to problem {episode.date + 1}, but it already used it; ranks used so "
                f"far: {used}, each of 1..{self.num_problems} exactly once"
            )

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Record every agent's vote and rank; decide the problem (over time) or all problems (at the end)."""
        check_action_dict(actions, self.agents)
        for agent in self.agents:
            self.check_action(agent, actions[agent])
        episode = self._episode()
        k = episode.date
        chosen = np.array([int(actions[a]) for a in self.possible_agents])
        episode.votes[k] = chosen // self.num_problems == 1
        episode.ranks[k] = chosen % self.num_problems + 1
        episode.date += 1
        n = len(self.possible_agents)
        rewards = np.zeros(n)
        if self.form == "over_time":
            rewards = self._decide(np.array([k]))[0]
        elif episode.date == self.num_problems:
            rewards = self._decide(np.arange(self.num_problems)).sum(axis=0)
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

    def _decide(self, problems: np.ndarray) -> FloatArray:
        episode = self._episode()
        lottery = ranked_vote_lottery(episode.votes[problems], episode.ranks[problems])
        decisions = lottery.sample(episode.uniforms[problems])
        episode.decisions[problems] = decisions
        episode.utilities[problems] = (decisions == 1)[:, None] * episode.values[problems]
        return episode.utilities[problems] * (self.discount**problems)[:, None]

    def _episode(self) -> _RankedEpisode:
        if self.episode is None:
            raise ValueError("call reset() first")
        return self.episode

    def _observations(self) -> dict[str, dict[str, Any]]:
        episode = self._episode()
        k, bound = episode.date, self.values.bound
        out = {}
        for i, agent in enumerate(self.possible_agents):
            left = np.ones(self.num_problems)
            left[episode.ranks[:, i][episode.ranks[:, i] > 0] - 1] = 0.0
            current = episode.values[k, i] / bound if k < self.num_problems else 0.0
            own = episode.values[:, i] / bound if self.form == "all_at_once" else np.zeros(self.num_problems)
            last = episode.utilities[k - 1, i] if k > 0 else 0.0
            vector = np.concatenate([[current, k / self.num_problems], left, own, [last]]).astype(np.float32)
            live = k < self.num_problems
            mask = (
                np.tile(left, 2).astype(np.int8) if live else np.zeros(2 * self.num_problems, dtype=np.int8)
            )
            out[agent] = {"observation": vector, "action_mask": mask}
        return out

    def close(self) -> None:
        """Nothing to release."""


env, raw_env, parallel_env = constructors(RankedVotingEnv)
