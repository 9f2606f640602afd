"""SingleAgentEnv: one learner seat as a Gymnasium env, the other seats scripted (no optional packages).

1. Gymnasium's ``check_env`` on every registered environment (several forms), directly and through the
   registered ``linkmech/<Name>-single-v0`` ids.
2. Seeding: the same seed gives identical trajectories, other seeds other ones, and a learner playing a
   strategy reproduces ``play_episode`` exactly (opponents seeded only from the wrapper).
3. Masks: ``action_masks()`` = ``info["action_mask"]`` = the env's mask; a masked action is rejected with a
   ValueError and changes nothing (the trajectory after it is the one without it).
4. Bad input: clear ValueErrors for actions, seats, strategies and arguments.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import linkmech
from linkmech.agents import ApproximatelyTruthful, RandomAdmissible, Seat, make_strategy
from linkmech.envs.single_agent import (
    DEFAULT_OPPONENTS,
    SingleAgentEnv,
    register_gymnasium,
    single_agent_id,
)
from linkmech.evaluation.play import play_episode, seat_generators
from linkmech.mechanisms import tabular_voting

CASES: list[tuple[str, dict[str, Any]]] = [
    ("linked_voting_v0", {}),
    ("linked_voting_v0", {"num_problems": 6, "budget": "intensity", "discount": 0.9}),
    ("linked_voting_v0", {"num_problems": 8, "form": "all_at_once"}),
    ("linked_public_goods_v0", {"num_problems": 6, "participation": "whole"}),
    ("linked_bargaining_v0", {"num_problems": 4, "participation": "per_problem"}),
    ("linked_allocation_v0", {"num_problems": 6}),
    ("linked_problem_v0", {"problem": tabular_voting(), "num_problems": 6}),
    ("ranked_voting_v0", {"num_problems": 4, "form": "all_at_once"}),
    ("importance_vote_v0", {}),
    ("resource_allocation_v0", {"num_agents": 3, "num_dates": 4}),
]

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*Box (observation|action) space m.*:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*symmetric and normalized space.*:UserWarning"),
]


def first_allowed(env: SingleAgentEnv, observation: np.ndarray) -> Any:
    """A deterministic learner: the lowest admissible action, or the truthful report (Box actions)."""
    if isinstance(env.action_space, gymnasium.spaces.Box):
        return np.array([observation[1]], dtype=np.float32)
    return int(np.flatnonzero(env.action_masks())[0])


def run(env: SingleAgentEnv, seed: int | None, policy: Any = first_allowed) -> list[tuple[Any, ...]]:
    """One episode: (observation, action, reward, terminated, info) per step, after the reset's."""
    observation, info = env.reset(seed=seed)
    trajectory: list[tuple[Any, ...]] = [(observation.copy(), None, None, None, info)]
    while True:
        action = policy(env, observation)
        observation, reward, terminated, truncated, info = env.step(action)
        trajectory.append((observation.copy(), action, reward, terminated, info))
        if terminated or truncated:
            return trajectory


def same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Trajectories equal entry by entry (arrays compared by value, NaN-free)."""
    if len(a) != len(b):
        return False
    for step_a, step_b in zip(a, b):
        for x, y in zip(step_a, step_b):
            if isinstance(x, dict):
                if x.keys() != y.keys() or not all(_equal(x[k], y[k]) for k in x):
                    return False
            elif not _equal(x, y):
                return False
    return True


def _equal(x: Any, y: Any) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return bool(np.array_equal(np.asarray(x), np.asarray(y)))
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    return bool(x == y)


# --- 1. Gymnasium's checker --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_check_env_passes(name: str, options: dict[str, Any]) -> None:
    env = SingleAgentEnv(name, **options)
    check_env(env, skip_render_check=True)  # raises on any failure (spaces, seeding, determinism, reuse)
    parallel = linkmech.make(name, **options)
    learner_space = parallel.observation_space("agent_0")
    expected = (
        learner_space["observation"] if isinstance(learner_space, gymnasium.spaces.Dict) else learner_space
    )
    assert env.observation_space == expected, "observation = the learner's vector"
    assert env.action_space == parallel.action_space("agent_0")


def test_registered_gymnasium_ids() -> None:
    register_gymnasium()  # idempotent
    ids = [single_agent_id(entry.id) for entry in linkmech.envs.ENVIRONMENTS]
    assert "linkmech/LinkedVoting-single-v0" in ids
    assert all(env_id in gymnasium.registry for env_id in ids)
    env = gymnasium.make("linkmech/LinkedVoting-single-v0", num_problems=6, render_mode="ansi")
    check_env(env.unwrapped)
    observation, info = env.reset(seed=3)
    assert observation.shape == env.observation_space.shape and info["action_mask"].tolist() == [1, 1, 1, 1]
    table = env.render()
    assert isinstance(table, str) and table.startswith("k")
    by_module_path = gymnasium.make("linkmech.envs.single_agent:linkmech/ResourceAllocation-single-v0")
    assert isinstance(by_module_path.unwrapped, SingleAgentEnv)
    with pytest.raises(ValueError, match="versioned id"):
        single_agent_id("LinkedVoting")


# --- 2. seeding --------------------------------------------------------------------------------------------


def random_learner(seed: int) -> Any:
    rng = np.random.default_rng(seed)

    def policy(env: SingleAgentEnv, observation: np.ndarray) -> Any:
        if isinstance(env.action_space, gymnasium.spaces.Box):
            return np.array([rng.uniform(0, 2)], dtype=np.float32)
        return int(rng.choice(np.flatnonzero(env.action_masks())))

    return policy


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_same_seed_same_trajectory(name: str, options: dict[str, Any]) -> None:
    opponents = None if name == "resource_allocation_v0" else "random"
    env = SingleAgentEnv(name, opponents=opponents, **options)
    first = run(env, 7, random_learner(0))
    again = run(env, 7, random_learner(0))
    fresh = run(SingleAgentEnv(name, opponents=opponents, **options), 7, random_learner(0))
    assert same(first, again) and same(first, fresh), "same seed and learner: identical trajectory"
    others = [run(env, seed, random_learner(0)) for seed in range(8, 14)]
    assert not all(same(first, other) for other in others), "other seeds give other episodes"


def test_unseeded_resets_follow_the_first_seed() -> None:
    def episodes(env: SingleAgentEnv) -> list[list[tuple[Any, ...]]]:
        out = [run(env, 11, random_learner(1))]
        out += [run(env, None, random_learner(2)) for _ in range(3)]
        return out

    a = episodes(SingleAgentEnv("linked_voting_v0", opponents="random", num_problems=6))
    b = episodes(SingleAgentEnv("linked_voting_v0", opponents="random", num_problems=6))
    assert all(same(x, y) for x, y in zip(a, b)), "reset() after reset(seed) continues deterministically"
    assert not same(a[1], a[2]), "successive unseeded episodes differ"


@pytest.mark.parametrize(
    ("name", "options", "strategy"),
    [
        ("linked_voting_v0", {"num_problems": 8}, "approximately_truthful"),
        (
            "linked_voting_v0",
            {"num_problems": 8, "form": "all_at_once"},
            "approximately_truthful:lies=myopic",
        ),
        ("linked_public_goods_v0", {"num_problems": 6, "participation": "whole"}, "approximately_truthful"),
        ("linked_bargaining_v0", {"num_problems": 6}, "random"),
        ("resource_allocation_v0", {"num_agents": 3, "num_dates": 4}, "misreport:factor=1.5"),
    ],
)
def test_scripted_learner_reproduces_play_episode(name: str, options: dict[str, Any], strategy: str) -> None:
    """A learner acting as strategy S (seeded like play_episode seeds its seat) replays play_episode."""
    for seed in (0, 5):
        parallel = linkmech.make(name, **options)
        agents = list(parallel.possible_agents)
        reference = play_episode(parallel, {a: make_strategy(strategy) for a in agents}, seed=seed)
        env = SingleAgentEnv(name, learner=agents[-1], opponents=strategy, **options)
        learner = make_strategy(strategy)
        observation, info = env.reset(seed=seed)
        learner.reset(
            Seat.from_env(env.parallel_env, agents[-1]), seat_generators(seed, agents)[1][agents[-1]]
        )
        mask = info.get("action_mask", np.zeros(0, dtype=np.int8))
        totals = dict.fromkeys(agents, 0.0)
        steps, done = 0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(learner.act(observation, mask))
            mask = info.get("action_mask", np.zeros(0, dtype=np.int8))
            assert reward == info["rewards"][agents[-1]], "the reward is the learner's"
            for agent, value in info["rewards"].items():
                totals[agent] += value
            steps, done = steps + 1, terminated or truncated
        assert steps == reference.steps
        assert totals == pytest.approx(reference.totals, abs=1e-12), (
            f"seed {seed}: same episode as play_episode"
        )


def test_whole_episode_rewards_and_infos_over_time() -> None:
    env = SingleAgentEnv("linked_voting_v0", opponents="approximately_truthful", num_problems=12)
    learner = ApproximatelyTruthful()

    def policy(env: SingleAgentEnv, observation: np.ndarray) -> int:
        if learner.seat is None:
            learner.reset(Seat.from_env(env.parallel_env, env.learner), np.random.default_rng(0))
        return int(learner.act(observation, env.action_masks().astype(np.int8)))

    steps = run(env, 2, policy)[1:]
    assert len(steps) == 12 and [s[3] for s in steps] == [False] * 11 + [True]
    assert [s[4]["date"] for s in steps] == list(range(1, 13))
    assert sum(s[2] for s in steps) == pytest.approx(sum(s[4]["utility"] for s in steps))
    announced = env.parallel_env.state_.announced[0, :, 0]
    assert announced.tolist() == [s[1] for s in steps], "the env recorded the learner's actions"
    assert np.bincount(announced, minlength=4).tolist() == [3, 3, 3, 3], "the budget (quota 3 each) holds"
    truths = env.parallel_env.state_.types[0, :, 0]
    assert (announced == truths).sum() >= 9, "approximately truthful: lies only where the budget forced them"


# --- 3. masks ----------------------------------------------------------------------------------------------


def test_masks_agree_and_masked_actions_change_nothing() -> None:
    env = SingleAgentEnv("linked_voting_v0", opponents="random", num_problems=4)
    clean = run(env, 9, random_learner(3))

    rng = np.random.default_rng(3)
    observation, info = env.reset(seed=9)
    attempted: list[tuple[Any, ...]] = [(observation.copy(), None, None, None, info)]
    rejected = 0
    while True:
        mask = env.action_masks()
        assert mask.dtype == bool and mask.tolist() == info["action_mask"].astype(bool).tolist()
        parallel_mask = env.parallel_env.observe(env.learner)["action_mask"]
        assert mask.tolist() == parallel_mask.astype(bool).tolist(), "the env's own mask"
        for bad in np.flatnonzero(~mask):
            before = copy.deepcopy(env.parallel_env.state_)
            with pytest.raises(ValueError, match=r"budget for that type is exhausted.*action mask allows"):
                env.step(int(bad))
            after = env.parallel_env.state_
            assert after.date == before.date and np.array_equal(after.announced, before.announced)
            assert np.array_equal(after.remaining, before.remaining), "a rejected action changes nothing"
            rejected += 1
        action = int(rng.choice(np.flatnonzero(mask)))
        observation, reward, terminated, truncated, info = env.step(action)
        attempted.append((observation.copy(), action, reward, terminated, info))
        if terminated or truncated:
            break
    assert rejected > 0, "K = 4 with 4 types: the budget binds, so some actions were masked"
    assert same(clean, attempted), "rejections drew nothing from the opponents' generators"


def test_participation_mask_is_accept_or_decline() -> None:
    env = SingleAgentEnv("linked_bargaining_v0", num_problems=3, participation="whole")
    env.reset(seed=0)
    for _ in range(3):
        _, _, terminated, _, info = env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert not terminated and info["action_mask"].tolist() == [1, 1]
    _, _, terminated, _, info = env.step(1)
    assert terminated and info["phase"] == "participate"


# --- 4. bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (1.0, "actions are integers"),
        ("1", "actions are integers"),
        (True, "actions are integers"),
        (np.array([1]), "actions are integers"),
        (4, r"allowed actions are 0..3"),
        (-1, r"allowed actions are 0..3"),
    ],
)
def test_bad_actions_are_rejected_not_coerced(action: Any, message: str) -> None:
    env = SingleAgentEnv("linked_voting_v0", num_problems=4)
    observation, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)
    assert env.parallel_env.state_.date == 0, "nothing happened"
    next_observation, *_ = env.step(np.int64(0))
    assert next_observation.shape == observation.shape, "a numpy integer is a valid action"


def test_episode_boundaries() -> None:
    env = SingleAgentEnv("linked_voting_v0", num_problems=2, budget="none")
    with pytest.raises(ValueError, match=r"call reset\(\) first"):
        env.step(0)
    with pytest.raises(ValueError, match=r"call reset\(\) first"):
        env.action_masks()
    env.reset(seed=0)
    env.step(0)
    assert env.step(0)[2] is True
    with pytest.raises(ValueError, match=r"episode is over.*reset\(\)"):
        env.step(0)


def test_box_actions_and_action_high() -> None:
    env = SingleAgentEnv("resource_allocation_v0", num_agents=2, num_dates=3, action_high=4.0)
    assert env.action_space == gymnasium.spaces.Box(0.0, 4.0, (1,), np.float32)
    check_env(env, skip_render_check=True)
    observation, info = env.reset(seed=0)
    assert "action_mask" not in info
    with pytest.raises(ValueError, match="has no action mask"):
        env.action_masks()
    for bad, message in [(np.array([5.0]), "outside the action space"), (np.array([-1.0]), ">= 0")]:
        with pytest.raises(ValueError, match=message):
            env.step(bad)
    assert env.parallel_env.episode.date == 0
    _, reward, *_ = env.step(np.array([observation[1]], dtype=np.float32))
    assert np.isfinite(reward)
    unbounded = SingleAgentEnv("resource_allocation_v0", num_agents=2, num_dates=3)
    assert isinstance(unbounded.action_space, gymnasium.spaces.Box)
    assert np.isinf(unbounded.action_space.high).all()
    with pytest.raises(ValueError, match="bounds Box actions only"):
        SingleAgentEnv("linked_voting_v0", action_high=2.0)
    with pytest.raises(ValueError, match="finite number above"):
        SingleAgentEnv("resource_allocation_v0", action_high=-1.0)


def test_opponents() -> None:
    env = SingleAgentEnv("linked_public_goods_v0", learner="agent_1", opponents="random:accept_prob=0.5")
    assert sorted(env.opponents) == ["agent_0", "agent_2"]
    assert all(isinstance(s, RandomAdmissible) for s in env.opponents.values())
    shared = ApproximatelyTruthful(lies="myopic")
    env = SingleAgentEnv("linked_public_goods_v0", opponents=shared)
    assert env.opponents["agent_1"] is shared, "the object given plays the first opponent seat"
    assert env.opponents["agent_1"] is not env.opponents["agent_2"], (
        "one object given for all: copied per seat"
    )
    assert env.opponents["agent_1"].params() == {"lies": "myopic"}
    mine = RandomAdmissible()
    env = SingleAgentEnv("linked_public_goods_v0", opponents={"agent_2": mine})
    assert env.opponents["agent_2"] is mine and isinstance(env.opponents["agent_1"], ApproximatelyTruthful)
    for module, default in DEFAULT_OPPONENTS.items():
        options: dict[str, Any] = {"problem": tabular_voting()} if module == "linked_problem_v0" else {}
        env = SingleAgentEnv(module, **options)
        assert {s.name for s in env.opponents.values()} == {default}
    parallel = linkmech.make("linked_voting_v0", num_problems=4)
    env = SingleAgentEnv(parallel, learner="agent_1")
    assert env.parallel_env is parallel and env.metadata["name"] == "linked_voting_v0_single"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env": "NoSuchEnv-v0"}, "known environments are"),
        ({"learner": "agent_9"}, r"learner: got 'agent_9'; the env's seats are \['agent_0', 'agent_1'\]"),
        (
            {"opponents": {"agent_0": "random"}},
            r"opponent seats are \['agent_1'\] \(the learner is 'agent_0'\)",
        ),
        ({"opponents": {"agent_7": "random"}}, "opponent seats are"),
        ({"opponents": "no_such_strategy"}, "registered strategies are"),
        ({"opponents": {"agent_1": 3}}, r"opponents\['agent_1'\]: got int"),
        ({"opponents": 3}, "opponents: got int"),
        ({"env": linkmech.make("linked_voting_v0"), "num_problems": 4}, "with an env instance"),
        ({"env": linkmech.make("linked_voting_v0", aec=True)}, "not an AEC env"),
        ({"num_problems": 0}, None),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str | None) -> None:
    with pytest.raises(ValueError, match=message):
        SingleAgentEnv(**kwargs)


def test_one_strategy_object_cannot_play_two_seats() -> None:
    one = RandomAdmissible()
    with pytest.raises(ValueError, match="one Strategy object plays two seats"):
        SingleAgentEnv("linked_public_goods_v0", opponents={"agent_1": one, "agent_2": one})
