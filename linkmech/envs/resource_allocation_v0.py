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
:meth:`ResourceAllocationEnv.observation_fields`. With ``allocations="own"`` the last field is the agent's own
allocations (T) instead: the vector then grows like T, not T * N (at N = T = 100 building the full view is
most of a step's time; docs/speed.md).

Reward: the date's utility ``beta**(t-1) omega_t^n f(a_t^n / omega_t^n)`` of the agent's true endowment under
the allocation, plus at date T the transfer's value ``beta**(T-1) w^n``.

infos: ``allocation``, ``surplus`` (the agent's realised discounted surplus so far), ``total_surplus``,
``retracted`` (whether the mechanism has taken over the agent's report history because it can no longer be
continued inside Omega*n); at T also ``transfer`` and ``cost`` (sum of transfers).

Omega*: pass ``omega_star``, or let the env design one (``design_method`` "hoeffding", "bernstein" or
"chebyshev", with ``epsilon``) from the statistics the credal member discloses (its mean, bound, variance).

Linked VCG transfers are exact minima, certified to a relative gap ``vcg_rtol`` (default 1e-10); where the
certified search runs out of nodes (many near-identical dates in the concave part of f) its RuntimeError says
which gap was reached, and a larger ``vcg_rtol`` accepts it.

Example::

    import numpy as np, pettingzoo, linkmech
    env = pettingzoo.make("parallel", "linkmech/ResourceAllocation-v0", num_agents=4, num_dates=8)
    observations, infos = env.reset(seed=0)
    while env.agents:
        truth = {a: np.array([observations[a][1]], dtype=np.float32) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(truth)

Batches: the env holds an :class:`AllocationState` of B episodes (arrays with a leading batch axis) and every
rule (drawing, retraction, allocation, utilities, transfers, observations) is computed for all B at once by
:meth:`ResourceAllocationEnv.start_batch`, :meth:`~ResourceAllocationEnv.apply_reports`,
:meth:`~ResourceAllocationEnv.batch_observations` and :meth:`~ResourceAllocationEnv.batch_transfers`. The
PettingZoo interface is the B = 1 view (row 0); :class:`linkmech.envs.batched_allocation.BatchedAllocationEnv`
steps B episodes through the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from linkmech.envs.api import SharedSpacesEnv, check_action_dict, constructors, reseed
from linkmech.mechanisms.allocation import (
    PROJECT_TYPES,
    FloatArray,
    ProjectType,
    efficient_allocation,
    unlinked_vcg_transfers,
)
from linkmech.mechanisms.credal import CREDAL_MEMBERS
from linkmech.mechanisms.linked_vcg import RTOL, linked_vcg_transfers
from linkmech.mechanisms.omega_star import Design, OmegaStar, design, retract_step

MECHANISMS = ("linked", "unlinked")
"""Allowed values of the ``mechanism`` option."""

ALLOCATION_VIEWS = ("all", "own")
"""Allowed values of the ``allocations`` option: what of the past allocations an agent observes."""

REPORT_RULE = "reports must be finite numbers >= 0"
"""What a report may be (the action space Box(0, inf, (1,)))."""


@dataclass
class _Episode:
    """One episode's arrays ``[T, N]`` (row b of an :class:`AllocationState`, as views)."""

    endowments: FloatArray  # [T, N] true
    reports: FloatArray  # [T, N]
    retracted: FloatArray  # [T, N] used by the mechanism
    allocations: FloatArray  # [T, N]
    utilities: FloatArray  # [T, N] undiscounted
    frozen: np.ndarray  # [N] agents whose history the retraction has taken over
    date: int = 0


@dataclass
class AllocationState:
    """B episodes of the env, all at the same date.

    Attributes:
        endowments: ``[B, T, N]`` true endowments.
        reports: ``[B, T, N]`` reports (zeros at future dates).
        retracted: ``[B, T, N]`` the values the mechanism uses (the reports after the retraction into Omega*).
        allocations: ``[B, T, N]`` allocations.
        utilities: ``[B, T, N]`` undiscounted utilities of the true endowments under the allocations.
        frozen: ``[B, N]`` agents whose history the retraction has taken over.
        date: dates played so far (shared by the B episodes).
        transfers: ``[B, N]`` transfers at T, set when the last date is played (None before).
    """

    endowments: FloatArray
    reports: FloatArray
    retracted: FloatArray
    allocations: FloatArray
    utilities: FloatArray
    frozen: NDArray[np.bool_]
    date: int = 0
    transfers: FloatArray | None = None

    @property
    def batch_size(self) -> int:
        """B, the number of episodes."""
        return int(self.endowments.shape[0])

    def row(self, b: int) -> _Episode:
        """Episode ``b`` as ``[T, N]`` views (no copy)."""
        return _Episode(
            self.endowments[b],
            self.reports[b],
            self.retracted[b],
            self.allocations[b],
            self.utilities[b],
            self.frozen[b],
            self.date,
        )


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
        allocations: str = "all",
        vcg_rtol: float = RTOL,
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
        if allocations not in ALLOCATION_VIEWS:
            raise ValueError(
                f"allocations: got {allocations!r}; allowed are {ALLOCATION_VIEWS} (every agent's allocations, "
                "T x N numbers, or the agent's own, T numbers)"
            )
        if not (isinstance(vcg_rtol, (int, float)) and 0 < vcg_rtol < 1):
            raise ValueError(
                f"vcg_rtol: got {vcg_rtol!r}; the certified relative gap of the linked VCG minimum is a number "
                f"in (0, 1) (default {RTOL:g})"
            )
        self.vcg_rtol = float(vcg_rtol)
        self.allocation_view = allocations
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
        size = 2 + 2 * num_dates + num_dates * (num_agents if allocations == "all" else 1)
        low = np.zeros(size, dtype=np.float32)
        self._observation_space = spaces.Box(
            low=low, high=np.full(size, np.inf, dtype=np.float32), dtype=np.float32
        )
        self._action_space = spaces.Box(low=0.0, high=np.inf, shape=(1,), dtype=np.float32)
        self._rng: np.random.Generator | None = None
        self.batch_state: AllocationState | None = None

    @property
    def episode(self) -> _Episode | None:
        """Episode 0 of the state as ``[T, N]`` views (None before the first reset); read it, do not keep it."""
        return None if self.batch_state is None else self.batch_state.row(0)

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """Names and slices of the observation vector."""
        t, n = self.num_dates, len(self.possible_agents)
        sizes = [
            ("progress", 1),
            ("endowment", 1),
            ("own_endowments", t),
            ("own_reports", t),
            ("allocations", t * n) if self.allocation_view == "all" else ("own_allocations", t),
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
        self.start_batch([self._rng])
        return self._observations(), {a: {"date": 0} for a in self.agents}

    def check_action(self, agent: str, action: Any) -> None:
        """Raise a ValueError unless the report is one finite number >= 0; changes nothing."""
        if agent not in self.agents:
            raise ValueError(f"agent: got {agent!r}; live agents are {self.agents}")
        value = np.asarray(action, dtype=np.float64) if _is_number_like(action) else None
        if value is None or value.size != 1:
            raise ValueError(f"{agent} reported {action!r}; a report is one number >= 0 (Box(0, inf, (1,)))")
        number = float(value.reshape(-1)[0])
        if not _allowed_reports(np.float64(number)):
            raise ValueError(f"{agent} reported {number!r}; {REPORT_RULE}")

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Record the date's reports, allocate from the retracted reports, pay transfers at the last date."""
        check_action_dict(actions, self.agents)
        for agent in self.agents:
            self.check_action(agent, actions[agent])
        reports = np.array(
            [[float(np.asarray(actions[a], dtype=np.float64).reshape(-1)[0]) for a in self.possible_agents]]
        )
        t = self._state().date
        rewards = self.apply_reports(reports)[0]
        infos = self._infos(t)
        state = self._state()
        done = state.date == self.num_dates
        if done and state.transfers is not None:
            transfers = state.transfers[0]
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
        return self.batch_transfers()[0]

    # Every rule below works on all B episodes of the state at once; the PettingZoo methods above show
    # row 0, and linkmech.envs.batched_allocation.BatchedAllocationEnv shows every row: one copy of each rule.

    def start_batch(self, generators: Sequence[np.random.Generator]) -> AllocationState:
        """Start B = ``len(generators)`` episodes; episode b's endowments are drawn only from ``generators[b]``.

        Episode b draws ``member.sample(T, N, generators[b])``, exactly what ``reset(seed=s)`` draws with
        ``default_rng(s)``. Makes every agent live and returns the new state (also kept as ``batch_state``).
        """
        if len(generators) < 1:
            raise ValueError("generators: got none; give one numpy.random.Generator per episode")
        n = len(self.possible_agents)
        endowments = np.stack(
            [np.asarray(self.member.sample(self.num_dates, n, rng), dtype=np.float64) for rng in generators]
        )
        zeros = np.zeros_like(endowments)
        frozen = np.zeros((len(generators), n), dtype=bool)
        self.batch_state = AllocationState(
            endowments, zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), frozen
        )
        self.agents = list(self.possible_agents)
        return self.batch_state

    def check_reports(self, reports: np.ndarray) -> None:
        """Raise a ValueError unless ``reports`` is ``[B, N]`` finite numbers >= 0; changes nothing.

        The message names the first offending episode, agent and value.
        """
        state = self._state()
        expected = (state.batch_size, len(self.possible_agents))
        if reports.shape != expected:
            raise ValueError(
                f"reports: got shape {reports.shape}; expected [B, N] = {list(expected)}, one report per "
                "episode and agent"
            )
        bad = np.argwhere(~_allowed_reports(reports))
        if len(bad):
            b, i = (int(x) for x in bad[0])
            raise ValueError(
                f"episode {b}: {self.possible_agents[i]} reported {float(reports[b, i])!r}; {REPORT_RULE} "
                "(nothing was changed)"
            )

    def apply_reports(self, reports: np.ndarray) -> FloatArray:
        """Play the current date of every episode with ``reports [B, N]``; rewards ``[B, N]``.

        Retracts the reports into Omega* (linked), allocates efficiently from the retracted reports, records
        the utilities of the true endowments and, at the last date, adds the transfers of all B episodes
        (computed in one call, kept in ``batch_state.transfers``). A rejected call raises and changes nothing.
        """
        state = self._state()
        if state.date >= self.num_dates:
            raise ValueError("the episodes are over; call reset() first")
        reports = np.asarray(reports, dtype=np.float64)
        self.check_reports(reports)
        t = state.date
        state.reports[:, t] = reports
        if self.mechanism == "linked":
            value, state.frozen = retract_step(
                self.omega_star, state.reports[:, : t + 1], state.retracted[:, :t], state.frozen
            )
            state.retracted[:, t] = value
        else:
            state.retracted[:, t] = reports
        state.allocations[:, t] = efficient_allocation(state.retracted[:, t], self.resource)
        state.utilities[:, t] = _utility(state.endowments[:, t], state.allocations[:, t], self.project)
        state.date += 1
        rewards = state.utilities[:, t] * self.discount**t
        if state.date == self.num_dates:
            state.transfers = self.batch_transfers()
            rewards = rewards + state.transfers * self.discount ** (self.num_dates - 1)
        return np.asarray(rewards, dtype=np.float64)

    def batch_transfers(self) -> FloatArray:
        """``[B, N]`` transfers at T of every episode, in one call of the mechanism's transfer rule."""
        state = self._state()
        if self.mechanism == "unlinked":
            return unlinked_vcg_transfers(state.reports, self.resource, self.project, self.discount)
        return linked_vcg_transfers(
            state.retracted, self.resource, self.project, self.omega_star, self.discount, rtol=self.vcg_rtol
        )

    def batch_observations(self) -> np.ndarray:
        """``[B, N, D]`` float32 observation vectors of every agent in every episode.

        Agent i's vector in episode b is ``[b, i]``; the layout is :meth:`observation_fields`.
        """
        state = self._state()
        t, big_t = state.date, self.num_dates
        batch, n = state.batch_size, len(self.possible_agents)
        layout = self.observation_fields(self.possible_agents[0])
        fields = dict(layout)
        out = np.empty((batch, n, layout[-1][1].stop), dtype=np.float32)
        out[:, :, fields["progress"]] = t / big_t
        out[:, :, fields["endowment"]] = state.endowments[:, t, :, None] if t < big_t else 0.0
        seen = (np.arange(big_t) <= t)[None, :, None]
        out[:, :, fields["own_endowments"]] = np.where(seen, state.endowments, 0.0).transpose(0, 2, 1)
        out[:, :, fields["own_reports"]] = state.reports.transpose(0, 2, 1)
        if self.allocation_view == "all":
            out[:, :, fields["allocations"]] = state.allocations.reshape(batch, 1, big_t * n)
        else:
            out[:, :, fields["own_allocations"]] = state.allocations.transpose(0, 2, 1)
        return out

    def _infos(self, t: int) -> dict[str, dict[str, Any]]:
        episode = self._state().row(0)
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

    def _state(self) -> AllocationState:
        if self.batch_state is None:
            raise ValueError("call reset() first")
        return self.batch_state

    def _observations(self) -> dict[str, np.ndarray]:
        vectors = self.batch_observations()[0]
        return {agent: vectors[i] for i, agent in enumerate(self.possible_agents)}

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


def _allowed_reports(reports: np.ndarray) -> np.ndarray:
    """Elementwise whether reports are allowed: finite and >= 0."""
    return np.isfinite(reports) & (reports >= 0)


def _is_number_like(action: Any) -> bool:
    if isinstance(action, (bool, np.bool_)):
        return False
    try:
        array = np.asarray(action)
    except (TypeError, ValueError):
        return False
    return bool(array.dtype.kind in "iuf")


env, raw_env, parallel_env = constructors(ResourceAllocationEnv)
