"""Reporting strategies for the repeated resource allocation env (Zhu 2022, Sections 2.4 and 3).

- ``truthful_report``: report the true endowment every date (``id`` in the paper).
- ``misreport``: an adversary reporting ``factor`` times its endowment every date.
- ``reasonable``: Definition (1): truthful while ``P^n(omega^n not in Omega*n | own history) * R < epsilon`` has
  held at every date so far; afterwards it deviates, reporting the smallest value that keeps its history
  continuable inside Omega*n (which maximises its own linked VCG transfer without being retracted). The
  probability is estimated by Monte Carlo from the agent's own marginal (the credal member of the env's
  ``public_context``): ``samples`` completions of its remaining dates, standard error at most
  ``0.5 / sqrt(samples)``. Exact only for members whose dates are independent for an agent (the conditional
  law of the future is then the marginal); for others it raises a ValueError. R is Proposition 1's bound
  R-bar of the env's design.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from linkmech.agents.base import Seat, Strategy, register
from linkmech.mechanisms.omega_star import OmegaStar, can_continue, regret_bound


def _report(value: float) -> np.ndarray:
    return np.array([max(float(value), 0.0)], dtype=np.float32)


def _own_history(seat: Seat, observation: np.ndarray) -> tuple[int, np.ndarray, float]:
    """(date index t, own endowments of dates < t, current endowment)."""
    num_dates = int(seat.context["num_dates"])
    date = int(round(float(seat.field(observation, "progress")[0]) * num_dates))
    history = np.asarray(seat.field(observation, "own_endowments")[:date], dtype=np.float64)
    return date, history, float(seat.field(observation, "endowment")[0])


@register
class TruthfulReport(Strategy):
    """Report the true endowment at every date (truth-telling, ``id``)."""

    name: ClassVar[str] = "truthful_report"

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> np.ndarray:
        """The current endowment."""
        seat, _ = self._ready()
        return _report(seat.field(observation, "endowment")[0])


@register
class Misreport(Strategy):
    """Report ``factor`` times the true endowment at every date: an adversary (factor 1 is truth).

    Args:
        factor: >= 0.
    """

    name: ClassVar[str] = "misreport"

    def __init__(self, factor: float = 1.5) -> None:
        super().__init__()
        if not (np.isfinite(factor) and factor >= 0):
            raise ValueError(f"factor: got {factor!r}; allowed are finite numbers >= 0")
        self.factor = float(factor)

    def params(self) -> dict[str, Any]:
        """``{"factor": ...}``."""
        return {"factor": self.factor}

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> np.ndarray:
        """Factor x endowment."""
        seat, _ = self._ready()
        return _report(self.factor * seat.field(observation, "endowment")[0])


@register
class Reasonable(Strategy):
    """Zhu's reasonable strategy (Definition 1): truthful while the expected regret stays below epsilon.

    Args:
        epsilon: the epsilon of the epsilon-ex-post equilibrium (> 0).
        samples: Monte Carlo completions per date (>= 10).
    """

    name: ClassVar[str] = "reasonable"

    def __init__(self, epsilon: float = 0.1, samples: int = 400) -> None:
        super().__init__()
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"epsilon: got {epsilon!r}; allowed are finite numbers > 0")
        if samples < 10:
            raise ValueError(f"samples: got {samples!r}; use at least 10")
        self.epsilon, self.samples = float(epsilon), int(samples)
        self.deviating = False

    def params(self) -> dict[str, Any]:
        """``{"epsilon": ..., "samples": ...}``."""
        return {"epsilon": self.epsilon, "samples": self.samples}

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start truthful."""
        super().reset(seat, rng)
        member = seat.context.get("member")
        if member is None or not member.statistics().independent:
            raise ValueError(
                "reasonable: needs the env's credal member with dates independent for each agent "
                "(its own future is then its marginal); got "
                f"{getattr(member, 'name', member)!r}"
            )
        self.deviating = False

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> np.ndarray:
        """Truth while the reasonableness condition has held at every date; else the smallest safe report."""
        seat, rng = self._ready()
        _, history, current = _own_history(seat, observation)
        if (
            not self.deviating
            and self.outside_probability(seat, history, current, rng) * self.regret(seat) >= self.epsilon
        ):
            self.deviating = True
        if not self.deviating:
            return _report(current)
        return _report(self.smallest_safe_report(seat, observation, history, current))

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
        self, seat: Seat, history: np.ndarray, current: float, rng: np.random.Generator
    ) -> float:
        """Monte Carlo estimate of P^n(omega^n not in Omega*n | own endowments up to today)."""
        omega_star: OmegaStar = seat.context["omega_star"]
        num_dates, num_agents = omega_star.num_dates, omega_star.num_agents
        known = np.append(history, current)
        draws = np.array(seat.context["member"].sample_episodes(self.samples, num_dates, 1, rng)[:, :, 0])
        draws[:, : len(known)] = known
        arrays = np.broadcast_to(omega_star.centers, (self.samples, num_dates, num_agents)).copy()
        arrays[:, :, seat.index] = draws
        return float(1.0 - omega_star.contains(arrays)[:, seat.index].mean())

    def smallest_safe_report(
        self, seat: Seat, observation: np.ndarray, history: np.ndarray, current: float
    ) -> float:
        """The smallest report in [0, current] after which the own report history can stay in Omega*n."""
        omega_star: OmegaStar = seat.context["omega_star"]
        reports = np.asarray(seat.field(observation, "own_reports")[: len(history)], dtype=np.float64)
        candidates = np.linspace(0.0, max(current, 1e-9), 65)
        prefix = np.broadcast_to(
            omega_star.centers, (len(candidates), len(reports) + 1, omega_star.num_agents)
        ).copy()
        prefix[:, : len(reports), seat.index] = reports
        prefix[:, -1, seat.index] = candidates
        feasible = can_continue(omega_star, prefix)[:, seat.index]
        return float(candidates[np.argmax(feasible)]) if feasible.any() else current
