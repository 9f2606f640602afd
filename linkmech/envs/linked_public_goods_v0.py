"""Linked public goods (Examples 2 and 4 of Jackson and Sonnenschein, 2007), operated over K dates.

n agents decide on each of K projects whether to build it; a project costs ``cost`` (default 3/4) and each
agent values it 1 with probability ``value_prob`` (default 2/3), else 0. The target builds when the values
sum to at least the cost and splits the cost equally among those who value it. Decisions are reported as
"not built" or "built, paid by {i, j, ...}". With K = 3 each agent must announce value 1 twice and 0 once.
Example 4 (collusion among agents 2..n) needs n >= 7; policing joint announcements is a later option.

Spaces, phases, observations and rewards: see :mod:`linkmech.envs.linking_env`. Arguments: ``num_agents``
(default 3), ``cost``, ``value_prob`` and every :class:`~linkmech.envs.linking_env.LinkingOptions` field.

Example::

    import pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/LinkedPublicGoods-v0", num_agents=3, num_problems=9)
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample(observations[a]["action_mask"]) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from linkmech.envs.api import constructors
from linkmech.envs.linking_env import LinkingEnv
from linkmech.mechanisms.catalogue import PublicGoodsProblem


class LinkedPublicGoodsEnv(LinkingEnv):
    """K linked public projects."""

    metadata = {**LinkingEnv.metadata, "name": "linked_public_goods_v0"}

    def __init__(
        self,
        num_agents: int = 3,
        cost: Any = Fraction(3, 4),
        value_prob: Any = Fraction(2, 3),
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(PublicGoodsProblem(num_agents, cost, value_prob), render_mode=render_mode, **options)


env, raw_env, parallel_env = constructors(LinkedPublicGoodsEnv)
