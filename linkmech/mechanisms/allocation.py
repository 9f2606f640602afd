"""Repeated resource allocation (Zhu 2022, Section 3): efficient allocation, surplus, unlinked VCG, cost.

N agents, T dates. At date t agent n has ``endowments[..., t, n] = omega_t^n >= 0`` units of a project of type
f (strictly concave, C^1, f'(0) < inf); the principal has ``resource`` q-bar per date. Allocating ``a`` to an
agent with endowment omega yields ``omega * f(a / omega)`` (0 when omega = 0). The efficient allocation gives
each agent its endowment's share of the resource, ``A_t^n = omega_t^n / sum_m omega_t^m * q-bar``; with it
every project runs at the same intensity ``y_t = q-bar / sum_m omega_t^m`` and agent n's date-t surplus is
``omega_t^n f(y_t)``.

Arrays are batched: ``endowments`` has shape ``[..., T, N]`` (leading axes = independent episodes).
Discounting: surplus weighs date t (1-based) by ``beta**(t-1)``; transfers are paid at date T, so the
unlinked VCG transfer weighs date t by ``beta**(t-T)`` (Zhu's V), and its utility value is ``beta**(T-1)`` times
that. With beta = 1, cost / surplus = N - 1 exactly for every endowment array (each agent is paid everyone
else's surplus).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

CONCAVITY_GRID = np.concatenate([np.linspace(0.0, 2.0, 201), np.geomspace(2.0, 1e4, 200)[1:]])
"""Points at which a user-supplied f is checked (increasing, strictly concave, finite f'(0))."""


@dataclass(frozen=True)
class ProjectType:
    """A project type f: payoff of resource per unit of endowment, with its derivative.

    Attributes:
        name: short name.
        f: vectorised f(y) for y >= 0 (f(0) = 0).
        derivative: vectorised f'(y).
        curvature_ok_below: y below which ``y**2 f'(y)`` is nondecreasing, i.e. ``omega f(q / omega)``-type
            terms are convex in the endowment (``inf`` for log(1 + y); 2 for 1 - exp(-y)). Used by the
            linked VCG minimisation to decide when its convex method is exact.
    """

    name: str
    f: Callable[[FloatArray], FloatArray]
    derivative: Callable[[FloatArray], FloatArray]
    curvature_ok_below: float = float("inf")

    def __post_init__(self) -> None:
        check_project_type(self)

    @property
    def slope_at_zero(self) -> float:
        """f'(0), finite by assumption."""
        return float(self.derivative(np.zeros(1))[0])


def check_project_type(project: ProjectType, grid: FloatArray = CONCAVITY_GRID) -> None:
    """Raise a ValueError if f is not finite, increasing and strictly concave on ``grid``, or f'(0) = inf."""
    values = np.asarray(project.f(grid), dtype=np.float64)
    slopes = np.asarray(project.derivative(grid), dtype=np.float64)
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(slopes))):
        raise ValueError(
            f"project type {project.name!r}: f or f' is not finite on the test grid (f'(0) = {slopes[0]!r}); "
            "Zhu's model needs f'(0) < inf"
        )
    if abs(values[0]) > 1e-12:
        raise ValueError(f"project type {project.name!r}: f(0) = {values[0]!r}; f must map 0 to 0")
    if np.any(slopes < 0):
        raise ValueError(
            f"project type {project.name!r}: f' < 0 somewhere on [0, 1e4]; f must be nondecreasing"
        )
    flat = (np.diff(slopes) >= 0) & (slopes[:-1] > 1e-12)
    if np.any(flat):
        bad = float(grid[1:][flat][0])
        raise ValueError(
            f"project type {project.name!r}: f' does not strictly decrease near y = {bad:g}; f must be strictly concave"
        )
    secant = np.diff(values) / np.diff(grid)
    if np.max(np.abs(secant - (slopes[1:] + slopes[:-1]) / 2) / np.maximum(1.0, np.abs(secant))) > 1e-2:
        raise ValueError(f"project type {project.name!r}: the derivative does not match f on the test grid")


def _exp_f(y: FloatArray) -> FloatArray:
    return -np.expm1(-np.asarray(y, dtype=np.float64))


def _exp_slope(y: FloatArray) -> FloatArray:
    return np.exp(-np.asarray(y, dtype=np.float64))


def _log_f(y: FloatArray) -> FloatArray:
    return np.log1p(np.asarray(y, dtype=np.float64))


def _log_slope(y: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.asarray(y, dtype=np.float64))


EXPONENTIAL = ProjectType("1-exp(-y)", _exp_f, _exp_slope, 2.0)
"""f(y) = 1 - exp(-y); f'(0) = 1."""

LOG = ProjectType("log(1+y)", _log_f, _log_slope)
"""f(y) = log(1 + y); f'(0) = 1."""

PROJECT_TYPES = {"exp": EXPONENTIAL, "log": LOG}
"""Built-in project types by name."""


def check_endowments(endowments: FloatArray, field: str = "endowments") -> FloatArray:
    """The endowments as a float array ``[..., T, N]`` with T >= 1, N >= 2, all finite and >= 0."""
    array = np.asarray(endowments, dtype=np.float64)
    if array.ndim < 2 or array.shape[-1] < 2 or array.shape[-2] < 1:
        raise ValueError(f"{field}: got shape {array.shape}; expected [..., T >= 1 dates, N >= 2 agents]")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{field}: contains NaN or infinity; endowments must be finite numbers >= 0")
    if np.any(array < 0):
        raise ValueError(f"{field}: contains {float(array.min())!r}; endowments must be >= 0")
    return array


def intensities(endowments: FloatArray, resource: float) -> FloatArray:
    """``[..., T]`` resource per unit of total endowment, ``y_t = q-bar / sum_n omega_t^n`` (0 if no endowment)."""
    totals = endowments.sum(axis=-1)
    return np.where(totals > 0, resource / np.where(totals > 0, totals, 1.0), 0.0)


def efficient_allocation(endowments: FloatArray, resource: float) -> FloatArray:
    """``[..., T, N]`` allocation A_t^n = omega_t^n / sum_m omega_t^m * q-bar (all 0 when nobody has endowment)."""
    return endowments * intensities(endowments, resource)[..., None]


def date_weights(num_dates: int, discount: float, anchor: int = 1) -> FloatArray:
    """``[T]`` weights ``discount**(t - anchor)`` for t = 1..T (anchor 1: surplus; anchor T: transfers)."""
    return np.asarray(discount ** (np.arange(1, num_dates + 1) - anchor), dtype=np.float64)


def agent_date_surplus(endowments: FloatArray, resource: float, project: ProjectType) -> FloatArray:
    """``[..., T, N]`` undiscounted surplus omega_t^n f(y_t) of the efficient allocation."""
    return endowments * project.f(intensities(endowments, resource))[..., None]


def agent_surplus(
    endowments: FloatArray, resource: float, project: ProjectType, discount: float = 1.0
) -> FloatArray:
    """``[..., N]`` each agent's discounted surplus S^n under the efficient allocation."""
    weights = date_weights(endowments.shape[-2], discount)
    return np.einsum("...tn,t->...n", agent_date_surplus(endowments, resource, project), weights)


def unlinked_vcg_transfers(
    endowments: FloatArray, resource: float, project: ProjectType, discount: float = 1.0
) -> FloatArray:
    """``[..., N]`` Zhu's unlinked VCG transfers V^n: everyone else's surplus, weighted by beta**(t-T)."""
    surplus = agent_date_surplus(endowments, resource, project)
    weights = date_weights(endowments.shape[-2], discount, anchor=endowments.shape[-2])
    per_date_others = surplus.sum(axis=-1, keepdims=True) - surplus
    return np.einsum("...tn,t->...n", per_date_others, weights)


def cost(transfers: FloatArray) -> FloatArray:
    """``[...]`` total transfer C = sum_n w^n."""
    return np.asarray(transfers, dtype=np.float64).sum(axis=-1)
