"""Type processes keep P as the marginal and correlate problems as Appendix 3 describes."""

from __future__ import annotations

import numpy as np
import pytest

from linkmech.mechanisms import (
    IID,
    BargainingProblem,
    IntensityCorrelated,
    PublicGoodsProblem,
    RepeatCorrelated,
    VotingProblem,
)
from linkmech.mechanisms.processes import make_process


def _draw(process, problem, episodes: int = 3000, k: int = 4) -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.stack([process.sample(problem, k, rng) for _ in range(episodes)])  # [E, K, n]


@pytest.mark.parametrize(
    "process", [IID(), RepeatCorrelated(0.6), IntensityCorrelated(-0.5), IntensityCorrelated(1.0)]
)
def test_marginal_is_p_on_every_problem(process) -> None:
    problem = VotingProblem()
    types = _draw(process, problem)
    for k in range(types.shape[1]):
        shares = np.bincount(types[:, k, 0], minlength=4) / len(types)
        assert np.allclose(shares, 0.25, atol=4 * np.sqrt(0.25 * 0.75 / len(types))), f"problem {k}: {shares}"


def test_repeat_probability() -> None:
    types = _draw(RepeatCorrelated(0.6), PublicGoodsProblem(2))
    same = (types[:, 1:] == types[:, :-1]).mean()
    expected = 0.6 + 0.4 * (1 / 9 + 4 / 9)  # repeat, or a fresh draw that happens to match
    assert abs(same - expected) < 0.02, f"P(same type on consecutive problems) = {same}, expected {expected}"


@pytest.mark.parametrize("p", [-1.0, 0.0, 0.5, 1.0])
def test_intensity_kept_with_probability_one_plus_p_over_two(p: float) -> None:
    problem = VotingProblem()
    types = _draw(IntensityCorrelated(p), problem)
    magnitude = np.abs(problem.type_values[0][types])
    kept = (magnitude[:, 1:] == magnitude[:, :-1]).mean()
    assert abs(kept - (1 + p) / 2) < 0.02, (
        f"p={p}: intensity kept with frequency {kept}, expected {(1 + p) / 2}"
    )


def test_same_generator_same_draws() -> None:
    problem = VotingProblem(3)
    first = RepeatCorrelated(0.3).sample(problem, 10, np.random.default_rng(4))
    second = RepeatCorrelated(0.3).sample(problem, 10, np.random.default_rng(4))
    assert np.array_equal(first, second), "a process must draw only from the generator it is given"


def test_process_errors() -> None:
    with pytest.raises(ValueError, match=r"p: got 1.5; allowed range is \[0, 1\]"):
        RepeatCorrelated(1.5)
    with pytest.raises(ValueError, match=r"p: got -2.0; allowed range is \[-1, 1\]"):
        IntensityCorrelated(-2.0)
    with pytest.raises(ValueError, match="it needs four signed values of two intensities"):
        IntensityCorrelated(0.0).check(BargainingProblem())
    with pytest.raises(ValueError, match="process: got 'markov'"):
        make_process("markov")
    with pytest.raises(ValueError, match="iid types take no correlation"):
        make_process("iid", 0.5)
