"""High-probability events Omega* (Zhu 2022, Section 2.3 and the proof of Theorem 1).

``OmegaStar`` describes, for every agent n, a set Omega*n of endowment sequences omega^n in [0, inf)^T:

- ``kind="leave_one_out"`` (the paper's Omega*n(N)): every leave-one-out mean
  ``sum_{s != t} omega_s / (T - 1)`` lies within ``radius`` x of the agent's ``center`` omega^{avg,n};
- ``kind="mean"``: the plain mean ``sum_t omega_t / T`` lies within x of the center;
- ``kind="per_date"``: every date's endowment lies in ``[lower, upper]``.

``lower`` and ``upper`` (per-date bounds) also apply to the two mean kinds. Membership is batched over
leading axes: endowments ``[..., T, N]`` give ``[..., N]`` booleans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from linkmech.mechanisms.allocation import FloatArray

KINDS = ("leave_one_out", "mean", "per_date")
"""Allowed values of ``OmegaStar.kind``."""

TOLERANCE = 1e-9
"""Slack allowed at the boundaries in membership tests (floating point)."""


@dataclass(frozen=True)
class OmegaStar:
    """Omega*n for every agent (see the module docstring).

    Attributes:
        num_dates: T >= 2 for the mean kinds (T >= 1 per date).
        centers: ``[N]`` omega^{avg,n} (ignored for ``per_date``).
        radius: x > 0 (ignored for ``per_date``).
        kind: one of :data:`KINDS`.
        lower: per-date lower bound (>= 0).
        upper: per-date upper bound (> lower; may be inf).
    """

    num_dates: int
    centers: FloatArray
    radius: float
    kind: str = "leave_one_out"
    lower: float = 0.0
    upper: float = float("inf")

    def __post_init__(self) -> None:
        centers = np.asarray(self.centers, dtype=np.float64).reshape(-1)
        object.__setattr__(self, "centers", centers)
        if self.kind not in KINDS:
            raise ValueError(f"kind: got {self.kind!r}; allowed are {KINDS}")
        minimum = 2 if self.kind != "per_date" else 1
        if not isinstance(self.num_dates, (int, np.integer)) or self.num_dates < minimum:
            raise ValueError(
                f"num_dates: got {self.num_dates!r}; allowed are integers T >= {minimum} for {self.kind!r}"
            )
        if self.kind != "per_date" and not (np.isfinite(self.radius) and self.radius > 0):
            raise ValueError(
                f"radius: got x = {self.radius!r}; the window half-width must be a finite number > 0"
            )
        if not np.all(np.isfinite(centers)) or np.any(centers < 0) or len(centers) < 1:
            raise ValueError(f"centers: got {centers.tolist()}; give one finite omega^avg,n >= 0 per agent")
        if not (np.isfinite(self.lower) and self.lower >= 0 and self.upper > self.lower):
            raise ValueError(
                f"per-date bounds: got [{self.lower!r}, {self.upper!r}]; need 0 <= lower < upper"
            )

    @property
    def num_agents(self) -> int:
        """N, the number of agents (length of ``centers``)."""
        return len(self.centers)

    def contains(self, endowments: FloatArray) -> NDArray[np.bool_]:
        """``[..., N]`` whether each agent's sequence ``endowments[..., :, n]`` lies in Omega*n."""
        array = np.asarray(endowments, dtype=np.float64)
        if array.shape[-2:] != (self.num_dates, self.num_agents):
            raise ValueError(
                f"endowments: got shape {array.shape}; expected [..., T={self.num_dates}, N={self.num_agents}]"
            )
        inside = np.all((array >= self.lower - TOLERANCE) & (array <= self.upper + TOLERANCE), axis=-2)
        if self.kind == "per_date":
            return np.asarray(inside)
        total = array.sum(axis=-2)
        if self.kind == "mean":
            means = total / self.num_dates
            return np.asarray(inside & (np.abs(means - self.centers) <= self.radius + TOLERANCE))
        leave_one_out = (total[..., None, :] - array) / (self.num_dates - 1)
        close = np.abs(leave_one_out - self.centers) <= self.radius + TOLERANCE
        return np.asarray(inside & np.all(close, axis=-2))
