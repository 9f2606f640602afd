"""Reporting strategies for the repeated resource allocation env (Zhu 2022, Sections 2.4 and 3).

- ``truthful_report``: report the true endowment every date (``id`` in the paper).
- ``misreport``: an adversary reporting ``factor`` times its endowment every date.
- ``reasonable``: Definition (1): truthful while ``P^n(omega^n not in Omega*n | own history) * R < epsilon`` has
  held at every date so far; afterwards it deviates, reporting the smallest value that keeps its history
  continuable inside Omega*n (which maximises its own linked VCG transfer without being retracted). The
  probability is estimated by Monte Carlo from the agent's own marginal (the credal member of the env's
  ``public_context``): ``samples`` completions of its remaining dates, standard error at most
  ``0.5 / sqrt(samples)``; each episode draws its completions once, at its start, from its own generator
  (common random numbers across its dates). Exact only for members whose dates are independent for an agent (the conditional
  law of the future is then the marginal); for others it raises a ValueError. R is Proposition 1's bound
  R-bar of the env's design.

Each is a policy kernel over a batch of episodes (:class:`~linkmech.agents.base.KernelStrategy`) that gives
the reports ``[B, 1]`` directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from linkmech.agents.base import Episodes, KernelStrategy, Seat, register
from linkmech.mechanisms.omega_star import OmegaStar, can_continue, regret_bound
from linkmech.mechanisms.problem import FloatArray

CANDIDATES = 65
"""Reports tried between 0 and the endowment when a deviating reasonable agent looks for the smallest safe one."""

ROWS_PER_CHUNK = 1 << 22
"""Largest number of (row, sample, date, agent) entries a Monte Carlo containment test builds at once."""


def _reports(values: np.ndarray) -> np.ndarray:
    """``[B, 1]`` float32 reports, negatives raised to 0."""
    return np.maximum(np.asarray(values, dtype=np.float64), 0.0).astype(np.float32)[:, None]


def own_history(seat: Seat, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dates [B], own endowments [B, T] (zeros from today on), current endowment [B])``."""
    num_dates = int(seat.context["num_dates"])
    dates = np.rint(seat.field(observations, "progress")[:, 0] * num_dates).astype(np.int64)
    history = np.asarray(seat.field(observations, "own_endowments"), dtype=np.float64)
    history = np.where(np.arange(num_dates)[None, :] < dates[:, None], history, 0.0)
    return dates, history, np.asarray(seat.field(observations, "endowment")[:, 0], dtype=np.float64)


@register
class TruthfulReport(KernelStrategy):
    """Report the true endowment at every date (truth-telling, ``id``)."""

    name: ClassVar[str] = "truthful_report"
    uniforms_per_step: ClassVar[int] = 0

    def observed_fields(self) -> frozenset[str]:
        """The endowment."""
        return frozenset({"endowment"})

    def decide(self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """The current endowments ``[B, 1]``."""
        return _reports(episodes.seat.field(observations, "endowment")[:, 0])


@register
class Misreport(KernelStrategy):
    """Report ``factor`` times the true endowment at every date: an adversary (factor 1 is truth).

    Args:
        factor: >= 0.
    """

    name: ClassVar[str] = "misreport"
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, factor: float = 1.5) -> None:
        super().__init__()
        if not (np.isfinite(factor) and factor >= 0):
            raise ValueError(f"factor: got {factor!r}; allowed are finite numbers >= 0")
        self.factor = float(factor)

    def params(self) -> dict[str, Any]:
        """``{"factor": ...}``."""
        return {"factor": self.factor}

    def observed_fields(self) -> frozenset[str]:
        """The endowment."""
        return frozenset({"endowment"})

    def decide(self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Factor x endowment, ``[B, 1]``."""
        return _reports(self.factor * episodes.seat.field(observations, "endowment")[:, 0])


@register
class Reasonable(KernelStrategy):
    """Zhu's reasonable strategy (Definition 1): truthful while the expected regret stays below epsilon.

    Args:
        epsilon: the epsilon of the epsilon-ex-post equilibrium (> 0).
        samples: Monte Carlo completions per episode (>= 10).
    """

    name: ClassVar[str] = "reasonable"
    uniforms_per_step: ClassVar[int] = 0

    def __init__(self, epsilon: float = 0.1, samples: int = 400) -> None:
        super().__init__()
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon: got {epsilon!r}; allowed are finite numbers > 0")
        if samples < 10:
            raise ValueError(f"samples: got {samples!r}; use at least 10")
        self.epsilon, self.samples = float(epsilon), int(samples)

    def params(self) -> dict[str, Any]:
        """``{"epsilon": ..., "samples": ...}``."""
        return {"epsilon": self.epsilon, "samples": self.samples}

    @property
    def deviating(self) -> bool:
        """Whether the episode started by :meth:`reset` has deviated from truth (False before it starts)."""
        if self._episodes is None:
            return False
        return bool(self._episodes.memory["deviating"][0])

    def prepare(self, seat: Seat) -> float:
        """Check the seat's credal member (dates independent for the agent) and compute R-bar."""
        member = seat.context.get("member")
        if member is None or not member.statistics().independent:
            raise ValueError(
                "reasonable: needs the env's credal member with dates independent for each agent "
                "(its own future is then its marginal); got "
                f"{getattr(member, 'name', member)!r}"
            )
        return self.regret(seat)

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """Truthful so far, and ``samples`` completions ``[B, samples, T]`` of the agent's own endowments."""
        seat = episodes.seat
        member, num_dates = seat.context["member"], int(seat.context["num_dates"])
        completions = episodes.draw(
            lambda rng: member.sample_episodes(self.samples, num_dates, 1, rng)[:, :, 0],
            "reasonable's Monte Carlo completions",
        )
        return {"deviating": np.zeros(episodes.size, dtype=bool), "completions": completions}

    def observed_fields(self) -> frozenset[str]:
        """Progress, endowment, own endowments and own reports (and its memory: deviating or not)."""
        return frozenset({"progress", "endowment", "own_endowments", "own_reports"})

    def decide(self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Truth while the reasonableness condition has held at every date; else the smallest safe report."""
        seat, memory = episodes.seat, episodes.memory
        dates, history, current = own_history(seat, observations)
        checking = np.flatnonzero(~memory["deviating"])
        if len(checking):
            outside = self.outside_probability(
                seat, dates[checking], history[checking], current[checking], memory["completions"][checking]
            )
            memory["deviating"][checking] = outside * episodes.prepared >= self.epsilon
        reports = current.copy()
        deviating = np.flatnonzero(memory["deviating"])
        if len(deviating):
            own_reports = np.asarray(seat.field(observations[deviating], "own_reports"), dtype=np.float64)
            reports[deviating] = self.smallest_safe_report(
                seat, dates[deviating], own_reports, current[deviating]
            )
        return _reports(reports)

    def regret(self, seat: Seat) -> float:
        """Proposition 1's R-bar for this env."""
        design = seat.context.get("design")
        if design is not None:
            return float(design.regret)
        omega_star: OmegaStar = seat.context["omega_star"]
        return regret_bound(
            omega_star.num_agents,
            omega_star.num_dates,
            seat.context["resource"],
            seat.context["project"],
            self.epsilon,
            seat.context["discount"],
        )

    def outside_probability(
        self, seat: Seat, dates: np.ndarray, history: np.ndarray, current: np.ndarray, completions: np.ndarray
    ) -> FloatArray:
        """``[R]`` Monte Carlo estimates of P^n(omega^n not in Omega*n | own endowments up to today).

        Row r's own endowments are its history, today's endowment, then its ``completions [R, samples, T]``
        from tomorrow on; the other agents sit at Omega*'s centers (only the agent's own sequence matters).
        """
        omega_star: OmegaStar = seat.context["omega_star"]
        num_dates, num_agents = omega_star.num_dates, omega_star.num_agents
        known = history.copy()
        known[np.arange(len(dates)), np.minimum(dates, num_dates - 1)] = current
        past = np.arange(num_dates)[None, None, :] <= dates[:, None, None]
        own = np.where(past, known[:, None, :], completions)  # [R, samples, T]
        out = np.empty(len(dates))
        chunk = max(1, ROWS_PER_CHUNK // (own.shape[1] * num_dates * num_agents))
        for start in range(0, len(dates), chunk):
            part = own[start : start + chunk]
            arrays = np.broadcast_to(omega_star.centers, (*part.shape[:2], num_dates, num_agents)).copy()
            arrays[..., seat.index] = part
            out[start : start + chunk] = 1.0 - omega_star.contains(arrays)[..., seat.index].mean(axis=1)
        return out

    def smallest_safe_report(
        self, seat: Seat, dates: np.ndarray, own_reports: np.ndarray, current: np.ndarray
    ) -> FloatArray:
        """``[R]`` the smallest report in [0, current] after which the own report history can stay in Omega*n."""
        omega_star: OmegaStar = seat.context["omega_star"]
        out = current.copy()
        for date in np.unique(dates):
            rows = np.flatnonzero(dates == date)
            candidates = np.linspace(0.0, 1.0, CANDIDATES)[None, :] * np.maximum(current[rows], 1e-9)[:, None]
            prefix = np.broadcast_to(
                omega_star.centers, (len(rows), CANDIDATES, int(date) + 1, omega_star.num_agents)
            ).copy()
            prefix[:, :, : int(date), seat.index] = own_reports[rows, None, : int(date)]
            prefix[:, :, -1, seat.index] = candidates
            feasible = can_continue(omega_star, prefix)[..., seat.index]  # [R, CANDIDATES]
            first = np.argmax(feasible, axis=1)
            found = feasible.any(axis=1)
            out[rows] = np.where(found, candidates[np.arange(len(rows)), first], current[rows])
        return out
