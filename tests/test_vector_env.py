"""The vector env on the batched engine equals the lockstep copies, and PPO trains on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from linkmech.training.config import TrainConfig
from linkmech.training.ppo import train
from linkmech.training.vector import BatchedSeatVectorEnv, SeatVectorEnv, make_vector_env

CASES: list[tuple[str, dict[str, Any], list[str], str]] = [
    ("linked_voting_v0", {"num_problems": 6}, ["agent_0"], "approximately_truthful"),
    ("linked_voting_v0", {"num_problems": 5, "form": "all_at_once"}, ["agent_1"], "random"),
    (
        "linked_public_goods_v0",
        {"num_problems": 5, "participation": "per_problem"},
        ["agent_1"],
        "lagged_truth",
    ),
    (
        "linked_public_goods_v0",
        {"num_problems": 12, "policing": True},
        ["agent_0", "agent_2"],
        "front_loading",
    ),
    ("resource_allocation_v0", {"num_agents": 3, "num_dates": 4}, ["agent_0"], "truthful_report"),
    (
        "resource_allocation_v0",
        {"num_agents": 3, "num_dates": 3, "mechanism": "unlinked"},
        ["agent_2"],
        "misreport",
    ),
    ("ranked_voting_v0", {"num_problems": 4}, ["agent_0"], "random"),
    ("ranked_voting_v0", {"num_problems": 3, "num_agents": 3, "form": "all_at_once"}, ["agent_1"], "random"),
    ("importance_vote_v0", {"process": "repeat", "correlation": 0.5}, ["agent_1"], "random"),
]


def _learner_actions(batches: dict[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uniform allowed actions per copy (Discrete), or reports in [0, 3) (Box)."""
    actions = {}
    for seat, batch in batches.items():
        if batch.mask.shape[1]:
            actions[seat] = np.array([rng.choice(np.flatnonzero(row)) for row in batch.mask])
        else:
            actions[seat] = rng.uniform(0.0, 3.0, (batch.obs.shape[0], 1)).astype(np.float32)
    return actions


@pytest.mark.parametrize(("env", "options", "learners", "opponent"), CASES)
def test_batched_vector_env_equals_lockstep_copies(
    env: str, options: dict[str, Any], learners: list[str], opponent: str
) -> None:
    copies = SeatVectorEnv(env, options, learners, {}, 3, 11, opponent)
    batched = BatchedSeatVectorEnv(env, options, learners, {}, 3, 11, opponent)
    seen_done = 0
    left, right = copies.reset(), batched.reset()
    assert copies.episode_seeds == batched.episode_seeds
    rng = np.random.default_rng(5)
    for _ in range(30):
        for seat in learners:
            np.testing.assert_array_equal(left[seat].obs, right[seat].obs)
            np.testing.assert_array_equal(left[seat].mask, right[seat].mask)
            assert right[seat].obs.dtype == np.float32
        actions = _learner_actions(left, rng)
        a, b = copies.step(actions), batched.step(actions)
        np.testing.assert_array_equal(a.done, b.done)
        for seat in learners:
            np.testing.assert_array_equal(a.rewards[seat], b.rewards[seat])
            assert a.returns[seat] == b.returns[seat]
        assert copies.last_rewards == batched.last_rewards
        assert copies.episode_seeds == batched.episode_seeds
        seen_done += int(a.done.any())
        left, right = a.batches, b.batches
    assert seen_done >= 2  # several episodes ended and restarted in both


def test_make_vector_env_picks_the_batched_engine_and_falls_back() -> None:
    assert isinstance(make_vector_env("linked_voting_v0", {}, ["agent_0"], {}, 2, 0), BatchedSeatVectorEnv)
    assert isinstance(
        make_vector_env("linked_voting_v0", {}, ["agent_0"], {}, 2, 0, batched=False), SeatVectorEnv
    )
    ranked = make_vector_env("ranked_voting_v0", {}, ["agent_0"], {}, 2, 0, default_opponent="random")
    assert isinstance(ranked, BatchedSeatVectorEnv)
    importance = make_vector_env("importance_vote_v0", {}, ["agent_0"], {}, 2, 0, "random", batched=True)
    assert isinstance(importance, BatchedSeatVectorEnv)


def test_batched_vector_env_rejects_bad_learner_actions() -> None:
    vec = BatchedSeatVectorEnv("linked_voting_v0", {"num_problems": 4}, ["agent_0"], {}, 3, 0)
    vec.reset()
    with pytest.raises(ValueError, match=r"expected one action per copy, \[3\]"):
        vec.step({"agent_0": np.array([0, 1])})
    with pytest.raises(ValueError, match="Discrete actions are integers"):
        vec.step({"agent_0": np.array([0.0, 1.0, 0.0])})
    with pytest.raises(ValueError, match="no actions for learner seats"):
        vec.step({})


def test_ppo_gives_the_same_run_on_the_batched_engine_and_on_copies() -> None:
    options = {"num_problems": 4}
    common = dict(env="linked_voting_v0", env_options=options, total_steps=256, num_envs=8, rollout_steps=16)
    batched = train(TrainConfig(**common, vector="batched"))  # type: ignore[arg-type]
    copies = train(TrainConfig(**common, vector="copies"))  # type: ignore[arg-type]
    assert batched.env_steps == copies.env_steps == 256
    keys = [k for k in batched.history[0] if k != "wall_seconds"]
    for row_b, row_c in zip(batched.history, copies.history):
        assert [row_b[k] for k in keys] == [row_c[k] for k in keys]


def test_train_config_rejects_an_unknown_vector_engine() -> None:
    with pytest.raises(ValueError, match="vector: got 'gpu'"):
        TrainConfig(vector="gpu")
