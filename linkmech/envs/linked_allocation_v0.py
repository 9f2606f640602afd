"""Linked allocation (Example 5 of Jackson and Sonnenschein, 2007), operated over K dates.

One object per problem goes to one of n agents (no transfers); each agent values it 1 or 10 with
probability 1/2 each. The target gives it to a highest announced value, uniformly among ties; decisions
are "to agent i" (or "unallocated", the status quo, only when someone declines to participate). Each agent
must claim value 10 on its quota of the problems (K/2 for even K).

Spaces, phases, observations and rewards: see :mod:`linkmech.envs.linking_env`. Arguments: ``num_agents``,
``values``, ``probs`` and every :class:`~linkmech.envs.linking_env.LinkingOptions` field.

Example::

    import pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/LinkedAllocation-v0", num_problems=6)
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
from linkmech.mechanisms.catalogue import AllocationProblem


class LinkedAllocationEnv(LinkingEnv):
    """K linked object allocations."""

    metadata = {**LinkingEnv.metadata, "name": "linked_allocation_v0"}

    def __init__(
        self,
        num_agents: int = 2,
        values: Sequence[float] = (1, 10),
        probs: Sequence[Any] | None = None,
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(AllocationProblem(num_agents, values, probs), render_mode=render_mode, **options)


env, raw_env, parallel_env = constructors(LinkedAllocationEnv)
