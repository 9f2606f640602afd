"""Participation stages after the linking mechanism's announcements (Section 4).

- **whole** (Corollary 1): after all announcements (and the decisions they imply) each agent accepts or
  declines the linked mechanism as a whole; if anyone declines, every problem gets the status quo e.
- **per problem** (the "skimming" variant the paper shows to be manipulable): each agent accepts or
  declines each problem separately; a problem gets e if anyone declines it.

Functions take realised utilities of the proposed decisions ``[B, K, n]`` and of the status quo
``[B, K, n]`` and the acceptances, and return the utilities that actually accrue.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from linkmech.mechanisms.linking import LinkingMechanism, LinkingState
from linkmech.mechanisms.problem import FloatArray

PARTICIPATION_MODES = ("whole", "per_problem")
"""Allowed values of the ``participation`` option (``None`` means no participation stage)."""


def status_quo_utilities(mechanism: LinkingMechanism, state: LinkingState) -> FloatArray:
    """``[B, K, n]`` utility of each agent at the status quo on each problem, given its true types."""
    batch, k, n = state.types.shape
    flat = mechanism.problem.status_quo_utility(state.types.reshape(batch * k, n))
    return flat.reshape(batch, k, n)


def check_acceptances(accept: np.ndarray, shape: tuple[int, ...], field: str = "accept") -> NDArray[np.bool_]:
    """Return ``accept`` as a bool array after checking its shape and that it holds only 0/1."""
    values = np.asarray(accept)
    if values.shape != shape:
        raise ValueError(f"{field}: got shape {values.shape}; expected {shape}")
    if not np.isin(values, (0, 1)).all():
        raise ValueError(
            f"{field}: got values {np.unique(values).tolist()}; allowed are 0 (decline) and 1 (accept)"
        )
    return values.astype(bool)


def whole_participation(proposed: FloatArray, status_quo: FloatArray, accept: np.ndarray) -> FloatArray:
    """Utilities when everyone accepts (``accept [B, n]`` all true) else the status quo on every problem."""
    accepted = check_acceptances(accept, proposed.shape[:1] + proposed.shape[2:])
    everyone: NDArray[np.bool_] = np.all(accepted, axis=1)
    return np.where(everyone[:, None, None], proposed, status_quo)


def per_problem_participation(proposed: FloatArray, status_quo: FloatArray, accept: np.ndarray) -> FloatArray:
    """Per problem: the proposed utilities where every agent accepts (``accept [B, K, n]``), else e's."""
    accepted = check_acceptances(accept, proposed.shape)
    everyone: NDArray[np.bool_] = np.all(accepted, axis=2)
    return np.where(everyone[:, :, None], proposed, status_quo)
