"""Linked bargaining (Example 3 of Jackson and Sonnenschein, 2007), operated over K dates.

A seller (``agent_0``, values {0, 8}) and a buyer (``agent_1``, values {10, 2}), each value with
probability 1/2, bargain over K objects. The target trades iff the buyer values the object more, at the
midpoint price; decisions are "no trade" or "trade at p". Each side must call itself eager (seller 0,
buyer 10) on its quota of the objects and reluctant on the rest (K/2 each for even K). With
``participation="whole"`` either side may walk away from the whole deal after seeing the proposed trades
(Corollary 1); with ``participation="per_problem"`` it may walk away object by object, which the paper's
"skimming" example shows a seller can exploit.

Spaces, phases, observations and rewards: see :mod:`linkmech.envs.linking_env`. Arguments:
``seller_values``, ``buyer_values``, ``seller_probs``, ``buyer_probs`` and every
:class:`~linkmech.envs.linking_env.LinkingOptions` field.

Example::

    import pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/LinkedBargaining-v0", num_problems=10, participation="whole")
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
from linkmech.mechanisms.catalogue import BargainingProblem


class LinkedBargainingEnv(LinkingEnv):
    """K linked bilateral trades."""

    metadata = {**LinkingEnv.metadata, "name": "linked_bargaining_v0"}

    def __init__(
        self,
        seller_values: Sequence[float] = (0, 8),
        buyer_values: Sequence[float] = (10, 2),
        seller_probs: Sequence[Any] | None = None,
        buyer_probs: Sequence[Any] | None = None,
        render_mode: str | None = None,
        **options: Any,
    ) -> None:
        problem = BargainingProblem(seller_values, buyer_values, seller_probs, buyer_probs)
        super().__init__(problem, render_mode=render_mode, **options)


env, raw_env, parallel_env = constructors(LinkedBargainingEnv)
