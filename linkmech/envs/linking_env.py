"""The PettingZoo environment of a linking mechanism over any finite problem.

One class, :class:`LinkingEnv`, serves every linked environment (voting, public goods, bargaining,
allocation, user-defined problems); the per-problem modules only choose the problem. All rules live in
:mod:`linkmech.mechanisms` and are called with a batch of one episode.

Agents ``agent_0 .. agent_{n-1}`` (agent i of the base problem).

Phases and steps (every agent acts at every step):

1. **announce**, K steps. Over time (``form="over_time"``): at date k the agent sees its type on problem k
   and announces a type; problem k is decided at once. All at once (``form="all_at_once"``): the agent sees
   its whole type vector (its type on the current problem and the counts of its types on the later ones)
   and enters its K-vector one problem at a time; nothing of the others is shown and every problem is
   decided after the last entry.
2. **participate** (only with ``participation``): ``"whole"``, one step: accept (1) or decline (0) the whole
   linked mechanism; ``"per_problem"``, K steps: accept or decline problem j at step j.

Action space: ``Discrete(A_i)``, ``A_i = |U_i|`` (or 2 if larger, with participation). While announcing,
action t announces type t; the int8 ``action_mask`` allows exactly the types whose budget class has
announcements left. While participating, 0 = decline, 1 = accept.

Observation: ``{"observation": float32 vector, "action_mask": int8 vector}``. The vector concatenates the
fields listed by :meth:`LinkingEnv.observation_fields` (names, sizes):

- ``type`` one-hot of the agent's true type on the current problem (zeros while participating);
- ``budget`` remaining announcements of each budget class, divided by K;
- ``progress`` problems announced so far, divided by K;
- ``phase`` one-hot (announcing, participating);
- ``future_types`` (all at once only) counts of the agent's types on the problems after the current one,
  divided by K;
- ``others_announced`` (over time only) for each other agent, counts of its announcements so far per type,
  divided by K: the public history of announcements as the secure strategy after Corollary 2 uses it;
- ``last_utility`` (over time only) the agent's realised utility on the previous problem;
- ``offer`` (with participation) the agent's discounted utility if the current participation question is
  accepted by everyone, and if it is declined (status quo).

The decisions themselves are public and reported in ``infos`` (``decision``), with the agent's true and
announced types, the announcement the mechanism used after mixing, and realised and expected utilities.

Rewards: over time, the discounted realised utility ``discount**(k-1) * u_i`` of the date's decision; all
at once, 0 until the last entry and then the sum over problems. With a participation stage, announcing
steps pay 0 and the participation step(s) pay what accrues: the proposed decisions' utilities, or the
status quo's where a declining agent blocks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from linkmech.envs.api import (
    as_discrete_action,
    check_action_dict,
    check_against_mask,
    check_joint_shape,
    masked_observation_space,
    reseed,
)
from linkmech.mechanisms.linking import (
    LinkingMechanism,
    LinkingState,
    announcement_mask,
    check_agent_announcement,
    finish_all_at_once,
    record_announcements,
    start_episodes,
    step_over_time,
)
from linkmech.mechanisms.participation import (
    PARTICIPATION_MODES,
    per_problem_participation,
    status_quo_utilities,
    whole_participation,
)
from linkmech.mechanisms.policing import Flag, PolicingConfig
from linkmech.mechanisms.problem import FiniteProblem, FloatArray
from linkmech.mechanisms.processes import TypeProcess, make_process

FORMS = ("over_time", "all_at_once")
"""Allowed values of the ``form`` option."""


@dataclass(frozen=True)
class LinkingOptions:
    """Options shared by every linking environment.

    Attributes:
        num_problems: K, the number of linked problems (dates).
        form: ``"over_time"`` (date by date, Section 5) or ``"all_at_once"`` (Theorem 1).
        participation: ``None``, ``"whole"`` (Corollary 1) or ``"per_problem"`` (the skimming variant).
        discount: delta in (0, 1]; must be 1 all at once.
        budget: ``"type"`` (each type its own quota), ``"intensity"`` (voting: one quota per |value|,
            signs free, as in Example 1), ``"none"`` (no budget: the unlinked direct mechanism, f applied
            problem by problem to unconstrained announcements) or explicit per-agent class lists.
        policing: collusion policing of joint announcements (Appendix 1; footnote 35 over time): ``True``
            for the default :class:`~linkmech.mechanisms.policing.PolicingConfig`, a config, or None. n >= 3.
        mixing: apply the gamma-mixing of Theorem 1's proof.
        process: type process name (``"iid"``, ``"repeat"``, ``"intensity"``) or a TypeProcess.
        correlation: the process's parameter p (Appendix 3).
    """

    num_problems: int = 12
    form: str = "over_time"
    participation: str | None = None
    discount: float = 1.0
    budget: str | Sequence[Sequence[int]] = "type"
    mixing: bool = True
    process: str | TypeProcess = "iid"
    correlation: float | None = None
    policing: bool | PolicingConfig | None = None

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"form: got {self.form!r}; allowed are {FORMS}")
        if self.participation is not None and self.participation not in PARTICIPATION_MODES:
            raise ValueError(
                f"participation: got {self.participation!r}; allowed are None and {PARTICIPATION_MODES}"
            )
        if self.form == "all_at_once" and self.discount != 1.0:
            raise ValueError(
                f"discount: got {self.discount!r} with form='all_at_once'; problems decided at once are not "
                "discounted, use form='over_time' or discount=1"
            )

    def policing_config(self) -> PolicingConfig | None:
        """The ``policing`` option as a config (None when off)."""
        if self.policing is None or self.policing is False:
            return None
        if self.policing is True:
            return PolicingConfig()
        if isinstance(self.policing, PolicingConfig):
            return self.policing
        raise ValueError(
            f"policing: got {self.policing!r}; allowed are None, True, False or a PolicingConfig"
        )


def budget_classes(problem: FiniteProblem, budget: str | Sequence[Sequence[int]]) -> Any:
    """Resolve the ``budget`` option to per-agent class lists (``None`` = one class per type)."""
    if budget == "type":
        return None
    if budget == "none":
        return tuple(tuple(0 for _ in range(count)) for count in problem.type_counts)
    if budget == "intensity":
        classes = getattr(problem, "intensity_classes", None)
        if classes is None:
            raise ValueError(
                f"budget='intensity' needs a problem with signed intensities (voting); {problem.name!r} has "
                "none: use budget='type' or explicit classes"
            )
        return tuple(tuple(int(c) for c in row) for row in classes())
    if isinstance(budget, str) or not isinstance(budget, Sequence):
        raise ValueError(
            f"budget: got {budget!r}; allowed are 'type', 'intensity', 'none' or per-agent class lists"
        )
    return tuple(tuple(int(c) for c in row) for row in budget)


class ObservedRows(Protocol):
    """The facts observations are computed from, for R rows at one date (episodes, or states of an analysis)."""

    @property
    def size(self) -> int:
        """R."""

    @property
    def phase(self) -> str:
        """``"announce"``, ``"participate"`` or ``"done"``."""

    @property
    def date(self) -> int:
        """Problems announced so far."""

    @property
    def current_types(self) -> np.ndarray:
        """``[R, n]`` every agent's true type on the current problem (read while announcing)."""

    @property
    def remaining(self) -> np.ndarray:
        """``[R, n, C]`` announcements left per budget class."""

    @property
    def announced_counts(self) -> np.ndarray:
        """``[R, n, W]`` every agent's announcements so far per type (over time)."""

    @property
    def last_utilities(self) -> np.ndarray:
        """``[R, n]`` realised utilities on the previous problem (0 before the first)."""

    def future_type_counts(self, agent: int) -> np.ndarray:
        """``[R, T_agent]`` counts of the agent's types on the problems after the current one (all at once)."""

    def offers(self, agent: int) -> np.ndarray:
        """``[R, 2]`` the agent's utility of the participation question if accepted, and declined."""


@dataclass(frozen=True)
class PublicRows:
    """:class:`ObservedRows` given as arrays: the public states of an exact analysis, announcing over time.

    Future types and offers are not part of such states (all at once and participation are not analysed).
    """

    date: int
    current_types: np.ndarray
    remaining: np.ndarray
    announced_counts: np.ndarray
    last_utilities: np.ndarray
    phase: str = "announce"

    @property
    def size(self) -> int:
        """R."""
        return int(self.remaining.shape[0])

    def future_type_counts(self, agent: int) -> np.ndarray:
        """Not part of a public state over time."""
        raise ValueError("public rows over time hold no future types (the all-at-once form is not analysed)")

    def offers(self, agent: int) -> np.ndarray:
        """Not part of a public state without participation."""
        raise ValueError("public rows hold no participation offers (a participation stage is not analysed)")


class _StateRows:
    """:class:`ObservedRows` of every episode of a LinkingEnv's current state, each fact computed when read."""

    def __init__(self, env: LinkingEnv) -> None:
        self._env, self._state = env, env._state()
        self.size = self._state.batch_size
        self.phase = env.phase
        self.date = self._state.date

    @cached_property
    def current_types(self) -> np.ndarray:
        """The types of the current problem (only read while announcing)."""
        return self._state.types[:, self._state.date]

    @property
    def remaining(self) -> np.ndarray:
        """The state's remaining budgets."""
        return self._state.remaining

    @property
    def announced_counts(self) -> np.ndarray:
        """The env's incrementally updated counts."""
        return self._env._announced_counts()

    @cached_property
    def last_utilities(self) -> np.ndarray:
        """Utilities of the previous date (zeros at the first)."""
        state = self._state
        if state.date == 0:
            return np.zeros((state.batch_size, state.utilities.shape[2]))
        return state.utilities[:, state.date - 1].astype(np.float64)

    def future_type_counts(self, agent: int) -> np.ndarray:
        """Counts of the agent's types after the current problem."""
        later = self._state.types[:, self._state.date + 1 :, agent]
        return _counts(later, self._env.problem.type_counts[agent])

    def offers(self, agent: int) -> np.ndarray:
        """The env's participation offers."""
        return self._env._offers(agent)


class LinkingEnv(ParallelEnv):  # type: ignore[misc]
    """K linked copies of a finite problem, as a PettingZoo parallel environment (see module docstring)."""

    metadata: dict[str, Any] = {
        "name": "linked_problem_v0",
        "render_modes": ["ansi", "human"],
        "is_parallelizable": True,
    }

    def __init__(self, problem: FiniteProblem, render_mode: str | None = None, **options: Any) -> None:
        self.options = LinkingOptions(**options)
        opts = self.options
        if opts.participation is not None and problem.status_quo is None:
            raise ValueError(
                f"participation={opts.participation!r} needs a status quo, and problem {problem.name!r} has none"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: got {render_mode!r}; allowed are None and {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.problem = problem
        self.mechanism = LinkingMechanism(
            problem,
            opts.num_problems,
            budget_classes(problem, opts.budget),
            opts.mixing,
            opts.discount,
            opts.policing_config(),
        )
        self.process = make_process(opts.process, opts.correlation)
        self.process.check(problem)
        self.possible_agents = [f"agent_{i}" for i in range(problem.num_agents)]
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._fields = [self._layout(i) for i in range(problem.num_agents)]
        self._num_actions = [max(count, 2 if opts.participation else 1) for count in problem.type_counts]
        self._observation_spaces = [self._build_observation_space(i) for i in range(problem.num_agents)]
        self._field_slices = [
            [part for _, part in self.observation_fields(agent)] for agent in self.possible_agents
        ]
        self._field_getters = [
            [getattr(type(self), f"_field_{name}") for name, _, _, _ in fields] for fields in self._fields
        ]
        self._action_spaces: list[spaces.Discrete] = [spaces.Discrete(count) for count in self._num_actions]
        extra = {None: 0, "whole": 1, "per_problem": opts.num_problems}[opts.participation]
        self._num_steps = opts.num_problems + extra
        self._rng: np.random.Generator | None = None
        self.state_: LinkingState | None = None
        self._step_count = 0

    # ----- spaces -----------------------------------------------------------------------------------------

    def _layout(self, agent: int) -> list[tuple[str, int, float, float]]:
        problem, opts = self.problem, self.options
        n_types = problem.type_counts[agent]
        fields = [
            ("type", n_types, 0.0, 1.0),
            ("budget", self.mechanism.budgets[agent].num_classes, 0.0, 1.0),
            ("progress", 1, 0.0, 1.0),
            ("phase", 2, 0.0, 1.0),
        ]
        if opts.form == "all_at_once":
            fields.append(("future_types", n_types, 0.0, 1.0))
        else:
            others = sum(c for j, c in enumerate(problem.type_counts) if j != agent)
            fields += [("others_announced", others, 0.0, 1.0), ("last_utility", 1, -np.inf, np.inf)]
        if opts.participation:
            fields.append(("offer", 2, -np.inf, np.inf))
        return fields

    def observation_fields(self, agent: str) -> list[tuple[str, slice]]:
        """Names and slices of the fields of ``agent``'s observation vector."""
        out, start = [], 0
        for name, size, _, _ in self._fields[self._agent_index(agent)]:
            out.append((name, slice(start, start + size)))
            start += size
        return out

    def observation_space(self, agent: str) -> spaces.Dict:
        """Dict of the float32 observation vector and the int8 action mask (the same object every call)."""
        return self._observation_spaces[self._agent_index(agent)]

    def action_space(self, agent: str) -> spaces.Discrete:
        """``Discrete(A_i)``: announced type index, or 0/1 while participating (the same object every call)."""
        return self._action_spaces[self._agent_index(agent)]

    def _build_observation_space(self, agent: int) -> spaces.Dict:
        fields = self._fields[agent]
        low = np.concatenate([np.full(size, lo) for _, size, lo, _ in fields])
        high = np.concatenate([np.full(size, hi) for _, size, _, hi in fields])
        return masked_observation_space(low, high, self._num_actions[agent])

    def _agent_index(self, agent: str) -> int:
        if agent not in self._index:
            raise ValueError(f"agent: got {agent!r}; agents of this env are {self.possible_agents}")
        return self._index[agent]

    # ----- episode ----------------------------------------------------------------------------------------

    @property
    def num_steps(self) -> int:
        """Steps in an episode: K announcements plus the participation step(s)."""
        return self._num_steps

    @property
    def phase(self) -> str:
        """``"announce"``, ``"participate"`` or ``"done"``."""
        if self.state_ is None or self._step_count >= self._num_steps:
            return "done"
        return "announce" if self._step_count < self.options.num_problems else "participate"

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start an episode; a seed re-seeds the env's single generator, from which episodes are drawn."""
        self._rng = reseed(self._rng, seed)
        self.start_batch([self._rng])
        infos = {agent: {"phase": "announce", "date": 0} for agent in self.agents}
        return self._observations(), infos

    def start_batch(self, generators: Sequence[np.random.Generator]) -> LinkingState:
        """Start B = ``len(generators)`` episodes; episode b is drawn only from ``generators[b]``.

        Episode b draws exactly what ``reset(seed=s)`` draws with ``default_rng(s)``. Makes every agent live
        and returns the new state (kept as ``state_``); the single env is its row 0.
        """
        if len(generators) < 1:
            raise ValueError("generators: got none; give one numpy.random.Generator per episode")
        self.state_ = start_episodes(self.mechanism, self.process, list(generators))
        self._step_count = 0
        self.agents = list(self.possible_agents)
        return self.state_

    def check_action(self, agent: str, action: Any) -> None:
        """Raise a ValueError if ``agent`` may not take ``action`` now; changes nothing."""
        if self.state_ is None or not self.agents:
            raise ValueError("the episode is over or has not started; call reset() first")
        if agent not in self.agents:
            raise ValueError(f"agent: got {agent!r}; live agents are {self.agents}")
        value = as_discrete_action(action, agent, int(self.action_space(agent).n))
        if self.phase == "participate":
            if value not in (0, 1):
                raise ValueError(
                    f"{agent} sent {value} while participating; allowed are 0 (decline) and 1 (accept)"
                )
            return
        check_agent_announcement(self.mechanism, self.state_, 0, self._index[agent], value, self._allowed())

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Apply every live agent's action; a rejected step raises and leaves the env unchanged."""
        check_action_dict(actions, self.agents)
        for agent in self.agents:
            self.check_action(agent, actions[agent])
        chosen = np.array([[int(actions[a]) for a in self.possible_agents]], dtype=np.int64)
        rewards, infos = self._apply(chosen, with_infos=True)
        done = self._step_count >= self.num_steps
        reward_dict = {a: float(rewards[0, i]) for i, a in enumerate(self.possible_agents)}
        terminations = dict.fromkeys(self.possible_agents, done)
        truncations = dict.fromkeys(self.possible_agents, False)
        observations = self._observations()
        if done:
            self.agents = []
        if self.render_mode == "human":
            print(self.render())
        return observations, reward_dict, terminations, truncations, infos

    # ----- phases -----------------------------------------------------------------------------------------

    def check_actions(self, chosen: np.ndarray) -> None:
        """Raise a ValueError unless ``chosen [B, n]`` holds an action each agent's mask allows; changes nothing.

        The message names the first offending episode, agent and action, and the allowed actions.
        """
        check_joint_shape(chosen, self._state().batch_size, len(self.possible_agents))
        allowed_now = self._allowed()
        for i, agent in enumerate(self.possible_agents):
            check_against_mask(agent, chosen[:, i], self.batch_mask(i, allowed_now))

    def apply_actions(self, chosen: np.ndarray) -> FloatArray:
        """Apply checked actions ``[B, n]`` of every episode of the state; rewards ``[B, n]`` (no infos)."""
        rewards, _ = self._apply(chosen, with_infos=False)
        return rewards

    def _apply(self, chosen: np.ndarray, with_infos: bool) -> tuple[FloatArray, dict]:
        if self.phase == "announce":
            rewards, infos = self._announce(chosen, with_infos)
        else:
            rewards, infos = self._participate(chosen, with_infos)
        self._step_count += 1
        return rewards, infos

    def _announce(self, chosen: np.ndarray, with_infos: bool = True) -> tuple[FloatArray, dict]:
        state, opts = self._state(), self.options
        n = self.problem.num_agents
        if opts.form == "over_time":
            rewards = step_over_time(self.mechanism, state, chosen)
            if opts.participation:
                rewards = np.zeros_like(rewards)
            return rewards, self._date_infos(state.date - 1) if with_infos else {}
        record_announcements(self.mechanism, state, chosen)
        rewards = np.zeros((state.batch_size, n))
        if state.date == opts.num_problems:
            utilities = finish_all_at_once(self.mechanism, state)
            if not opts.participation:
                rewards = utilities.sum(axis=1)
            return rewards, self._final_infos() if with_infos else {}
        return rewards, {a: {"phase": "announce", "date": state.date} for a in self.possible_agents}

    def _participate(self, chosen: np.ndarray, with_infos: bool = True) -> tuple[FloatArray, dict]:
        proposed, status_quo = self._discounted_outcomes()
        problem = self._participation_problem()
        if problem is None:
            rewards = whole_participation(proposed, status_quo, chosen).sum(axis=1)
        else:
            accrued = per_problem_participation(
                proposed[:, [problem]], status_quo[:, [problem]], chosen[:, None, :]
            )
            rewards = accrued[:, 0]
        if not with_infos:
            return rewards, {}
        infos = {
            agent: {
                "phase": "participate",
                "problem": None if problem is None else problem + 1,
                "accepted": bool(chosen[0, i]),
                "implemented": bool(chosen[0].all()),
                "utility": float(rewards[0, i]),
            }
            for i, agent in enumerate(self.possible_agents)
        }
        return rewards, infos

    # ----- observations and infos -------------------------------------------------------------------------

    def _state(self) -> LinkingState:
        if self.state_ is None:
            raise ValueError("call reset() first")
        return self.state_

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """The current observation of ``agent`` (as the last reset or step returned it, recomputed)."""
        return self._observations()[agent]

    def _allowed(self) -> np.ndarray:
        """:func:`announcement_mask` of the current state ``[B, n, T]``, computed once per date."""
        state = self._state()
        cached = getattr(self, "_allowed_cache", None)
        if cached is None or cached[0] is not state or cached[1] != state.date:
            cached = (state, state.date, announcement_mask(self.mechanism, state.remaining))
            self._allowed_cache = cached
        return cached[2]

    def _observations(self) -> dict[str, dict[str, np.ndarray]]:
        allowed = self._allowed()
        return {
            agent: {"observation": self.batch_vector(i)[0], "action_mask": self.batch_mask(i, allowed)[0]}
            for i, agent in enumerate(self.possible_agents)
        }

    # Observation fields are computed for rows of public facts ([R, size]): every episode of the state (the
    # single env shows row 0, linkmech.envs.batched.BatchedLinkingEnv every row) or the states of an exact
    # analysis (linkmech.training.best_response): one copy of each rule.

    def batch_mask(self, agent: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """``[B, A_i]`` int8 action masks of agent index ``agent`` in every episode of the state.

        ``allowed``: :func:`announcement_mask` of the current state, when the caller has it already.
        """
        return self.masks(agent, self._state_rows(), allowed)

    def masks(self, agent: int, rows: ObservedRows, allowed: np.ndarray | None = None) -> np.ndarray:
        """``[R, A_i]`` int8 action masks of agent index ``agent`` for the given rows."""
        mask = np.zeros((rows.size, self._num_actions[agent]), dtype=np.int8)
        if rows.phase == "announce":
            count = self.problem.type_counts[agent]
            if allowed is None:
                allowed = announcement_mask(self.mechanism, rows.remaining)
            mask[:, :count] = allowed[:, agent, :count]
        elif rows.phase == "participate":
            mask[:, :2] = 1
        return mask

    def batch_vector(self, agent: int) -> np.ndarray:
        """``[B, D_i]`` float32 observation vectors of agent index ``agent`` in every episode."""
        return self.vectors(agent, self._state_rows())

    def vectors(self, agent: int, rows: ObservedRows) -> np.ndarray:
        """``[R, D_i]`` float32 observation vectors of agent index ``agent`` for the given rows of facts."""
        size = self._field_slices[agent][-1].stop
        out = np.empty((rows.size, size), dtype=np.float32)
        for part, field in zip(self._field_slices[agent], self._field_getters[agent]):
            out[:, part] = field(self, agent, rows)
        return out

    def _state_rows(self) -> ObservedRows:
        """The facts of every episode of the current state, shared by all agents until the next step."""
        state = self._state()
        cached = getattr(self, "_rows_cache", None)
        if cached is None or cached[0] is not state or cached[1] != self._step_count:
            cached = (state, self._step_count, _StateRows(self))
            self._rows_cache = cached
        return cached[2]

    def _rows(self, values: list[float]) -> np.ndarray:
        """``values`` as one row ``[1, size]`` (broadcast over the rows by :meth:`vectors`)."""
        return np.array([values], dtype=np.float64)

    def _field_type(self, agent: int, rows: ObservedRows) -> np.ndarray:
        current = np.zeros((rows.size, self.problem.type_counts[agent]))
        if rows.phase == "announce":
            current[np.arange(rows.size), rows.current_types[:, agent]] = 1.0
        return current

    def _field_budget(self, agent: int, rows: ObservedRows) -> np.ndarray:
        classes = self.mechanism.budgets[agent].num_classes
        return rows.remaining[:, agent, :classes] / self.options.num_problems

    def _field_progress(self, agent: int, rows: ObservedRows) -> np.ndarray:
        return self._rows([rows.date / self.options.num_problems])

    def _field_phase(self, agent: int, rows: ObservedRows) -> np.ndarray:
        return self._rows([float(rows.phase == "announce"), float(rows.phase == "participate")])

    def _field_future_types(self, agent: int, rows: ObservedRows) -> np.ndarray:
        return rows.future_type_counts(agent) / self.options.num_problems

    def _field_others_announced(self, agent: int, rows: ObservedRows) -> np.ndarray:
        counts = rows.announced_counts
        parts = [counts[:, j, :count] for j, count in enumerate(self.problem.type_counts) if j != agent]
        return np.concatenate(parts, axis=1) / self.options.num_problems

    def _announced_counts(self) -> np.ndarray:
        """``[B, n, max types]`` counts of each agent's announcements so far, updated incrementally.

        Derived from ``state.announced`` only: the cache remembers the state object and the date it has
        counted up to, adds the dates announced since, and starts over for a new state.
        """
        state = self._state()
        cached = getattr(self, "_count_cache", None)
        if cached is None or cached[0] is not state or cached[1] > state.date:
            width = max(self.problem.type_counts)
            cached = (state, 0, np.zeros((state.batch_size, self.problem.num_agents, width)))
        _, counted, counts = cached
        if counted < state.date:
            width = counts.shape[2]
            recent = state.announced[:, counted : state.date, :]  # [B, dates, n]
            counts = counts + (recent[..., None] == np.arange(width)).sum(axis=1)
        self._count_cache = (state, state.date, counts)
        return counts

    def _field_last_utility(self, agent: int, rows: ObservedRows) -> np.ndarray:
        return rows.last_utilities[:, agent][:, None]

    def _field_offer(self, agent: int, rows: ObservedRows) -> np.ndarray:
        return rows.offers(agent)

    def _offers(self, agent: int) -> np.ndarray:
        """``[B, 2]`` the discounted utility of the current participation question if accepted, and declined."""
        state = self._state()
        if self.phase != "participate":
            return np.zeros((state.batch_size, 2))
        proposed, status_quo = self._discounted_outcomes()
        problem = self._participation_problem()
        chosen = slice(None) if problem is None else slice(problem, problem + 1)
        return np.stack(
            [proposed[:, chosen, agent].sum(axis=1), status_quo[:, chosen, agent].sum(axis=1)], axis=1
        )

    def _discounted_outcomes(self) -> tuple[FloatArray, FloatArray]:
        """``[1, K, n]`` discounted utilities of the proposed decisions and of the status quo."""
        state = self._state()
        weights = self.mechanism.discount_weights[None, :, None]
        return state.utilities * weights, status_quo_utilities(self.mechanism, state) * weights

    def _participation_problem(self) -> int | None:
        """The problem (0-based) asked about in a per-problem participation step; None for the whole."""
        if self.options.participation == "whole":
            return None
        return self._step_count - self.options.num_problems

    def _date_infos(self, problem: int) -> dict[str, dict[str, Any]]:
        state = self._state()
        labels = self.problem.type_labels
        decision = int(state.decisions[0, problem])
        infos = {}
        for i, agent in enumerate(self.possible_agents):
            announced, used = int(state.announced[0, problem, i]), int(state.used[0, problem, i])
            infos[agent] = {
                "phase": "announce",
                "date": problem + 1,
                "true_type": labels[i][int(state.types[0, problem, i])],
                "announced": labels[i][announced],
                "used": labels[i][used],
                "mixed": announced != used,
                "decision": self.problem.alternative_label(decision),
                "utility": float(state.utilities[0, problem, i]),
                "expected_utility": float(state.expected_utilities[0, problem, i]),
            }
            if self.mechanism.policing is not None:
                infos[agent]["policed"] = bool(state.policed[0, problem, i])
                infos[agent]["flags"] = _flags_at(state.flag_log[0], problem + 1)
        return infos

    def _final_infos(self) -> dict[str, dict[str, Any]]:
        state = self._state()
        decisions = [self.problem.alternative_label(int(d)) for d in state.decisions[0]]
        return {
            agent: {
                "phase": "announce",
                "date": state.date,
                "decisions": decisions,
                "utilities": state.utilities[0, :, i].tolist(),
                "expected_utilities": state.expected_utilities[0, :, i].tolist(),
                **(
                    {
                        "policed": bool(state.policed[0, 0, i]),
                        "flags": [f.as_dict() for f in state.flag_log[0]],
                    }
                    if self.mechanism.policing is not None
                    else {}
                ),
            }
            for i, agent in enumerate(self.possible_agents)
        }

    # ----- rendering --------------------------------------------------------------------------------------

    def render(self) -> str | None:
        """A text table of the problems decided so far (``ansi`` returns it, ``human`` prints in step)."""
        if self.render_mode is None:
            return None
        return decisions_table(self)

    def close(self) -> None:
        """Nothing to release."""


def _counts(values: np.ndarray, size: int) -> np.ndarray:
    """Per row of ``values [B, m]``, how often each of ``0..size-1`` occurs: ``[B, size]`` floats."""
    return (values[:, :, None] == np.arange(size)).sum(axis=1).astype(np.float64)


def _flags_at(flags: list[Flag], date: int) -> list[dict[str, Any]]:
    """The flags the cumulative test raised at ``date`` (1-based), as plain dicts."""
    return [flag.as_dict() for flag in flags if flag.date == date]


def decisions_table(env: LinkingEnv) -> str:
    """Per-problem true types, announcements, decisions and utilities of the current episode, as text.

    A cell ``true/announced`` gets ``>used`` appended when the mechanism's mixing replaced the announcement.
    """
    state = env._state()
    problem = env.problem
    n = problem.num_agents
    header = ["k"] + [f"true/ann {i}" for i in range(n)] + ["decision"] + [f"u{i}" for i in range(n)]
    rows = [header]
    for k in range(state.date):
        if state.decisions[0, k] < 0:
            continue
        cells = [str(k + 1)]
        for i in range(n):
            labels = problem.type_labels[i]
            true, announced, used = (int(x[0, k, i]) for x in (state.types, state.announced, state.used))
            mixed = f">{labels[used]}" if used != announced else ""
            cells.append(f"{labels[true]}/{labels[announced]}{mixed}")
        cells.append(problem.alternative_label(int(state.decisions[0, k])))
        cells += [f"{state.utilities[0, k, i] + 0.0:+.3g}" for i in range(n)]
        rows.append(cells)
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)
