"""The batched linking engine: budgets, decisions equal to f under feasible truth, mixing, forms, batching."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from linkmech.mechanisms import (
    BargainingProblem,
    LinkingMechanism,
    PublicGoodsProblem,
    VotingProblem,
    start_episodes,
)
from linkmech.mechanisms.linking import (
    announcement_mask,
    decide_all_at_once,
    record_announcements,
    step_over_time,
)
from linkmech.mechanisms.participation import per_problem_participation, whole_participation


def _quota_types(mechanism: LinkingMechanism, rng: np.random.Generator) -> np.ndarray:
    """``[K, n]`` true types whose counts equal each agent's quota (types = classes here)."""
    columns = [rng.permutation(np.repeat(np.arange(len(q)), q)) for q in (b.quota for b in mechanism.budgets)]
    return np.stack(columns, axis=1)


@pytest.mark.parametrize(
    "problem", [VotingProblem(), PublicGoodsProblem(3), BargainingProblem(), VotingProblem(num_agents=3)]
)
@pytest.mark.parametrize("num_problems", [1, 4, 12])
def test_feasible_truth_gives_f_on_every_problem(problem, num_problems: int) -> None:
    mechanism = LinkingMechanism(problem, num_problems, mixing=False)
    rngs = [np.random.default_rng(s) for s in range(5)]
    state = start_episodes(mechanism, None, rngs)
    state.types[:] = np.stack([_quota_types(mechanism, np.random.default_rng(100 + b)) for b in range(5)])
    for k in range(num_problems):
        assert (state.remaining >= 0).all(), f"budget negative before problem {k + 1}"
        step_over_time(mechanism, state, state.types[:, k])
    assert (state.remaining == 0).all(), f"budgets not exactly spent at K: {state.remaining.tolist()}"
    assert np.array_equal(state.used, state.types), "without mixing the used announcements are the true types"
    flat = state.types.reshape(-1, problem.num_agents)
    target = problem.target(flat)
    expected = problem.expected_utility(flat, target).reshape(state.expected_utilities.shape)
    assert np.allclose(state.expected_utilities, expected), (
        "expected utilities differ from f at the true types"
    )
    decided = state.decisions.reshape(-1)
    support = np.take_along_axis(
        target.probs, np.argmax(target.alternatives == decided[:, None], axis=1)[:, None], 1
    )
    assert (support > 0).all(), "a decision outside the support of f at the true types"


def test_budget_mask_and_exhausted_type_error_leave_state_unchanged() -> None:
    mechanism = LinkingMechanism(VotingProblem(), 4, mixing=False)  # quota one of each value
    state = start_episodes(mechanism, None, [np.random.default_rng(0)])
    record_announcements(mechanism, state, np.array([[3, 0]]))
    mask = announcement_mask(mechanism, state.remaining)[0]
    assert mask.tolist() == [[True, True, True, False], [False, True, True, True]], f"masks: {mask.tolist()}"
    before = copy.deepcopy(state)
    with pytest.raises(
        ValueError, match=r"agent_0 announced type '2' \(index 3\) for problem 2, but its budget"
    ):
        record_announcements(mechanism, state, np.array([[3, 1]]))
    with pytest.raises(ValueError, match=r"agent_1 announced type 9; allowed type indices are 0..3"):
        record_announcements(mechanism, state, np.array([[1, 9]]))
    with pytest.raises(ValueError, match=r"announcements: got shape \(1, 3\)"):
        record_announcements(mechanism, state, np.array([[1, 1, 1]]))
    for name in ("remaining", "announced", "used", "decisions", "utilities"):
        assert np.array_equal(getattr(state, name), getattr(before, name)), (
            f"{name} changed by a rejected step"
        )
    assert state.date == before.date, "date changed by a rejected step"


def test_batched_episodes_equal_single_episodes() -> None:
    mechanism = LinkingMechanism(PublicGoodsProblem(3), 7)
    seeds = [11, 12, 13]
    batch = start_episodes(mechanism, None, [np.random.default_rng(s) for s in seeds])
    singles = [start_episodes(mechanism, None, [np.random.default_rng(s)]) for s in seeds]
    plan = np.random.default_rng(99)
    for _ in range(7):
        masks = announcement_mask(mechanism, batch.remaining)
        chosen = np.array([[plan.choice(np.flatnonzero(m)) for m in episode] for episode in masks])
        rewards = step_over_time(mechanism, batch, chosen)
        for b, single in enumerate(singles):
            single_rewards = step_over_time(mechanism, single, chosen[b : b + 1])
            assert np.array_equal(rewards[b], single_rewards[0]), (
                f"episode {b}: rewards differ from a single run"
            )
    for b, single in enumerate(singles):
        for name in ("types", "used", "decisions", "utilities"):
            assert np.array_equal(getattr(batch, name)[b], getattr(single, name)[0]), (
                f"episode {b}: {name} differ"
            )


def test_all_at_once_equals_over_time_for_the_same_announcements() -> None:
    mechanism = LinkingMechanism(VotingProblem(), 8)
    over_time = start_episodes(mechanism, None, [np.random.default_rng(5)])
    at_once = start_episodes(mechanism, None, [np.random.default_rng(5)])
    plan = _quota_types(mechanism, np.random.default_rng(3))[None]
    rewards = np.stack([step_over_time(mechanism, over_time, plan[:, k]) for k in range(8)], axis=1)
    all_rewards = decide_all_at_once(mechanism, at_once, plan)
    assert np.array_equal(rewards, all_rewards), "the two forms must decide identically"
    with pytest.raises(
        ValueError,
        match=r"episode 0, agent_0: announced class counts \[4, 2, 2, 0\]; the budget requires exactly \[2, 2, 2, 2\]",
    ):
        bad = plan.copy()
        bad[0, 0, 0], bad[0, 1, 0] = 0, 0
        decide_all_at_once(mechanism, start_episodes(mechanism, None, [np.random.default_rng(5)]), bad)


def test_discount_weights_rewards() -> None:
    mechanism = LinkingMechanism(VotingProblem(), 4, mixing=False, discount=0.5)
    state = start_episodes(mechanism, None, [np.random.default_rng(1)])
    state.types[0] = _quota_types(mechanism, np.random.default_rng(2))
    for k in range(4):
        reward = step_over_time(mechanism, state, state.types[:, k])
        assert np.allclose(reward, 0.5**k * state.utilities[:, k]), (
            f"date {k + 1}: reward not discounted by 0.5^k"
        )
    with pytest.raises(ValueError, match=r"discount: got 1.5; allowed range is \(0, 1\]"):
        LinkingMechanism(VotingProblem(), 4, discount=1.5)


def test_mixing_makes_used_announcements_p_distributed() -> None:
    # Public goods, K = 5: quota (2, 3) over-announces value 0 (2/5 > 1/3); gamma = 1/6 fixes it.
    problem = PublicGoodsProblem(2)
    for mixing, expected in ((True, 1 / 3), (False, 2 / 5)):
        mechanism = LinkingMechanism(problem, 5, mixing=mixing)
        state = start_episodes(mechanism, None, [np.random.default_rng(s) for s in range(4000)])
        for _ in range(5):
            masks = announcement_mask(mechanism, state.remaining)
            chosen = np.argmax(masks, axis=2)  # announce 0 while allowed: a label-dependent but budgeted plan
            step_over_time(mechanism, state, chosen)
        share = (state.used == 0).mean()
        error = 4 * np.sqrt(expected * (1 - expected) / state.used.size)
        assert abs(share - expected) < error, (
            f"mixing={mixing}: used share of value 0 is {share}, expected {expected}"
        )


def test_participation_functions() -> None:
    proposed = np.array([[[1.0, -2.0], [3.0, 1.0]]])  # [B=1, K=2, n=2]
    status_quo = np.zeros_like(proposed)
    assert whole_participation(proposed, status_quo, np.array([[1, 1]])).tolist() == proposed.tolist()
    assert whole_participation(proposed, status_quo, np.array([[1, 0]])).tolist() == status_quo.tolist()
    skimmed = per_problem_participation(proposed, status_quo, np.array([[[1, 0], [1, 1]]]))
    assert skimmed.tolist() == [[[0.0, 0.0], [3.0, 1.0]]], "declining problem 1 only replaces problem 1"
    with pytest.raises(ValueError, match=r"allowed are 0 \(decline\) and 1 \(accept\)"):
        whole_participation(proposed, status_quo, np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"accept: got shape \(1, 3\)"):
        whole_participation(proposed, status_quo, np.array([[1, 1, 1]]))
