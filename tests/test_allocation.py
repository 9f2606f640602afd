"""Repeated resource allocation core: allocation, surplus, unlinked VCG (cost/surplus = N - 1), bad input."""

from __future__ import annotations

import numpy as np
import pytest

from linkmech.mechanisms.allocation import (
    EXPONENTIAL,
    LOG,
    ProjectType,
    agent_surplus,
    check_endowments,
    cost,
    efficient_allocation,
    unlinked_vcg_transfers,
)


@pytest.mark.parametrize("project", [EXPONENTIAL, LOG], ids=lambda p: p.name)
@pytest.mark.parametrize("seed", range(5))
def test_unlinked_cost_over_surplus_is_n_minus_one(project: ProjectType, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    endowments = rng.exponential(1.0, size=(3, int(rng.integers(1, 7)), n))
    endowments[0, 0, 0] = 0.0  # an agent with no endowment on a date
    surplus = agent_surplus(endowments, 2.5, project).sum(axis=-1)
    ratio = cost(unlinked_vcg_transfers(endowments, 2.5, project)) / surplus
    assert np.allclose(ratio, n - 1), f"cost/surplus {ratio} must be N - 1 = {n - 1}"


def test_allocation_hand_case() -> None:
    endowments = np.array([[1.0, 3.0], [0.0, 0.0]])  # T = 2, N = 2
    allocation = efficient_allocation(endowments, 2.0)
    assert allocation.tolist() == [[0.5, 1.5], [0.0, 0.0]], f"shares of q-bar = 2: {allocation.tolist()}"
    surplus = agent_surplus(endowments, 2.0, LOG)
    # both projects run at y = 2 / 4 = 0.5: surplus omega * log(1.5)
    assert np.allclose(surplus, [np.log(1.5), 3 * np.log(1.5)]), f"surplus {surplus}"


def test_discounted_transfers_pay_at_the_last_date() -> None:
    endowments = np.ones((2, 2))
    transfers = unlinked_vcg_transfers(endowments, 2.0, EXPONENTIAL, discount=0.5)
    per_date = 1.0 * EXPONENTIAL.f(np.array([1.0]))[0]
    assert np.allclose(transfers, per_date * (0.5**-1 + 1.0)), "date t weighs beta**(t - T)"


@pytest.mark.parametrize(
    ("f", "slope", "message"),
    [
        (
            np.sqrt,
            lambda y: np.divide(0.5, np.sqrt(y), out=np.full_like(y, np.inf), where=y > 0),
            "f'\\(0\\) < inf",
        ),
        (lambda y: y, lambda y: np.ones_like(y), "strictly concave"),
        (lambda y: 1 + y * 0, lambda y: np.zeros_like(y), "f\\(0\\)"),
        (lambda y: np.log1p(y), lambda y: 2.0 / (1 + y), "derivative does not match"),
    ],
)
def test_bad_project_types(f, slope, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProjectType("bad", f, slope)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones(3), "expected \\[..., T >= 1 dates, N >= 2 agents\\]"),
        (np.ones((2, 1)), "N >= 2"),
        (np.array([[1.0, np.nan]]), "NaN or infinity"),
        (np.array([[1.0, -0.5]]), "must be >= 0"),
    ],
)
def test_bad_endowments(array: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_endowments(array)
