"""Array helpers of the policy kernels: what every linking strategy reads and the laws it builds.

Every function works on a batch: observations ``[B, D]`` (float32 rows laid out by the seat's fields), int8
masks ``[B, A]``, and returns arrays with the same leading axis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from linkmech.agents.base import Seat
from linkmech.mechanisms.problem import FloatArray, IntArray

BoolArray = NDArray[np.bool_]

TIE_TOLERANCE = 1e-12
"""Values within this of the best count as ties (myopic values, intensities)."""

Announce = Callable[[IntArray], FloatArray]
"""The announcing rule of a kernel on the given rows (indices into the batch): ``[R, A]`` probabilities."""


def true_types(seat: Seat, observations: np.ndarray) -> IntArray:
    """``[B]`` the agent's true type on the current problem (from the one-hot ``type`` field)."""
    return np.argmax(seat.field(observations, "type"), axis=-1).astype(np.int64)


def participating(seat: Seat, observations: np.ndarray) -> BoolArray:
    """``[B]`` whether each row is a participation question (False where the env has no phase field)."""
    if not seat.has_field("phase"):
        return np.zeros(len(observations), dtype=bool)
    return np.asarray(seat.field(observations, "phase")[:, 1] > 0)


def accept_if_individually_rational(seat: Seat, observations: np.ndarray) -> IntArray:
    """``[B]`` 1 (accept) where the offer's utility when accepted is at least the status quo's, else 0."""
    offer = seat.field(observations, "offer")
    return (offer[:, 0] >= offer[:, 1]).astype(np.int64)


def one_hot(actions: IntArray, width: int) -> FloatArray:
    """``[B, width]`` probability 1 on ``actions[b]`` in row b."""
    out = np.zeros((len(actions), width))
    out[np.arange(len(actions)), actions] = 1.0
    return out


def allowed_actions(action_masks: np.ndarray) -> BoolArray:
    """``[B, A]`` bool of the masks.

    Raises:
        ValueError: if a row allows no action (the episode is over).
    """
    allowed = np.asarray(action_masks) > 0
    if not allowed.any(axis=1).all():
        raise ValueError("action_mask allows no action; is the episode over?")
    return allowed


def uniform_over(choice: BoolArray) -> FloatArray:
    """``[B, A]`` uniform over the True entries of each row (rows must have one)."""
    counts = choice.sum(axis=1, keepdims=True)
    return choice / np.maximum(counts, 1)


def best_ties(candidates: BoolArray, values: FloatArray) -> BoolArray:
    """Candidates whose value is within :data:`TIE_TOLERANCE` of the best candidate's, per row."""
    masked = np.where(candidates, values, -np.inf)
    best = masked.max(axis=-1, keepdims=True)
    return np.asarray(candidates & (values >= best - TIE_TOLERANCE))


def announce_or_accept(
    seat: Seat, observations: np.ndarray, action_masks: np.ndarray, announce: Announce
) -> FloatArray:
    """``[B, A]``: Corollary 1's participation rule in participation rows, ``announce(rows)`` in the others.

    In a participation question the agent accepts exactly when accepting gives it at least the status quo's
    utility (:func:`accept_if_individually_rational`).
    """
    asked = participating(seat, observations)
    width = action_masks.shape[1]
    if not asked.any():
        return announce(np.arange(len(observations)))
    out = np.zeros((len(observations), width))
    out[asked] = one_hot(accept_if_individually_rational(seat, observations[asked]), width)
    rows = np.flatnonzero(~asked)
    if len(rows):
        out[rows] = announce(rows)
    return out
