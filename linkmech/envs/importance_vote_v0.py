"""Vote on two problems and say which matters more (Appendix 3 of Jackson and Sonnenschein, 2007).

Two agents, two voting problems (Example 1's values {-2, -1, 1, 2}). Each agent sees both its values and
sends, at once, a vote on each problem and a claim: problem 1 matters more, problem 2 matters more, or
they matter equally. Agreeing votes decide a problem; otherwise the agent whose claim gives the problem
higher priority wins (``rule="ordinal"``, the paper's: "this one" > "equal" > "the other one";
``rule="named_only"`` counts only "this one"), and a coin decides equal priorities.

The values may be correlated across the two problems (``process``): ``"iid"``; ``"repeat"``, the
second value equals the first with probability ``correlation`` (p in [0, 1]); ``"intensity"``, the
intensity is kept with probability (1 + p) / 2 and the sign drawn afresh (p in [-1, 1]).

Agents ``agent_0, agent_1``. One step. Action: ``Discrete(12)``, ``claim * 4 + vote_2 * 2 + vote_1``
with votes 0 = a, 1 = b and claims 0 = problem 1 matters more, 1 = problem 2, 2 = equal (all allowed).
Observation ``{"observation": [v_1 / 2, v_2 / 2], "action_mask": ones(12)}``. Reward: the sum of the
realised utilities on both problems. ``infos``: votes, claim, decisions, utilities.

Example::

    import pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/ImportanceVote-v0", process="repeat", correlation=0.5)
    observations, infos = env.reset(seed=0)
    observations, rewards, terminations, truncations, infos = env.step({"agent_0": 8, "agent_1": 3})
"""

from __future__ import annotations

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
from linkmech.mechanisms.catalogue import VotingProblem
from linkmech.mechanisms.processes import make_process
from linkmech.mechanisms.variants import IMPORTANCE_RULES, NUM_LINKED, importance_vote_lottery

NUM_ACTIONS = 12
"""Two votes (2 x 2) times three claims."""


def decode_action(action: int) -> tuple[tuple[int, int], int]:
    """``((vote on problem 1, vote on problem 2), claim)`` of an action index."""
    return (action & 1, (action >> 1) & 1), action >> 2


def encode_action(votes: tuple[int, int], claim: int) -> int:
    """The action index of two votes (0 = a, 1 = b) and a claim (0, 1 or 2)."""
    return claim * 4 + votes[1] * 2 + votes[0]


class ImportanceVoteEnv(SharedSpacesEnv):
    """Appendix 3's two-problem vote with a claim of relative importance."""

    metadata: dict[str, Any] = {"name": "importance_vote_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        process: str = "iid",
        correlation: float | None = None,
        rule: str = "ordinal",
        render_mode: str | None = None,
    ) -> None:
        if rule not in IMPORTANCE_RULES:
            raise ValueError(f"rule: got {rule!r}; allowed are {IMPORTANCE_RULES}")
        if render_mode is not None:
            raise ValueError(f"render_mode: got {render_mode!r}; this env has no rendering")
        self.render_mode = None
        self.rule = rule
        self.problem = VotingProblem(NUM_LINKED)
        self.process = make_process(process, correlation)
        self.process.check(self.problem)
        self.possible_agents = ["agent_0", "agent_1"]
        self.agents: list[str] = []
        self._observation_space = masked_observation_space(-np.ones(2), np.ones(2), NUM_ACTIONS)
        self._action_space = spaces.Discrete(NUM_ACTIONS)
        self._rng: np.random.Generator | None = None
        self.values: np.ndarray | None = None
        self._uniforms = np.zeros(NUM_LINKED)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Draw both agents' values on both problems and the two decision coins."""
        self._rng = reseed(self._rng, seed)
        types = self.process.sample(self.problem, NUM_LINKED, self._rng)  # [problem, agent]
        self.values = np.stack([self.problem.type_values[i][types[:, i]] for i in range(NUM_LINKED)], axis=1)
        self._uniforms = self._rng.random(NUM_LINKED)
        self.agents = list(self.possible_agents)
        return self._observations(live=True), {a: {} for a in self.agents}

    def check_action(self, agent: str, action: Any) -> None:
        """Raise a ValueError if the action is not an integer in 0..11."""
        if agent not in self.agents:
            raise ValueError(f"agent: got {agent!r}; live agents are {self.agents}")
        as_discrete_action(action, agent, NUM_ACTIONS)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Decide both problems from the votes and claims; the episode ends."""
        check_action_dict(actions, self.agents)
        for agent in self.agents:
            self.check_action(agent, actions[agent])
        decoded = [decode_action(int(actions[a])) for a in self.possible_agents]
        votes = np.array([[decoded[i][0][k] for i in range(2)] for k in range(NUM_LINKED)], dtype=bool)[None]
        claims = np.array([[decoded[0][1], decoded[1][1]]])
        lotteries = importance_vote_lottery(votes, claims, rule=self.rule)
        decisions = np.array([lot.sample(self._uniforms[k : k + 1])[0] for k, lot in enumerate(lotteries)])
        assert self.values is not None
        utilities = (decisions == 1)[:, None] * self.values  # [problem, agent]
        infos = {
            agent: {
                "votes": ["ab"[v] for v in decoded[i][0]],
                "claim": ["problem 1", "problem 2", "equal"][decoded[i][1]],
                "decisions": ["ab"[int(d)] for d in decisions],
                "utilities": utilities[:, i].tolist(),
            }
            for i, agent in enumerate(self.possible_agents)
        }
        rewards = {a: float(utilities[:, i].sum()) for i, a in enumerate(self.possible_agents)}
        self.agents = []
        done = dict.fromkeys(self.possible_agents, True)
        return (
            self._observations(live=False),
            rewards,
            done,
            dict.fromkeys(self.possible_agents, False),
            infos,
        )

    def _observations(self, live: bool) -> dict[str, dict[str, np.ndarray]]:
        assert self.values is not None
        mask = np.full(NUM_ACTIONS, int(live), dtype=np.int8)
        return {
            agent: {"observation": (self.values[:, i] / 2.0).astype(np.float32), "action_mask": mask.copy()}
            for i, agent in enumerate(self.possible_agents)
        }

    def close(self) -> None:
        """Nothing to release."""


env, raw_env, parallel_env = constructors(ImportanceVoteEnv)
