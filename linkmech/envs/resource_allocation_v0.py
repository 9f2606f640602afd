"""Repeated resource allocation with unlinked or linked VCG transfers (Zhu 2022, Section 3).

N agents, T dates. At date t each agent privately learns its endowment omega_t^n >= 0 (drawn at reset from a
member of a credal set, :mod:`linkmech.mechanisms.credal`) and reports an endowment. The principal allocates
``resource`` per date efficiently given the reports (after the retraction into Omega* under linked VCG), and
at date T pays transfers: unlinked VCG (``mechanism="unlinked"``, ex-post incentive compatible on all of
[0, inf)^NT) or linked VCG over Omega* (``mechanism="linked"``, ex-post incentive compatible on Omega*).

Agents ``agent_0 .. agent_{N-1}``. Action: ``Box(0, inf, (1,), float32)``, the reported endowment (finite,
>= 0; anything else is rejected with a ValueError and the env is unchanged).

Observation: ``Box`` float32 vector ``[progress t/T, current endowment, own endowments (T, zeros for future
dates), own reports (T), allocations of every agent at past dates (T * N)]``; see
:meth:`ResourceAllocationEnv.observation_fields`.

Reward: the date's utility ``beta**(t-1) omega_t^n f(a_t^n / omega_t^n)`` of the agent's true endowment under
the allocation, plus at date T the transfer's value ``beta**(T-1) w^n``.

infos: ``allocation``, ``surplus`` (the agent's realised discounted surplus so far), ``total_surplus``,
``retracted`` (whether the mechanism has taken over the agent's report history because it can no longer be
continued inside Omega*n); at T also ``transfer`` and ``cost`` (sum of transfers).

Omega*: pass ``omega_star``, or let the env design one (``design_method`` "hoeffding", "bernstein" or
"chebyshev", with ``epsilon``) from the statistics the credal member discloses (its mean, bound, variance).

Example::

    import numpy as np, pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/ResourceAllocation-v0", num_agents=4, num_dates=8)
    observations, infos = env.reset(seed=0)
    while env.agents:
        truth = {a: np.array([observations[a][1]], dtype=np.float32) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(truth)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from linkmech.envs.api import SharedSpacesEnv, check_action_dict, constructors, reseed
from linkmech.mechanisms.allocation import (
    PROJECT_TYPES,
    FloatArray,
    ProjectType,
    efficient_allocation,
    unlinked_vcg_transfers,
)
from linkmech.mechanisms.credal import CREDAL_MEMBERS
from linkmech.mechanisms.linked_vcg import linked_vcg_transfers
from linkmech.mechanisms.omega_star import Design, OmegaStar, design, retract_step

MECHANISMS = ("linked", "unlinked")
"""Allowed values of the ``mechanism`` option."""


@dataclass
class _Episode:
    endowments: FloatArray  # [T, N] true
    reports: FloatArray  # [T, N]
    retracted: FloatArray  # [T, N] used by the mechanism
    allocations: FloatArray  # [T, N]
    utilities: FloatArray  # [T, N] undiscounted
    frozen: np.ndarray  # [N] agents whose history the retraction has taken over
    date: int = 0


class ResourceAllocationEnv(SharedSpacesEnv):
    """Zhu's repeated resource allocation with reporting date by date."""

    metadata: dict[str, Any] = {
        "name": "resource_allocation_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        num_agents: int = 4,
        num_dates: int = 8,
        resource: float | None = None,
        project: str | ProjectType = "exp",
        discount: float = 1.0,
        mechanism: str = "linked",
        member: str = "iid_uniform",
        omega_star: OmegaStar | None = None,
        design_method: str = "hoeffding",
        epsilon: float = 0.1,
        render_mode: str | None = None,
    ) -> None:
        if not isinstance(num_agents, int) or num_agents < 2:
            raise ValueError(f"num_agents: got {num_agents!r}; allowed are integers N >= 2")
        if not isinstance(num_dates, int) or num_dates < 2:
            raise ValueError(f"num_dates: got {num_dates!r}; allowed are integers T >= 2")
        if mechanism not in MECHANISMS:
            raise ValueError(f"mechanism: got {mechanism!r}; allowed are {MECHANISMS}")
        if member not in CREDAL_MEMBERS:
            raise ValueError(f"member: got {member!r}; allowed are {sorted(CREDAL_MEMBERS)}")
        if not (np.isfinite(discount) and 0 < discount <= 1):
            raise ValueError(f"discount: got {discount!r}; allowed range is (0, 1]")
        if render_mode is not None:
            raise ValueError(f"render_mode: got {render_mode!r}; this env has no rendering")
        self.render_mode = None
        self.num_dates, self.discount, self.mechanism = num_dates, float(discount), mechanism
        self.resource = float(num_agents if resource is None else resource)
        if not (np.isfinite(self.resource) and self.resource > 0):
            raise ValueError(f"resource: got {resource!r}; the resource per date must be a finite number > 0")
        self.project = _project_type(project)
        self.member = CREDAL_MEMBERS[member]
        self.design: Design | None = None
        if omega_star is None:
            omega_star, self.design = design(
                design_method,
                self.member.statistics(),
                num_agents,
                num_dates,
                self.resource,
                self.project,
                epsilon,
            )
        self.omega_star = omega_star
        if self.omega_star.num_dates != num_dates or self.omega_star.num_agents != num_agents:
            raise ValueError(
                f"omega_star: built for T={self.omega_star.num_dates}, N={self.omega_star.num_agents}; "
                f"the env has T={num_dates}, N={num_agents}"
            )
        self.possible_agents = [f"agent_{i}" for i in range(num_agents)]
        self.agents: list[str] = []
        size = 2 + 2 * num_dates + num_dates * num_agents
        low = np.zeros(size, dtype=np.float32)
        self._observation_space = spaces.Box(
            low=low, high=np.full(size, np.inf, dtype=np.float32), dtype=np.float32
        )
        self._action_space = spaces.Box(low=0.0, high=np.inf, shape=(1,), dtype=np.float32)
        self._rng: np.random.Generator | None = None
        self.episode: _Episode | None = None

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """Names and slices of the observation vector."""
        t, n = self.num_dates, len(self.possible_agents)
        sizes = [
            ("progress", 1),
            ("endowment", 1),
            ("own_endowments", t),
            ("own_reports", t),
            ("allocations", t * n),
        ]
        out, start = [], 0
        for name, size in sizes:
            out.append((name, slice(start, start + size)))
            start += size
        return out

    def public_context(self) -> dict[str, Any]:
        """What every agent may know: Omega*, the design, the resource, f, beta, T, the mechanism and the law.

        Each agent knows its own marginal of the endowment law (Zhu's Section 2.1).
        """
        return {
            "omega_star": self.omega_star,
            "design": self.design,
            "resource": self.resource,
            "project": self.project,
            "discount": self.discount,
            "num_dates": self.num_dates,
            "mechanism": self.mechanism,
            "member": self.member,
        }

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Draw the endowments of a new episode from the credal member, using the env's generator."""
        self._rng = reseed(self._rng, seed)
        endowments = np.asarray(self.member.sample(self.num_dates, len(self.possible_agents), self._rng))
        zeros = np.zeros_like(endowments)
        frozen = np.zeros(len(self.possible_agents), dtype=bool)
        self.episode = _Episode(endowments, zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), frozen)
        self.agents = list(self.possible_agents)
        return self._observations(), {a: {"date": 0} for a in self.agents}

    def check_action(self, agent: str, action: Any) -> None:
        """Raise a ValueError unless the report is one finite number >= 0; changes nothing."""
        if agent not in self.agents:
            raise ValueError(f"agent: got {agent!r}; live agents are {self.agents}")
        value = np.asarray(action, dtype=np.float64) if _is_number_like(action) else None
        if value is None or value.size != 1:
            raise ValueError(f"{agent} reported {action!r}; a report is one number >= 0 (Box(0, inf, (1,)))")
        number = float(value.reshape(-1)[0])
        if not np.isfinite(number) or number < 0:
            raise ValueError(f"{agent} reported {number!r}; reports must be finite numbers >= 0")

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Record the date's reports, allocate from the retracted reports, pay transfers at the last date."""
        check_action_dict(actions, self.agents)
        for agent in self.agents:
            self.check_action(agent, actions[agent])
        episode = self._episode()
        t = episode.date
        episode.reports[t] = [
            float(np.asarray(actions[a], dtype=np.float64).reshape(-1)[0]) for a in self.possible_agents
        ]
        if self.mechanism == "linked":
            value, episode.frozen = retract_step(
                self.omega_star, episode.reports[: t + 1], episode.retracted[:t], episode.frozen
            )
            episode.retracted[t] = value
        else:
            episode.retracted[t] = episode.reports[t]
        episode.allocations[t] = efficient_allocation(episode.retracted[t : t + 1], self.resource)[0]
        episode.utilities[t] = _utility(episode.endowments[t], episode.allocations[t], self.project)
        episode.date += 1
        rewards = episode.utilities[t] * self.discount**t
        infos = self._infos(t)
        done = episode.date == self.num_dates
        if done:
            transfers = self.transfers()
            rewards = rewards + transfers * self.discount ** (self.num_dates - 1)
            for i, agent in enumerate(self.possible_agents):
                infos[agent].update(transfer=float(transfers[i]), cost=float(transfers.sum()))
        observations = self._observations()
        if done:
            self.agents = []
        return (
            observations,
            {a: float(rewards[i]) for i, a in enumerate(self.possible_agents)},
            dict.fromkeys(self.possible_agents, done),
            dict.fromkeys(self.possible_agents, False),
            infos,
        )

    def transfers(self) -> FloatArray:
        """``[N]`` transfers at T from the (retracted) reports of a finished episode."""
        episode = self._episode()
        if self.mechanism == "unlinked":
            return unlinked_vcg_transfers(episode.reports, self.resource, self.project, self.discount)
        return linked_vcg_transfers(
            episode.retracted, self.resource, self.project, self.omega_star, self.discount
        )

    def _infos(self, t: int) -> dict[str, dict[str, Any]]:
        episode = self._episode()
        weights = self.discount ** np.arange(t + 1)
        surplus = (episode.utilities[: t + 1] * weights[:, None]).sum(axis=0)
        retracted = episode.frozen
        return {
            agent: {
                "date": t + 1,
                "allocation": float(episode.allocations[t, i]),
                "surplus": float(surplus[i]),
                "total_surplus": float(surplus.sum()),
                "retracted": bool(retracted[i]),
            }
            for i, agent in enumerate(self.possible_agents)
        }

    def _episode(self) -> _Episode:
        if self.episode is None:
            raise ValueError("call reset() first")
        return self.episode

    def _observations(self) -> dict[str, np.ndarray]:
        episode = self._episode()
        t = episode.date
        out = {}
        for i, agent in enumerate(self.possible_agents):
            own = np.where(np.arange(self.num_dates) <= t, episode.endowments[:, i], 0.0)
            current = episode.endowments[t, i] if t < self.num_dates else 0.0
            parts = [
                np.array([t / self.num_dates, current]),
                own,
                episode.reports[:, i],
                episode.allocations.reshape(-1),
            ]
            out[agent] = np.concatenate(parts).astype(np.float32)
        return out

    def close(self) -> None:
        """Nothing to release."""


def _project_type(project: str | ProjectType) -> ProjectType:
    if isinstance(project, ProjectType):
        return project
    if project in PROJECT_TYPES:
        return PROJECT_TYPES[project]
    raise ValueError(f"project: got {project!r}; allowed are {sorted(PROJECT_TYPES)} or a ProjectType")


def _utility(endowments: FloatArray, allocations: FloatArray, project: ProjectType) -> FloatArray:
    """Omega f(a / omega) per agent, 0 where omega = 0."""
    safe = np.where(endowments > 0, endowments, 1.0)
    return np.where(endowments > 0, endowments * project.f(allocations / safe), 0.0)


def _is_number_like(action: Any) -> bool:
    if isinstance(action, (bool, np.bool_)):
        return False
    try:
        array = np.asarray(action)
    except (TypeError, ValueError):
        return False
    return bool(array.dtype.kind in "iuf")


env, raw_env, parallel_env = constructors(ResourceAllocationEnv)
