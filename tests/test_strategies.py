"""Tests of the scripted strategies (linkmech.agents): protocol, pinned transcripts, properties, checks.

1. A base test over every registered strategy: seeding, pickle/deepcopy mid-episode, act before reset,
   the action mask, repr.
2. Transcripts: given true types (written into ``env.state_.types`` right after reset, mixing off) and a
   seed, the announcements are exactly the pinned ones.
3. Properties over many seeded episodes: approximate truth never permutes types (over time) and is
   approximately truthful in Ball, Jackson and Kattwinkel's sense (all at once); the label-dependent
   strategies do permute.
4. The checks module, JointPlan validation, the skimmer's values and the myopic forced lie, by hand.

Voting type indices: 0 = -2, 1 = -1, 2 = +1, 3 = +2. Bargaining seller: 0 = value 0, 1 = value 8.
Public goods: 0 = value 0, 1 = value 1.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from linkmech.agents import (
    STRATEGIES,
    ApproximatelyTruthful,
    FrontLoader,
    JointPlan,
    LaggedTruth,
    PlanFollower,
    Seat,
    Skimmer,
    Strategy,
    Truthful,
    TypeRelabel,
    example4_plan,
    example4_profile,
    make_strategy,
)
from linkmech.agents.checks import is_approximately_truthful, minimum_lies, number_of_lies, permutes_types
from linkmech.agents.simple import utility_ranges
from linkmech.agents.skimmer import transportation_plan, veto_values
from linkmech.envs import linked_allocation_v0, linked_bargaining_v0, linked_public_goods_v0, linked_voting_v0
from linkmech.evaluation.play import play_episode, seat_generators


def no_budget(num_types: int, num_agents: int) -> list[list[int]]:
    """One budget class holding every type: every type is always admissible (the unlinked f, K times)."""
    return [[0] * num_types for _ in range(num_agents)]


# --- helpers --------------------------------------------------------------------------------------------------


def observe(env: Any) -> dict[str, dict[str, np.ndarray]]:
    """The env's observations of its current state (after the test overwrote ``state_.types``)."""
    return env._observations()


def run_with_types(
    env: Any, strategies: dict[str, Strategy], seed: int, types: Any
) -> tuple[list[dict[str, int]], list[dict[str, Any]]]:
    """One episode with the true types ``[K, n]`` written in after reset; (actions, infos) per step."""
    env_seed, generators = seat_generators(seed, list(env.possible_agents))
    env.reset(seed=env_seed)
    env.state_.types[0] = np.asarray(types)
    observations = observe(env)
    for agent in env.possible_agents:
        strategies[agent].reset(Seat.from_env(env, agent), generators[agent])
    actions, infos = [], []
    while env.agents:
        step = {
            a: strategies[a].act(observations[a]["observation"], observations[a]["action_mask"])
            for a in env.agents
        }
        actions.append(step)
        observations, _, _, _, info = env.step(step)
        infos.append(info)
    return actions, infos


def column(actions: list[dict[str, int]], agent: str, steps: slice = slice(None)) -> list[int]:
    return [int(step[agent]) for step in actions[steps]]


# --- 1. the base test over every registered strategy -------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """An env on which to run a strategy, its params, and the seats that play it (None: every seat)."""

    label: str
    make_env: Callable[[], Any]
    params: dict[str, Any] = field(default_factory=dict)
    seats: tuple[str, ...] | None = None


def voting(**options: Any) -> Callable[[], Any]:
    return lambda: linked_voting_v0.parallel_env(**{"num_problems": 6, **options})


def bargaining(**options: Any) -> Callable[[], Any]:
    return lambda: linked_bargaining_v0.parallel_env(**{"num_problems": 6, **options})


def public_goods(**options: Any) -> Callable[[], Any]:
    return lambda: linked_public_goods_v0.parallel_env(**{"num_agents": 3, "num_problems": 6, **options})


MEMBERS = tuple(f"agent_{i}" for i in range(1, 7))


def _untrained_checkpoint() -> str:
    """A freshly initialised voting policy saved as a checkpoint (the `learned` strategy plays it)."""
    import tempfile

    import torch

    from linkmech.training.checkpoint import save_policy
    from linkmech.training.policy import MaskedCategorical

    env = voting()()
    size = env.observation_space("agent_0")["observation"].shape[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        policy = MaskedCategorical(size, env.action_space("agent_0").n)
    path = Path(tempfile.mkdtemp()) / "voting.pt"
    return str(save_policy(path, policy, ["agent_0"], False, "linked_voting_v0", {"num_problems": 6}))


CASES: dict[str, list[Case]] = {
    "approximately_truthful": [
        Case("voting-myopic", voting(), {"lies": "myopic"}),
        Case("voting-all-at-once", voting(form="all_at_once")),
        Case("bargaining-per-problem", bargaining(participation="per_problem")),
    ],
    "truthful": [
        Case("voting-no-budget", voting(budget=no_budget(4, 2))),
        Case("public-goods-no-budget-whole", public_goods(budget=no_budget(2, 3), participation="whole")),
    ],
    "random": [
        Case("voting-whole", voting(participation="whole"), {"accept_prob": 0.5}),
        Case("public-goods-all-at-once", public_goods(form="all_at_once")),
    ],
    "front_loading": [
        Case("voting", voting()),
        Case("voting-intensity", voting(budget="intensity", num_problems=4)),
        Case("public-goods-all-at-once", public_goods(form="all_at_once")),
        Case("bargaining-per-problem", bargaining(participation="per_problem")),
    ],
    "lagged_truth": [
        Case("voting-per-problem", voting(participation="per_problem")),
        Case(
            "allocation-all-at-once",
            lambda: linked_allocation_v0.parallel_env(num_problems=6, form="all_at_once"),
        ),
    ],
    "relabel": [
        Case("voting-swap-intensities", voting(), {"mapping": (1, 0, 3, 2), "lies": "myopic"}),
        Case("bargaining-default-shift", bargaining(participation="whole")),
    ],
    "skimmer": [
        Case(
            "bargaining-all-at-once",
            bargaining(num_problems=10, participation="per_problem", form="all_at_once"),
        ),
        Case("bargaining-over-time", bargaining(participation="per_problem")),
        Case(
            "voting-empirical", voting(num_problems=4, participation="per_problem"), {"beliefs": "empirical"}
        ),
    ],
    "plan": [
        Case(
            "example4",
            lambda: linked_public_goods_v0.parallel_env(num_agents=7, num_problems=9),
            {"plan": example4_plan(7, 9)},
            MEMBERS,
        ),
    ],
    "example4_member": [
        Case(
            "public-goods",
            lambda: linked_public_goods_v0.parallel_env(num_agents=7, num_problems=6),
            {},
            MEMBERS,
        ),
    ],
    "learned": [
        Case("voting-greedy", voting(), {"path": _untrained_checkpoint()}),
        Case("voting-sample", voting(), {"path": _untrained_checkpoint(), "mode": "sample"}),
    ],
    "best_response_table": [
        Case("voting-exact", voting()),
        Case("public-goods-history-free", public_goods(), {"method": "history_free"}),
    ],
}
DEFAULT_CASE = Case("voting-default", voting())
REPORTING = {"truthful_report", "misreport", "reasonable"}  # Box actions: tests/test_reporting_agents.py
DISCRETE = sorted(set(STRATEGIES) - REPORTING)
BASE_CASES = [(name, case) for name in DISCRETE for case in CASES.get(name, [DEFAULT_CASE])]


def build(name: str, case: Case, env: Any) -> tuple[dict[str, Strategy], tuple[str, ...]]:
    seats = case.seats or tuple(env.possible_agents)
    strategies = {
        a: make_strategy(name, **case.params) if a in seats else ApproximatelyTruthful()
        for a in env.possible_agents
    }
    return strategies, seats


def record_episode(
    env: Any, strategies: dict[str, Strategy], seats: tuple[str, ...], seed: int, snapshot_at: int
) -> tuple[dict[str, list[tuple[np.ndarray, np.ndarray, int]]], dict[str, list[Strategy]]]:
    """Play one episode; per tested seat the (observation, mask, action) steps and mid-episode clones."""
    env_seed, generators = seat_generators(seed, list(env.possible_agents))
    observations, _ = env.reset(seed=env_seed)
    for agent in env.possible_agents:
        strategies[agent].reset(Seat.from_env(env, agent), generators[agent])
    steps: dict[str, list[tuple[np.ndarray, np.ndarray, int]]] = {a: [] for a in seats}
    clones: dict[str, list[Strategy]] = {}
    step = 0
    while env.agents:
        if step == snapshot_at:
            clones = {
                a: [pickle.loads(pickle.dumps(strategies[a])), copy.deepcopy(strategies[a])] for a in seats
            }
        actions = {}
        for agent in env.agents:
            obs, mask = observations[agent]["observation"], observations[agent]["action_mask"]
            action = strategies[agent].act(obs, mask)
            assert isinstance(action, int), f"{agent}: action {action!r} is {type(action).__name__}, not int"
            assert mask[action] == 1, (
                f"{agent} step {step}: action {action} violates the mask {mask.tolist()}"
            )
            actions[agent] = action
            if agent in steps:
                steps[agent].append((obs.copy(), mask.copy(), action))
        observations, _, _, _, _ = env.step(actions)
        step += 1
    return steps, clones


@pytest.mark.parametrize(("name", "case"), BASE_CASES, ids=[f"{n}-{c.label}" for n, c in BASE_CASES])
def test_every_registered_strategy_follows_the_protocol(name, case):
    env = case.make_env()
    strategies, seats = build(name, case, env)
    mid = env.num_steps // 2
    for seed in (0, 1):
        steps, clones = record_episode(env, strategies, seats, seed, mid)
        assert all(len(s) == env.num_steps for s in steps.values()), (
            f"{name}: a seat did not act at every step"
        )
        _, generators = seat_generators(seed, list(env.possible_agents))
        for agent in seats:
            fresh = make_strategy(name, **case.params)
            fresh.reset(Seat.from_env(env, agent), generators[agent])
            replay = [fresh.act(obs, mask) for obs, mask, _ in steps[agent]]
            recorded = [action for _, _, action in steps[agent]]
            assert replay == recorded, (
                f"{name} seed {seed} {agent}: same seat, generator seed and observations gave {replay}, first {recorded}"
            )
            for how, clone in zip(("pickle", "deepcopy"), clones[agent]):
                after = [clone.act(obs, mask) for obs, mask, _ in steps[agent][mid:]]
                assert after == recorded[mid:], (
                    f"{name} seed {seed} {agent}: {how} copy at step {mid} acted {after}, original {recorded[mid:]}"
                )
    unused = make_strategy(name, **case.params)
    obs, mask, _ = steps[seats[0]][0]
    with pytest.raises(ValueError, match="reset"):
        unused.act(obs, mask)
    text = repr(strategies[seats[0]])
    assert type(strategies[seats[0]]).__name__ in text, f"{name}: repr {text!r} does not name the class"
    assert isinstance(strategies[seats[0]].params(), dict), f"{name}: params() is not a dict"


def test_every_registered_strategy_has_a_case():
    missing = sorted(set(DISCRETE) - set(CASES))
    assert not missing, (
        f"registered strategies without a case in CASES (they ran on the default voting env): {missing}"
    )


def test_random_strategy_draws_from_its_generator():
    env = voting(participation="whole")()
    strategy = make_strategy("random:accept_prob=0.5")
    steps, _ = record_episode(
        env, {a: make_strategy("random:accept_prob=0.5") for a in env.possible_agents}, ("agent_0",), 0, -1
    )
    runs = set()
    for seed in range(10):
        strategy.reset(Seat.from_env(env, "agent_0"), np.random.default_rng(seed))
        runs.add(tuple(strategy.act(obs, mask) for obs, mask, _ in steps["agent_0"]))
    assert len(runs) > 1, "random: ten generator seeds gave the same actions on the same observations"


# --- 2. transcripts -------------------------------------------------------------------------------------------


def voting4() -> Any:
    return linked_voting_v0.parallel_env(num_problems=4, mixing=False)


AGENT1_VOTING = [1, 2, 0, 3]  # agent_1's values -1, +1, -2, +2: truthful (each type once, quota 1 each)


@pytest.mark.parametrize(
    ("label", "strategy", "types", "seed", "expected"),
    [
        # values 2, 2, -1, 1: truth, then a forced lie at random among -2, -1, +1: the inverse CDF of the date's
        # uniform u (agent_0's generator draws u[0..3] at the start; seed 0: u[1] = 0.316 < 1/3 -> -2; seed 5:
        # u[1] = 0.754 > 2/3 -> +1), then truth -1, then whatever type is left.
        (
            "approximately_truthful random seed 0",
            lambda: ApproximatelyTruthful(),
            [3, 3, 1, 2],
            0,
            [3, 0, 1, 2],
        ),
        (
            "approximately_truthful random seed 5",
            lambda: ApproximatelyTruthful(),
            [3, 3, 1, 2],
            5,
            [3, 2, 1, 0],
        ),
        # myopic at date 2: agent_1 has announced -1, so +1 ties (coin: value 1) and -2, -1 lose (value 0)
        (
            "approximately_truthful myopic",
            lambda: ApproximatelyTruthful("myopic"),
            [3, 3, 1, 2],
            0,
            [3, 2, 1, 0],
        ),
        # values 1, -1, 2, -2: +2 (true sign), -2 (only intensity-2 left), +1 (myopic for true 2), -1 (left)
        ("front_loading", lambda: FrontLoader(), [2, 1, 3, 0], 0, [3, 0, 2, 1]),
        # random first (u[0] = 0.943 -> +2), then the previous true type when admissible: 2 spent -> random
        # among -2, -1, +1 (u[1] = 0.316 -> -2); 2 spent -> random among -1, +1 (u[2] = 0.722 -> +1); -1 admissible
        ("lagged_truth", lambda: LaggedTruth(), [3, 3, 1, 2], 0, [3, 0, 2, 1]),
        # swap intensities: 2 -> 1; 2 -> 1 spent so truth 2; -1 -> -2; 1 -> 2 spent, 1 spent: forced -1
        ("relabel", lambda: TypeRelabel((1, 0, 3, 2)), [3, 3, 1, 2], 0, [2, 3, 0, 1]),
    ],
)
def test_voting_transcripts(label, strategy, types, seed, expected):
    strategies = {"agent_0": strategy(), "agent_1": ApproximatelyTruthful()}
    actions, _ = run_with_types(voting4(), strategies, seed, np.array([types, AGENT1_VOTING]).T)
    assert column(actions, "agent_0") == expected, f"{label}: agent_0 announced {column(actions, 'agent_0')}"
    assert column(actions, "agent_1") == AGENT1_VOTING, f"{label}: agent_1 was not truthful"


def test_myopic_forced_lie_prefers_the_true_side():
    # agent_0's values 2, -2, 2, -1: at date 3 its true 2 is spent and -2 too, so it must say -1 or +1.
    # agent_1 announced -1 and +1 so far, so the empirical distribution is -1 or +1 with probability 1/2:
    #   say +1: sums 0 (coin: b half the time) or 2 (b)  -> value 2 * (1/2 * 1/2 + 1/2 * 1) = 1.5
    #   say -1: sums -2 (a) or 0 (coin)                  -> value 2 * (1/2 * 0 + 1/2 * 1/2) = 0.5
    # so the myopic rule says +1 (index 2); -1 is left for the last date.
    for seed in range(5):
        strategies = {"agent_0": ApproximatelyTruthful("myopic"), "agent_1": ApproximatelyTruthful()}
        actions, _ = run_with_types(voting4(), strategies, seed, np.array([[3, 0, 3, 1], AGENT1_VOTING]).T)
        assert column(actions, "agent_0") == [3, 0, 2, 1], (
            f"seed {seed}: myopic forced lie gave {column(actions, 'agent_0')}, expected +1 at date 3"
        )


def test_example4_transcript_public_goods_n7_k9():
    env = linked_public_goods_v0.parallel_env(num_agents=7, num_problems=9, mixing=False)
    types = np.random.default_rng(1).integers(0, 2, (9, 7))
    types[:, 0] = [1, 0, 1, 1, 0, 1, 1, 1, 1]  # agent_0: seven 1s, but its quota is six 1s and three 0s
    actions, _ = run_with_types(env, example4_profile(7, 9), 0, types)
    for i in range(1, 7):
        assert column(actions, f"agent_{i}") == [1] * 6 + [0] * 3, (
            f"agent_{i} did not follow the Example 4 plan"
        )
    # agent_0 truthful until its six 1s are spent at date 8; forced to say 0 at date 9
    assert column(actions, "agent_0") == [1, 0, 1, 1, 0, 1, 1, 1, 0], (
        f"agent_0 announced {column(actions, 'agent_0')}"
    )
    # bit masks of the paying sets: 127 = everyone, 126 = agents 1..6, 1 = agent_0 alone, 0 = not built:
    # problems 7 and 8 are built only because agent_0 pays 3/4 alone; problem 9 is not built (8/9 built)
    assert env.state_.decisions[0].tolist() == [127, 126, 127, 127, 126, 127, 1, 1, 0], (
        f"decisions {env.state_.decisions[0].tolist()}"
    )


@pytest.mark.parametrize("seed", range(4))
def test_skimmer_transcript_paper_bargaining_example(seed):
    # Section 4: seller true 8 on problems 1-5 and 0 on 6-10, K = 10, all at once, per-problem participation
    env = linked_bargaining_v0.parallel_env(
        num_problems=10, participation="per_problem", form="all_at_once", mixing=False
    )
    types = np.zeros((10, 2), dtype=np.int64)
    types[:5, 0] = 1
    types[:, 1] = np.random.default_rng(seed).integers(0, 2, 10)
    actions, _ = run_with_types(env, {"agent_0": Skimmer(), "agent_1": ApproximatelyTruthful()}, seed, types)
    assert column(actions, "agent_0", slice(0, 10)) == [0] * 5 + [1] * 5, (
        f"skimmer announced {column(actions, 'agent_0', slice(0, 10))}; the paper's seller says 0 on 1-5, 8 on 6-10"
    )
    assert column(actions, "agent_0", slice(10, 20)) == [0] * 5 + [1] * 5, (
        f"skimmer's participation {column(actions, 'agent_0', slice(10, 20))}; it must decline exactly 1-5"
    )


# --- 3. properties over seeded episodes ---------------------------------------------------------------------


def episode_vectors(env: Any, strategies: dict[str, Strategy], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """([K, n] true types, [K, n] announcements) of one played episode."""
    play_episode(env, strategies, seed)
    return env.state_.types[0].copy(), env.state_.announced[0].copy()


@pytest.mark.parametrize("lies", ["random", "myopic"])
@pytest.mark.parametrize(
    "make_env",
    [
        lambda: linked_voting_v0.parallel_env(num_problems=12),
        lambda: linked_allocation_v0.parallel_env(num_agents=3, num_problems=7),
    ],
    ids=["voting", "allocation"],
)
def test_approximate_truth_over_time_never_permutes(lies, make_env):
    env = make_env()
    for seed in range(60):
        strategies = {a: ApproximatelyTruthful(lies) for a in env.possible_agents}
        types, announced = episode_vectors(env, strategies, seed)
        for i in range(env.problem.num_agents):
            assert not permutes_types(types[:, i], announced[:, i]), (
                f"seed {seed} agent_{i}: true {types[:, i].tolist()} announced {announced[:, i].tolist()} permutes"
            )


@pytest.mark.parametrize("lies", ["random", "myopic"])
@pytest.mark.parametrize("num_problems", [6, 8])
def test_approximate_truth_all_at_once_is_approximately_truthful(lies, num_problems):
    env = linked_voting_v0.parallel_env(num_problems=num_problems, form="all_at_once")
    lied = 0
    for seed in range(60):
        strategies = {a: ApproximatelyTruthful(lies) for a in env.possible_agents}
        types, announced = episode_vectors(env, strategies, seed)
        for i in range(2):
            quota = env.mechanism.quota(i)
            lied += number_of_lies(types[:, i], announced[:, i])
            assert is_approximately_truthful(types[:, i], announced[:, i], quota), (
                f"K={num_problems} seed {seed} agent_{i}: true {types[:, i].tolist()} announced "
                f"{announced[:, i].tolist()} quota {quota.tolist()}: lies {number_of_lies(types[:, i], announced[:, i])}"
                f" vs minimum {minimum_lies(types[:, i], quota)}"
            )
    assert lied > 0, "no episode needed a lie; the property test is vacuous"


@pytest.mark.parametrize(
    "make", [lambda: LaggedTruth(), lambda: TypeRelabel((1, 0, 3, 2))], ids=["lagged_truth", "relabel"]
)
def test_label_dependent_strategies_permute_in_some_episode(make):
    env = linked_voting_v0.parallel_env(num_problems=12)
    found = 0
    for seed in range(30):
        types, announced = episode_vectors(env, {"agent_0": make(), "agent_1": ApproximatelyTruthful()}, seed)
        found += permutes_types(types[:, 0], announced[:, 0])
        assert not permutes_types(types[:, 1], announced[:, 1]), f"seed {seed}: approximate truth permuted"
    assert found > 0, "the strategy never permuted its true types in 30 episodes"


# --- 4. hand cases -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("true", "announced", "expected"),
    [
        ([0, 1], [1, 0], True),  # a swap
        ([0, 1, 2], [1, 2, 0], True),  # a 3-cycle
        ([0, 0, 1], [1, 1, 0], True),  # multigraph: problems 1 and 3 swap 0 and 1
        ([0, 1], [1, 2], False),  # a chain of lies 0 -> 1 -> 2
        ([2, 2, 1], [1, 0, 0], False),  # 2 -> 1, 2 -> 0, 1 -> 0: no cycle
        ([0, 0], [1, 1], False),
        ([0, 1, 2], [0, 1, 2], False),  # truth
        ([], [], False),
    ],
)
def test_permutes_types_by_hand(true, announced, expected):
    assert permutes_types(true, announced) is expected, (
        f"permutes_types({true}, {announced}) is not {expected}"
    )


def test_lies_and_approximate_truth_by_hand():
    assert number_of_lies([0, 1, 2], [0, 2, 2]) == 1, "one problem differs"
    assert minimum_lies([0, 0, 0, 1], [2, 2]) == 1, "three 0s with a quota of two: one lie"
    assert minimum_lies([0, 1], [1, 1]) == 0, "the truth meets the quota"
    assert is_approximately_truthful([0, 0, 0, 1], [0, 1, 0, 1], [2, 2]), "one forced lie with a spare type"
    assert not is_approximately_truthful([0, 1, 0, 1], [1, 0, 0, 1], [2, 2]), "a swap is a permutation"
    # true 0, 0, 1, 2 with quota (1, 1, 2): one lie suffices (0 -> 2); 0 -> 1, 1 -> 2 is one lie too many
    assert is_approximately_truthful([0, 0, 1, 2], [0, 2, 1, 2], [1, 1, 2]), "minimum lies, no permutation"
    assert not is_approximately_truthful([0, 0, 1, 2], [0, 1, 2, 2], [1, 1, 2]), "two lies where one suffices"
    with pytest.raises(ValueError, match="quota"):
        is_approximately_truthful([0, 0, 0, 1], [1, 0, 0, 0], [2, 2])
    with pytest.raises(ValueError, match="lengths"):
        permutes_types([0, 1], [0])


def test_skimmer_values_and_plan_by_hand():
    env = linked_bargaining_v0.parallel_env(num_problems=10, participation="per_problem")
    problem = env.problem
    values = veto_values(problem, 0, [problem.type_probs[1]])
    # seller true 0: says 0 -> price 5 or 1 (mean 3); says 8 -> price 9 or no trade (mean 4.5)
    # seller true 8: says 0 -> 5 - 8, 1 - 8 < 0, vetoed to 0; says 8 -> 9 - 8 = 1 or no trade (mean 0.5)
    assert np.allclose(values, [[3.0, 4.5], [0.0, 0.5]]), f"V[t, s] = {values.tolist()}"
    plan = transportation_plan(values, np.array([5.0, 5.0]), np.array([5.0, 5.0]))
    assert np.allclose(plan, [[0, 5], [5, 0]]), f"the plan should swap: {plan.tolist()}"


def test_front_loading_intensities():
    rng = np.random.default_rng(0)
    voting_problem = linked_voting_v0.parallel_env().problem
    assert np.allclose(utility_ranges(voting_problem, 0, rng), [2, 1, 1, 2]), "voting intensity is |v|"
    seller = utility_ranges(linked_bargaining_v0.parallel_env().problem, 0, rng)
    assert np.allclose(seller, [9, 8]), (
        f"seller 0 faces prices 1..9 (range 9), seller 8 faces -7..1: {seller}"
    )
    goods = utility_ranges(linked_public_goods_v0.parallel_env(num_agents=3).problem, 0, rng)
    assert np.allclose(goods, [0.75, 1.0]), f"public goods ranges {goods}"


def test_truthful_refuses_an_exhausted_type():
    env = linked_voting_v0.parallel_env(num_problems=4, mixing=False)
    strategies: dict[str, Strategy] = {"agent_0": Truthful(), "agent_1": ApproximatelyTruthful()}
    with pytest.raises(ValueError, match=r"approximately_truthful.*budget='none'"):
        run_with_types(env, strategies, 0, np.array([[3, 3, 1, 2], AGENT1_VOTING]).T)


def test_truthful_without_budget_announces_every_type():
    env = linked_voting_v0.parallel_env(num_problems=4, budget=no_budget(4, 2))
    types = np.array([[3, 3, 3, 0], AGENT1_VOTING]).T
    actions, _ = run_with_types(env, {a: Truthful() for a in env.possible_agents}, 0, types)
    assert column(actions, "agent_0") == [3, 3, 3, 0], "truthful without budget should echo the types"


def test_joint_plan_validation():
    env = linked_public_goods_v0.parallel_env(num_agents=4, num_problems=6)
    good = example4_plan(4, 6)
    assert good.members == (1, 2, 3), f"members {good.members}"
    assert good == example4_plan(4, 6) and hash(good) == hash(example4_plan(4, 6)), "plans compare by value"
    bad = np.array(good.announcements)
    bad[0, 1] = 0  # agent_2 now says 0 three times and 1 three times; its quota is (2, 4)
    strategy = PlanFollower(JointPlan((1, 2, 3), bad))
    with pytest.raises(ValueError, match="agent_2"):
        strategy.reset(Seat.from_env(env, "agent_2"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="not a member"):
        PlanFollower(good).reset(Seat.from_env(env, "agent_0"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="multiple of 3"):
        example4_plan(4, 8)
    with pytest.raises(ValueError, match="shape"):
        JointPlan((1, 2), np.zeros((6, 3), dtype=np.int64))


def test_example4_member_by_name():
    env = linked_public_goods_v0.parallel_env(num_agents=7, num_problems=9)
    member = make_strategy("example4_member")
    member.reset(Seat.from_env(env, "agent_3"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="outsider"):
        make_strategy("example4_member").reset(Seat.from_env(env, "agent_0"), np.random.default_rng(0))
    profile = {"agent_0": make_strategy("approximately_truthful")}
    profile.update({f"agent_{i}": make_strategy("example4_member") for i in range(1, 7)})
    play_episode(env, profile, 0)
    announced = env.state_.announced[0]
    assert (announced[:, 1:] == np.array([1] * 6 + [0] * 3)[:, None]).all(), (
        f"members announced {announced[:, 1:]}"
    )


def test_strategies_by_name_with_parameters():
    relabel = make_strategy("relabel:mapping=1/0/3/2")
    assert relabel.params()["mapping"] == (1, 0, 3, 2), f"mapping parsed as {relabel.params()['mapping']}"
    assert make_strategy("random:accept_prob=0.25").params() == {"accept_prob": 0.25}, "accept_prob parsed"
    with pytest.raises(ValueError, match="permutation"):
        make_strategy("relabel:mapping=1/1/3/2")
    with pytest.raises(ValueError, match="accept_prob"):
        make_strategy("random:accept_prob=2")
    with pytest.raises(ValueError, match="beliefs"):
        make_strategy("skimmer:beliefs=psychic")
