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
gives it at least the status quo's utility (Corollary 1's participation strategy).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from linkmech.agents.approximate_truth import (
    ApproximatelyTruthful,
    accept_if_individually_rational,
    participating,
    true_type,
)
from linkmech.agents.base import Seat, Strategy, register
from linkmech.agents.myopic import myopic_values
from linkmech.mechanisms.problem import FiniteProblem, FloatArray

MAX_PROFILES = 65_536
"""Largest number of type profiles enumerated when finding the alternatives an agent can face."""


def admissible(action_mask: np.ndarray) -> np.ndarray:
    """Indices the mask allows.

    Raises:
        ValueError: if it allows none (the episode is over).
    """
    allowed = np.flatnonzero(action_mask)
    if len(allowed) == 0:
        raise ValueError("action_mask allows no action; is the episode over?")
    return allowed


def _in_participation(seat: Seat, observation: np.ndarray) -> bool:
    return seat.has_field("phase") and participating(seat, observation)


@register
class Truthful(Strategy):
    """Announce the true type on every problem: the direct mechanism f applied K times.

    Meant for envs without budgets (``budget="none"``, or one budget class holding every type), where every
    type is always admissible. In a participation stage it accepts iff accepting is individually rational.

    Raises (from :meth:`act`):
        ValueError: when the budget forbids the true type; use ``approximately_truthful`` instead, or build
            the env with ``budget="none"``.
    """

    name: ClassVar[str] = "truthful"

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The true type's index."""
        seat, _ = self._ready()
        if _in_participation(seat, observation):
            return accept_if_individually_rational(seat, observation)
        truth = true_type(seat, observation)
        if not action_mask[truth]:
            raise ValueError(
                f"truthful: {seat.agent}'s true type (index {truth}) is not admissible, its budget is spent; "
                "use the 'approximately_truthful' strategy in budgeted envs, or build the env with "
                "budget='none'"
            )
        return truth


@register
class RandomAdmissible(Strategy):
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

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """A uniform admissible action; 1 with probability ``accept_prob`` while participating."""
        seat, rng = self._ready()
        if _in_participation(seat, observation):
            return int(rng.random() < self.accept_prob)
        return int(rng.choice(admissible(action_mask)))


def utility_ranges(problem: FiniteProblem, agent: int, rng: np.random.Generator) -> FloatArray:
    """Each type's intensity: ``max_d u(t, d) - min_d u(t, d)`` over the alternatives agent can face.

    The alternatives it can face are those f chooses with positive probability at some type profile (all
    profiles when there are at most :data:`MAX_PROFILES`, else that many drawn uniformly from ``rng``).
    Utilities are private values: only the agent's own type enters its utility.
    """
    total = int(np.prod(problem.type_counts))
    if total <= MAX_PROFILES:
        profiles = problem.all_profiles(MAX_PROFILES)
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
class FrontLoader(Strategy):
    """Always claim the most intense admissible type, whatever the truth (front-loading; see Section 5).

    A type's intensity is its utility range over the alternatives the agent can face
    (:func:`utility_ranges`): in voting |v|, so the agent announces +-2 until those run out (with its true
    sign while it can), then +-1. Among the most intense admissible types it picks the one with the highest
    myopic value for its true type (:func:`linkmech.agents.myopic.myopic_values`), then at random.
    No parameters.
    """

    name: ClassVar[str] = "front_loading"

    def __init__(self) -> None:
        super().__init__()
        self._intensity: FloatArray | None = None

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start an episode and compute the intensity of each of the seat's types."""
        super().reset(seat, rng)
        if seat.problem is None:
            raise ValueError("front_loading needs the seat's problem; build the seat with Seat.from_env")
        self._intensity = utility_ranges(seat.problem, seat.index, rng)

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The most intense admissible type, ties to the myopically best for the true type."""
        seat, rng = self._ready()
        if _in_participation(seat, observation):
            return accept_if_individually_rational(seat, observation)
        assert self._intensity is not None
        allowed = admissible(action_mask)
        intensity = self._intensity[allowed]
        candidates = allowed[intensity >= intensity.max() - 1e-12]
        if len(candidates) > 1:
            values = myopic_values(seat, observation, true_type(seat, observation), candidates, rng)
            candidates = candidates[values >= values.max() - 1e-12]
        return int(rng.choice(candidates))


@register
class LaggedTruth(Strategy):
    """Announce at date k the true type of date k - 1: a label-dependent strategy that permutes types.

    At the first date it announces a random admissible type; whenever the lagged type is inadmissible it
    announces a random admissible one. The shift moves the true types one problem later, so over an episode
    the announcements are (nearly) a permutation of the truth: what Appendix 1's label-free argument removes.
    No parameters.
    """

    name: ClassVar[str] = "lagged_truth"

    def __init__(self) -> None:
        super().__init__()
        self._previous: int | None = None

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start an episode with no remembered type."""
        super().reset(seat, rng)
        self._previous = None

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The previous date's true type if admissible, else a random admissible type."""
        seat, rng = self._ready()
        if _in_participation(seat, observation):
            return accept_if_individually_rational(seat, observation)
        previous, self._previous = self._previous, true_type(seat, observation)
        if previous is not None and action_mask[previous]:
            return previous
        return int(rng.choice(admissible(action_mask)))


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
class TypeRelabel(Strategy):
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
        self._fallback = ApproximatelyTruthful(lies)
        self._sigma: tuple[int, ...] | None = None

    def params(self) -> dict[str, Any]:
        """``{"mapping": ..., "lies": ...}``."""
        return {"mapping": self.mapping, "lies": self._fallback.lies}

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start an episode; check that the mapping permutes this seat's types."""
        super().reset(seat, rng)
        self._fallback.reset(seat, rng)
        count = num_types(seat)
        if self.mapping is None:
            self._sigma = tuple((t + 1) % count for t in range(count))
        elif len(self.mapping) != count:
            raise ValueError(
                f"mapping: got {self.mapping} for {seat.agent}, which has {count} types; give a permutation "
                f"of 0..{count - 1}"
            )
        else:
            self._sigma = self.mapping

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """The relabelled true type if admissible, else approximate truth."""
        seat, _ = self._ready()
        if _in_participation(seat, observation):
            return accept_if_individually_rational(seat, observation)
        assert self._sigma is not None
        relabelled = self._sigma[true_type(seat, observation)]
        if action_mask[relabelled]:
            return relabelled
        return self._fallback.act(observation, action_mask)
