"""Linked voting (Example 1 of Jackson and Sonnenschein, 2007), operated over K dates.

n agents decide a or b on each of K problems. An agent's type on a problem is its value v of b over a
(default {-2, -1, 1, 2}, each 1/4). The target f picks the side with the larger total announced value and
flips a coin on a tie. Each agent must announce each type its quota of times over the K problems
(``budget="type"``, Section 5: with K = 12, three of each value) or, with ``budget="intensity"``, each
intensity |v| its quota of times with signs free (Example 1's "one vote of magnitude 2 and one of magnitude
1" for K = 2).

Spaces, phases, observations and rewards: see :mod:`linkmech.envs.linking_env`. Arguments: ``num_agents``,
``values``, ``probs`` (the problem) and every :class:`~linkmech.envs.linking_env.LinkingOptions` field.

Example::

    import pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/LinkedVoting-v0", num_problems=12)
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample(observations[a]["action_mask"]) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from linkmech.envs.api import constructors
from linkmech.envs.linking_env import LinkingEnv
from linkmech.mechanisms.catalogue import VotingProblem


class LinkedVotingEnv(LinkingEnv):
    """K linked binary votes."""

    metadata = {**LinkingEnv.metadata, "name": "linked_voting_v0"}

    def __init__(
        self,
        num_agents: int = 2,
        values: Sequence[float] = (-2, -1, 1, 2),
        probs: Sequence[Any] | None = None,
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(VotingProblem(num_agents, values, probs), render_mode=render_mode, **options)


env, raw_env, parallel_env = constructors(LinkedVotingEnv)
