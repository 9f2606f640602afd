"""Approximate truth: the secure strategy of Jackson and Sonnenschein (2007), Theorem 1 and Corollary 2.

Over time (Corollary 2 and the remark after it): announce the true type while its budget lasts; when it is
exhausted the agent is forced to lie, and picks among the types it may still announce

- ``lies="random"``: uniformly at random (the proof's strategy sigma-star), or
- ``lies="myopic"``: the one that does best for it on this problem against the empirical distribution of
  the other agents' announcements so far (P before any announcement): the secure strategy described after
  Corollary 2.

All at once (Theorem 1, and the permutation-based definition of Ball, Jackson and Kattwinkel, 2022): the
agent knows how many of its remaining problems have each type, so it lies only where its budget forces it
and only with a type it has to spare (budget above its remaining true count): it never permutes its true
types across problems and makes the minimum number of lies.

In a participation stage the agent accepts exactly when accepting gives it at least the status quo's
utility (Corollary 1's participation strategy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from linkmech.agents.base import Seat, Strategy, register
from linkmech.agents.myopic import myopic_values

LIE_RULES = ("random", "myopic")
"""Allowed values of ``ApproximatelyTruthful(lies=...)``."""


def accept_if_individually_rational(seat: Seat, observation: np.ndarray) -> int:
    """1 (accept) iff the offer's utility when accepted is at least the status quo's."""
    accept, decline = seat.field(observation, "offer")
    return int(accept >= decline)


def participating(seat: Seat, observation: np.ndarray) -> bool:
    """Whether the observation is a participation question."""
    return bool(seat.field(observation, "phase")[1] > 0)


def true_type(seat: Seat, observation: np.ndarray) -> int:
    """The agent's true type on the current problem (from the one-hot ``type`` field)."""
    return int(np.argmax(seat.field(observation, "type")))


def spare_types(seat: Seat, observation: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Admissible types whose class budget exceeds the agent's remaining true count of that class.

    Uses the all-at-once ``future_types`` field (counts of the agent's types after the current problem);
    lying with such a type never displaces a later truthful announcement.
    """
    assert seat.mechanism is not None
    budget = seat.mechanism.budgets[seat.index]
    k = seat.mechanism.num_problems
    remaining = np.rint(seat.field(observation, "budget") * k).astype(np.int64)
    future = np.rint(seat.field(observation, "future_types") * k).astype(np.int64)
    future_classes = np.bincount(budget.class_of_type, weights=future, minlength=budget.num_classes)
    spare_class = remaining > future_classes
    return np.array([t for t in allowed if spare_class[budget.class_of_type[t]]], dtype=np.int64)


@register
class ApproximatelyTruthful(Strategy):
    """Truthful until the budget binds; forced lies at random or myopically best.

    Args:
        lies: ``"random"`` or ``"myopic"`` (see the module docstring).
    """

    name: ClassVar[str] = "approximately_truthful"

    def __init__(self, lies: str = "random") -> None:
        super().__init__()
        if lies not in LIE_RULES:
            raise ValueError(f"lies: got {lies!r}; allowed are {LIE_RULES}")
        self.lies = lies

    def params(self) -> dict[str, Any]:
        """``{"lies": ...}``."""
        return {"lies": self.lies}

    @classmethod
    def act_copies(
        cls, copies: Sequence[Strategy], observations: np.ndarray, action_masks: np.ndarray
    ) -> list[Any]:
        """Copies whose true type is admissible announce it together; the others act one by one.

        No generator is touched for a truthful announcement, so this equals every copy acting alone.
        """
        if not copies or not all(isinstance(c, ApproximatelyTruthful) and c.seat is not None for c in copies):
            return super().act_copies(copies, observations, action_masks)
        seat = copies[0].seat
        assert seat is not None
        truth = np.argmax(seat.field(observations.T, "type"), axis=0)
        announcing = np.ones(len(copies), dtype=bool)
        if seat.has_field("phase"):
            announcing = seat.field(observations.T, "phase")[1] <= 0
        rows = np.arange(len(copies))
        truthful = announcing & (action_masks[rows, truth] != 0)
        return [
            int(truth[b]) if truthful[b] else copy.act(observations[b], action_masks[b])
            for b, copy in enumerate(copies)
        ]

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        """Truth if admissible, else a forced lie chosen by the lie rule."""
        seat, rng = self._ready()
        if participating(seat, observation):
            return accept_if_individually_rational(seat, observation)
        truth = true_type(seat, observation)
        if action_mask[truth]:
            return truth
        allowed = np.flatnonzero(action_mask)
        if len(allowed) == 0:
            raise ValueError("action_mask allows no action; is the episode over?")
        if seat.has_field("future_types"):
            spare = spare_types(seat, observation, allowed)
            allowed = spare if len(spare) else allowed
        if self.lies == "myopic":
            values = myopic_values(seat, observation, truth, allowed, rng)
            allowed = allowed[values >= values.max() - 1e-12]
        return int(rng.choice(allowed))


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
