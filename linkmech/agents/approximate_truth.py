"""Approximate truth over time: the secure strategy of Jackson and Sonnenschein (2007), Corollary 2.

Announce the true type while its budget lasts; when it is exhausted the agent is forced to lie and picks
uniformly at random among the types it may still announce. In a participation stage it accepts exactly
when accepting gives it at least the status quo's utility (Corollary 1's participation strategy).
The choice among forced lies that is myopically best against the others' announcements comes with the
strategy library of a later issue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ApproximatelyTruthful:
    """Truthful until the budget binds, then uniformly random among admissible types.

    Args:
        fields: the agent's observation layout, ``env.observation_fields(agent)`` (names and slices).
    """

    name = "approximately_truthful"

    def __init__(self, fields: Sequence[tuple[str, slice]]) -> None:
        self.fields = dict(fields)
        missing = {"type", "phase"} - set(self.fields)
        if missing:
            raise ValueError(f"fields: missing {sorted(missing)}; pass env.observation_fields(agent)")

    def act(self, observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator) -> int:
        """The action for one observation vector and its int8 mask, drawing only from ``rng``."""
        phase = observation[self.fields["phase"]]
        if phase[1] > 0:
            accept, decline = observation[self.fields["offer"]]
            return int(accept >= decline)
        true_type = int(np.argmax(observation[self.fields["type"]]))
        if action_mask[true_type]:
            return true_type
        allowed = np.flatnonzero(action_mask)
        if len(allowed) == 0:
            raise ValueError("action_mask allows no action; is the episode over?")
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
