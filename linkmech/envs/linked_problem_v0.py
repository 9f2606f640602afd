"""Linking any user-defined finite problem (Section 3 of Jackson and Sonnenschein, 2007).

Pass a :class:`~linkmech.mechanisms.problem.FiniteProblem`, for instance a
:class:`~linkmech.mechanisms.problem.TabularProblem` built from utility tables, type distributions and a
target f; the environment runs the linking mechanism of Theorem 1 on K copies of it.

Spaces, phases, observations and rewards: see :mod:`linkmech.envs.linking_env`. Arguments: ``problem``
(required) and every :class:`~linkmech.envs.linking_env.LinkingOptions` field.

Example::

    import numpy as np, pettingzoo, linkmech
    from linkmech.mechanisms import TabularProblem

    def favour_higher(announced):            # 2 agents, types 0/1, alternatives 0/1
        lead = announced[:, 1] - announced[:, 0]
        p1 = np.where(lead > 0, 1.0, np.where(lead < 0, 0.0, 0.5))
        return np.stack([1 - p1, p1], axis=1)

    problem = TabularProblem(
        utilities=[[[1, 0], [3, 0]], [[0, 1], [0, 3]]],
        type_probs=[[0.5, 0.5], [0.5, 0.5]],
        target=favour_higher,
    )
    env = pettingzoo.make("parallel", "linkmech/LinkedProblem-v0", problem=problem, num_problems=4)
    observations, infos = env.reset(seed=0)
"""

from __future__ import annotations

from typing import Any

from linkmech.envs.api import constructors
from linkmech.envs.linking_env import LinkingEnv
from linkmech.mechanisms.problem import FiniteProblem


class LinkedProblemEnv(LinkingEnv):
    """K linked copies of a user-supplied problem."""

    metadata = {**LinkingEnv.metadata, "name": "linked_problem_v0"}

    def __init__(
        self, problem: FiniteProblem | None = None, render_mode: str | None = None, **options: Any
    ) -> None:
        if not isinstance(problem, FiniteProblem):
            raise ValueError(
                f"problem: got {problem!r}; pass a linkmech.mechanisms.FiniteProblem, e.g. a TabularProblem"
            )
        super().__init__(problem, render_mode=render_mode, **options)


env, raw_env, parallel_env = constructors(LinkedProblemEnv)
