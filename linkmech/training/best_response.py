"""Exact best responses (empirical exploitability) in the linking mechanism operated over time.

The question. In a strategy profile where every seat plays a scripted strategy (by default
``approximately_truthful``, the strategy of Theorem 1 and Corollary 2 of Jackson and Sonnenschein, 2007),
one seat deviates. What is its best response, and what does it gain per problem over the strategy it
replaces? Theorem 1 (3) says approximate truth secures a utility converging to the target, so the gain
per problem should vanish as K grows.

The model is the engine's own rules (:mod:`linkmech.mechanisms.linking`, over time): at date k = 0..K-1
every agent draws a fresh type from ``P_i`` (iid across dates and agents; other type processes are
rejected), announces a type whose budget class has announcements left, the budget of that class drops by
one, each announcement is replaced with probability gamma_i by a draw from ``P_hat_i`` (the mixing), f is
applied to the used announcements (its lottery in expectation) and the date's utility is weighted by
``discount**k``. A seat sees its own type, its own remaining budget, the date and, for every other agent, its
announcement counts per type so far (``others_announced``). Utilities are private values (checked).

Exact dynamic programme (:func:`exact_best_response`). The scripted strategies we model announce as a
function of their current type, their own remaining budget and (for the myopic lie rule and front-loading)
the others' announcement counts, and nothing else; types are iid. So with the state

    (date k, every agent's announcement counts per cell),

where a cell is a budget class, or a type when a modelled strategy reads the per-type history (finer than
the classes only for budgets such as ``"intensity"``), the seat faces a Markov decision process whose state
it observes. Backward induction over dates then gives (a) the value of the replaced strategy (policy
evaluation) and (b) the optimal value and a deterministic optimal policy (a best response among all
policies, history-dependent or randomised), in floats and, when cheap, in exact fractions. One date costs,
per own type, ``C_d * prod_j C_j`` gathers over the joint state array (C = cells of an agent).

History-free lower bound (:func:`history_free_best_response`). If the seat ignores the public history and
conditions only on (date, own budget, own type), and the opponents' strategies do not read the history,
then the opponents' announcements at date k are independent of the seat's state and follow their exact
marginal law at date k (propagated forward over each opponent's own budget states). The best policy in that
class is found by a DP over the seat's own states only; it is a real strategy, so its value is a LOWER bound
on the best-response value, and its gain a lower bound on the exploitability. In public goods most of the
exploitability comes from reading the others' remaining budgets (K = 96: exact gain per problem 0.00142,
history-free 0.00029); in voting the bound is close (K = 32: 0.0430 and 0.0393).

State-space sizes. One agent with class quotas q_1..q_C has ``prod_c (q_c + 1)`` budget states over all
dates, those with ``sum = k`` at date k; the exact DP's state at date k is the product over agents. Two-agent
linked voting (``budget="type"``, four quotas of about K/4): 1,469 states per agent at the middle date of
K = 48, so 2.16 million joint states (K = 32: 489^2 = 239,121). Three-agent public goods (quotas K/3 and
2K/3): at most K/3 + 1 per agent and date, cubed (K = 285: 96^3 = 884,736). The history-free DP has the
seat's own states only ((K/4 + 1)^4 over all dates in voting, at most K/3 + 1 per date in public goods) and
propagates each opponent's own states forward.

How far each method scales (defaults: ``approximately_truthful`` with random lies everywhere, floats, policy
kept; seconds on a 2-core machine shared with other jobs at load about 4.5, so an idle one is faster):

==========================  ============================================  ======================================
method                      two-agent linked voting                       three-agent linked public goods
==========================  ============================================  ======================================
exact (all policies)        K = 50 in 29 s (K = 48: 22 s; K = 52: 37 s)   K = 285 in 24 s (K = 300: 30 s)
history-free (lower bound)  K = 220 in 24 s (K = 240: 34 s)               K = 10,000 in 27 s
==========================  ============================================  ======================================

Memory follows the peak joint states: a few float arrays of (joint states x own types) at one date, about
0.9 GB at voting K = 48. ``max_states`` refuses larger problems before allocating. Exact fractions
(``fractions=True``) run the same DP on object arrays, allowed up to :data:`MAX_FRACTION_STATES` DP states
in all (voting K <= 16: 0.3 s at K = 8, 13 s at K = 16).

The best response is returned as a :class:`PolicyTable` and played in the env by the registered strategy
``best_response_table`` (:class:`BestResponseTable`). Importing this module registers it.

Supported scripted strategies (exact announcement laws, :func:`announcement_model`): ``truthful``,
``approximately_truthful`` (``lies="random"`` or ``"myopic"``), ``random``, ``relabel`` and
``front_loading``. Others (``lagged_truth`` remembers its previous true type, a state the seat cannot
see; the skimmer and coalition plans need a participation stage or a joint plan) are rejected.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from linkmech.agents.approximate_truth import LIE_RULES, ApproximatelyTruthful, true_type
from linkmech.agents.base import Seat, Strategy, make_strategy, register
from linkmech.agents.myopic import MAX_ENUMERATED
from linkmech.agents.simple import (
    MAX_PROFILES,
    FrontLoader,
    RandomAdmissible,
    Truthful,
    TypeRelabel,
    utility_ranges,
)
from linkmech.mechanisms.budgets import replacement_distribution
from linkmech.mechanisms.linking import LinkingMechanism
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray, as_fraction
from linkmech.mechanisms.processes import IID

BoolArray = NDArray[np.bool_]
Numbers = NDArray[Any]
"""float64 arrays, or object arrays of Fractions in the exact pass."""

Kernel = tuple[IntArray, IntArray]
"""Numerators and denominators ``[..., T_true, T_announced]`` of a strategy's announcement law."""

TIE_TOLERANCE = 1e-12
"""The scripted strategies' tolerance for ties between myopic values (as in ``approximate_truth``)."""

MAX_JOINT_STATES = 4_000_000
"""Default largest number of joint budget states at one date for :func:`exact_best_response`."""

MAX_FRACTION_STATES = 50_000
"""Largest total number of DP states for the exact-fraction pass (object arrays of Fractions are slow)."""

SUPPORTED = ("truthful", "approximately_truthful", "random", "relabel", "front_loading")
"""Registered strategy names whose announcement law is modelled exactly."""


# ----- the game -----------------------------------------------------------------------------------------------


def over_time_mechanism(source: Any) -> LinkingMechanism:
    """The linking mechanism of ``source`` (a linking env over time, or a LinkingMechanism), checked.

    Raises:
        TypeError: if ``source`` is neither.
        ValueError: for the all-at-once form, a participation stage, collusion policing or non-iid types.
    """
    if isinstance(source, LinkingMechanism):
        mechanism = source
    else:
        base = getattr(source, "unwrapped", source)
        found, options = getattr(base, "mechanism", None), getattr(base, "options", None)
        if not isinstance(found, LinkingMechanism) or options is None:
            raise TypeError(
                f"best responses: got {type(source).__name__}; give a linking env (linked_voting_v0, "
                "linked_public_goods_v0, ...) built with form='over_time', or a LinkingMechanism"
            )
        _check_env_options(options, getattr(base, "process", None))
        mechanism = found
    if mechanism.policing is not None:
        raise ValueError(
            "best responses: the mechanism polices joint announcements, which makes announcements for flagged "
            "agents from the whole joint history; build the env with policing=None"
        )
    return mechanism


def _check_env_options(options: Any, process: Any) -> None:
    if options.form != "over_time":
        raise ValueError(
            f"best responses: got form={options.form!r}; the dynamic programme is over dates, so build the "
            "env with form='over_time'"
        )
    if options.participation is not None:
        raise ValueError(
            f"best responses: got participation={options.participation!r}; the participation stage is not "
            "modelled, build the env with participation=None"
        )
    if not isinstance(process, IID):
        name = getattr(process, "name", type(process).__name__)
        raise ValueError(
            f"best responses: got type process {name!r}; the budget state is a sufficient statistic only "
            "for iid types, build the env with process='iid'"
        )


def seat_index(seat: int | str, num_agents: int) -> int:
    """The agent index of ``seat`` (an index or ``"agent_i"``)."""
    if isinstance(seat, str):
        names = [f"agent_{i}" for i in range(num_agents)]
        if seat not in names:
            raise ValueError(f"seat: got {seat!r}; allowed are {names} or their indices")
        return names.index(seat)
    if isinstance(seat, bool) or not isinstance(seat, (int, np.integer)) or not 0 <= seat < num_agents:
        raise ValueError(f"seat: got {seat!r}; allowed are the indices 0..{num_agents - 1} or 'agent_i'")
    return int(seat)


def resolve_profile(
    profile: str | Strategy | Mapping[Any, str | Strategy], num_agents: int
) -> list[Strategy]:
    """One strategy per agent from a spec or strategy (every seat) or a mapping ``agent -> spec``."""
    if isinstance(profile, (str, Strategy)):
        return [_built(profile) for _ in range(num_agents)]
    if not isinstance(profile, Mapping):
        raise ValueError(
            f"profile: got {profile!r}; give a strategy name, a Strategy, or a mapping from every agent "
            "('agent_i' or i) to one"
        )
    chosen: list[Strategy] = []
    for i in range(num_agents):
        for key in (f"agent_{i}", i):
            if key in profile:
                chosen.append(_built(profile[key]))
                break
        else:
            raise ValueError(f"profile: no strategy for agent_{i}; give one for every agent")
    return chosen


def _built(spec: str | Strategy) -> Strategy:
    return make_strategy(spec) if isinstance(spec, str) else spec


# ----- exact announcement laws of scripted strategies ---------------------------------------------------------


class AnnouncementModel(ABC):
    """The exact law of a scripted strategy's announcement given what it conditions on.

    ``kernel(allowed, values)`` maps the admissible types ``allowed [..., T]`` (from the agent's remaining
    budget) and, for strategies that read the public history (``uses_history``), the myopic values
    ``values [..., T_true, T]`` of announcing each type with each true type against the others' empirical
    announcements, to the law of the announcement ``[..., T_true, T]`` as numerators and denominators.
    """

    name: ClassVar[str] = "model"
    uses_history: bool = False

    @abstractmethod
    def kernel(self, allowed: BoolArray, values: FloatArray | None) -> Kernel:
        """Numerators and denominators ``[..., T_true, T]`` of the announcement law."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _uniform(choice: BoolArray) -> Kernel:
    """Uniform over the True entries of each row of ``choice [..., T]``."""
    numerators = choice.astype(np.int64)
    denominators = np.maximum(numerators.sum(axis=-1, keepdims=True), 1)
    return numerators, np.broadcast_to(denominators, numerators.shape)


def _rows_of(allowed: BoolArray) -> BoolArray:
    """``allowed [..., T]`` repeated for every true type: ``[..., T_true, T]``."""
    count = allowed.shape[-1]
    return np.broadcast_to(allowed[..., None, :], allowed.shape[:-1] + (count, count))


def _best_ties(candidates: BoolArray, values: FloatArray) -> BoolArray:
    """Candidates whose value is within :data:`TIE_TOLERANCE` of the best candidate's, per row."""
    masked = np.where(candidates, values, -np.inf)
    best = masked.max(axis=-1, keepdims=True)
    return np.asarray(candidates & (values >= best - TIE_TOLERANCE))


def _keep_where(keep: BoolArray, chosen: IntArray, fallback: Kernel) -> Kernel:
    """The deterministic announcement ``chosen [T_true]`` in rows where ``keep [..., T_true]``, else fallback."""
    count = fallback[0].shape[-1]
    point = np.eye(count, dtype=np.int64)[chosen]
    numerators = np.where(keep[..., None], point, fallback[0])
    denominators = np.where(keep[..., None], 1, fallback[1])
    return numerators, denominators


def _myopic_values(values: FloatArray | None, who: str) -> FloatArray:
    if values is None:
        raise ValueError(f"{who}: reads the public history, so it needs myopic values; none were given")
    return values


class ApproximateTruthModel(AnnouncementModel):
    """``approximately_truthful`` over time: the truth while admissible, else a forced lie.

    ``lies="random"``: uniform over the admissible types. ``lies="myopic"``: uniform over the admissible
    types whose myopic value (own true type, others' empirical announcements) is within 1e-12 of the best.
    """

    name = "approximately_truthful"

    def __init__(self, lies: str = "random") -> None:
        if lies not in LIE_RULES:
            raise ValueError(f"lies: got {lies!r}; allowed are {LIE_RULES}")
        self.lies = lies
        self.uses_history = lies == "myopic"

    def kernel(self, allowed: BoolArray, values: FloatArray | None) -> Kernel:
        """Truth where admissible, else the lie rule's law."""
        rows = _rows_of(allowed)
        if self.lies == "myopic":
            rows = _best_ties(rows, _myopic_values(values, "approximately_truthful(lies='myopic')"))
        return _keep_where(allowed, np.arange(allowed.shape[-1]), _uniform(rows))

    def __repr__(self) -> str:
        return f"ApproximateTruthModel(lies={self.lies!r})"


class TruthfulModel(AnnouncementModel):
    """``truthful``: the true type; it must always be admissible (no binding budget)."""

    name = "truthful"

    def __init__(self, type_probs: FloatArray, agent: int) -> None:
        self.type_probs = np.asarray(type_probs, dtype=np.float64)
        self.agent = agent

    def kernel(self, allowed: BoolArray, values: FloatArray | None) -> Kernel:
        """The identity; raises when a likely true type can be inadmissible."""
        blocked = ~allowed & (self.type_probs > 0)
        if blocked.any():
            raise ValueError(
                f"truthful for agent_{self.agent}: its true type can be inadmissible once its budget is spent "
                "(the strategy raises in the env then); use 'approximately_truthful', or an env with "
                "budget='none'"
            )
        return _keep_where(allowed, np.arange(allowed.shape[-1]), _uniform(_rows_of(allowed)))


class RandomModel(AnnouncementModel):
    """``random``: uniform over the admissible types, whatever the true type."""

    name = "random"

    def kernel(self, allowed: BoolArray, values: FloatArray | None) -> Kernel:
        """Uniform over admissible types in every row."""
        return _uniform(_rows_of(allowed))


class RelabelModel(AnnouncementModel):
    """``relabel``: ``mapping[true type]`` if admissible, else approximate truth with its lie rule."""

    name = "relabel"

    def __init__(self, mapping: Sequence[int], lies: str = "random") -> None:
        self.mapping = np.asarray(mapping, dtype=np.int64)
        self.fallback = ApproximateTruthModel(lies)
        self.uses_history = self.fallback.uses_history

    def kernel(self, allowed: BoolArray, values: FloatArray | None) -> Kernel:
        """The relabelled type where admissible, else the fallback's law."""
        fallback = self.fallback.kernel(allowed, values)
        return _keep_where(allowed[..., self.mapping], self.mapping, fallback)

    def __repr__(self) -> str:
        return f"RelabelModel(mapping={self.mapping.tolist()}, lies={self.fallback.lies!r})"


class FrontLoadingModel(AnnouncementModel):
    """``front_loading``: the most intense admissible types; among several, the myopically best; uniform."""

    name = "front_loading"
    uses_history = True

    def __init__(self, intensity: FloatArray) -> None:
        self.intensity = np.asarray(intensity, dtype=np.float64)

    def kernel(self, allowed: BoolArray, values: FloatArray | None) -> Kernel:
        """Uniform over the myopically best of the most intense admissible types."""
        level = np.where(allowed, self.intensity, -np.inf).max(axis=-1, keepdims=True)
        candidates = allowed & (self.intensity >= level - 1e-12)
        several = candidates.sum(axis=-1) > 1
        ties = _best_ties(_rows_of(candidates), _myopic_values(values, "front_loading"))
        choice = np.where(several[..., None, None], ties, _rows_of(candidates))
        return _uniform(np.asarray(choice))


def announcement_model(strategy: str | Strategy, problem: FiniteProblem, agent: int) -> AnnouncementModel:
    """The exact announcement law of a scripted strategy in seat ``agent``.

    Raises:
        ValueError: for strategies whose announcements are not a function of (current type, own remaining
            budget, public announcement counts), or that sample their myopic values.
    """
    built = _built(strategy)
    kind = type(built)
    if isinstance(built, ApproximatelyTruthful) and kind is ApproximatelyTruthful:
        model: AnnouncementModel = ApproximateTruthModel(built.lies)
    elif kind is Truthful:
        model = TruthfulModel(problem.type_probs[agent], agent)
    elif kind is RandomAdmissible:
        model = RandomModel()
    elif kind is TypeRelabel:
        model = _relabel_model(built, problem, agent)
    elif kind is FrontLoader:
        model = _front_loading_model(problem, agent)
    else:
        raise ValueError(
            f"strategy {built!r} in seat agent_{agent}: its announcement law cannot be modelled exactly from "
            f"the public state; supported are {list(SUPPORTED)} (lagged_truth remembers a hidden true type, "
            "the skimmer and coalition plans need participation or joint plans)"
        )
    if model.uses_history:
        _check_enumerated(problem, agent, built)
    return model


def _relabel_model(strategy: Strategy, problem: FiniteProblem, agent: int) -> AnnouncementModel:
    params = strategy.params()
    count = problem.type_counts[agent]
    mapping = params["mapping"] if params["mapping"] is not None else [(t + 1) % count for t in range(count)]
    if len(mapping) != count:
        raise ValueError(
            f"relabel in seat agent_{agent}: mapping {list(mapping)} has {len(mapping)} entries for {count} types; "
            f"give a permutation of 0..{count - 1}"
        )
    return RelabelModel(mapping, params["lies"])


def _front_loading_model(problem: FiniteProblem, agent: int) -> AnnouncementModel:
    if int(np.prod(problem.type_counts)) > MAX_PROFILES:
        raise ValueError(
            f"front_loading in seat agent_{agent}: with more than {MAX_PROFILES} type profiles its intensities "
            "come from a random sample; use a smaller problem or another strategy"
        )
    return FrontLoadingModel(utility_ranges(problem, agent, np.random.default_rng(0)))


def _check_enumerated(problem: FiniteProblem, agent: int, strategy: Strategy) -> None:
    others = int(np.prod([c for j, c in enumerate(problem.type_counts) if j != agent]))
    if others > MAX_ENUMERATED:
        raise ValueError(
            f"{strategy!r} in seat agent_{agent}: its myopic values average a random sample when the others "
            f"have more than {MAX_ENUMERATED} profiles ({others} here), so its law is not exact; use "
            "lies='random' or fewer agents"
        )


# ----- budget states ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentStates:
    """Every budget state of one agent at every date: its announcement counts per cell.

    A cell is a budget class, or a type when some modelled strategy reads the per-type public history.

    Attributes:
        cell_of_type: ``[T]`` cell of each type.
        class_of_type: ``[T]`` budget class of each type.
        radix: key weights ``[cells]`` (``(K + 1) ** cell``) of a counts row.
        counts: per date k = 0..K, ``[S_k, cells]`` counts of announcements before date k (sorted by key).
        keys: per date, ``[S_k]`` sorted keys of the rows.
        next_index: per date k < K, ``[S_k, cells]`` row at date k + 1 after one more announcement in the cell
            (-1 where the cell's class budget is spent).
        allowed: per date k < K, ``[S_k, T]`` admissible types.
    """

    cell_of_type: IntArray
    class_of_type: IntArray
    radix: IntArray
    counts: tuple[IntArray, ...]
    keys: tuple[IntArray, ...]
    next_index: tuple[IntArray, ...]
    allowed: tuple[BoolArray, ...]

    def sizes(self) -> list[int]:
        """Number of states at each date 0..K."""
        return [len(c) for c in self.counts]

    def lookup(self, date: int, counts: IntArray) -> int:
        """Row of the counts vector at ``date``.

        Raises:
            ValueError: if no budget state has these counts at this date.
        """
        key = int(np.asarray(counts, dtype=np.int64) @ self.radix)
        row = int(np.searchsorted(self.keys[date], key))
        if row >= len(self.keys[date]) or self.keys[date][row] != key:
            raise ValueError(
                f"budget state: counts {np.asarray(counts).tolist()} at date {date} are not a state of this "
                "mechanism (the table was built for another env or seat)"
            )
        return row


def enumerate_states(
    quota: IntArray, class_of_type: IntArray, num_problems: int, by_type: bool = False
) -> AgentStates:
    """Every reachable budget state of one agent, date by date (cells = classes, or types if ``by_type``)."""
    class_of_type = np.asarray(class_of_type, dtype=np.int64)
    cell_of_type = np.arange(len(class_of_type)) if by_type else class_of_type
    class_of_cell = class_of_type if by_type else np.arange(len(quota))
    cells = len(class_of_cell)
    if float(num_problems + 1) ** cells >= 2.0**62:
        raise ValueError(f"budget states: {cells} cells with K = {num_problems} are too many to index")
    radix = (num_problems + 1) ** np.arange(cells, dtype=np.int64)
    counts, keys = [np.zeros((1, cells), dtype=np.int64)], [np.zeros(1, dtype=np.int64)]
    next_index, allowed = [], []
    for _ in range(num_problems):
        spent = np.stack([counts[-1][:, class_of_cell == c].sum(axis=1) for c in range(len(quota))], axis=1)
        left = quota[None, :] - spent
        open_cells = left[:, class_of_cell] > 0
        allowed.append(left[:, class_of_type] > 0)
        grown_keys = keys[-1][:, None] + radix[None, :]
        new_keys = np.unique(grown_keys[open_cells])
        counts.append(new_keys[:, None] // radix[None, :] % (num_problems + 1))
        keys.append(new_keys)
        next_index.append(np.where(open_cells, np.searchsorted(new_keys, grown_keys), -1))
    return AgentStates(
        np.asarray(cell_of_type, dtype=np.int64),
        class_of_type,
        radix,
        tuple(counts),
        tuple(keys),
        tuple(next_index),
        tuple(allowed),
    )


def agent_states(mechanism: LinkingMechanism, agent: int, by_type: bool) -> AgentStates:
    """:func:`enumerate_states` for one agent of the mechanism."""
    budget = mechanism.budgets[agent]
    return enumerate_states(budget.quota, budget.class_of_type, mechanism.num_problems, by_type)


# ----- payoff tables ------------------------------------------------------------------------------------------


def _to_numbers(values: Any, exact: bool) -> Numbers:
    """Floats as float64, or (exact) as an object array of the nearest simple Fractions."""
    array = np.asarray(values)
    if not exact:
        return np.asarray(array, dtype=np.float64)
    if array.dtype == object:
        return array
    convert = np.frompyfunc(lambda x: as_fraction(float(x), "table entry"), 1, 1)
    return np.asarray(convert(array), dtype=object)


def outcome_table(problem: FiniteProblem, agent: int, exact: bool = False) -> Numbers:
    """``[T_agent, T_0, ..., T_{n-1}]``: the agent's expected utility at each announced profile.

    For each of the agent's true types, over f's lottery and without mixing (private values, checked).
    """
    profiles = problem.all_profiles()
    lottery = problem.checked_target(profiles)
    _check_private_values(problem, agent, np.unique(lottery.alternatives[lottery.probs > 0]))
    rows = []
    for own in range(problem.type_counts[agent]):
        types = profiles.copy()
        types[:, agent] = own
        utility = problem.utility(types, lottery.alternatives)[:, :, agent]
        probs = _to_numbers(lottery.probs, exact)
        rows.append((probs * _to_numbers(utility, exact)).sum(axis=1))
    return np.stack(rows).reshape((problem.type_counts[agent], *problem.type_counts))


def _check_private_values(problem: FiniteProblem, agent: int, alternatives: IntArray) -> None:
    profiles = problem.all_profiles()
    faced = np.ascontiguousarray(np.broadcast_to(alternatives, (len(profiles), len(alternatives))))
    utility = problem.utility(profiles, faced)[:, :, agent]
    for own in range(problem.type_counts[agent]):
        rows = utility[profiles[:, agent] == own]
        if not np.allclose(rows, rows[0], rtol=0.0, atol=1e-12):
            raise ValueError(
                f"problem {problem.name!r}: agent {agent}'s utility depends on the other agents' true types; "
                "best responses here assume private values (as the paper does)"
            )


def mixing_matrix(mechanism: LinkingMechanism, agent: int, exact: bool = False) -> Numbers:
    """``M[a, u]``: probability that announcement ``a`` is used as ``u`` after the gamma-mixing."""
    budget = mechanism.budgets[agent]
    gamma = mechanism.mixing_prob(agent)
    probs = mechanism.problem.exact_type_probs[agent]
    count = len(probs)
    hat = [Fraction(0)] * count
    if gamma > 0:
        quota = [int(q) for q in budget.quota]
        class_hat = replacement_distribution(budget.class_probs, quota, mechanism.num_problems, gamma)
        for t in range(count):
            klass = int(budget.class_of_type[t])
            if budget.class_probs[klass] > 0:
                hat[t] = class_hat[klass] * probs[t] / budget.class_probs[klass]
    table = [[(1 - gamma) * (a == u) + gamma * hat[u] for u in range(count)] for a in range(count)]
    return np.array(table, dtype=object) if exact else np.array(table, dtype=np.float64)


def payoff_table(mechanism: LinkingMechanism, seat: int, exact: bool = False) -> Numbers:
    """``[T_d, A_d, A_o1, ..., A_oq]``: the seat's expected utility of one problem.

    By its true type, its own announcement and the opponents' announcements (in agent order), in expectation
    over every agent's mixing and f's lottery.
    """
    table = outcome_table(mechanism.problem, seat, exact)
    for i in range(mechanism.num_agents):
        mixing = mixing_matrix(mechanism, i, exact)
        table = np.moveaxis(np.tensordot(table, mixing, axes=([1 + i], [1])), -1, 1 + i)
    order = [0, 1 + seat] + [1 + j for j in range(mechanism.num_agents) if j != seat]
    return np.transpose(table, order)


# ----- myopic values as the scripted strategies compute them ---------------------------------------------------


def empirical_distributions(counts: IntArray, prior: FloatArray, num_problems: int) -> FloatArray:
    """``[S, T]`` the law ``myopic.others_distributions`` reads from per-type counts ``[S, T]``.

    The env shows counts as float32 ``counts / K``; the strategy normalises them (prior before any count).
    """
    seen = (counts.astype(np.float64) / num_problems).astype(np.float32).astype(np.float64)
    total = seen.sum(axis=1, keepdims=True)
    return np.where(total > 0, seen / np.where(total > 0, total, 1.0), prior[None, :])


def myopic_value_table(
    outcomes: FloatArray, distributions: Sequence[FloatArray | None], agent: int
) -> FloatArray:
    """``[S_0, .., 1, .., S_{n-1}, T, T]`` myopic values of agent ``agent`` for every joint state of the others.

    Args:
        outcomes: :func:`outcome_table` of the agent (floats, no mixing: the strategies ignore it).
        distributions: per agent, ``[S_i, T_i]`` empirical laws (None for ``agent``).
        agent: the agent whose values these are (its axis has size 1).
    """
    n = len(distributions)
    announce = [chr(ord("a") + i) for i in range(n)]
    states = [chr(ord("A") + i) for i in range(n)]
    subscripts, operands = ["z" + "".join(announce)], [outcomes]
    for i, dist in enumerate(distributions):
        if i != agent and dist is not None:
            subscripts.append(states[i] + announce[i])
            operands.append(dist)
    out = "".join(states[i] for i in range(n) if i != agent) + "z" + announce[agent]
    table = np.einsum(",".join(subscripts) + "->" + out, *operands)
    return np.expand_dims(table, axis=agent)


def _place(array: NDArray[Any], axis: int, ndim: int) -> NDArray[Any]:
    """``array [S, *rest]`` reshaped to ``(1, .., S at axis, .., 1, *rest)`` over ``ndim`` state axes."""
    shape = (1,) * axis + (array.shape[0],) + (1,) * (ndim - axis - 1) + array.shape[1:]
    return array.reshape(shape)


# ----- the DP -------------------------------------------------------------------------------------------------


@dataclass
class _Date:
    """What the scripted agents do at one date, over the DP's state axes, in the pass's arithmetic.

    Attributes:
        reward_laws: per opponent (agent order), the law of its announcement ``[L..., T_j]``.
        moves: per opponent whose budget is a state axis: (axis, law of its announced cell ``[L..., C_j]``,
            its next-state rows ``[S_j, C_j]``).
        replaced_kernel: the replaced strategy's law ``[L..., T_d, A_d]`` in the deviating seat.
        allowed: the seat's admissible announcements, placed on its axis ``[..., A_d]``.
        next_index: the seat's next-state rows ``[S_d, C_d]``.
    """

    reward_laws: list[Numbers]
    moves: list[tuple[int, Numbers, IntArray]]
    replaced_kernel: Numbers
    allowed: BoolArray
    next_index: IntArray


@dataclass
class _Problem:
    """A DP ready to solve: sizes, the seat's numbers and one :class:`_Date` per date."""

    seat_axis: int
    ndim: int
    shapes: list[tuple[int, ...]]
    type_probs: Numbers
    cell_of_type: IntArray
    payoffs: Numbers
    weights: list[Any]
    date: Callable[[int], _Date]
    exact: bool


def _kernel_numbers(kernel: Kernel, exact: bool) -> Numbers:
    numerators, denominators = kernel
    if exact:
        return np.asarray(np.frompyfunc(Fraction, 2, 1)(numerators, denominators), dtype=object)
    return numerators / denominators


def _law(kernel: Numbers, type_probs: Numbers) -> Numbers:
    """The announcement's marginal ``[..., T]`` over the agent's true type."""
    return np.asarray((kernel * type_probs[:, None]).sum(axis=-2))


def _cell_law(law: Numbers, cell_of_type: IntArray, exact: bool) -> Numbers:
    cells = int(cell_of_type.max()) + 1
    onehot = (cell_of_type[:, None] == np.arange(cells)[None, :]).astype(np.int64)
    return np.asarray(law @ (onehot.astype(object) if exact else onehot.astype(np.float64)))


def _expected_reward(payoffs: Numbers, laws: list[Numbers], ndim: int) -> Numbers:
    """``[L..., T_d, A_d]``: the seat's expected utility over the opponents' announcement laws."""
    reward = payoffs.reshape((1,) * ndim + payoffs.shape)
    for position in reversed(range(len(laws))):
        law = laws[position]
        expanded = law.reshape(law.shape[:-1] + (1,) * (2 + position) + law.shape[-1:])
        reward = (reward * expanded).sum(axis=-1)
    return reward


def _is_local(law: Numbers, axis: int) -> bool:
    """Whether a placed law ``[L..., C]`` varies only along its own agent's axis."""
    return all(size == 1 for a, size in enumerate(law.shape[:-1]) if a != axis)


def _continuations(
    values: list[Numbers], seat_axis: int, next_index: IntArray, moves: list[tuple[int, Numbers, IntArray]]
) -> list[Numbers]:
    """For each value array at date k+1, ``[joint_k..., C_d]``: its expectation over the opponents' moves.

    Given the seat's announced cell; entries where the seat's cell is spent are meaningless (the caller masks
    them).
    """
    if all(_is_local(law, axis) for axis, law, _ in moves):
        return [_continuation_by_axes(v, seat_axis, next_index, moves) for v in values]
    return _continuations_by_profiles(values, seat_axis, next_index, moves)


def _continuation_by_axes(
    values: Numbers, seat_axis: int, next_index: IntArray, moves: list[tuple[int, Numbers, IntArray]]
) -> Numbers:
    """Opponents whose laws depend only on their own budget: contract one state axis at a time."""
    out = np.moveaxis(np.take(values, np.maximum(next_index, 0), axis=seat_axis), seat_axis + 1, -1)
    for axis, law, rows in moves:
        total: Any = 0
        for cell in range(rows.shape[1]):
            total = total + law[..., cell, None] * np.take(out, np.maximum(rows[:, cell], 0), axis=axis)
        out = total
    return out


def _continuations_by_profiles(
    values: list[Numbers], seat_axis: int, next_index: IntArray, moves: list[tuple[int, Numbers, IntArray]]
) -> list[Numbers]:
    """Opponents whose laws depend on the joint state (the public history): sum over their joint moves."""
    shape = values[0].shape
    ndim = len(shape)
    strides = [int(np.prod(shape[axis + 1 :], dtype=np.int64)) for axis in range(ndim)]
    own = _place(np.maximum(next_index, 0) * strides[seat_axis], seat_axis, ndim)
    tracked = [(_place(np.maximum(rows, 0) * strides[axis], axis, ndim), law) for axis, law, rows in moves]
    flats = [v.reshape(-1) for v in values]
    out: list[list[Numbers]] = [[] for _ in values]
    for cell in range(next_index.shape[1]):
        totals: list[Any] = [0] * len(values)
        for combo in itertools.product(*(range(offset.shape[-1]) for offset, _ in tracked)):
            index: IntArray = own[..., cell]
            weight: Any = 1
            for (offset, law), moved in zip(tracked, combo):
                index = index + offset[..., moved]
                weight = weight * law[..., moved]
            for v, flat in enumerate(flats):
                totals[v] = totals[v] + weight * flat[index]
        for v in range(len(values)):
            out[v].append(totals[v])
    return [np.stack(np.broadcast_arrays(*parts), axis=-1) for parts in out]


def _best_action(q: Numbers, allowed: BoolArray, exact: bool) -> tuple[Numbers, IntArray]:
    """Max over admissible actions of ``q [..., A]`` (overwritten) and a maximising action.

    Floats: the first exact maximum (near-ties differ by rounding only). Fractions: the first maximum.
    """
    if exact:
        q = np.where(allowed, q, q.min() - 1)
    else:
        np.copyto(q, -np.inf, where=~np.broadcast_to(allowed, q.shape))
    action = np.argmax(q, axis=-1)
    return np.take_along_axis(q, action[..., None], axis=-1)[..., 0], action


def _dot(left: Numbers, right: Numbers) -> Numbers:
    """Sum over the last axis of the broadcast product."""
    if left.dtype == object or right.dtype == object:
        return np.asarray((left * right).sum(axis=-1))
    return np.einsum("...a,...a->...", left, right)


def _solve(problem: _Problem, keep_policy: bool) -> tuple[Any, Any, list[NDArray[Any]]]:
    """Backward induction: (best value, replaced value, per-date policy ``[joint_k..., T_d]``)."""
    zeros = np.zeros(problem.shapes[-1], dtype=object if problem.exact else np.float64)
    if problem.exact:
        zeros[...] = Fraction(0)
    best, replaced = zeros, zeros.copy()
    policy: list[NDArray[Any]] = []
    for k in reversed(range(len(problem.shapes) - 1)):
        date = problem.date(k)
        reward = problem.weights[k] * _expected_reward(problem.payoffs, date.reward_laws, problem.ndim)
        cont_best, cont_replaced = _continuations(
            [best, replaced], problem.seat_axis, date.next_index, date.moves
        )
        kernel_cells = _cell_law(date.replaced_kernel, problem.cell_of_type, problem.exact)
        best_new: Any = 0
        replaced_new: Any = 0
        actions = []
        for own in range(len(problem.type_probs)):
            immediate = reward[..., own, :]
            q = cont_best[..., problem.cell_of_type] + immediate
            value, action = _best_action(q, date.allowed, problem.exact)
            best_new = best_new + problem.type_probs[own] * value
            followed = _dot(date.replaced_kernel[..., own, :], immediate) + _dot(
                kernel_cells[..., own, :], cont_replaced
            )
            replaced_new = replaced_new + problem.type_probs[own] * followed
            actions.append(action)
        best = np.broadcast_to(best_new, problem.shapes[k])
        replaced = np.broadcast_to(replaced_new, problem.shapes[k])
        if keep_policy:
            width = np.int8 if len(problem.cell_of_type) < 128 else np.int16
            policy.append(np.stack(actions, axis=-1).astype(width))
    policy.reverse()
    return best.reshape(-1)[0], replaced.reshape(-1)[0], policy


# ----- setting the DP up --------------------------------------------------------------------------------------


@dataclass
class _Setup:
    """Everything both DPs need: the mechanism, the seat, the modelled strategies and the budget states."""

    mechanism: LinkingMechanism
    seat: int
    models: list[AnnouncementModel]
    states: list[AgentStates]
    strategies: list[Strategy]

    @property
    def opponents(self) -> list[int]:
        """The other agents, in order."""
        return [j for j in range(self.mechanism.num_agents) if j != self.seat]

    def type_probs(self, agent: int, exact: bool) -> Numbers:
        """``P_i`` as floats or Fractions."""
        probs = self.mechanism.problem.exact_type_probs[agent]
        return np.array(probs, dtype=object) if exact else np.array([float(p) for p in probs])

    def weights(self, exact: bool) -> list[Any]:
        """``discount**k`` for every date."""
        if exact:
            delta = as_fraction(self.mechanism.discount, "discount")
            return [delta**k for k in range(self.mechanism.num_problems)]
        return [float(w) for w in self.mechanism.discount_weights]


def _setup(source: Any, seat: int | str, profile: Any, by_type: bool | None) -> _Setup:
    mechanism = over_time_mechanism(source)
    index = seat_index(seat, mechanism.num_agents)
    strategies = resolve_profile(profile, mechanism.num_agents)
    models = [announcement_model(s, mechanism.problem, i) for i, s in enumerate(strategies)]
    history = any(m.uses_history for m in models) if by_type is None else by_type
    shared: dict[tuple[Any, ...], AgentStates] = {}
    states = []
    for i, budget in enumerate(mechanism.budgets):
        key = (tuple(budget.quota.tolist()), tuple(budget.class_of_type.tolist()))
        if key not in shared:
            shared[key] = agent_states(mechanism, i, history)
        states.append(shared[key])
    return _Setup(mechanism, index, models, states, strategies)


class _JointDates:
    """Per-date laws of the exact DP, whose state axes are every agent's budget state."""

    def __init__(self, setup: _Setup, exact: bool) -> None:
        self.setup, self.exact = setup, exact
        problem = setup.mechanism.problem
        self.outcomes = {
            i: np.asarray(outcome_table(problem, i), dtype=np.float64)
            for i, model in enumerate(setup.models)
            if model.uses_history
        }

    def kernel(self, agent: int, k: int, distributions: list[FloatArray] | None) -> Numbers:
        setup, n = self.setup, self.setup.mechanism.num_agents
        allowed = _place(setup.states[agent].allowed[k], agent, n)
        values = None
        if setup.models[agent].uses_history:
            assert distributions is not None
            others: list[FloatArray | None] = [d if j != agent else None for j, d in enumerate(distributions)]
            values = myopic_value_table(self.outcomes[agent], others, agent)
        return _kernel_numbers(setup.models[agent].kernel(allowed, values), self.exact)

    def __call__(self, k: int) -> _Date:
        setup = self.setup
        mechanism, n, seat = setup.mechanism, setup.mechanism.num_agents, setup.seat
        distributions = None
        if self.outcomes:
            distributions = [
                empirical_distributions(s.counts[k], mechanism.problem.type_probs[i], mechanism.num_problems)
                for i, s in enumerate(setup.states)
            ]
        laws, moves = [], []
        for j in setup.opponents:
            law = _law(self.kernel(j, k, distributions), setup.type_probs(j, self.exact))
            laws.append(law)
            cells = _cell_law(law, setup.states[j].cell_of_type, self.exact)
            moves.append((j, cells, setup.states[j].next_index[k]))
        own = setup.states[seat]
        return _Date(
            reward_laws=laws,
            moves=moves,
            replaced_kernel=self.kernel(seat, k, distributions),
            allowed=_place(own.allowed[k], seat, n),
            next_index=own.next_index[k],
        )


class _HistoryFreeDates:
    """Per-date laws of the history-free DP.

    The seat's own budget is the only state axis; the opponents' announcements follow their exact marginal
    law at each date, propagated forward over their own budget states.
    """

    def __init__(self, setup: _Setup, exact: bool) -> None:
        self.setup, self.exact = setup, exact
        self.laws = {j: self._marginal_laws(j) for j in setup.opponents}

    def _local_kernel(self, agent: int, k: int) -> Numbers:
        allowed = self.setup.states[agent].allowed[k]
        return _kernel_numbers(self.setup.models[agent].kernel(allowed, None), self.exact)

    def _marginal_laws(self, agent: int) -> list[Numbers]:
        """The law of the opponent's announcement at every date, its budget state propagated forward."""
        states, probs = self.setup.states[agent], self.setup.type_probs(agent, self.exact)
        mass = np.ones(1, dtype=object if self.exact else np.float64)
        laws = []
        for k in range(self.setup.mechanism.num_problems):
            law = _law(self._local_kernel(agent, k), probs)
            laws.append(np.asarray(mass @ law))
            cells = _cell_law(law, states.cell_of_type, self.exact)
            following = np.zeros(len(states.counts[k + 1]), dtype=mass.dtype)
            if self.exact:
                following[...] = Fraction(0)
            rows = states.next_index[k]
            for cell in range(rows.shape[1]):
                valid = rows[:, cell] >= 0
                np.add.at(following, rows[valid, cell], (mass * cells[:, cell])[valid])
            mass = following
        return laws

    def __call__(self, k: int) -> _Date:
        setup = self.setup
        own = setup.states[setup.seat]
        return _Date(
            reward_laws=[self.laws[j][k][None, :] for j in setup.opponents],
            moves=[],
            replaced_kernel=self._local_kernel(setup.seat, k),
            allowed=own.allowed[k],
            next_index=own.next_index[k],
        )


def _problem(setup: _Setup, exact: bool, history_free: bool) -> _Problem:
    seat, states = setup.seat, setup.states
    axes = [seat] if history_free else list(range(setup.mechanism.num_agents))
    sizes = [s.sizes() for s in states]
    shapes = [tuple(sizes[i][k] for i in axes) for k in range(setup.mechanism.num_problems + 1)]
    dates: Callable[[int], _Date] = (
        _HistoryFreeDates(setup, exact) if history_free else _JointDates(setup, exact)
    )
    return _Problem(
        seat_axis=0 if history_free else seat,
        ndim=len(axes),
        shapes=shapes,
        type_probs=setup.type_probs(seat, exact),
        cell_of_type=states[seat].cell_of_type,
        payoffs=payoff_table(setup.mechanism, seat, exact),
        weights=setup.weights(exact),
        date=dates,
        exact=exact,
    )


# ----- results ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyTable:
    """A deterministic announcement for every budget state and true type of one seat.

    Attributes:
        seat: the seat's agent index.
        num_problems: K.
        quotas: every agent's quota per class (to check the env it is played in).
        classes: every agent's class of each type.
        tracked: the agents whose budget states key the table (the seat only, or every agent).
        states: their :class:`AgentStates`.
        actions: per date, ``[S_tracked..., T_seat]`` the announced type index.
        method: ``"exact"`` or ``"history_free"``.
    """

    seat: int
    num_problems: int
    quotas: tuple[tuple[int, ...], ...]
    classes: tuple[tuple[int, ...], ...]
    tracked: tuple[int, ...]
    states: tuple[AgentStates, ...]
    actions: tuple[NDArray[Any], ...]
    method: str

    @property
    def conditions_on_history(self) -> bool:
        """Whether the table reads the other agents' announcement counts."""
        return self.tracked != (self.seat,)

    def action(self, date: int, type_counts: Sequence[IntArray], own_type: int) -> int:
        """The announcement at ``date`` given every agent's announcement counts per type so far."""
        rows = []
        for agent, states in zip(self.tracked, self.states):
            counts = np.asarray(type_counts[agent], dtype=np.int64)
            cells = np.bincount(states.cell_of_type, weights=counts, minlength=len(states.radix))
            rows.append(states.lookup(date, np.rint(cells).astype(np.int64)))
        return int(self.actions[date][tuple(rows) + (own_type,)])

    def check_seat(self, seat: Seat) -> None:
        """Raise a ValueError unless ``seat`` is this table's seat in a mechanism with the same budgets."""
        mechanism = seat.mechanism
        if mechanism is None or seat.form != "over_time" or seat.participation is not None:
            raise ValueError(
                f"best_response_table: {seat.agent} is not a seat of a linking env over time without "
                "participation; the table is for such envs only"
            )
        found = (
            seat.index,
            mechanism.num_problems,
            tuple(tuple(int(q) for q in b.quota) for b in mechanism.budgets),
            tuple(tuple(int(c) for c in b.class_of_type) for b in mechanism.budgets),
        )
        expected = (self.seat, self.num_problems, self.quotas, self.classes)
        if found != expected:
            raise ValueError(
                f"best_response_table: built for seat {self.seat}, K = {self.num_problems}, quotas {self.quotas} "
                f"and classes {self.classes}; this seat is {found[0]} with K = {found[1]}, quotas {found[2]} "
                f"and classes {found[3]}; compute a table for this env and seat"
            )
        if mechanism.policing is not None:
            raise ValueError(
                "best_response_table: the env polices announcements; build it with policing=None"
            )

    def __repr__(self) -> str:
        return f"PolicyTable(seat={self.seat}, K={self.num_problems}, method={self.method!r})"


@dataclass(frozen=True)
class BestResponseResult:
    """Values of the replaced strategy and of the best response of one seat (totals of discounted utility).

    Attributes:
        seat: the deviating agent's index.
        num_problems: K.
        method: ``"exact"`` (best response among all policies) or ``"history_free"`` (best among policies that
            ignore the public history: a lower bound on the best-response value and gain).
        profile: every seat's strategy (the seat's own entry is the replaced strategy).
        replaced_value: expected total (discounted) utility of the replaced strategy, as play_episode sums it.
        best_value: the same for the best response.
        replaced_exact / best_exact: the same as Fractions (when ``fractions=True``), else None.
        states_per_date: number of DP states at each date 0..K-1.
        table: the best response's policy (None when ``keep_policy=False``).
    """

    seat: int
    num_problems: int
    method: str
    profile: tuple[str, ...]
    replaced_value: float
    best_value: float
    replaced_exact: Fraction | None
    best_exact: Fraction | None
    states_per_date: tuple[int, ...]
    table: PolicyTable | None

    @property
    def is_lower_bound(self) -> bool:
        """True for the history-free method: ``gain`` is then a lower bound on the best-response gain."""
        return self.method == "history_free"

    @property
    def gain(self) -> float:
        """Best value minus the replaced strategy's (>= 0 up to rounding)."""
        return self.best_value - self.replaced_value

    @property
    def gain_per_problem(self) -> float:
        """:attr:`gain` / K."""
        return self.gain / self.num_problems

    @property
    def replaced_per_problem(self) -> float:
        """:attr:`replaced_value` / K."""
        return self.replaced_value / self.num_problems

    @property
    def best_per_problem(self) -> float:
        """:attr:`best_value` / K."""
        return self.best_value / self.num_problems

    @property
    def exact_gain_per_problem(self) -> Fraction | None:
        """The gain per problem as a Fraction, when computed."""
        gain = self.exact_gain
        return None if gain is None else gain / self.num_problems

    @property
    def exact_gain(self) -> Fraction | None:
        """The gain as a Fraction, when computed."""
        if self.best_exact is None or self.replaced_exact is None:
            return None
        return self.best_exact - self.replaced_exact

    def strategy(self) -> BestResponseTable:
        """The best response as a playable strategy."""
        if self.table is None:
            raise ValueError("this result kept no policy; compute it again with keep_policy=True")
        return BestResponseTable(table=self.table)


def _result(setup: _Setup, method: str, fractions: bool, keep_policy: bool) -> BestResponseResult:
    history_free = method == "history_free"
    problem = _problem(setup, False, history_free)
    best, replaced, policy = _solve(problem, keep_policy)
    best_exact = replaced_exact = None
    if fractions:
        total = sum(int(np.prod(shape)) for shape in problem.shapes)
        if total > MAX_FRACTION_STATES:
            raise ValueError(
                f"fractions=True: {total} DP states exceed {MAX_FRACTION_STATES} (exact fractions are slow); "
                "use floats (fractions=False) or a smaller K"
            )
        best_exact, replaced_exact, _ = _solve(_problem(setup, True, history_free), keep_policy=False)
    tracked = (setup.seat,) if history_free else tuple(range(setup.mechanism.num_agents))
    table = None
    if keep_policy:
        mechanism = setup.mechanism
        table = PolicyTable(
            seat=setup.seat,
            num_problems=mechanism.num_problems,
            quotas=tuple(tuple(int(q) for q in b.quota) for b in mechanism.budgets),
            classes=tuple(tuple(int(c) for c in b.class_of_type) for b in mechanism.budgets),
            tracked=tracked,
            states=tuple(setup.states[i] for i in tracked),
            actions=tuple(policy),
            method=method,
        )
    return BestResponseResult(
        seat=setup.seat,
        num_problems=setup.mechanism.num_problems,
        method=method,
        profile=tuple(repr(s) for s in setup.strategies),
        replaced_value=float(replaced),
        best_value=float(best),
        replaced_exact=replaced_exact,
        best_exact=best_exact,
        states_per_date=tuple(int(np.prod(shape)) for shape in problem.shapes[:-1]),
        table=table,
    )


def exact_best_response(
    source: Any,
    seat: int | str = 0,
    profile: str | Strategy | Mapping[Any, str | Strategy] = "approximately_truthful",
    *,
    fractions: bool = False,
    keep_policy: bool = True,
    max_states: int = MAX_JOINT_STATES,
) -> BestResponseResult:
    """The exact best response of ``seat`` against the profile's other seats, and the replaced strategy's value.

    Args:
        source: a linking env with ``form="over_time"`` (no participation, no policing, iid types) or a
            LinkingMechanism (iid types assumed).
        seat: the deviating seat (index or ``"agent_i"``).
        profile: every seat's scripted strategy: a name or Strategy for all, or a mapping agent -> one. The
            seat's own entry is the strategy it replaces.
        fractions: also compute both values in exact Fractions (small problems only).
        keep_policy: keep the best response's table (needed for :meth:`BestResponseResult.strategy`).
        max_states: refuse when more joint budget states than this exist at one date.

    Raises:
        ValueError: for envs or strategies that cannot be modelled exactly, or too many states.
    """
    setup = _setup(source, seat, profile, None)
    shapes = [tuple(s.sizes()[k] for s in setup.states) for k in range(setup.mechanism.num_problems)]
    peak = max(int(np.prod(shape)) for shape in shapes)
    if peak > max_states:
        date = max(range(len(shapes)), key=lambda k: int(np.prod(shapes[k])))
        raise ValueError(
            f"exact best response: {peak} joint budget states at date {date} exceed max_states={max_states}; "
            "use history_free_best_response (a lower bound on the gain), a smaller K, or raise max_states"
        )
    return _result(setup, "exact", fractions, keep_policy)


def history_free_best_response(
    source: Any,
    seat: int | str = 0,
    profile: str | Strategy | Mapping[Any, str | Strategy] = "approximately_truthful",
    *,
    fractions: bool = False,
    keep_policy: bool = True,
) -> BestResponseResult:
    """The best response among policies that ignore the public history: a LOWER bound on the true gain.

    The policy conditions only on (date, own remaining budget, own type). Against opponents whose
    announcements ignore the public history, their date-k announcements are independent of the seat's
    budget and follow their exact marginal law, so a DP over the seat's own budget states finds the best such
    policy. Its value is attained by a real strategy, hence at most the exact best-response value.

    Args:
        source: as in :func:`exact_best_response`.
        seat: the deviating seat.
        profile: every seat's strategy; the opponents' and the replaced one must ignore the history.
        fractions: also compute both values in exact Fractions.
        keep_policy: keep the policy table (keyed by date, own budget state and own type).

    Raises:
        ValueError: if a modelled strategy (an opponent or the replaced one) reads the public history
            (``lies="myopic"``, ``front_loading``): use :func:`exact_best_response` then.
    """
    setup = _setup(source, seat, profile, False)
    for i, model in enumerate(setup.models):
        if model.uses_history:
            role = "the replaced strategy" if i == setup.seat else "an opponent"
            raise ValueError(
                f"history_free_best_response: agent_{i} ({role}) plays {setup.strategies[i]!r}, which reads the "
                "public history, so the opponents' laws depend on the seat's announcements; use "
                "exact_best_response, or lies='random'"
            )
    return _result(setup, "history_free", fractions, keep_policy)


def action_distribution(
    strategy: str | Strategy,
    mechanism: LinkingMechanism,
    agent: int,
    own_type: int,
    type_counts: Sequence[Sequence[int]],
) -> tuple[Fraction, ...]:
    """The exact law of a scripted strategy's announcement at one public state.

    Args:
        strategy: a supported strategy (:data:`SUPPORTED`), by name or instance.
        mechanism: the linking mechanism (over time).
        agent: the strategy's seat.
        own_type: its true type on the current problem.
        type_counts: every agent's announcement counts per type so far (the public history; the agent's own
            row gives its remaining budget).

    Returns:
        The probability of announcing each type index.
    """
    problem = mechanism.problem
    model = announcement_model(strategy, problem, agent)
    counts = [np.asarray(c, dtype=np.int64) for c in type_counts]
    budget = mechanism.budgets[agent]
    used = np.bincount(budget.class_of_type, weights=counts[agent], minlength=budget.num_classes)
    allowed = (budget.quota - np.rint(used).astype(np.int64))[budget.class_of_type] > 0
    values = None
    if model.uses_history:
        distributions: list[FloatArray | None] = [
            None
            if i == agent
            else empirical_distributions(c[None, :], problem.type_probs[i], mechanism.num_problems)
            for i, c in enumerate(counts)
        ]
        table = myopic_value_table(
            np.asarray(outcome_table(problem, agent), dtype=np.float64), distributions, agent
        )
        values = table.reshape(table.shape[-2:])
    numerators, denominators = model.kernel(allowed, values)
    return tuple(Fraction(int(a), int(b)) for a, b in zip(numerators[own_type], denominators[own_type]))


# ----- the best response as a strategy ------------------------------------------------------------------------


METHODS = ("exact", "history_free")
"""Allowed ``method`` values of :class:`BestResponseTable`."""


@register
class BestResponseTable(Strategy):
    """Play a best-response table (:class:`PolicyTable`) in a linking env over time.

    Args:
        table: the table (``exact_best_response(env, seat).table`` or ``result.strategy()``). When None, the
            table is computed at reset for the seat's mechanism with ``method`` against ``profile``, assuming
            iid types (the seat cannot see the env's type process).
        profile: the profile to best-respond to when computing the table (a strategy name).
        method: ``"exact"`` or ``"history_free"``.
    """

    name: ClassVar[str] = "best_response_table"

    def __init__(
        self, table: PolicyTable | None = None, profile: str = "approximately_truthful", method: str = "exact"
    ) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method: got {method!r}; allowed are {METHODS}")
        if table is not None and not isinstance(table, PolicyTable):
            raise ValueError(
                f"table: got {type(table).__name__}; give a PolicyTable (exact_best_response(env, seat).table)"
            )
        self.table, self.profile, self.method = table, profile, method
        self._computed: tuple[LinkingMechanism, int, PolicyTable] | None = None
        self._announced: IntArray = np.zeros(0, dtype=np.int64)

    def params(self) -> dict[str, Any]:
        """``{"table": ..., "profile": ..., "method": ...}``."""
        return {"table": self.table, "profile": self.profile, "method": self.method}

    def _table_for(self, seat: Seat) -> PolicyTable:
        if self.table is not None:
            return self.table
        mechanism = seat.mechanism
        if mechanism is None:
            raise ValueError(
                f"best_response_table: {seat.agent} has no linking mechanism to compute a table for"
            )
        if self._computed is None or self._computed[0] is not mechanism or self._computed[1] != seat.index:
            solve = exact_best_response if self.method == "exact" else history_free_best_response
            result = solve(mechanism, seat.index, self.profile)
            assert result.table is not None
            self._computed = (mechanism, seat.index, result.table)
        return self._computed[2]

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start an episode; check (or compute) the table for this seat."""
        super().reset(seat, rng)
        if seat.form != "over_time" or seat.participation is not None:
            raise ValueError(
                f"best_response_table: got form={seat.form!r}, participation={seat.participation!r}; the table "
                "is for linking envs with form='over_time' and no participation"
            )
        self._table_for(seat).check_seat(seat)
        assert seat.problem is not None
        self._announced = np.zeros(seat.problem.type_counts[seat.index], dtype=np.int64)

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The table's announcement for the current date, budgets, public history and true type."""
        seat, _ = self._ready()
        table = self._table_for(seat)
        assert seat.problem is not None and seat.mechanism is not None
        counts = self._type_counts(seat, observation)
        action = table.action(int(self._announced.sum()), counts, true_type(seat, observation))
        if not action_mask[action]:
            raise ValueError(
                f"best_response_table: the table announces type {action} for {seat.agent}, which the mask "
                f"{np.asarray(action_mask).tolist()} forbids; was the table built for this env?"
            )
        self._announced[action] += 1
        return action

    def _type_counts(self, seat: Seat, observation: np.ndarray) -> list[IntArray]:
        """Every agent's announcement counts per type: own from memory, the others' from the observation."""
        assert seat.problem is not None and seat.mechanism is not None
        k = seat.mechanism.num_problems
        others = np.rint(np.asarray(seat.field(observation, "others_announced"), dtype=np.float64) * k)
        counts, start = [], 0
        for j, size in enumerate(seat.problem.type_counts):
            if j == seat.index:
                counts.append(self._announced.copy())
            else:
                counts.append(others[start : start + size].astype(np.int64))
                start += size
        return counts
