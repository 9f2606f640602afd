"""Type processes: how each agent's types are drawn across the K linked problems.

Every process keeps each problem's marginal equal to ``P_i`` and draws independently across agents; only
the dependence across problems differs. A process draws one episode, ``[K, n]`` type indices, from the
generator it is given and nothing else (:meth:`TypeProcess.sample`).

- :class:`IID`: independent across problems (the paper's main setting).
- :class:`RepeatCorrelated`: Appendix 3's first construction, made a chain over K problems: problem
  ``k + 1`` repeats the type of problem ``k`` with probability ``p`` and is drawn afresh from P otherwise.
- :class:`IntensityCorrelated`: Appendix 3's second construction for voting-like types (signed values of
  two intensities, each intensity with probability 1/2): the sign is drawn afresh, and the intensity equals
  the previous problem's with probability ``(1 + p) / 2``, ``p`` in [-1, 1].
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray, as_fraction


class TypeProcess(ABC):
    """Draws the true types of one episode."""

    name: str = "process"

    def check(self, problem: FiniteProblem) -> None:  # noqa: B027 - optional hook
        """Raise a ValueError if this process cannot drive ``problem``."""

    @abstractmethod
    def sample(self, problem: FiniteProblem, num_problems: int, rng: np.random.Generator) -> IntArray:
        """``[K, n]`` type indices for one episode, drawn only from ``rng``."""


def draw_iid(problem: FiniteProblem, shape: tuple[int, ...], rng: np.random.Generator) -> IntArray:
    """Independent types of shape ``shape + (n,)`` from each agent's ``P_i`` (inverse CDF of one uniform)."""
    uniforms = rng.random(shape + (problem.num_agents,))
    cdf, last = _cdf_table(problem)
    return np.minimum(count_at_or_below(cdf, uniforms), last)


def count_at_or_below(cdf: FloatArray, uniforms: FloatArray) -> IntArray:
    """``[..., n]``: how many entries of agent i's row ``cdf[i]`` (``[n, T]``) are <= its uniform.

    The inverse CDF's index (``searchsorted(cdf[i], u, side="right")``) for every agent at once; one pass per
    column, as T is small and the batch large.
    """
    index = np.zeros(uniforms.shape, dtype=np.int64)
    for column in cdf.T:
        index += column <= uniforms
    return index


def _cdf_table(problem: FiniteProblem) -> tuple[FloatArray, IntArray]:
    """Each agent's CDF ``[n, T]`` (padded with inf) and its last type index ``[n]``, remembered per problem."""
    cached = problem.__dict__.get("_cdf_table")
    if cached is None or cached[0] is not problem.type_probs:
        table = np.full((problem.num_agents, max(problem.type_counts)), np.inf)
        for i, probs in enumerate(problem.type_probs):
            table[i, : len(probs)] = np.cumsum(probs)
        cached = (problem.type_probs, table, np.array(problem.type_counts) - 1)
        problem.__dict__["_cdf_table"] = cached
    return cached[1], cached[2]


@dataclass(frozen=True)
class IID(TypeProcess):
    """Types independent across problems and agents, each from ``P_i``."""

    name: str = "iid"

    def sample(self, problem: FiniteProblem, num_problems: int, rng: np.random.Generator) -> IntArray:
        """Independent draws."""
        return draw_iid(problem, (num_problems,), rng)


@dataclass(frozen=True)
class RepeatCorrelated(TypeProcess):
    """Problem k+1 repeats problem k's type with probability ``p``, else a fresh draw (Appendix 3, first)."""

    p: float = 0.5
    name: str = "repeat"

    def __post_init__(self) -> None:
        _check_unit(self.p, "p", 0.0)

    def sample(self, problem: FiniteProblem, num_problems: int, rng: np.random.Generator) -> IntArray:
        """A chain of repeats and fresh draws."""
        fresh = draw_iid(problem, (num_problems,), rng)
        repeat = rng.random((num_problems, problem.num_agents)) < self.p
        types = fresh.copy()
        for k in range(1, num_problems):
            types[k] = np.where(repeat[k], types[k - 1], fresh[k])
        return types


@dataclass(frozen=True)
class IntensityCorrelated(TypeProcess):
    """Fresh sign, intensity kept with probability ``(1 + p) / 2`` (Appendix 3, second construction).

    Needs signed types of two intensities, symmetric in sign, each intensity with total probability 1/2
    and each signed type with probability 1/4 (as in Example 1); ``p`` in [-1, 1].
    """

    p: float = 0.0
    name: str = "intensity"

    def __post_init__(self) -> None:
        _check_unit(self.p, "p", -1.0)

    def check(self, problem: FiniteProblem) -> None:
        """Require Example 1's type structure."""
        for i, values in enumerate(problem.type_values):
            magnitudes = sorted({abs(float(v)) for v in values})
            signed = sorted(float(v) for v in values)
            quarter = as_fraction("1/4", "p")
            if (
                len(values) != 4
                or len(magnitudes) != 2
                or signed != sorted([-m for m in magnitudes] + magnitudes)
                or any(p != quarter for p in problem.exact_type_probs[i])
            ):
                raise ValueError(
                    f"IntensityCorrelated: agent {i} has types {signed} with probabilities "
                    f"{[str(p) for p in problem.exact_type_probs[i]]}; it needs four signed values of two "
                    "intensities (+-a, +-b), each with probability 1/4, as in Example 1"
                )

    def sample(self, problem: FiniteProblem, num_problems: int, rng: np.random.Generator) -> IntArray:
        """Signs fresh; intensities a chain that stays with probability (1 + p) / 2."""
        self.check(problem)
        n = problem.num_agents
        positive = rng.random((num_problems, n)) < 0.5
        high = rng.random((num_problems, n)) < 0.5
        keep = rng.random((num_problems, n)) < (1.0 + self.p) / 2.0
        for k in range(1, num_problems):
            high[k] = np.where(keep[k], high[k - 1], ~high[k - 1])
        types = np.empty((num_problems, n), dtype=np.int64)
        for i, values in enumerate(problem.type_values):
            magnitude = np.where(high[:, i], np.abs(values).max(), np.abs(values).min())
            wanted = np.where(positive[:, i], magnitude, -magnitude)
            types[:, i] = np.argmax(values[None, :] == wanted[:, None], axis=1)
        return types


def _check_unit(value: float, field: str, low: float) -> None:
    if not np.isfinite(value) or not low <= value <= 1.0:
        raise ValueError(f"{field}: got {value!r}; allowed range is [{low:g}, 1]")


PROCESSES: dict[str, type[TypeProcess]] = {
    "iid": IID,
    "repeat": RepeatCorrelated,
    "intensity": IntensityCorrelated,
}
"""Type processes by name (the ``process`` option of the environments)."""


def make_process(name: str | TypeProcess, p: float | None = None) -> TypeProcess:
    """A process from its name (``iid``, ``repeat``, ``intensity``) and correlation ``p``."""
    if isinstance(name, TypeProcess):
        return name
    if name not in PROCESSES:
        raise ValueError(f"process: got {name!r}; allowed are {sorted(PROCESSES)} or a TypeProcess instance")
    if name == "iid":
        if p is not None:
            raise ValueError(f"correlation: got {p!r} for process 'iid'; iid types take no correlation")
        return IID()
    return PROCESSES[name](p=0.0 if p is None else float(p))  # type: ignore[call-arg]
