"""Members of a credal set: endowment processes a designer who knows only statistics cannot tell apart.

Zhu (2022) assumes the designer knows only statistics of the endowment process (Section 2.1's credal set
P; Section 3.5). Each member here is one law P: it draws endowments ``[T, N]`` (``omega[t, n]``, date t,
agent n) from a numpy Generator and nothing else, and says which :class:`Statistics` a designer may be told
about it (mean, bound w-bar, a variance bound, independence across dates).

- :class:`IIDUniform`: iid uniform on [low, high].
- :class:`IIDSkewed`: iid ``w-bar * Beta(a, b)`` with w-bar chosen so that the mean is ``mean``; with the
  defaults (mean 1, Beta(0.5, 2), w-bar = 5) it has the same mean as ``IIDUniform(0, 2)`` but is strongly
  right-skewed (median about 0.54, variance 8/7 against 1/3).
- :class:`IndependentNonIdentical`: independent, bounded by w-bar, common mean, but every cell (t, n) has its
  own two-point law (cell-specific spreads from a fixed deterministic pattern).
- :class:`ShiftCorrelated`: Section 3.5's example ``omega[t, n] = s_{n+t}`` with s iid uniform on [low, high]:
  perfectly correlated along anti-diagonals (agent n + 1's date-t endowment is agent n's date-(t+1) one).
- :class:`PersistentShock`: ``omega[t, n] = s^n`` for all t; same mean, bound and variance as the uniform, but
  dependent across dates (a member only of a credal set that does not claim independence).

Every member but PersistentShock keeps each agent's endowments independent across dates, which is what the Hoeffding, Bernstein
and Chebyshev designers use (``Statistics.independent``). ShiftCorrelated is correlated across agents and is
not a *private* probability in Section 2.1's sense (other agents' histories reveal agent n's future); the
bound on ``P^n(omega^n not in Omega*n)`` only uses agent n's marginal and still holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from linkmech.mechanisms.allocation import FloatArray
from linkmech.mechanisms.omega_star import Statistics


def _check_sizes(num_episodes: int, num_dates: int, num_agents: int, rng: np.random.Generator) -> None:
    for field, value in (
        ("num_episodes", num_episodes),
        ("num_dates", num_dates),
        ("num_agents", num_agents),
    ):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{field}: got {value!r}; allowed are integers >= 1")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng: got {type(rng).__name__}; give a numpy.random.Generator (np.random.default_rng(seed))"
        )


def _check_range(low: float, high: float, owner: str) -> None:
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low < high):
        raise ValueError(f"{owner}: got [low, high] = [{low!r}, {high!r}]; need finite 0 <= low < high")


class CredalMember(ABC):
    """One law of endowments ``[T, N]`` in the credal set."""

    name: str = "member"

    def sample(self, num_dates: int, num_agents: int, rng: np.random.Generator) -> FloatArray:
        """``[T, N]`` endowments of one episode, drawn only from ``rng``."""
        return self.sample_episodes(1, num_dates, num_agents, rng)[0]

    @abstractmethod
    def sample_episodes(
        self, num_episodes: int, num_dates: int, num_agents: int, rng: np.random.Generator
    ) -> FloatArray:
        """``[E, T, N]`` endowments of E independent episodes, drawn only from ``rng``."""

    @abstractmethod
    def statistics(self) -> Statistics:
        """What a designer may be told about this law."""


@dataclass(frozen=True)
class IIDUniform(CredalMember):
    """omega_t^n iid uniform on [low, high]: mean (low + high) / 2, variance (high - low)^2 / 12."""

    low: float = 0.0
    high: float = 2.0
    name: str = "iid_uniform"

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, "IIDUniform")

    def sample_episodes(
        self, num_episodes: int, num_dates: int, num_agents: int, rng: np.random.Generator
    ) -> FloatArray:
        """Independent uniform draws."""
        _check_sizes(num_episodes, num_dates, num_agents, rng)
        return rng.uniform(self.low, self.high, (num_episodes, num_dates, num_agents))

    def statistics(self) -> Statistics:
        """Exact mean and variance, bounds [low, high], independent."""
        return Statistics(
            mean=(self.low + self.high) / 2,
            bound=self.high,
            variance=(self.high - self.low) ** 2 / 12,
            independent=True,
            lower=self.low,
        )


@dataclass(frozen=True)
class IIDSkewed(CredalMember):
    """omega_t^n iid ``w-bar * Beta(a, b)`` with ``w-bar = mean (a + b) / a``, so that E omega = mean.

    Defaults: mean 1 (as ``IIDUniform(0, 2)``), Beta(0.5, 2), w-bar = 5; variance
    ``w-bar^2 a b / ((a + b)^2 (a + b + 1)) = 8/7`` and most mass near 0 (a J-shaped, right-skewed law).
    """

    mean: float = 1.0
    a: float = 0.5
    b: float = 2.0
    name: str = "iid_skewed"

    def __post_init__(self) -> None:
        for field, value in (("mean", self.mean), ("a", self.a), ("b", self.b)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"IIDSkewed: got {field} = {value!r}; it must be a finite number > 0")

    @property
    def wbar(self) -> float:
        """The upper end of the support, ``mean (a + b) / a``."""
        return self.mean * (self.a + self.b) / self.a

    def sample_episodes(
        self, num_episodes: int, num_dates: int, num_agents: int, rng: np.random.Generator
    ) -> FloatArray:
        """Independent scaled Beta draws."""
        _check_sizes(num_episodes, num_dates, num_agents, rng)
        return self.wbar * rng.beta(self.a, self.b, (num_episodes, num_dates, num_agents))

    def statistics(self) -> Statistics:
        """Exact mean and variance, bounds [0, w-bar], independent."""
        total = self.a + self.b
        variance = self.wbar**2 * self.a * self.b / (total**2 * (total + 1))
        return Statistics(mean=self.mean, bound=self.wbar, variance=variance, independent=True)


@dataclass(frozen=True)
class IndependentNonIdentical(CredalMember):
    """Independent, bounded by w-bar, common mean, but every cell (t, n) with its own two-point law.

    Cell (t, n) (1-based) takes the values ``lo = mean (1 - h)`` and ``hi = mean + (w-bar - mean) h'`` with
    ``P(hi) = (mean - lo) / (hi - lo)`` (so its mean is exactly ``mean``), where
    ``h = 0.1 + 0.9 frac(0.6180340 t + 0.4142136 n)`` and ``h' = 0.1 + 0.9 frac(0.7548777 t + 0.5698403 n)``
    are fixed spreads in [0.1, 1). Cell variances ``(mean - lo)(hi - mean)`` differ; the told variance is the
    Bhatia-Davis bound ``mean (w-bar - mean)``, which bounds them all (the law itself depends on (t, n), so only
    a bound can be common).
    """

    mean: float = 1.0
    wbar: float = 2.0
    name: str = "independent_non_identical"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mean) and np.isfinite(self.wbar) and 0 < self.mean < self.wbar):
            raise ValueError(
                f"IndependentNonIdentical: got mean = {self.mean!r}, wbar = {self.wbar!r}; need 0 < mean < wbar"
            )

    def cells(self, num_dates: int, num_agents: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(lo, hi, p_hi)``, each ``[T, N]``: the two values of every cell and the probability of ``hi``."""
        t = np.arange(1, num_dates + 1, dtype=np.float64)[:, None]
        n = np.arange(1, num_agents + 1, dtype=np.float64)[None, :]
        spread_down = 0.1 + 0.9 * np.mod(0.6180340 * t + 0.4142136 * n, 1.0)
        spread_up = 0.1 + 0.9 * np.mod(0.7548777 * t + 0.5698403 * n, 1.0)
        lo = self.mean * (1.0 - spread_down)
        hi = self.mean + (self.wbar - self.mean) * spread_up
        return lo, hi, (self.mean - lo) / (hi - lo)

    def sample_episodes(
        self, num_episodes: int, num_dates: int, num_agents: int, rng: np.random.Generator
    ) -> FloatArray:
        """Independent two-point draws, cell by cell."""
        _check_sizes(num_episodes, num_dates, num_agents, rng)
        lo, hi, p_hi = self.cells(num_dates, num_agents)
        up = rng.random((num_episodes, num_dates, num_agents)) < p_hi
        return np.where(up, hi, lo)

    def statistics(self) -> Statistics:
        """Common mean, bound w-bar, variance bound mean (w-bar - mean), independent."""
        return Statistics(
            mean=self.mean, bound=self.wbar, variance=self.mean * (self.wbar - self.mean), independent=True
        )


@dataclass(frozen=True)
class ShiftCorrelated(CredalMember):
    """Section 3.5's ``omega_t^n = s_{n+t}`` with ``s_2, s_3, ...`` iid uniform on [low, high].

    Endowments with the same t + n are equal (perfectly correlated along anti-diagonals); each agent's own
    sequence ``s_{n+1}, ..., s_{n+T}`` is iid, so the marginal statistics are those of ``IIDUniform(low, high)``.
    """

    low: float = 0.0
    high: float = 2.0
    name: str = "shift_correlated"

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, "ShiftCorrelated")

    def sample_episodes(
        self, num_episodes: int, num_dates: int, num_agents: int, rng: np.random.Generator
    ) -> FloatArray:
        """One draw of ``s_2 .. s_{N+T}`` per episode, laid out along anti-diagonals."""
        _check_sizes(num_episodes, num_dates, num_agents, rng)
        shifts = rng.uniform(self.low, self.high, (num_episodes, num_dates + num_agents - 1))
        index = np.arange(num_dates)[:, None] + np.arange(num_agents)[None, :]
        return shifts[:, index]

    def statistics(self) -> Statistics:
        """Mean, variance and bounds of s; independent across dates for each agent (not across agents)."""
        return Statistics(
            mean=(self.low + self.high) / 2,
            bound=self.high,
            variance=(self.high - self.low) ** 2 / 12,
            independent=True,
            lower=self.low,
        )


@dataclass(frozen=True)
class PersistentShock(CredalMember):
    """``omega_t^n = s^n`` for every date, with ``s^n`` iid uniform on [low, high] across agents.

    Same mean, bound and variance as ``IIDUniform(low, high)``, but *not* independent across dates: each
    leave-one-out mean equals s^n and never concentrates. It is in the credal set of a designer told only the
    mean, bound and variance (``independent=False``): Hoeffding and Bernstein designs do not apply to it, and
    a Hoeffding bound computed as if the dates were independent fails for it (see the tests).
    """

    low: float = 0.0
    high: float = 2.0
    name: str = "persistent_shock"

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, "PersistentShock")

    def sample_episodes(
        self, num_episodes: int, num_dates: int, num_agents: int, rng: np.random.Generator
    ) -> FloatArray:
        """One uniform draw per agent and episode, repeated over the dates."""
        _check_sizes(num_episodes, num_dates, num_agents, rng)
        shocks = rng.uniform(self.low, self.high, (num_episodes, 1, num_agents))
        return np.repeat(shocks, num_dates, axis=1)

    def statistics(self) -> Statistics:
        """Mean, variance and bounds of s; dependent across dates."""
        return Statistics(
            mean=(self.low + self.high) / 2,
            bound=self.high,
            variance=(self.high - self.low) ** 2 / 12,
            independent=False,
            lower=self.low,
        )


CREDAL_MEMBERS: dict[str, CredalMember] = {
    member.name: member
    for member in (IIDUniform(), IIDSkewed(), IndependentNonIdentical(), ShiftCorrelated(), PersistentShock())
}
"""Default members by name; all have mean 1, so a designer told only the mean cannot tell them apart. All but
``persistent_shock`` are independent across dates for each agent (``statistics().independent``)."""
