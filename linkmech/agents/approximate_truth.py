"""Approximate truth: the secure strategy of Jackson and Sonnenschein (2007), Theorem 1 and Corollary 2.

Over time (Corollary 2 and the remark after it): announce the true type while its budget lasts; when it is
exhausted the agent is forced to lie, and picks among the types it may still announce

- ``lies="random"``: uniformly at random (the proof's strategy sigma-star), or
- ``lies="myopic"``: uniformly among those that do best for it on this problem against the empirical
  distribution of the other agents' announcements so far (P before any announcement): the secure strategy
  described after Corollary 2 (:mod:`linkmech.agents.myopic`).

All at once (Theorem 1, and the permutation-based definition of Ball, Jackson and Kattwinkel, 2022): the
agent knows how many of its remaining problems have each type, so it lies only where its budget forces it
and only with a type it has to spare (budget above its remaining true count): it never permutes its true
types across problems and makes the minimum number of lies.

In a participation stage the agent accepts exactly when accepting gives it at least the status quo's
utility (Corollary 1's participation strategy). The rule is a policy kernel
(:func:`approximately_truthful_probabilities`), which :class:`~linkmech.agents.simple.TypeRelabel` and the
coalition plans use as their fallback.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from linkmech.agents.base import Episodes, KernelStrategy, Seat, register
from linkmech.agents.kernels import (
    BoolArray,
    allowed_actions,
    announce_or_accept,
    best_ties,
    one_hot,
    true_types,
    uniform_over,
)
from linkmech.agents.myopic import DRAWS, ValueModel, myopic_model, myopic_values, value_memory
from linkmech.mechanisms.problem import FloatArray, IntArray

LIE_RULES = ("random", "myopic")
"""Allowed values of ``ApproximatelyTruthful(lies=...)``."""

FIELDS = frozenset({"type", "budget", "phase", "offer", "future_types"})
"""The observation fields approximate truth reads (plus ``others_announced`` with myopic lies)."""


def check_lie_rule(lies: str) -> str:
    """``lies`` if it is a lie rule, else a ValueError naming the allowed ones."""
    if lies not in LIE_RULES:
        raise ValueError(f"lies: got {lies!r}; allowed are {LIE_RULES}")
    return lies


def spare_types(seat: Seat, observations: np.ndarray, allowed: BoolArray) -> BoolArray:
    """``[B, A]`` admissible types whose class budget exceeds the agent's remaining true count of that class.

    Uses the all-at-once ``future_types`` field (counts of the agent's types after the current problem);
    lying with such a type never displaces a later truthful announcement.
    """
    assert seat.mechanism is not None
    budget = seat.mechanism.budgets[seat.index]
    k = seat.mechanism.num_problems
    remaining = np.rint(seat.field(observations, "budget") * k).astype(np.int64)
    future = np.rint(seat.field(observations, "future_types") * k).astype(np.int64)
    classes = np.eye(budget.num_classes, dtype=np.int64)[budget.class_of_type]  # [T, C]
    spare_class = remaining > future @ classes  # [B, C]
    spare = np.zeros_like(allowed)
    count = len(budget.class_of_type)
    spare[:, :count] = allowed[:, :count] & spare_class[:, budget.class_of_type]
    return spare


def forced_lie(
    seat: Seat,
    observations: np.ndarray,
    allowed: BoolArray,
    truth: IntArray,
    lies: str,
    myopic: ValueModel | None,
    draws: np.ndarray | None,
) -> FloatArray:
    """``[B, A]`` the law of a forced lie.

    Uniform over the admissible types (all at once: those the agent has to spare), or over the myopically best
    of them (``lies="myopic"``).
    """
    choice = allowed
    if seat.has_field("future_types"):
        spare = spare_types(seat, observations, allowed)
        choice = np.where(spare.any(axis=1, keepdims=True), spare, allowed)
    if lies == "myopic":
        assert myopic is not None
        values = myopic_values(myopic, seat, observations, truth, draws)
        padded = np.full(choice.shape, -np.inf)
        padded[:, : values.shape[1]] = values
        choice = best_ties(choice, padded)
    return uniform_over(choice)


def approximately_truthful_probabilities(
    seat: Seat,
    observations: np.ndarray,
    action_masks: np.ndarray,
    lies: str,
    myopic: ValueModel | None,
    memory: dict[str, np.ndarray],
) -> FloatArray:
    """``[B, A]`` approximate truth: the true type where admissible, else a :func:`forced_lie`."""

    def announce(rows: IntArray) -> FloatArray:
        obs, allowed = observations[rows], allowed_actions(action_masks[rows])
        truth = true_types(seat, obs)
        probs = one_hot(truth, allowed.shape[1])
        liars = np.flatnonzero(~allowed[np.arange(len(rows)), truth])
        if len(liars):
            draws = memory[DRAWS][rows[liars]] if DRAWS in memory else None
            probs[liars] = forced_lie(seat, obs[liars], allowed[liars], truth[liars], lies, myopic, draws)
        return probs

    return announce_or_accept(seat, observations, action_masks, announce)


def lie_rule_fields(lies: str) -> frozenset[str]:
    """The observation fields approximate truth with this lie rule reads."""
    return FIELDS | {"others_announced"} if lies == "myopic" else FIELDS


@register
class ApproximatelyTruthful(KernelStrategy):
    """Truthful until the budget binds; forced lies at random or myopically best.

    Args:
        lies: ``"random"`` or ``"myopic"`` (see the module docstring).
    """

    name: ClassVar[str] = "approximately_truthful"

    def __init__(self, lies: str = "random") -> None:
        super().__init__()
        self.lies = check_lie_rule(lies)

    def params(self) -> dict[str, Any]:
        """``{"lies": ...}``."""
        return {"lies": self.lies}

    def prepare(self, seat: Seat) -> ValueModel | None:
        """The seat's myopic model (myopic lies only)."""
        return myopic_model(seat) if self.lies == "myopic" else None

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """The sampled myopic profiles of large problems (else nothing)."""
        return value_memory(episodes.prepared, episodes) if self.lies == "myopic" else {}

    def observed_fields(self) -> frozenset[str]:
        """Type, budget, phase, offer and future types; the others' announcements with myopic lies."""
        return lie_rule_fields(self.lies)

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """Truth if admissible, else the lie rule's law; accept iff individually rational."""
        return approximately_truthful_probabilities(
            episodes.seat, observations, action_masks, self.lies, episodes.prepared, episodes.memory
        )


def truthful_ranking_action(observation: np.ndarray, action_mask: np.ndarray, num_problems: int) -> int:
    """Ranked voting, all at once: vote the sign of the current value and rank problems by |value|.

    Reads ``RankedVotingEnv``'s observation (all-at-once form: own values of all problems at
    ``observation[2 + K : 2 + 2K]``); the current problem is ``round(progress * K)``.
    """
    current = int(round(float(observation[1]) * num_problems))
    values = observation[2 + num_problems : 2 + 2 * num_problems]
    order = np.argsort(-np.abs(values), kind="stable")
    rank = int(np.flatnonzero(order == current)[0]) + 1
    side = int(observation[0] > 0)
    action = side * num_problems + rank - 1
    if not action_mask[action]:
        raise ValueError(f"rank {rank} is already used; truthful_ranking_action needs form='all_at_once'")
    return action


def truthful_importance_action(observation: np.ndarray) -> int:
    """Appendix 3: vote both signs; claim the problem of larger |value|, or equal (action index)."""
    first, second = (float(x) for x in observation[:2])
    claim = 0 if abs(first) > abs(second) else 1 if abs(second) > abs(first) else 2
    return claim * 4 + int(second > 0) * 2 + int(first > 0)
