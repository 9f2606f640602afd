"""PettingZoo wrappers for libraries that need numeric infos (TorchRL).

linkmech's infos are rich Python values (the decision's label, the true and announced types' labels,
lists of flags) and their keys change with the phase. TorchRL's ``PettingZooWrapper`` turns every info
entry into a tensor of a spec fixed at reset, so it cannot take them. :class:`NumericInfos` keeps a fixed
set of numeric entries (none by default), the same keys at every reset and step, NaN where the env reports
none; :func:`torchrl_env` builds a linkmech env as a TorchRL env with it.

Example (TorchRL installed)::

    from linkmech.envs.wrappers import torchrl_env
    env = torchrl_env("linkmech/LinkedVoting-v0", num_problems=4, seed=0, info_keys=("utility",))
    rollout = env.rollout(4)  # random admissible actions: TorchRL reads the action mask
    rollout["next", "agent", "reward"]  # [4, 2, 1]: steps, agents, 1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

from linkmech.envs import make as make_parallel

TORCHRL_INSTALL_HINT = "pip install -c constraints.txt torchrl"
"""How to install TorchRL next to linkmech without replacing the pinned torch."""


class NumericInfos(BaseParallelWrapper):  # type: ignore[misc]
    """A parallel env whose infos hold only the chosen numeric entries, as floats, at every reset and step.

    Args:
        env: a linkmech PettingZoo parallel env.
        keys: info entries to keep (``("date", "utility")``); NaN at a reset or step where the env does
            not report the entry. Empty (the default): every agent's infos are ``{}``.

    Raises:
        ValueError: from reset or step, when a kept entry is not a number (its value and type named).
    """

    def __init__(self, env: ParallelEnv, keys: Sequence[str] = ()) -> None:
        if not isinstance(env, ParallelEnv):
            raise ValueError(
                f"env: got {type(env).__name__}; give a PettingZoo parallel env (linkmech.make(name))"
            )
        if isinstance(keys, str):
            raise ValueError(f"keys: got the string {keys!r}; give a sequence of info keys, e.g. ({keys!r},)")
        super().__init__(env)
        self.keys = tuple(keys)

    @property
    def agents(self) -> list[str]:
        """The wrapped env's live agents."""
        return list(self.env.agents)

    @property
    def possible_agents(self) -> list[str]:
        """The wrapped env's agents."""
        return list(self.env.possible_agents)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Reset the env; infos reduced to the kept keys."""
        observations, infos = self.env.reset(seed=seed, options=options)
        return observations, self._numeric(infos)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Step the env; infos reduced to the kept keys."""
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        return observations, rewards, terminations, truncations, self._numeric(infos)

    def _numeric(self, infos: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for agent in self.env.possible_agents:
            info = infos.get(agent, {})
            values: dict[str, float] = {}
            for key in self.keys:
                value = info.get(key, np.nan)
                if isinstance(value, str) or (not np.isscalar(value) and np.ndim(value) != 0):
                    raise ValueError(
                        f"NumericInfos: {agent}'s info {key!r} is {value!r} ({type(value).__name__}), not a "
                        "number; keep only numeric keys (e.g. 'date', 'utility', 'expected_utility')"
                    )
                values[key] = float(value)
            out[agent] = values
        return out


def torchrl_env(name: str, seed: int | None = None, info_keys: Sequence[str] = (), **options: Any) -> Any:
    """A linkmech env as TorchRL's ``PettingZooWrapper`` (parallel; action masks read from observations).

    Agents are grouped as TorchRL does by default (``agent_0, agent_1, ...`` -> group ``"agent"``); the
    mask of the Discrete-action envs is in ``td["agent", "action_mask"]`` and restricts
    ``env.rand_action``. For the resource-allocation env (``Box(0, inf)`` reports) give a policy that
    outputs finite reports: TorchRL's random action of an unbounded space is not one.

    Args:
        name: an env id or module name.
        seed: the seed TorchRL resets the env with.
        info_keys: numeric info entries to keep (:class:`NumericInfos`).
        **options: the env's options.

    Raises:
        ImportError: without TorchRL (install with ``pip install -c constraints.txt torchrl``).
    """
    try:
        from torchrl.envs.libs.pettingzoo import PettingZooWrapper
    except ImportError as error:
        raise ImportError(
            f"torchrl_env needs TorchRL, which is not installed here ({error}); install it with "
            f"`{TORCHRL_INSTALL_HINT}` (the constraint keeps linkmech's torch)"
        ) from error
    return PettingZooWrapper(NumericInfos(make_parallel(name, **options), info_keys), seed=seed)
