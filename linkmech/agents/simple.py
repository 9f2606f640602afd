"""Simple reference strategies: truth without budgets, random play, front-loading and two label-dependent liars.

Each one is a benchmark the paper argues against or with (Jackson and Sonnenschein, 2007):

- :class:`Truthful`: the truthful strategy of the unlinked direct mechanism f (Example 1 shows that it is
  not an equilibrium there); for envs without budgets (``budget="none"`` or a single budget class).
- :class:`RandomAdmissible`: uniform over the admissible announcements; a strategy whose announcements carry
  no information, against which approximate truth still secures its utility (Theorem 1 (3)).
- :class:`FrontLoader`: spend the announcements that carry most weight first, whatever the truth. Our
  benchmark for Section 5, "Time": with discounting the early problems weigh more, and Corollary 2 takes
  the discount factor close to 1 so that such shifting of intense announcements across dates gains little.
- :class:`LaggedTruth` and :class:`TypeRelabel`: label-dependent strategies that permute the true types
  across problems, the announcements the proof of Theorem 1 (Appendix 1) undoes to reach an approximately
  truthful equilibrium.

In a participation stage every strategy here but :class:`RandomAdmissible` accepts exactly when accepting
gives it at least the status quo's utility (Corollary 1's participation strategy). Each is a policy kernel
over a batch of episodes (:class:`~linkmech.agents.base.KernelStrategy`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from linkmech.agents.approximate_truth import (
    approximately_truthful_probabilities,
    check_lie_rule,
    lie_rule_fields,
)
from linkmech.agents.base import Episodes, KernelStrategy, Seat, register
from linkmech.agents.kernels import (
    allowed_actions,
    announce_or_accept,
    best_ties,
    one_hot,
    participating,
    true_types,
    uniform_over,
)
from linkmech.agents.myopic import DRAWS, ValueModel, myopic_model, myopic_values, value_memory
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray

MAX_PROFILES = 65_536
"""Largest number of type profiles enumerated when finding the alternatives an agent can face."""

ANNOUNCING = frozenset({"type", "phase", "offer"})
"""Fields every strategy here reads: the true type, and the phase and offer of a participation question."""


@register
class Truthful(KernelStrategy):
    """Announce the true type on every problem: the direct mechanism f applied K times.

    Meant for envs without budgets (``budget="none"``, or one budget class holding every type), where every
    type is always admissible. In a participation stage it accepts iff accepting is individually rational.

    Raises (when acting):
        ValueError: when the budget forbids the true type; use ``approximately_truthful`` instead, or build
            the env with ``budget="none"``.
    """

    name: ClassVar[str] = "truthful"
    uniforms_per_step: ClassVar[int] = 0

    def observed_fields(self) -> frozenset[str]:
        """Type, phase and offer."""
        return ANNOUNCING

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """Probability 1 on the true type."""
        seat = episodes.seat

        def announce(rows: IntArray) -> FloatArray:
            truth = true_types(seat, observations[rows])
            blocked = np.flatnonzero(action_masks[rows, truth] == 0)
            if len(blocked):
                raise ValueError(
                    f"truthful: {seat.agent}'s true type (index {int(truth[blocked[0]])}) is not admissible, its "
                    "budget is spent; use the 'approximately_truthful' strategy in budgeted envs, or build the "
                    "env with budget='none'"
                )
            return one_hot(truth, action_masks.shape[1])

        return announce_or_accept(seat, observations, action_masks, announce)


@register
class RandomAdmissible(KernelStrategy):
    """Announce uniformly at random among the admissible types, whatever the true type.

    Args:
        accept_prob: probability of accepting each participation question (default 1: always accept).
    """

    name: ClassVar[str] = "random"

    def __init__(self, accept_prob: float = 1.0) -> None:
        super().__init__()
        if isinstance(accept_prob, bool) or not isinstance(accept_prob, (int, float)):
            raise ValueError(f"accept_prob: got {accept_prob!r}; give a probability in [0, 1]")
        if not 0.0 <= float(accept_prob) <= 1.0:
            raise ValueError(f"accept_prob: got {accept_prob!r}; give a probability in [0, 1]")
        self.accept_prob = float(accept_prob)

    def params(self) -> dict[str, Any]:
        """``{"accept_prob": ...}``."""
        return {"accept_prob": self.accept_prob}

    def observed_fields(self) -> frozenset[str]:
        """The phase only (and the mask)."""
        return frozenset({"phase"})

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """Uniform over the mask; accept with ``accept_prob`` while participating."""
        asked = participating(episodes.seat, observations)
        out = np.zeros(action_masks.shape)
        if asked.any():
            out[asked, 0], out[asked, 1] = 1.0 - self.accept_prob, self.accept_prob
        rest = ~asked
        if rest.any():
            out[rest] = uniform_over(allowed_actions(action_masks[rest]))
        return out


def utility_ranges(problem: FiniteProblem, agent: int, rng: np.random.Generator | None) -> FloatArray:
    """Each type's intensity: ``max_d u(t, d) - min_d u(t, d)`` over the alternatives agent can face.

    The alternatives it can face are those f chooses with positive probability at some type profile (all
    profiles when there are at most :data:`MAX_PROFILES`, else that many drawn uniformly from ``rng``).
    Utilities are private values: only the agent's own type enters its utility.

    Raises:
        ValueError: if there are too many profiles to enumerate and no generator is given.
    """
    total = int(np.prod(problem.type_counts))
    if total <= MAX_PROFILES:
        profiles = problem.all_profiles(MAX_PROFILES)
    elif rng is None:
        raise ValueError(
            f"utility ranges: {total} type profiles are more than {MAX_PROFILES}; give a generator to sample them"
        )
    else:
        columns = [rng.integers(0, count, size=MAX_PROFILES) for count in problem.type_counts]
        profiles = np.stack(columns, axis=1).astype(np.int64)
    lottery = problem.target(profiles)
    faced = np.unique(lottery.alternatives[lottery.probs > 0])
    count = problem.type_counts[agent]
    types = np.zeros((count, problem.num_agents), dtype=np.int64)
    types[:, agent] = np.arange(count)
    alternatives = np.tile(faced, (count, 1)).astype(np.int64)
    utilities = problem.utility(types, alternatives)[:, :, agent]
    return np.asarray(utilities.max(axis=1) - utilities.min(axis=1), dtype=np.float64)


@register
class FrontLoader(KernelStrategy):
    """Always claim the most intense admissible type, whatever the truth (front-loading; see Section 5).

    A type's intensity is its utility range over the alternatives the agent can face
    (:func:`utility_ranges`): in voting |v|, so the agent announces +-2 until those run out (with its true
    sign while it can), then +-1. Among the most intense admissible types it picks the one with the highest
    myopic value for its true type (:func:`linkmech.agents.myopic.myopic_values`), then at random.
    With more than :data:`MAX_PROFILES` type profiles each episode samples the profiles behind its
    intensities at its start. No parameters.
    """

    name: ClassVar[str] = "front_loading"

    def prepare(self, seat: Seat) -> tuple[FloatArray | None, ValueModel]:
        """The intensity of each of the seat's types (None when it is sampled per episode) and myopic model."""
        if seat.problem is None:
            raise ValueError("front_loading needs the seat's problem; build the seat with Seat.from_env")
        exact = int(np.prod(seat.problem.type_counts)) <= MAX_PROFILES
        intensity = utility_ranges(seat.problem, seat.index, None) if exact else None
        return intensity, myopic_model(seat)

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """Sampled intensities and myopic profiles, for problems too large to enumerate."""
        intensity, myopic = episodes.prepared
        seat, memory = episodes.seat, {}
        if intensity is None:
            assert seat.problem is not None
            problem = seat.problem
            memory["intensity"] = episodes.draw(
                lambda rng: utility_ranges(problem, seat.index, rng), "front_loading's sampled intensities"
            )
        memory.update(value_memory(myopic, episodes))
        return memory

    def observed_fields(self) -> frozenset[str]:
        """Type, phase, offer and the others' announcements (the myopic tie-break)."""
        return ANNOUNCING | {"others_announced"}

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """Uniform over the myopically best of the most intense admissible types."""
        seat, (intensity, myopic) = episodes.seat, episodes.prepared
        memory = episodes.memory

        def announce(rows: IntArray) -> FloatArray:
            allowed = allowed_actions(action_masks[rows])
            levels = (
                memory["intensity"][rows]
                if intensity is None
                else np.broadcast_to(intensity, (len(rows), len(intensity)))
            )
            padded = np.full(allowed.shape, -np.inf)
            padded[:, : levels.shape[1]] = levels
            candidates = best_ties(allowed, padded)
            several = np.flatnonzero(candidates.sum(axis=1) > 1)
            if len(several):
                obs = observations[rows[several]]
                draws = memory[DRAWS][rows[several]] if DRAWS in memory else None
                values = myopic_values(myopic, seat, obs, true_types(seat, obs), draws)
                scored = np.full(allowed[several].shape, -np.inf)
                scored[:, : values.shape[1]] = values
                candidates[several] = best_ties(candidates[several], scored)
            return uniform_over(candidates)

        return announce_or_accept(seat, observations, action_masks, announce)


@register
class LaggedTruth(KernelStrategy):
    """Announce at date k the true type of date k - 1: a label-dependent strategy that permutes types.

    At the first date it announces a random admissible type; whenever the lagged type is inadmissible it
    announces a random admissible one. The shift moves the true types one problem later, so over an episode
    the announcements are (nearly) a permutation of the truth: what Appendix 1's label-free argument removes.
    Its memory (the previous true type) is not in the observation, so the exact analysis cannot model it.
    No parameters.
    """

    name: ClassVar[str] = "lagged_truth"

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """No remembered type (-1) in every episode."""
        return {"previous": np.full(episodes.size, -1, dtype=np.int64)}

    def observed_fields(self) -> frozenset[str]:
        """Type, phase and offer (and its memory of the previous type)."""
        return ANNOUNCING

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """The previous date's true type if admissible, else uniform over the admissible types."""
        seat, previous = episodes.seat, episodes.memory["previous"]

        def announce(rows: IntArray) -> FloatArray:
            allowed = allowed_actions(action_masks[rows])
            lagged = previous[rows]
            keep = (lagged >= 0) & allowed[np.arange(len(rows)), np.maximum(lagged, 0)]
            return np.where(
                keep[:, None], one_hot(np.maximum(lagged, 0), allowed.shape[1]), uniform_over(allowed)
            )

        return announce_or_accept(seat, observations, action_masks, announce)

    def remember(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray, actions: np.ndarray
    ) -> None:
        """Remember this date's true type (not while participating)."""
        announcing = ~participating(episodes.seat, observations)
        truth = true_types(episodes.seat, observations)
        episodes.memory["previous"] = np.where(announcing, truth, episodes.memory["previous"])


def num_types(seat: Seat) -> int:
    """Number of the seat's types (the size of its ``type`` observation field)."""
    for name, where in seat.fields:
        if name == "type":
            return int(where.stop - where.start)
    raise ValueError(
        f"{seat.agent}'s observation has no 'type' field; fields are {[n for n, _ in seat.fields]}"
    )


def parse_mapping(mapping: Sequence[int] | str) -> tuple[int, ...]:
    """A permutation of type indices from a sequence or a string such as ``"1/0/3/2"`` (CLI form).

    Raises:
        ValueError: unless it is a permutation of ``0..len-1``.
    """
    if isinstance(mapping, str):
        parts = [p for p in re.split(r"[^0-9]+", mapping) if p]
        values = [int(p) for p in parts]
    elif isinstance(mapping, Sequence):
        values = [int(v) for v in mapping]
    else:
        values = []
    if sorted(values) != list(range(len(values))) or not values:
        raise ValueError(
            f"mapping: got {mapping!r}; give a permutation of the type indices 0..T-1, e.g. (1, 0, 3, 2) or "
            "'1/0/3/2' (in voting that swaps the intensities: -2 <-> -1, 1 <-> 2)"
        )
    return tuple(values)


@register
class TypeRelabel(KernelStrategy):
    """Announce ``mapping[true type]``: a fixed relabelling of types, label-dependent and permuting.

    When the relabelled type is inadmissible it falls back to approximate truth
    (:class:`~linkmech.agents.approximate_truth.ApproximatelyTruthful`, truth if admissible, else a forced
    lie by ``lies``).

    Args:
        mapping: a permutation of the seat's type indices (sequence, or a string like ``"1/0/3/2"``);
            default None: the cyclic shift ``t -> t + 1 mod |U_i|``.
        lies: the fallback's lie rule, ``"random"`` or ``"myopic"``.
    """

    name: ClassVar[str] = "relabel"

    def __init__(self, mapping: Sequence[int] | str | None = None, lies: str = "random") -> None:
        super().__init__()
        self.mapping = None if mapping is None else parse_mapping(mapping)
        self.lies = check_lie_rule(lies)

    def params(self) -> dict[str, Any]:
        """``{"mapping": ..., "lies": ...}``."""
        return {"mapping": self.mapping, "lies": self.lies}

    def prepare(self, seat: Seat) -> tuple[IntArray, ValueModel | None]:
        """The permutation of this seat's types (checked) and the fallback's myopic model."""
        count = num_types(seat)
        if self.mapping is None:
            sigma = tuple((t + 1) % count for t in range(count))
        elif len(self.mapping) != count:
            raise ValueError(
                f"mapping: got {self.mapping} for {seat.agent}, which has {count} types; give a permutation "
                f"of 0..{count - 1}"
            )
        else:
            sigma = self.mapping
        return np.array(sigma, dtype=np.int64), myopic_model(seat) if self.lies == "myopic" else None

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """The fallback's sampled myopic profiles of large problems (else nothing)."""
        myopic = episodes.prepared[1]
        return {} if myopic is None else value_memory(myopic, episodes)

    def observed_fields(self) -> frozenset[str]:
        """What the approximately truthful fallback reads."""
        return lie_rule_fields(self.lies)

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """The relabelled true type if admissible, else approximate truth's law."""
        seat, (sigma, myopic) = episodes.seat, episodes.prepared
        fallback = approximately_truthful_probabilities(
            seat, observations, action_masks, self.lies, myopic, episodes.memory
        )
        if participating(seat, observations).all():
            return fallback
        relabelled = sigma[true_types(seat, observations)]
        keep = (action_masks[np.arange(len(observations)), relabelled] > 0) & ~participating(
            seat, observations
        )
        return np.where(keep[:, None], one_hot(relabelled, action_masks.shape[1]), fallback)
