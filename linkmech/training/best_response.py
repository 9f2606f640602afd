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

Exact dynamic programme (:func:`exact_best_response`). The DP reads every seat's strategy through its own
policy kernel (:meth:`linkmech.agents.base.KernelStrategy.probabilities`): it builds, with the env's own
observation code (:meth:`linkmech.envs.linking_env.LinkingEnv.vectors`), the observation each agent would
see at every state and asks the kernel for the law of its announcement. Such a strategy announces as a
function of its current type, its own remaining budget and (when it declares that it reads
``others_announced``, as the myopic lie rule and front-loading do) the others' announcement counts, and
nothing else; types are iid. So with the state

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

Strategies the DP reads: every policy kernel that declares the observation fields it reads
(:meth:`~linkmech.agents.base.KernelStrategy.observed_fields`) among those the state determines (type, budget,
progress, phase, others' announcements), keeps no memory the observation does not show and draws nothing
beyond choosing its action: ``truthful``, ``approximately_truthful`` (either lie rule), ``random``,
``relabel``, ``front_loading``, and any user kernel of that kind. Declared fields are checked: the DP
changes the fields a kernel says it does not read and refuses it if its probabilities move. Others
(``lagged_truth`` remembers its previous true type, a state the seat cannot see; per-episode strategies
written with ``act`` only) are refused with the reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from linkmech.agents.base import Episodes, KernelStrategy, Seat, Strategy, make_strategy, register
from linkmech.agents.kernels import one_hot, true_types
from linkmech.agents.myopic import as_numbers
from linkmech.agents.myopic import outcome_table as announced_outcomes
from linkmech.envs.linking_env import LinkingEnv, PublicRows
from linkmech.mechanisms.budgets import replacement_distribution
from linkmech.mechanisms.linking import LinkingMechanism
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray, as_fraction
from linkmech.mechanisms.processes import IID

BoolArray = NDArray[np.bool_]
Numbers = NDArray[Any]
"""float64 arrays, or object arrays of Fractions in the exact pass."""

MAX_JOINT_STATES = 4_000_000
"""Default largest number of joint budget states at one date for :func:`exact_best_response`."""

MAX_FRACTION_STATES = 50_000
"""Largest total number of DP states for the exact-fraction pass (object arrays of Fractions are slow)."""

MODELLED_FIELDS = frozenset({"type", "budget", "progress", "phase", "others_announced"})
"""Observation fields the DP's states determine (a kernel reading any other field present is refused)."""

ROWS_PER_CALL = 1 << 15
"""Largest number of states whose observations are built and passed to a kernel in one call."""


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
        return int(self.lookup_rows(date, np.asarray(counts, dtype=np.int64)[None, :])[0])

    def lookup_rows(self, date: int, counts: IntArray) -> IntArray:
        """``[B]`` rows of the counts vectors ``[B, cells]`` at ``date``.

        Raises:
            ValueError: if some counts are no budget state at this date.
        """
        keys = np.asarray(counts, dtype=np.int64) @ self.radix
        found = self.keys[date]
        rows = np.minimum(np.searchsorted(found, keys), len(found) - 1)
        missing = np.flatnonzero(found[rows] != keys)
        if len(missing):
            raise ValueError(
                f"budget state: counts {np.asarray(counts)[missing[0]].tolist()} at date {date} are not a state "
                "of this mechanism (the table was built for another env or seat)"
            )
        return rows


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


def outcome_table(problem: FiniteProblem, agent: int, exact: bool = False) -> Numbers:
    """``[T_agent, T_0, ..., T_{n-1}]``: the agent's expected utility at each announced profile.

    For each of the agent's true types, over f's lottery and without mixing
    (:func:`linkmech.agents.myopic.outcome_table`, the table myopic values contract), after checking that
    the agent's utilities are private values.
    """
    profiles = problem.all_profiles()
    lottery = problem.checked_target(profiles)
    _check_private_values(problem, agent, np.unique(lottery.alternatives[lottery.probs > 0]))
    return np.asarray(announced_outcomes(problem, agent, exact))


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


# ----- the DP -------------------------------------------------------------------------------------------------


def _place(array: NDArray[Any], axis: int, ndim: int) -> NDArray[Any]:
    """``array [S, *rest]`` reshaped to ``(1, .., S at axis, .., 1, *rest)`` over ``ndim`` state axes."""
    shape = (1,) * axis + (array.shape[0],) + (1,) * (ndim - axis - 1) + array.shape[1:]
    return array.reshape(shape)


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


# ----- the strategies' kernels as the DP reads them -----------------------------------------------------------


@dataclass
class SeatKernel:
    """One agent's strategy as the DP reads it: its policy kernel on the observations of the DP's states.

    Attributes:
        agent: the agent index.
        strategy: the policy kernel.
        seat: the agent's seat in the analysis env.
        reads_history: whether it reads the others' announcements (its law then varies over the joint state).
        unread: observation fields present in the seat's observation that it declares it does not read.
    """

    agent: int
    strategy: KernelStrategy
    seat: Seat
    reads_history: bool
    unread: tuple[str, ...]

    @property
    def who(self) -> str:
        """The strategy and seat, for messages."""
        return f"{self.strategy!r} in seat agent_{self.agent}"


def seat_kernel(strategy: Strategy, env: LinkingEnv, agent: int) -> SeatKernel:
    """The kernel of ``strategy`` in seat ``agent`` of ``env``, checked for what the DP can read.

    Raises:
        ValueError: for per-episode strategies, undeclared fields, fields the DP's state does not determine,
            memory the observation does not show, or random draws beyond choosing the action.
    """
    who = f"{strategy!r} in seat agent_{agent}"
    if not isinstance(strategy, KernelStrategy):
        raise ValueError(
            f"{who}: a per-episode strategy (written with act only) has no probabilities to read; write its "
            "rule as a policy kernel (KernelStrategy.probabilities) to analyse it exactly"
        )
    fields = strategy.observed_fields()
    if fields is None:
        raise ValueError(
            f"{who}: it does not declare the observation fields it reads (KernelStrategy.observed_fields), so "
            "its law cannot be tied to the DP's states"
        )
    seat = Seat.from_env(env, f"agent_{agent}")
    present = {name for name, _ in seat.fields}
    unmodelled = sorted((fields & present) - MODELLED_FIELDS)
    if unmodelled:
        raise ValueError(
            f"{who}: it reads {unmodelled}, which the DP's state (the date, every agent's announcement counts "
            "and the own type) does not determine"
        )
    try:
        strategy.analysis_episodes(seat, 1)
    except ValueError as error:
        raise ValueError(f"{who}: {error}") from error
    return SeatKernel(agent, strategy, seat, "others_announced" in fields, tuple(sorted(present - fields)))


def analysis_env(source: Any, mechanism: LinkingMechanism) -> LinkingEnv:
    """The linking env whose observation code builds the DP's observations (``source`` itself if an env)."""
    base = getattr(source, "unwrapped", source)
    if isinstance(base, LinkingEnv):
        return base
    classes = mechanism.budget_classes
    return LinkingEnv(
        mechanism.problem,
        num_problems=mechanism.num_problems,
        budget="type" if classes is None else [list(c) for c in classes],
        mixing=mechanism.mixing,
        discount=mechanism.discount,
    )


@dataclass
class _Setup:
    """Everything both DPs need: the mechanism, its env, the seat, the kernels and the budget states."""

    mechanism: LinkingMechanism
    env: LinkingEnv
    seat: int
    kernels: list[SeatKernel]
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

    def remaining(self, agent: int, date: int) -> IntArray:
        """``[S_date, C]`` the agent's announcements left per budget class in each of its states."""
        states, budget = self.states[agent], self.mechanism.budgets[agent]
        cells = len(states.radix)
        class_of_cell = budget.class_of_type if cells == len(budget.class_of_type) else np.arange(cells)
        spent = states.counts[date] @ np.eye(budget.num_classes, dtype=np.int64)[class_of_cell]
        return np.asarray(budget.quota[None, :] - spent)


def _setup(source: Any, seat: int | str, profile: Any, by_type: bool | None) -> _Setup:
    mechanism = over_time_mechanism(source)
    env = analysis_env(source, mechanism)
    index = seat_index(seat, mechanism.num_agents)
    strategies = resolve_profile(profile, mechanism.num_agents)
    kernels = [seat_kernel(s, env, i) for i, s in enumerate(strategies)]
    history = any(k.reads_history for k in kernels) if by_type is None else by_type
    shared: dict[tuple[Any, ...], AgentStates] = {}
    states = []
    for i, budget in enumerate(mechanism.budgets):
        key = (tuple(budget.quota.tolist()), tuple(budget.class_of_type.tolist()))
        if key not in shared:
            shared[key] = agent_states(mechanism, i, history)
        states.append(shared[key])
    return _Setup(mechanism, env, index, kernels, states, strategies)


def kernel_law(setup: _Setup, agent: int, date: int, exact: bool, joint_axes: bool = True) -> Numbers:
    """``[L..., T_true, T]`` the agent's announcement law at ``date`` over the DP's state axes L.

    L is the agent's own budget states, or (when its kernel reads the history) every agent's. With
    ``joint_axes`` the result is placed among all agents' axes (sizes 1 elsewhere); without, a kernel that
    does not read the history gives ``[S_agent, T_true, T]``. Rows of true types with probability 0 are 0.
    """
    kernel, n = setup.kernels[agent], setup.mechanism.num_agents
    axes = list(range(n)) if kernel.reads_history else [agent]
    sizes = [len(setup.states[i].counts[date]) for i in axes]
    count = setup.mechanism.problem.type_counts[agent]
    likely = np.flatnonzero(setup.mechanism.problem.type_probs[agent] > 0)
    total = int(np.prod(sizes))
    out = np.zeros((total, count, count))
    step = max(1, ROWS_PER_CALL // len(likely))
    for start in range(0, total, step):
        flat = np.arange(start, min(total, start + step))
        rows = _public_rows(setup, agent, date, axes, np.unravel_index(flat, sizes), likely)
        probs = _read_kernel(setup, kernel, rows, check=start == 0)
        out[start : start + len(flat), likely] = probs.reshape(len(flat), len(likely), -1)[..., :count]
    law = out.reshape((*sizes, count, count))
    if not kernel.reads_history and joint_axes:
        law = _place(law, agent, n)
    return _exact_law(law, kernel) if exact else law


def _public_rows(
    setup: _Setup, agent: int, date: int, axes: list[int], index: tuple[IntArray, ...], likely: IntArray
) -> PublicRows:
    """The public facts of the given states (one row per state and likely own type) for the agent's kernel."""
    n, problem = setup.mechanism.num_agents, setup.mechanism.problem
    repeat = len(likely)
    size = len(index[0]) * repeat
    classes = max(b.num_classes for b in setup.mechanism.budgets)
    remaining = np.zeros((size, n, classes), dtype=np.int64)
    counts = np.zeros((size, n, max(problem.type_counts)))
    for axis, rows in zip(axes, index):
        left = setup.remaining(axis, date)[rows]
        remaining[:, axis, : left.shape[1]] = np.repeat(left, repeat, axis=0)
        if setup.kernels[agent].reads_history and axis != agent:
            counts[:, axis, : problem.type_counts[axis]] = np.repeat(
                setup.states[axis].counts[date][rows], repeat, 0
            )
    current = np.zeros((size, n), dtype=np.int64)
    current[:, agent] = np.tile(likely, len(index[0]))
    return PublicRows(date, current, remaining, counts, np.zeros((size, n)))


def _read_kernel(setup: _Setup, kernel: SeatKernel, rows: PublicRows, check: bool) -> FloatArray:
    """``[R, A]`` the kernel's probabilities at the rows; ``check``: also verify the fields it says it ignores."""
    observations = setup.env.vectors(kernel.agent, rows)
    masks = setup.env.masks(kernel.agent, rows)
    probs = _probabilities(kernel, observations, masks)
    if check and kernel.unread:
        sample = slice(0, 256)
        changed = observations[sample].copy()
        for name, where in kernel.seat.fields:
            if name in kernel.unread:
                changed[:, where] += np.float32(0.375)
        if not np.array_equal(_probabilities(kernel, changed, masks[sample]), probs[sample]):
            raise ValueError(
                f"{kernel.who}: it declares that it does not read {list(kernel.unread)}, but its probabilities "
                "change with them; declare every field the rule reads (observed_fields)"
            )
    return probs


def _probabilities(kernel: SeatKernel, observations: np.ndarray, masks: np.ndarray) -> FloatArray:
    episodes = kernel.strategy.analysis_episodes(kernel.seat, len(observations))
    try:
        probs = kernel.strategy.probabilities(episodes, observations, masks)
    except (ValueError, NotImplementedError) as error:
        raise ValueError(f"{kernel.who}: {error}") from error
    return np.asarray(probs, dtype=np.float64)


def _exact_law(law: FloatArray, kernel: SeatKernel) -> Numbers:
    """The law as Fractions (each probability the nearest simple fraction), checked to sum to 1 per row."""
    exact = as_numbers(law, True)
    sums = exact.sum(axis=-1)
    if not np.all((sums == 1) | (sums == 0)):
        raise ValueError(
            f"{kernel.who}: its probabilities are not simple fractions summing to 1 exactly; use fractions=False"
        )
    return exact


class _JointDates:
    """Per-date laws of the exact DP, whose state axes are every agent's budget state."""

    def __init__(self, setup: _Setup, exact: bool) -> None:
        self.setup, self.exact = setup, exact

    def __call__(self, k: int) -> _Date:
        setup = self.setup
        n, seat = setup.mechanism.num_agents, setup.seat
        laws, moves = [], []
        for j in setup.opponents:
            law = _law(kernel_law(setup, j, k, self.exact), setup.type_probs(j, self.exact))
            laws.append(law)
            cells = _cell_law(law, setup.states[j].cell_of_type, self.exact)
            moves.append((j, cells, setup.states[j].next_index[k]))
        own = setup.states[seat]
        return _Date(
            reward_laws=laws,
            moves=moves,
            replaced_kernel=kernel_law(setup, seat, k, self.exact),
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
        return kernel_law(self.setup, agent, k, self.exact, joint_axes=False)

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
        rows = [np.asarray(c, dtype=np.int64)[None, :] for c in type_counts]
        return int(self.actions_for(np.array([date]), rows, np.array([own_type]))[0])

    def actions_for(self, dates: IntArray, type_counts: Sequence[IntArray], own_types: IntArray) -> IntArray:
        """``[B]`` announcements for rows of dates ``[B]``, counts per type ``[B, T_i]`` per agent and own types.

        Raises:
            ValueError: if some row's counts are no budget state of this table's mechanism.
        """
        out = np.empty(len(dates), dtype=np.int64)
        for date in np.unique(dates):
            rows = np.flatnonzero(dates == date)
            index = []
            for agent, states in zip(self.tracked, self.states):
                counts = np.asarray(type_counts[agent], dtype=np.int64)[rows]
                cells = counts @ np.eye(len(states.radix), dtype=np.int64)[states.cell_of_type]
                index.append(states.lookup_rows(int(date), cells))
            out[rows] = self.actions[int(date)][tuple(index) + (np.asarray(own_types)[rows],)]
        return out

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
    for i, kernel in enumerate(setup.kernels):
        if kernel.reads_history:
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
    """The exact law of a strategy's announcement at one public state, read from its policy kernel.

    Args:
        strategy: a policy kernel the DP can read (see the module docstring), by name or instance.
        mechanism: the linking mechanism (over time).
        agent: the strategy's seat.
        own_type: its true type on the current problem.
        type_counts: every agent's announcement counts per type so far (the public history; the agent's own
            row gives its remaining budget).

    Returns:
        The probability of announcing each type index (nearest simple fractions).
    """
    problem = mechanism.problem
    env = analysis_env(mechanism, mechanism)
    kernel = seat_kernel(_built(strategy), env, agent)
    n = mechanism.num_agents
    counts = np.zeros((1, n, max(problem.type_counts)))
    remaining = np.zeros((1, n, max(b.num_classes for b in mechanism.budgets)), dtype=np.int64)
    for i, row in enumerate(type_counts):
        counts[0, i, : len(row)] = row
        budget = mechanism.budgets[i]
        used = np.bincount(
            budget.class_of_type, weights=np.asarray(row, dtype=np.float64), minlength=budget.num_classes
        )
        remaining[0, i, : budget.num_classes] = budget.quota - np.rint(used).astype(np.int64)
    current = np.zeros((1, n), dtype=np.int64)
    current[0, agent] = own_type
    date = int(np.sum(type_counts[agent]))
    rows = PublicRows(date, current, remaining, counts, np.zeros((1, n)))
    probs = _probabilities(kernel, env.vectors(agent, rows), env.masks(agent, rows))[
        0, : problem.type_counts[agent]
    ]
    return tuple(as_fraction(float(p), "probability") for p in probs)


# ----- the best response as a strategy ------------------------------------------------------------------------


METHODS = ("exact", "history_free")
"""Allowed ``method`` values of :class:`BestResponseTable`."""


@register
class BestResponseTable(KernelStrategy):
    """Play a best-response table (:class:`PolicyTable`) in a linking env over time.

    A deterministic policy kernel: per episode it remembers its own announcement counts per type (the
    ``budget`` field shows only classes) and reads the others' from ``others_announced``.

    Args:
        table: the table (``exact_best_response(env, seat).table`` or ``result.strategy()``). When None, the
            table is computed for the seat's mechanism with ``method`` against ``profile`` when the seat is
            first prepared, assuming iid types (the seat cannot see the env's type process).
        profile: the profile to best-respond to when computing the table (a strategy name).
        method: ``"exact"`` or ``"history_free"``.
    """

    name: ClassVar[str] = "best_response_table"
    uniforms_per_step: ClassVar[int] = 0

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

    def params(self) -> dict[str, Any]:
        """``{"table": ..., "profile": ..., "method": ...}``."""
        return {"table": self.table, "profile": self.profile, "method": self.method}

    def prepare(self, seat: Seat) -> PolicyTable:
        """The table for this seat (given, or computed now), checked against the seat's env."""
        if seat.form != "over_time" or seat.participation is not None:
            raise ValueError(
                f"best_response_table: got form={seat.form!r}, participation={seat.participation!r}; the table "
                "is for linking envs with form='over_time' and no participation"
            )
        table = self.table
        if table is None:
            if seat.mechanism is None:
                raise ValueError(
                    f"best_response_table: {seat.agent} has no linking mechanism to compute a table for"
                )
            solve = exact_best_response if self.method == "exact" else history_free_best_response
            table = solve(seat.mechanism, seat.index, self.profile).table
            assert table is not None
        table.check_seat(seat)
        return table

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """No announcement yet: own counts per type ``[B, T]`` are zero."""
        problem = episodes.seat.problem
        assert problem is not None
        return {
            "announced": np.zeros((episodes.size, problem.type_counts[episodes.seat.index]), dtype=np.int64)
        }

    def observed_fields(self) -> frozenset[str]:
        """Type and the others' announcements (and its memory of its own)."""
        return frozenset({"type", "others_announced"})

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """Probability 1 on the table's announcement for each episode's date, counts and true type."""
        seat, table = episodes.seat, episodes.prepared
        own = episodes.memory["announced"]
        actions = table.actions_for(
            own.sum(axis=1), self._type_counts(seat, observations, own), true_types(seat, observations)
        )
        rows = np.arange(len(actions))
        refused = np.flatnonzero(action_masks[rows, actions] == 0)
        if len(refused):
            b = int(refused[0])
            raise ValueError(
                f"best_response_table: the table announces type {int(actions[b])} for {seat.agent}, which the "
                f"mask {np.asarray(action_masks[b]).tolist()} forbids; was the table built for this env?"
            )
        return one_hot(actions, action_masks.shape[1])

    def remember(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray, actions: np.ndarray
    ) -> None:
        """Count the announcement."""
        np.add.at(episodes.memory["announced"], (np.arange(len(actions)), actions), 1)

    @staticmethod
    def _type_counts(seat: Seat, observations: np.ndarray, own: IntArray) -> list[IntArray]:
        """Every agent's announcement counts per type ``[B, T_i]``: own from memory, the others' observed."""
        assert seat.problem is not None and seat.mechanism is not None
        k = seat.mechanism.num_problems
        others = np.rint(np.asarray(seat.field(observations, "others_announced"), dtype=np.float64) * k)
        counts, start = [], 0
        for j, size in enumerate(seat.problem.type_counts):
            if j == seat.index:
                counts.append(own)
            else:
                counts.append(others[:, start : start + size].astype(np.int64))
                start += size
        return counts
