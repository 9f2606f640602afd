"""The linking mechanism of Jackson and Sonnenschein (2007), batched over independent episodes.

K copies of a base problem are linked. Each agent must announce each budget class exactly its quota of
times over the K problems (:mod:`linkmech.mechanisms.budgets`); on each problem the mechanism applies the
target f to the announcements it uses, which are the agents' announcements after the gamma-mixing of the
proof of Theorem 1 (with probability gamma an announcement is replaced by a draw from ``P_hat``).

Two forms share every function here:

- **over time** (Section 5, Corollary 2): at date k = 1..K each agent announces a type for problem k;
  the decision at date k is f of the date-k announcements; utilities are discounted by ``discount**(k-1)``.
- **all at once** (Theorem 1): each agent submits its whole K-vector (in the environments: entered one
  problem at a time without seeing anything of the others); all decisions are taken at the end.

State lives in :class:`LinkingState` (arrays with leading axis B = episodes). Randomness of an episode is
drawn once at its start from that episode's generator (:func:`start_episodes`): true types, one uniform per
problem for the decision lottery, and the mixing draws, so the same seed gives the same episode whatever
the batch it runs in, and decisions use common random numbers across strategies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from linkmech.mechanisms.budgets import AgentBudget, make_budget
from linkmech.mechanisms.policing import (
    CumulativePolicing,
    Flag,
    PolicingConfig,
    police_all_at_once,
    uniform_arrangement,
)
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray, Lottery
from linkmech.mechanisms.processes import IID, TypeProcess, count_at_or_below

NOT_YET = -1
"""Marker in announcement and decision arrays for problems not reached yet."""


@dataclass(frozen=True)
class LinkingMechanism:
    """K linked copies of ``problem`` with announcement budgets.

    Args:
        problem: the base decision problem (with its target f).
        num_problems: K >= 1.
        budget_classes: optional per-agent partition of types into budget classes (default: by type).
        mixing: apply the gamma-mixing that makes used announcements exactly P-distributed.
        discount: delta in (0, 1]; problem k (0-based) is weighted ``discount**k``.
        policing: the collusion-policing test of Appendix 1 (footnote 35 over time), or None. Needs n >= 3.
    """

    problem: FiniteProblem
    num_problems: int
    budget_classes: tuple[tuple[int, ...], ...] | None = None
    mixing: bool = True
    discount: float = 1.0
    policing: PolicingConfig | None = None
    budgets: tuple[AgentBudget, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.discount) and 0.0 < self.discount <= 1.0):
            raise ValueError(f"discount: got {self.discount!r}; allowed range is (0, 1]")
        if not isinstance(self.mixing, (bool, np.bool_)):
            raise ValueError(f"mixing: got {self.mixing!r}; allowed are True and False")
        if self.policing is not None and self.problem.num_agents < 3:
            raise ValueError(
                f"policing: the joint-announcement test needs n >= 3 agents (with two, budgets alone suffice, "
                f"Appendix 1); this problem has n = {self.problem.num_agents}"
            )
        object.__setattr__(self, "budgets", make_budget(self.problem, self.num_problems, self.budget_classes))
        tables = _PaddedTables.build(self.problem, self.budgets, self.mixing)
        object.__setattr__(self, "_tables", tables)

    @property
    def num_agents(self) -> int:
        """Number of agents n."""
        return self.problem.num_agents

    @property
    def tables(self) -> _PaddedTables:
        """Padded per-agent arrays used by the batched functions."""
        return self._tables  # type: ignore[attr-defined,no-any-return]

    @property
    def discount_weights(self) -> FloatArray:
        """``[K]`` weights ``discount**k``."""
        return np.asarray(self.discount ** np.arange(self.num_problems), dtype=np.float64)

    @property
    def quotas(self) -> tuple[IntArray, ...]:
        """Every agent's quota per budget class."""
        return tuple(b.quota for b in self.budgets)

    def quota(self, agent: int) -> IntArray:
        """Number of announcements of each budget class agent ``agent`` must make."""
        return self.budgets[agent].quota

    def mixing_prob(self, agent: int) -> Fraction:
        """Gamma of agent ``agent`` (0 when mixing is off)."""
        return self.budgets[agent].mixing_prob if self.mixing else Fraction(0)


@dataclass(frozen=True)
class _PaddedTables:
    """Per-agent arrays padded to a common width so that batched code needs no Python loop over agents."""

    type_valid: np.ndarray  # [n, T] bool
    class_of_type: IntArray  # [n, T]
    quota: IntArray  # [n, C]
    gamma: FloatArray  # [n]
    replacement_cdf: FloatArray  # [n, T]

    @staticmethod
    def build(problem: FiniteProblem, budgets: Sequence[AgentBudget], mixing: bool) -> _PaddedTables:
        n, width = problem.num_agents, max(problem.type_counts)
        classes = max(b.num_classes for b in budgets)
        type_valid = np.zeros((n, width), dtype=bool)
        class_of_type = np.zeros((n, width), dtype=np.int64)
        quota = np.zeros((n, classes), dtype=np.int64)
        cdf = np.ones((n, width))
        for i, budget in enumerate(budgets):
            count = problem.type_counts[i]
            type_valid[i, :count] = True
            class_of_type[i, :count] = budget.class_of_type
            quota[i, : budget.num_classes] = budget.quota
            cdf[i, :count] = np.cumsum(budget.replacement_type_probs)
        gamma = np.array([float(b.mixing_prob) if mixing else 0.0 for b in budgets])
        return _PaddedTables(type_valid, class_of_type, quota, gamma, cdf)


@dataclass
class EpisodeRandomness:
    """Everything random about a batch of episodes beyond the agents' choices.

    Attributes:
        decision_uniforms: ``[B, K]`` uniforms that pick each problem's alternative from f's lottery.
        mixing_uniforms: ``[B, K, n]``; an announcement is replaced when its uniform is below gamma.
        replacement_types: ``[B, K, n]`` replacement announcements drawn from ``P_hat``.
    """

    decision_uniforms: FloatArray
    mixing_uniforms: FloatArray
    replacement_types: IntArray


@dataclass
class LinkingState:
    """Mutable state of a batch of B linking episodes.

    Attributes:
        types: ``[B, K, n]`` true types.
        remaining: ``[B, n, C]`` announcements of each budget class still to be made.
        announced: ``[B, K, n]`` announcements (``NOT_YET`` where not made).
        used: ``[B, K, n]`` announcements used by the mechanism after mixing.
        decisions: ``[B, K]`` chosen alternatives (``NOT_YET`` where not decided).
        utilities: ``[B, K, n]`` realised (undiscounted) utilities of decided problems.
        expected_utilities: ``[B, K, n]`` utilities in expectation over f's lottery.
        date: number of problems announced so far (the same in every episode of the batch).
        randomness: the episodes' pre-drawn randomness.
        generators: each episode's generator, for the rare draws that cannot be pre-drawn (policing).
        policed: ``[B, K, n]`` whether the announcement was made by the policing mechanism.
        flag_log: per episode, every policing flag raised (over time: at each date; all at once: per round).
        flagged: ``[B, n]`` agents whose next announcement the mechanism makes (over-time policing).
        police: the cumulative over-time test, created at the first policed date.
    """

    types: IntArray
    remaining: IntArray
    announced: IntArray
    used: IntArray
    decisions: IntArray
    utilities: FloatArray
    expected_utilities: FloatArray
    date: int
    randomness: EpisodeRandomness
    generators: list[np.random.Generator]
    policed: np.ndarray
    flag_log: list[list[Flag]]
    flagged: np.ndarray
    police: CumulativePolicing | None = None

    @property
    def batch_size(self) -> int:
        """B."""
        return self.types.shape[0]


def draw_episode(
    mechanism: LinkingMechanism, process: TypeProcess, rng: np.random.Generator
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """One episode's true types and uniforms, drawn from ``rng`` in a fixed order.

    Returns:
        (types ``[K, n]``, decision uniforms ``[K]``, mixing uniforms ``[K, n]``, replacement uniforms
        ``[K, n]``); :func:`replacement_types` turns the last into the mixing's replacement types.
    """
    k, n = mechanism.num_problems, mechanism.num_agents
    types = process.sample(mechanism.problem, k, rng)
    return types, rng.random(k), rng.random((k, n)), rng.random((k, n))


def replacement_types(mechanism: LinkingMechanism, uniforms: FloatArray) -> IntArray:
    """The gamma-mixing's replacement type of each agent, ``[..., n]``, by inverting its CDF at ``uniforms``."""
    replacement = count_at_or_below(mechanism.tables.replacement_cdf, uniforms)
    return np.minimum(replacement, np.array(mechanism.problem.type_counts) - 1)


def start_episodes(
    mechanism: LinkingMechanism, process: TypeProcess | None, rngs: Sequence[np.random.Generator]
) -> LinkingState:
    """A fresh batch of ``len(rngs)`` episodes, episode b drawn only from ``rngs[b]``."""
    process = process if process is not None else IID()
    process.check(mechanism.problem)
    draws = [draw_episode(mechanism, process, rng) for rng in rngs]
    types, decision_u, mixing_u, replacement_u = (np.stack(parts) for parts in zip(*draws))
    replacement = replacement_types(mechanism, replacement_u)
    batch, k, n = types.shape
    return LinkingState(
        types=types,
        remaining=np.broadcast_to(mechanism.tables.quota, (batch,) + mechanism.tables.quota.shape).copy(),
        announced=np.full((batch, k, n), NOT_YET, dtype=np.int64),
        used=np.full((batch, k, n), NOT_YET, dtype=np.int64),
        decisions=np.full((batch, k), NOT_YET, dtype=np.int64),
        utilities=np.zeros((batch, k, n)),
        expected_utilities=np.zeros((batch, k, n)),
        date=0,
        randomness=EpisodeRandomness(decision_u, mixing_u, replacement),
        generators=list(rngs),
        policed=np.zeros((batch, k, n), dtype=bool),
        flag_log=[[] for _ in range(batch)],
        flagged=np.zeros((batch, n), dtype=bool),
    )


def announcement_mask(mechanism: LinkingMechanism, remaining: IntArray) -> np.ndarray:
    """``[B, n, T]`` bool: which types each agent may still announce given ``remaining [B, n, C]``."""
    tables = mechanism.tables
    agents = np.arange(tables.class_of_type.shape[0])[:, None]
    left = remaining[:, agents, tables.class_of_type]  # [B, n, T]: what is left of each type's class
    return (left > 0) & tables.type_valid


def check_announcements(mechanism: LinkingMechanism, state: LinkingState, announced: IntArray) -> None:
    """Raise a ValueError naming the episode and agent if ``announced [B, n]`` is not admissible now.

    Admissible: the episode has a problem left, each entry is a type of that agent, and the agent's
    budget for the type's class is not exhausted. Nothing is modified.
    """
    problem = mechanism.problem
    if state.date >= mechanism.num_problems:
        raise ValueError(
            f"all {mechanism.num_problems} problems have been announced; call reset() to start a new episode"
        )
    expected = (state.batch_size, mechanism.num_agents)
    if announced.shape != expected:
        raise ValueError(
            f"announcements: got shape {announced.shape}; expected {expected} = [episodes, agents]"
        )
    problem.check_announced(announced)
    allowed = announcement_mask(mechanism, state.remaining)
    ok = allowed[np.arange(state.batch_size)[:, None], np.arange(mechanism.num_agents), announced]
    if not ok.all():
        episode, agent = (int(x) for x in np.argwhere(~ok)[0])
        _raise_exhausted(
            mechanism, state, episode, agent, int(announced[episode, agent]), allowed[episode, agent]
        )


def check_agent_announcement(
    mechanism: LinkingMechanism,
    state: LinkingState,
    episode: int,
    agent: int,
    announced: int,
    allowed_now: np.ndarray | None = None,
) -> None:
    """Raise a ValueError if ``agent`` may not announce type index ``announced`` now in ``episode``.

    ``allowed_now``: :func:`announcement_mask` of the state ``[B, n, T]``, when the caller has it already.
    """
    if state.date >= mechanism.num_problems:
        raise ValueError(
            f"all {mechanism.num_problems} problems have been announced; call reset() to start a new episode"
        )
    count = mechanism.problem.type_counts[agent]
    labels = mechanism.problem.type_labels[agent]
    if not 0 <= announced < count:
        raise ValueError(
            f"agent_{agent} announced type index {announced}; allowed are 0..{count - 1} ({', '.join(labels)})"
        )
    if allowed_now is None:
        allowed_now = announcement_mask(mechanism, state.remaining[episode : episode + 1])
        episode_row = 0
    else:
        episode_row = episode
    allowed = allowed_now[episode_row, agent]
    if not allowed[announced]:
        _raise_exhausted(mechanism, state, episode, agent, announced, allowed)


def _raise_exhausted(
    mechanism: LinkingMechanism,
    state: LinkingState,
    episode: int,
    agent: int,
    announced: int,
    allowed: np.ndarray,
) -> None:
    labels = mechanism.problem.type_labels[agent]
    budget = mechanism.budgets[agent]
    klass = int(budget.class_of_type[announced])
    choices = [labels[t] for t in range(len(labels)) if allowed[t]]
    where = f"episode {episode}, " if state.batch_size > 1 else ""
    raise ValueError(
        f"{where}agent_{agent} announced type {labels[announced]!r} (index {announced}) for problem "
        f"{state.date + 1}, but its budget for that type is exhausted (0 of {int(budget.quota[klass])} left); "
        f"types it may still announce: {choices}"
    )


def apply_mixing(
    mechanism: LinkingMechanism, announced: IntArray, mixing_uniforms: FloatArray, replacement: IntArray
) -> IntArray:
    """The announcements the mechanism uses: each replaced when its uniform is below the agent's gamma."""
    replaced = mixing_uniforms < mechanism.tables.gamma
    return np.where(replaced, replacement, announced)


def decide(
    mechanism: LinkingMechanism, types: IntArray, used: IntArray, uniforms: FloatArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Decisions on a batch of problems ``[M]`` from used announcements ``[M, n]``.

    Returns:
        (decisions ``[M]``, realised utilities ``[M, n]``, expected utilities ``[M, n]``) of agents whose
        true types are ``types [M, n]``.
    """
    problem = mechanism.problem
    lottery: Lottery = problem.checked_target(used)
    decisions = lottery.sample(uniforms)
    realised = problem.utility(types, decisions[:, None])[:, 0, :]
    expected = problem.expected_utility(types, lottery)
    return decisions, realised, expected


def record_announcements(mechanism: LinkingMechanism, state: LinkingState, announced: IntArray) -> None:
    """Check ``announced [B, n]`` for the current problem, then spend budgets and store it (with mixing).

    Raises:
        ValueError: if any announcement is inadmissible; the state is then left unchanged.
    """
    announced = np.asarray(announced, dtype=np.int64)
    check_announcements(mechanism, state, announced)
    _store_announcements(mechanism, state, announced)


def _store_announcements(mechanism: LinkingMechanism, state: LinkingState, announced: IntArray) -> None:
    k = state.date
    classes = announced_classes(mechanism, announced)
    batch_index = np.arange(state.batch_size)[:, None]
    np.subtract.at(state.remaining, (batch_index, np.arange(mechanism.num_agents)[None, :], classes), 1)
    state.announced[:, k] = announced
    rand = state.randomness
    state.used[:, k] = apply_mixing(
        mechanism, announced, rand.mixing_uniforms[:, k], rand.replacement_types[:, k]
    )
    state.date = k + 1


def announced_classes(mechanism: LinkingMechanism, announced: IntArray) -> IntArray:
    """Budget class of each announced type; ``announced`` has agents on its last axis."""
    agents = np.arange(mechanism.num_agents)
    return np.asarray(mechanism.tables.class_of_type[agents, announced], dtype=np.int64)


def _draw_type_in_class(mechanism: LinkingMechanism, agent: int, klass: int, rng: np.random.Generator) -> int:
    """A type of ``klass`` for ``agent``, in proportion to ``P_i`` within the class."""
    members = np.flatnonzero(mechanism.budgets[agent].class_of_type == klass)
    weights = mechanism.problem.type_probs[agent][members]
    if len(members) == 1:
        return int(members[0])
    return int(rng.choice(members, p=weights / weights.sum()))


def mechanism_announcements(
    mechanism: LinkingMechanism, state: LinkingState, announced: IntArray
) -> IntArray:
    """``announced [B, n]`` with every flagged agent's entry replaced by the mechanism's own draw.

    The mechanism announces for a flagged agent within its budget: a class with probability proportional to
    its remaining announcements (the next entry of a uniformly random arrangement of what is left), then a
    type within the class in proportion to ``P_i``; drawn from the episode's generator.
    """
    out = announced.copy()
    for episode, agent in np.argwhere(state.flagged):
        rng = state.generators[episode]
        left = state.remaining[episode, agent, : mechanism.budgets[agent].num_classes]
        klass = int(rng.choice(len(left), p=left / left.sum()))
        out[episode, agent] = _draw_type_in_class(mechanism, agent, klass, rng)
    return out


def _police_date(mechanism: LinkingMechanism, state: LinkingState, announced: IntArray) -> IntArray:
    """Over-time policing around one date: replace flagged agents, then update the cumulative test."""
    assert mechanism.policing is not None
    if state.police is None:
        state.police = CumulativePolicing(
            mechanism.quotas,
            mechanism.num_problems,
            mechanism.num_agents,
            state.batch_size,
            mechanism.policing,
        )
    effective = mechanism_announcements(mechanism, state, announced)
    state.policed[:, state.date] = state.flagged
    return effective


def _update_police(mechanism: LinkingMechanism, state: LinkingState) -> None:
    assert state.police is not None
    date = state.date
    state.police.update(announced_classes(mechanism, state.announced[:, date - 1]))
    state.flagged = np.zeros_like(state.flagged)
    for flag in state.police.flags(date):
        state.flag_log[flag.episode].append(flag)
        state.flagged[flag.episode, list(flag.coalition)] = True


def decide_problems(
    mechanism: LinkingMechanism, state: LinkingState, problems: IntArray | slice
) -> FloatArray:
    """Take the decisions on the given (announced) problems of every episode; return discounted utilities.

    ``problems``: 0-based problem indices, or a slice of them.

    Returns:
        ``[B, len(problems), n]`` realised utilities weighted by ``discount**k``.
    """
    batch, n = state.batch_size, mechanism.num_agents
    count = state.types[0, problems].shape[0]
    types = state.types[:, problems].reshape(batch * count, n)
    used = state.used[:, problems].reshape(batch * count, n)
    uniforms = state.randomness.decision_uniforms[:, problems].reshape(batch * count)
    decisions, realised, expected = decide(mechanism, types, used, uniforms)
    state.decisions[:, problems] = decisions.reshape(batch, count)
    state.utilities[:, problems] = realised.reshape(batch, count, n)
    state.expected_utilities[:, problems] = expected.reshape(batch, count, n)
    return state.utilities[:, problems] * mechanism.discount_weights[problems][None, :, None]


def step_over_time(mechanism: LinkingMechanism, state: LinkingState, announced: IntArray) -> FloatArray:
    """One date of the mechanism operated over time: record, decide, return ``[B, n]`` discounted utilities.

    With policing, agents flagged by the cumulative test up to the previous date have their announcement made
    by the mechanism (:func:`mechanism_announcements`); their own choice must still be admissible.
    """
    announced = np.asarray(announced, dtype=np.int64)
    check_announcements(mechanism, state, announced)
    if mechanism.policing is not None:
        announced = _police_date(mechanism, state, announced)
    _store_announcements(mechanism, state, announced)
    if mechanism.policing is not None:
        _update_police(mechanism, state)
    return decide_problems(mechanism, state, slice(state.date - 1, state.date))[:, 0, :]


def check_full_announcements(mechanism: LinkingMechanism, announcements: IntArray) -> None:
    """Raise a ValueError unless each agent's K-vector in ``announcements [B, K, n]`` meets its quota exactly."""
    batch, k, n = announcements.shape
    if (k, n) != (mechanism.num_problems, mechanism.num_agents):
        raise ValueError(
            f"announcements: got shape {announcements.shape}; expected [episodes, K={mechanism.num_problems}, "
            f"n={mechanism.num_agents}]"
        )
    mechanism.problem.check_announced(announcements.reshape(batch * k, n))
    for i, budget in enumerate(mechanism.budgets):
        classes = budget.class_of_type[announcements[:, :, i]]
        counts = np.stack([(classes == c).sum(axis=1) for c in range(budget.num_classes)], axis=1)
        wrong = np.argwhere((counts != budget.quota).any(axis=1))
        if len(wrong):
            b = int(wrong[0, 0])
            raise ValueError(
                f"episode {b}, agent_{i}: announced class counts {counts[b].tolist()}; the budget requires "
                f"exactly {budget.quota.tolist()} over K={mechanism.num_problems} problems"
            )


def decide_all_at_once(
    mechanism: LinkingMechanism, state: LinkingState, announcements: IntArray
) -> FloatArray:
    """The all-at-once form on a fresh state: submit whole K-vectors ``[B, K, n]``, decide every problem.

    Returns:
        ``[B, K, n]`` discounted realised utilities.
    """
    announcements = np.asarray(announcements, dtype=np.int64)
    if state.date != 0:
        raise ValueError(f"the all-at-once form needs a fresh state; this one is at problem {state.date}")
    check_full_announcements(mechanism, announcements)
    for k in range(mechanism.num_problems):
        record_announcements(mechanism, state, announcements[:, k])
    return finish_all_at_once(mechanism, state)


def finish_all_at_once(mechanism: LinkingMechanism, state: LinkingState) -> FloatArray:
    """After all K announcements (all at once): police the whole vectors if configured, then decide all.

    Returns:
        ``[B, K, n]`` discounted realised utilities.
    """
    if state.date != mechanism.num_problems:
        raise ValueError(f"{state.date} of {mechanism.num_problems} problems announced; announce all K first")
    if mechanism.policing is not None:
        _police_whole_vectors(mechanism, state)
    return decide_problems(mechanism, state, np.arange(mechanism.num_problems))


def _police_whole_vectors(mechanism: LinkingMechanism, state: LinkingState) -> None:
    """Appendix 1: replace flagged coalitions' whole vectors by random admissible ones, until no test fails."""
    assert mechanism.policing is not None

    def draw_message(agent: int, rng: np.random.Generator) -> IntArray:
        return uniform_arrangement(mechanism.budgets[agent].quota, rng)

    classes = announced_classes(mechanism, state.announced)
    final, log = police_all_at_once(
        classes, mechanism.quotas, mechanism.num_problems, mechanism.policing, draw_message, state.generators
    )
    for episode, flags in enumerate(log):
        state.flag_log[episode].extend(flags)
        for agent in sorted({j for flag in flags if not flag.stopped for j in flag.coalition}):
            state.policed[episode, :, agent] = True
    if state.policed.any():
        state.announced = _replacement_types(mechanism, state, final)
        rand = state.randomness
        state.used = apply_mixing(mechanism, state.announced, rand.mixing_uniforms, rand.replacement_types)


def _replacement_types(mechanism: LinkingMechanism, state: LinkingState, classes: IntArray) -> IntArray:
    """Types for the replaced (policed) whole vectors: within each drawn class in proportion to ``P_i``."""
    out = state.announced.copy()
    for episode, agent in np.argwhere(state.policed[:, 0, :]):
        rng = state.generators[episode]
        column = classes[episode, :, agent]
        out[episode, :, agent] = [_draw_type_in_class(mechanism, agent, int(c), rng) for c in column]
    return out
