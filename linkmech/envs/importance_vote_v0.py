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

Batches: the env holds an :class:`ImportanceState` of B episodes (arrays with a leading batch axis) and every
rule (drawing, observations, the decoding of actions, the mechanism and its utilities) is computed for all B
at once by :meth:`ImportanceVoteEnv.start_batch`, :meth:`~ImportanceVoteEnv.batch_observations`,
:meth:`~ImportanceVoteEnv.check_actions` and :meth:`~ImportanceVoteEnv.apply_actions`. The PettingZoo interface
is the B = 1 view (row 0); :class:`linkmech.envs.batched_variants.BatchedVariantEnv` steps B episodes through
the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from linkmech.envs.api import (
    SharedSpacesEnv,
    as_discrete_action,
    check_action_dict,
    check_joint_shape,
    constructors,
    masked_observation_space,
    reseed,
)
from linkmech.mechanisms.catalogue import VotingProblem
from linkmech.mechanisms.problem import FloatArray, IntArray
from linkmech.mechanisms.processes import make_process
from linkmech.mechanisms.variants import IMPORTANCE_RULES, NUM_LINKED, importance_vote_lottery

NUM_ACTIONS = 12
"""Two votes (2 x 2) times three claims."""

ActionIndex = TypeVar("ActionIndex", int, IntArray)


def decode_action(action: ActionIndex) -> tuple[tuple[ActionIndex, ActionIndex], ActionIndex]:
    """``((vote on problem 1, vote on problem 2), claim)`` of an action index (or, elementwise, an int array)."""
    return (action & 1, (action >> 1) & 1), action >> 2


def encode_action(votes: tuple[int, int], claim: int) -> int:
    """The action index of two votes (0 = a, 1 = b) and a claim (0, 1 or 2)."""
    return claim * 4 + votes[1] * 2 + votes[0]


@dataclass
class ImportanceState:
    """B one-step episodes of the importance vote.

    Attributes:
        values: ``[B, 2 problems, 2 agents]`` values of b over a.
        uniforms: ``[B, 2]`` decision coins, one per problem.
        decisions: ``[B, 2]`` 0 = a, 1 = b, -1 = not decided yet.
        utilities: ``[B, 2 problems, 2 agents]`` realised utilities (zeros before the step).
        date: 0 before the step, 1 after it (shared by the B episodes).
    """

    values: FloatArray
    uniforms: FloatArray
    decisions: IntArray
    utilities: FloatArray
    date: int = 0

    @property
    def batch_size(self) -> int:
        """B, the number of episodes."""
        return int(self.values.shape[0])


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
        self.batch_state: ImportanceState | None = None

    @property
    def values(self) -> FloatArray | None:
        """Episode 0's values ``[problem, agent]`` (a view; None before the first reset)."""
        return None if self.batch_state is None else self.batch_state.values[0]

    @property
    def num_steps(self) -> int:
        """Steps per episode: 1 (everything is sent at once)."""
        return 1

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """Names and slices of the observation vector: the agent's values on both problems, over 2."""
        return [("values", slice(0, NUM_LINKED))]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Draw both agents' values on both problems and the two decision coins."""
        self._rng = reseed(self._rng, seed)
        self.start_batch([self._rng])
        return self._observations(), {a: {} for a in self.agents}

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
        chosen = [int(actions[a]) for a in self.possible_agents]
        rewards = self.apply_actions(np.array([chosen]))[0]
        state = self._state()
        decisions, utilities = state.decisions[0], state.utilities[0]  # [problem], [problem, agent]
        infos = {}
        for i, agent in enumerate(self.possible_agents):
            votes, claim = decode_action(chosen[i])
            infos[agent] = {
                "votes": ["ab"[v] for v in votes],
                "claim": ["problem 1", "problem 2", "equal"][claim],
                "decisions": ["ab"[int(d)] for d in decisions],
                "utilities": utilities[:, i].tolist(),
            }
        self.agents = []
        return (
            self._observations(),
            {a: float(rewards[i]) for i, a in enumerate(self.possible_agents)},
            dict.fromkeys(self.possible_agents, True),
            dict.fromkeys(self.possible_agents, False),
            infos,
        )

    # Every rule below works on all B episodes of the state at once; the PettingZoo methods above show
    # row 0, and linkmech.envs.batched_variants.BatchedVariantEnv shows every row: one copy of each rule.

    def start_batch(self, generators: Sequence[np.random.Generator]) -> ImportanceState:
        """Start B = ``len(generators)`` episodes; episode b is drawn only from ``generators[b]``.

        Episode b draws its types from the process and then its two decision coins, exactly what
        ``reset(seed=s)`` draws with ``default_rng(s)``. Makes both agents live and returns the new state (kept
        as ``batch_state``).
        """
        if len(generators) < 1:
            raise ValueError("generators: got none; give one numpy.random.Generator per episode")
        draws = [(self._draw_values(rng), rng.random(NUM_LINKED)) for rng in generators]
        values = np.stack([v for v, _ in draws])
        self.batch_state = ImportanceState(
            values=values,
            uniforms=np.stack([u for _, u in draws]),
            decisions=np.full((len(draws), NUM_LINKED), -1, dtype=np.int64),
            utilities=np.zeros_like(values),
        )
        self.agents = list(self.possible_agents)
        return self.batch_state

    def batch_observations(self) -> tuple[NDArray[np.float32], NDArray[np.int8]]:
        """``([B, 2, 2] float32 vectors, [B, 2, 12] int8 masks)``; agent i in episode b is ``[b, i]``.

        The vector is the agent's values on both problems over 2; the mask allows every action before the
        step and none after it.
        """
        state = self._state()
        vectors = (state.values.transpose(0, 2, 1) / 2.0).astype(np.float32)
        live = int(state.date < self.num_steps)
        masks = np.full((state.batch_size, len(self.possible_agents), NUM_ACTIONS), live, dtype=np.int8)
        return vectors, masks

    def check_actions(self, chosen: np.ndarray) -> None:
        """Raise a ValueError unless ``chosen`` is ``[B, 2]`` integers in 0..11; changes nothing.

        The message names the first offending episode, agent and action.
        """
        state = self._state()
        check_joint_shape(chosen, state.batch_size, len(self.possible_agents))
        if state.date >= self.num_steps:
            raise ValueError("the episodes are over; call reset() first")
        bad = np.argwhere((chosen < 0) | (chosen >= NUM_ACTIONS))
        if len(bad):
            b, i = (int(x) for x in bad[0])
            raise ValueError(
                f"episode {b}: {self.possible_agents[i]} sent action {int(chosen[b, i])}; allowed actions are "
                f"0..{NUM_ACTIONS - 1} (claim * 4 + vote_2 * 2 + vote_1; nothing was changed)"
            )

    def apply_actions(self, chosen: np.ndarray) -> FloatArray:
        """Decide both problems of every episode from actions ``chosen [B, 2]``; rewards ``[B, 2]``.

        The votes and claims of all B episodes go through one call of the mechanism; the reward is the sum of
        an agent's utilities on both problems. A rejected call raises and changes nothing.
        """
        chosen = np.asarray(chosen)
        self.check_actions(chosen)
        state = self._state()
        (first, second), claims = decode_action(chosen.astype(np.int64))
        votes = np.stack([first, second], axis=1).astype(bool)  # [B, problem, agent]
        lotteries = importance_vote_lottery(votes, claims, rule=self.rule)
        decisions = np.stack([lot.sample(state.uniforms[:, k]) for k, lot in enumerate(lotteries)], axis=1)
        state.decisions[:] = decisions
        state.utilities[:] = (decisions == 1)[:, :, None] * state.values
        state.date += 1
        return np.asarray(state.utilities.sum(axis=1), dtype=np.float64)

    def _draw_values(self, rng: np.random.Generator) -> FloatArray:
        """One episode's values ``[problem, agent]``, drawn from the process with ``rng``."""
        types = self.process.sample(self.problem, NUM_LINKED, rng)  # [problem, agent]
        return np.stack([self.problem.type_values[i][types[:, i]] for i in range(NUM_LINKED)], axis=1)

    def _state(self) -> ImportanceState:
        if self.batch_state is None:
            raise ValueError("call reset() first")
        return self.batch_state

    def _observations(self) -> dict[str, dict[str, np.ndarray]]:
        vectors, masks = self.batch_observations()
        return {
            agent: {"observation": vectors[0, i], "action_mask": masks[0, i]}
            for i, agent in enumerate(self.possible_agents)
        }

    def close(self) -> None:
        """Nothing to release."""


env, raw_env, parallel_env = constructors(ImportanceVoteEnv)
