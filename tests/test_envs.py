"""Tests of linkmech's PettingZoo environments (linkmech.envs).

1. PettingZoo's own API and seed tests on every registered env under every supported option combination
   (invalid combinations must raise the documented ValueError instead).
2. Whole-episode determinism (PettingZoo's parallel seed test stops after one step).
3. The env agrees with the batched engine (start_episodes + step_over_time).
4. Bad actions and bad options raise ValueErrors that say what is wrong and change nothing.
5. Hand-worked values: decisions, budgets, rewards, participation, masks and observation fields.
6. The registry: pettingzoo.make, linkmech.envs.make and find.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import re
from typing import Any

import numpy as np
import pettingzoo
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import linkmech
from linkmech.envs import (
    ENVIRONMENTS,
    find,
    importance_vote_v0,
    linked_bargaining_v0,
    linked_problem_v0,
    linked_voting_v0,
    ranked_voting_v0,
)
from linkmech.mechanisms import TabularProblem, tabular_voting
from linkmech.mechanisms.linking import start_episodes, step_over_time

K = 4
"""Linked problems in the API tests: every type of every built-in problem gets a positive quota."""

LINKING_IDS = [e.id for e in ENVIRONMENTS if e.module.startswith("linked_")]
VOTING_LIKE = ("linkmech/LinkedVoting-v0", "linkmech/LinkedProblem-v0")  # types +-1, +-2 with prob 1/4


def short(env_id: str) -> str:
    """``LinkedVoting`` for ``linkmech/LinkedVoting-v0``."""
    return env_id.split("/", 1)[1].removesuffix("-v0")


def problem_kwargs(env_id: str) -> dict[str, Any]:
    """Constructor arguments an env needs besides its options (LinkedProblem-v0 needs a problem)."""
    return {"problem": tabular_voting()} if env_id == "linkmech/LinkedProblem-v0" else {}


def test_registry_lists_the_expected_environments():
    ids = sorted(e.id for e in ENVIRONMENTS)
    expected = sorted(
        f"linkmech/{name}-v0"
        for name in (
            "LinkedVoting",
            "LinkedPublicGoods",
            "LinkedBargaining",
            "LinkedAllocation",
            "LinkedProblem",
            "RankedVoting",
            "ImportanceVote",
            "ResourceAllocation",
        )
    )
    assert ids == expected, f"registered ids {ids}, expected {expected}"


# --- 1. PettingZoo API and seed tests under every option combination ------------------------------------


def linking_cases() -> list[Any]:
    """``pytest.param(env_id, kwargs)`` for every option combination of every linking env."""
    processes = {"iid": ("iid", None), "repeat": ("repeat", 0.5), "intensity": ("intensity", 0.3)}
    cases = []
    for env_id in LINKING_IDS:
        voting = env_id == "linkmech/LinkedVoting-v0"
        budgets = ("type", "intensity") if voting else ("type",)
        process_names = ("iid", "repeat", "intensity") if env_id in VOTING_LIKE else ("iid", "repeat")
        for form, participation, discount, budget, mixing, process in itertools.product(
            ("over_time", "all_at_once"),
            (None, "whole", "per_problem"),
            (1.0, 0.9),
            budgets,
            (True, False),
            process_names,
        ):
            name, correlation = processes[process]
            kwargs = {
                "num_problems": K,
                "form": form,
                "participation": participation,
                "discount": discount,
                "budget": budget,
                "mixing": mixing,
                "process": name,
                "correlation": correlation,
            }
            case_id = "-".join(
                [
                    short(env_id),
                    form,
                    f"part={participation}",
                    f"d={discount:g}",
                    f"budget={budget}",
                    "mix" if mixing else "nomix",
                    process if correlation is None else f"{process}{correlation:g}",
                ]
            )
            cases.append(pytest.param(env_id, kwargs, id=case_id))
    return cases


def variant_cases() -> list[Any]:
    """Option combinations of RankedVoting-v0 and ImportanceVote-v0."""
    cases = []
    for form, discount, values, agents in itertools.product(
        ("over_time", "all_at_once"), (1.0, 0.9), ("uniform", "two_point"), (2, 3)
    ):
        kwargs = {
            "num_problems": K,
            "form": form,
            "discount": discount,
            "values": values,
            "num_agents": agents,
        }
        case_id = f"RankedVoting-{form}-d={discount:g}-{values}-n={agents}"
        cases.append(pytest.param("linkmech/RankedVoting-v0", kwargs, id=case_id))
    for (process, correlation), rule in itertools.product(
        (("iid", None), ("repeat", 0.5), ("intensity", -0.5), ("intensity", 0.3)), ("ordinal", "named_only")
    ):
        kwargs = {"process": process, "correlation": correlation, "rule": rule}
        case_id = f"ImportanceVote-{process}{'' if correlation is None else correlation}-{rule}"
        cases.append(pytest.param("linkmech/ImportanceVote-v0", kwargs, id=case_id))
    for mechanism, member, project, discount in itertools.product(
        ("linked", "unlinked"), ("iid_uniform", "iid_skewed", "shift_correlated"), ("exp", "log"), (1.0, 0.9)
    ):
        kwargs = {"num_agents": 3, "num_dates": 4, "mechanism": mechanism, "member": member}
        kwargs.update(project=project, discount=discount)
        case_id = f"ResourceAllocation-{mechanism}-{member}-{project}-d={discount:g}"
        cases.append(pytest.param("linkmech/ResourceAllocation-v0", kwargs, id=case_id))
    return cases


def documented_invalid(env_id: str, kwargs: dict[str, Any]) -> str | None:
    """A regex the documented ValueError must match if this combination is invalid, else None."""
    if kwargs.get("form") == "all_at_once" and kwargs.get("discount", 1.0) != 1.0:
        return "discount"
    return None


def test_every_registered_env_has_option_cases():
    covered = {p.values[0] for p in linking_cases() + variant_cases()}
    missing = {e.id for e in ENVIRONMENTS} - covered
    assert not missing, f"environments without API test cases: {sorted(missing)}"


@pytest.mark.parametrize(("env_id", "kwargs"), linking_cases() + variant_cases())
def test_pettingzoo_api_and_seed_tests(env_id, kwargs):
    kwargs = {**problem_kwargs(env_id), **kwargs}
    invalid = documented_invalid(env_id, kwargs)
    if invalid is not None:
        with pytest.raises(ValueError, match=invalid):
            pettingzoo.make("parallel", env_id, **kwargs)
        with pytest.raises(ValueError, match=invalid):
            pettingzoo.make("aec", env_id, **kwargs)
        return
    api_test(pettingzoo.make("aec", env_id, **kwargs), num_cycles=30)
    parallel_api_test(pettingzoo.make("parallel", env_id, **kwargs), num_cycles=30)
    seed_test(lambda: pettingzoo.make("aec", env_id, **kwargs), num_cycles=30)
    parallel_seed_test(lambda: pettingzoo.make("parallel", env_id, **kwargs), num_cycles=30)


# --- 2. Whole-episode determinism -------------------------------------------------------------------------


DETERMINISM_CASES = [
    pytest.param("linkmech/LinkedVoting-v0", {"num_problems": 6}, id="LinkedVoting"),
    pytest.param(
        "linkmech/LinkedVoting-v0",
        {"num_problems": 6, "form": "all_at_once", "participation": "whole", "budget": "intensity"},
        id="LinkedVoting-all_at_once-whole-intensity",
    ),
    pytest.param(
        "linkmech/LinkedVoting-v0",
        {
            "num_problems": 6,
            "discount": 0.9,
            "participation": "per_problem",
            "process": "repeat",
            "correlation": 0.5,
        },
        id="LinkedVoting-discount-per_problem-repeat",
    ),
    pytest.param("linkmech/LinkedPublicGoods-v0", {"num_problems": 6}, id="LinkedPublicGoods"),
    pytest.param(
        "linkmech/LinkedBargaining-v0",
        {"num_problems": 6, "participation": "per_problem"},
        id="LinkedBargaining",
    ),
    pytest.param(
        "linkmech/LinkedAllocation-v0", {"num_problems": 6, "participation": "whole"}, id="LinkedAllocation"
    ),
    pytest.param(
        "linkmech/LinkedProblem-v0",
        {"num_problems": 6, "process": "intensity", "correlation": 0.3},
        id="LinkedProblem",
    ),
    pytest.param("linkmech/RankedVoting-v0", {"num_problems": 6}, id="RankedVoting"),
    pytest.param(
        "linkmech/RankedVoting-v0", {"num_problems": 6, "form": "all_at_once"}, id="RankedVoting-all_at_once"
    ),
    pytest.param("linkmech/ImportanceVote-v0", {}, id="ImportanceVote"),
    pytest.param(
        "linkmech/ImportanceVote-v0", {"process": "repeat", "correlation": 0.5}, id="ImportanceVote-repeat"
    ),
]


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two nested structures of dicts, lists, arrays and scalars differ (None if equal)."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or a.keys() != b.keys():
            return f"{path}: keys {sorted(a) if isinstance(a, dict) else a} vs {sorted(b) if isinstance(b, dict) else b}"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.dtype != b_arr.dtype or a_arr.shape != b_arr.shape or not np.array_equal(a_arr, b_arr):
            return f"{path}: {a!r} vs {b!r}"
        return None
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return f"{path}: {a!r} vs {b!r}"
        for k, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{k}]")
            if found:
                return found
        return None
    if type(a) is not type(b) or a != b:
        return f"{path}: {a!r} vs {b!r}"
    return None


def play(env: Any, seed: int, action_seed: int) -> list[tuple]:
    """A whole episode: reset(seed), then actions drawn from the masks by a seeded Generator."""
    rng = np.random.default_rng(action_seed)
    observations, infos = env.reset(seed=seed)
    trajectory: list[tuple] = [(copy.deepcopy(observations), copy.deepcopy(infos))]
    while env.agents:
        actions = {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        trajectory.append(
            (actions, copy.deepcopy(observations), rewards, terminations, truncations, copy.deepcopy(infos))
        )
        assert len(trajectory) < 1000, "episode did not end"
    return trajectory


def type_draw(env: Any) -> np.ndarray:
    """The true types / values the env drew at its last reset."""
    if hasattr(env, "state_"):
        return env.state_.types.copy()
    if hasattr(env, "episode"):
        return env.episode.values.copy()
    return np.asarray(env.values).copy()


@pytest.mark.parametrize(("env_id", "kwargs"), DETERMINISM_CASES)
def test_whole_episode_determinism(env_id, kwargs):
    kwargs = {**problem_kwargs(env_id), **kwargs}
    env1 = pettingzoo.make("parallel", env_id, **kwargs)
    env2 = pettingzoo.make("parallel", env_id, **kwargs)
    for seed in (0, 7):
        first, second = play(env1, seed, 100 + seed), play(env2, seed, 100 + seed)
        assert len(first) == len(second), (
            f"{env_id} seed {seed}: episode lengths {len(first)} vs {len(second)}"
        )
        for step, (x, y) in enumerate(zip(first, second)):
            diff = first_difference(x, y)
            assert diff is None, f"{env_id} seed {seed}: two instances differ at step {step}: {diff}"
        assert not env1.agents, f"{env_id}: agents left after the episode ended: {env1.agents}"
        replay = play(env1, seed, 100 + seed)
        diff = first_difference(first, replay)
        assert diff is None, (
            f"{env_id} seed {seed}: a second reset(seed={seed}) did not replay the episode: {diff}"
        )
    draws = []
    for seed in range(10):
        env1.reset(seed=seed)
        draws.append(type_draw(env1).tobytes())
    assert len(set(draws)) >= 5, f"{env_id}: seeds 0..9 gave only {len(set(draws))} distinct type draws"
    env1.reset(seed=3)
    again = type_draw(env1)
    env1.reset()
    assert not np.array_equal(again, type_draw(env1)), f"{env_id}: reset() without a seed repeated the draw"


# --- 3. Env vs engine ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("mixing", "discount"), [(True, 1.0), (True, 0.9), (False, 0.8)])
def test_env_matches_engine(seed, mixing, discount):
    k = 8  # quota 2 of each value
    env = linked_voting_v0.parallel_env(num_problems=k, mixing=mixing, discount=discount)
    env.reset(seed=seed)
    state = start_episodes(env.mechanism, env.process, [np.random.default_rng(seed)])
    assert np.array_equal(env.state_.types, state.types), f"seed {seed}: env types differ from the engine's"
    schedule = np.array(
        [[3, 0, 2, 1, 0, 3, 1, 2], [0, 1, 2, 3, 3, 2, 1, 0]]
    ).T  # [date, agent], 2 of each type
    for date in range(k):
        _, rewards, _, _, infos = env.step({f"agent_{i}": int(schedule[date, i]) for i in range(2)})
        engine_rewards = step_over_time(env.mechanism, state, schedule[date][None, :])[0]
        got = [rewards["agent_0"], rewards["agent_1"]]
        assert got == engine_rewards.tolist(), (
            f"seed {seed} date {date + 1}: env {got} vs engine {engine_rewards}"
        )
        decision = env.problem.alternative_label(int(state.decisions[0, date]))
        assert infos["agent_0"]["decision"] == decision, f"seed {seed} date {date + 1}: decision differs"
    for name in ("types", "announced", "used", "decisions", "remaining", "utilities", "expected_utilities"):
        assert np.array_equal(getattr(env.state_, name), getattr(state, name)), f"seed {seed}: {name} differs"
    assert not env.agents, "the env did not end after K steps"


# --- 4. Bad input -------------------------------------------------------------------------------------------


def voting_env(**kwargs: Any) -> Any:
    return linked_voting_v0.parallel_env(**{"num_problems": K, **kwargs})


def state_snapshot(env: Any) -> dict[str, Any]:
    """Every array of env.state_ plus the env's step bookkeeping."""
    state = env.state_
    arrays = {name: getattr(state, name).copy() for name in ("types", "remaining", "announced", "used")}
    arrays.update(
        decisions=state.decisions.copy(),
        utilities=state.utilities.copy(),
        expected_utilities=state.expected_utilities.copy(),
        mixing_uniforms=state.randomness.mixing_uniforms.copy(),
        decision_uniforms=state.randomness.decision_uniforms.copy(),
        date=state.date,
        agents=list(env.agents),
        phase=env.phase,
        step_count=env._step_count,
    )
    return arrays


def good_actions(env: Any) -> dict[str, int]:
    """The lowest admissible action of every live agent."""
    observations = env._observations()
    return {a: int(np.flatnonzero(observations[a]["action_mask"])[0]) for a in env.agents}


def advance(env: Any, steps: int) -> list[dict[str, int]]:
    taken = []
    for _ in range(steps):
        actions = good_actions(env)
        env.step(actions)
        taken.append(actions)
    return taken


def finish(env: Any) -> list[Any]:
    out = []
    while env.agents:
        actions = good_actions(env)
        out.append((actions, *env.step(actions)))
    return out


AGENT_1 = re.compile(r"agent[_ ]1\b")


def bad_step_cases() -> list[Any]:
    """(name, env options, good steps first, actions builder, regexes the message must match)."""

    def with_agent_1(value: Any):
        return lambda env, first: {"agent_0": good_actions(env)["agent_0"], "agent_1": value}

    def exhausted(env, first):
        # quota 1 of each value with K = 4: repeating step 1's announcement exhausts that type
        return {"agent_0": good_actions(env)["agent_0"], "agent_1": first["agent_1"]}

    labels = ["'-2'", "'-1'", "'1'", "'2'"]
    return [
        pytest.param({}, 1, exhausted, [AGENT_1, r"exhausted", r"may still announce"], id="exhausted-type"),
        pytest.param({}, 1, with_agent_1(4), [AGENT_1, r"0\.\.3"], id="out-of-range"),
        pytest.param({}, 1, with_agent_1(-1), [AGENT_1, r"0\.\.3"], id="negative"),
        pytest.param({}, 1, with_agent_1(1.0), [AGENT_1, r"0\.\.3", r"float"], id="float"),
        pytest.param({}, 1, with_agent_1(float("nan")), [AGENT_1, r"nan", r"0\.\.3"], id="nan"),
        pytest.param({}, 1, with_agent_1(True), [AGENT_1, r"bool", r"0\.\.3"], id="bool"),
        pytest.param({}, 1, with_agent_1(np.array([1])), [AGENT_1, r"ndarray", r"0\.\.3"], id="array"),
        pytest.param({}, 1, with_agent_1(np.array([1, 2])), [AGENT_1, r"0\.\.3"], id="array-2"),
        pytest.param({}, 1, with_agent_1(None), [AGENT_1, r"0\.\.3"], id="none"),
        pytest.param(
            {},
            1,
            lambda env, first: {"agent_0": 1},
            [r"missing for \['agent_1'\]", r"agent_0", r"agent_1"],
            id="missing-agent",
        ),
        pytest.param(
            {},
            1,
            lambda env, first: {"agent_0": 1, "agent_1": 1, "agent_9": 0},
            [r"agent_9", r"live agent \['agent_0', 'agent_1'\]"],
            id="unknown-agent",
        ),
        pytest.param(
            {"participation": "whole"},
            K,
            with_agent_1(2),
            [AGENT_1, r"0 \(decline\)", r"1 \(accept\)"],
            id="participation-2",
        ),
        pytest.param(
            {"participation": "per_problem"},
            K + 1,
            with_agent_1(3),
            [AGENT_1, r"0 \(decline\)", r"1 \(accept\)"],
            id="per-problem-participation-3",
        ),
        pytest.param(
            {"form": "all_at_once"},
            2,
            exhausted,
            [AGENT_1, r"exhausted", "|".join(labels)],
            id="all-at-once-exhausted",
        ),
    ]


@pytest.mark.parametrize(("options", "good_steps", "build", "patterns"), bad_step_cases())
def test_bad_step_raises_and_changes_nothing(options, good_steps, build, patterns):
    env, reference = voting_env(**options), voting_env(**options)
    env.reset(seed=5)
    reference.reset(seed=5)
    taken = advance(env, good_steps)
    for actions in taken:
        reference.step(actions)
    before = state_snapshot(env)
    bad = build(env, taken[0])
    with pytest.raises(ValueError) as caught:
        env.step(bad)
    message = str(caught.value)
    for pattern in patterns:
        assert re.search(pattern, message), (
            f"message {message!r} does not match {pattern!r} for actions {bad}"
        )
    diff = first_difference(before, state_snapshot(env))
    assert diff is None, f"the rejected step {bad} changed the env: {diff}"
    diff = first_difference(finish(env), finish(reference))
    assert diff is None, (
        f"after the rejected step {bad} the episode differs from one that never saw it: {diff}"
    )


def test_check_action_changes_nothing_and_agrees_with_step():
    env = voting_env()
    env.reset(seed=1)
    before = state_snapshot(env)
    for value in (0, 3, 4, 1.0, True):
        with contextlib.suppress(ValueError):
            env.check_action("agent_0", value)
    assert first_difference(before, state_snapshot(env)) is None, "check_action changed the env"
    with pytest.raises(ValueError, match=r"agent_7"):
        env.check_action("agent_7", 0)


def test_exhausted_type_message_names_the_env_agent_id():
    env = voting_env()
    env.reset(seed=5)
    first = advance(env, 1)[0]
    with pytest.raises(ValueError) as caught:
        env.step({"agent_0": good_actions(env)["agent_0"], "agent_1": first["agent_1"]})
    assert "agent_1" in str(caught.value), f"message {str(caught.value)!r} does not name 'agent_1'"


def test_step_after_the_episode_ended():
    env = voting_env()
    env.reset(seed=0)
    finish(env)
    assert env.phase == "done" and not env.agents, f"episode not over: phase {env.phase}, agents {env.agents}"
    with pytest.raises(ValueError, match=r"reset\(\)"):
        env.step({"agent_0": 0, "agent_1": 0})
    with pytest.raises(ValueError, match=r"reset\(\)"):
        env.check_action("agent_0", 0)
    fresh = voting_env()
    with pytest.raises(ValueError, match=r"reset\(\)"):
        fresh.step({"agent_0": 0, "agent_1": 0})


def aec_trajectory(aec: Any) -> list[Any]:
    """Finish an AEC episode with the lowest admissible actions; return what each agent saw."""
    out = []
    for agent in aec.agent_iter():
        observation, reward, termination, truncation, info = aec.last()
        action = None if termination or truncation else int(np.flatnonzero(observation["action_mask"])[0])
        out.append(
            (agent, copy.deepcopy(observation), reward, termination, truncation, copy.deepcopy(info), action)
        )
        aec.step(action)
    return out


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        pytest.param(4, r"agent_1 .*0\.\.3", id="out-of-range"),
        pytest.param(1.0, r"agent_1 .*float", id="float"),
        pytest.param(float("nan"), r"agent_1 .*nan", id="nan"),
        pytest.param(True, r"agent_1 .*bool", id="bool"),
        pytest.param(np.array([1]), r"agent_1 .*ndarray", id="array"),
        pytest.param("exhausted", r"agent[_ ]1 .*exhausted", id="exhausted-type"),
    ],
)
def test_aec_rejects_bad_action_at_the_agents_turn(bad, pattern):
    aec, reference = linked_voting_v0.env(num_problems=K), linked_voting_v0.env(num_problems=K)
    aec.reset(seed=3)
    reference.reset(seed=3)
    first = {}
    for env in (aec, reference):  # one full good cycle, then agent_0's good action of the second
        for _ in range(3):
            agent = env.agent_selection
            observation = env.observe(agent)
            action = int(np.flatnonzero(observation["action_mask"])[0])
            first.setdefault(agent, action)
            env.step(action)
    assert aec.agent_selection == "agent_1", f"expected agent_1's turn, got {aec.agent_selection}"
    parallel = aec.unwrapped
    before = state_snapshot(parallel)
    action = first["agent_1"] if isinstance(bad, str) else bad
    with pytest.raises(ValueError, match=pattern):
        aec.step(action)
    assert aec.agent_selection == "agent_1", (
        f"agent_selection moved to {aec.agent_selection} after a bad action"
    )
    diff = first_difference(before, state_snapshot(parallel))
    assert diff is None, f"the rejected AEC action {bad!r} changed the parallel env: {diff}"
    diff = first_difference(aec_trajectory(aec), aec_trajectory(reference))
    assert diff is None, f"after the rejected AEC action {bad!r} the episode differs: {diff}"


BAD_OPTIONS = [
    pytest.param(
        linked_voting_v0.parallel_env, {"form": "sometimes"}, r"form.*sometimes.*over_time", id="form"
    ),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"participation": "maybe"},
        r"participation.*maybe.*whole",
        id="participation",
    ),
    pytest.param(
        linked_bargaining_v0.parallel_env,
        {"budget": "intensity"},
        r"budget='intensity'.*bargaining",
        id="intensity-budget-on-bargaining",
    ),
    pytest.param(linked_voting_v0.parallel_env, {"budget": "weird"}, r"budget.*weird", id="budget-name"),
    pytest.param(linked_voting_v0.parallel_env, {"num_problems": 0}, r"num_problems.*0", id="num_problems-0"),
    pytest.param(
        linked_voting_v0.parallel_env, {"num_problems": -3}, r"num_problems", id="num_problems-negative"
    ),
    pytest.param(linked_voting_v0.parallel_env, {"discount": 0}, r"discount.*0.*\(0, 1\]", id="discount-0"),
    pytest.param(linked_voting_v0.parallel_env, {"discount": 1.5}, r"discount.*1\.5", id="discount-1.5"),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"form": "all_at_once", "discount": 0.9},
        r"discount.*all_at_once",
        id="all_at_once-discounted",
    ),
    pytest.param(
        lambda **kw: pettingzoo.make("parallel", "linkmech/LinkedPublicGoods-v0", **kw),
        {"process": "intensity"},
        r"IntensityCorrelated",
        id="intensity-process-on-public-goods",
    ),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"process": "markov"},
        r"process.*markov",
        id="process-name",
    ),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"correlation": 0.5},
        r"correlation.*iid",
        id="correlation-with-iid",
    ),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"process": "repeat", "correlation": 1.5},
        r"\[0, 1\]",
        id="repeat-correlation-1.5",
    ),
    pytest.param(
        linked_problem_v0.parallel_env,
        {},
        r"problem.*FiniteProblem",
        id="LinkedProblem-without-problem",
    ),
    pytest.param(
        lambda **kw: pettingzoo.make("aec", "linkmech/LinkedProblem-v0", **kw),
        {},
        r"problem",
        id="LinkedProblem-aec-without-problem",
    ),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"render_mode": "rgb_array"},
        r"render_mode",
        id="render-mode",
    ),
    pytest.param(ranked_voting_v0.parallel_env, {"form": "sometimes"}, r"form", id="ranked-form"),
    pytest.param(
        ranked_voting_v0.parallel_env, {"num_problems": 0}, r"num_problems", id="ranked-num_problems"
    ),
    pytest.param(ranked_voting_v0.parallel_env, {"discount": 0}, r"discount", id="ranked-discount-0"),
    pytest.param(
        ranked_voting_v0.parallel_env,
        {"form": "all_at_once", "discount": 0.5},
        r"discount",
        id="ranked-all_at_once-discounted",
    ),
    pytest.param(
        lambda **kw: pettingzoo.make("parallel", "linkmech/ImportanceVote-v0", **kw),
        {"rule": "loudest"},
        r"rule.*loudest",
        id="importance-rule",
    ),
    pytest.param(ranked_voting_v0.parallel_env, {"values": "weird"}, r"weird", id="ranked-values"),
    pytest.param(ranked_voting_v0.parallel_env, {"bound": -1}, r"bound", id="ranked-bound"),
    pytest.param(ranked_voting_v0.parallel_env, {"num_agents": 1}, r"num_agents", id="ranked-num_agents"),
    pytest.param(
        importance_vote_v0.parallel_env, {"correlation": 0.5}, r"correlation.*iid", id="importance-iid-p"
    ),
    pytest.param(
        importance_vote_v0.parallel_env,
        {"process": "intensity", "correlation": 2},
        r"\[-1, 1\]",
        id="importance-intensity-p",
    ),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"budget": [[0, 0, 1, 1], [0, 1, 2]]},
        r"budget classes for agent 1",
        id="budget-classes-wrong-length",
    ),
    pytest.param(
        linked_voting_v0.parallel_env,
        {"budget": [[0, 0, 2, 2], [0, 0, 1, 1]]},
        r"budget classes for agent 0",
        id="budget-classes-gap",
    ),
]


@pytest.mark.parametrize(("factory", "kwargs", "pattern"), BAD_OPTIONS)
def test_bad_options(factory, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        factory(**kwargs)


def test_participation_needs_a_status_quo():
    base = tabular_voting()
    no_status_quo = TabularProblem(
        utilities=base.utilities,
        type_probs=base.exact_type_probs,
        target=base._dense_target,
        type_values=base.type_values,
        name="no_sq",
    )
    assert no_status_quo.status_quo is None, "the test problem should have no status quo"
    for participation in ("whole", "per_problem"):
        with pytest.raises(ValueError, match=r"status quo.*no_sq|no_sq.*status quo"):
            linked_problem_v0.parallel_env(problem=no_status_quo, participation=participation)
    env = linked_problem_v0.parallel_env(problem=no_status_quo, num_problems=K)
    env.reset(seed=0)
    assert env.num_steps == K, (
        f"without participation the episode should have K={K} steps, got {env.num_steps}"
    )


def test_ranked_voting_rejects_a_reused_rank():
    env, reference = (
        ranked_voting_v0.parallel_env(num_problems=K),
        ranked_voting_v0.parallel_env(num_problems=K),
    )
    env.reset(seed=2)
    reference.reset(seed=2)
    first = {"agent_0": 1 * K + 0, "agent_1": 0 * K + 2}  # agent_0: b with rank 1; agent_1: a with rank 3
    env.step(first)
    reference.step(first)
    before = copy.deepcopy(env.episode)
    with pytest.raises(ValueError, match=r"agent_1 gave rank 3 .*already used.*\[3\]"):
        env.step({"agent_0": 1, "agent_1": K + 2})  # rank 3 again, with the other vote
    after = env.episode
    for name in ("values", "uniforms", "votes", "ranks", "decisions", "utilities", "date"):
        assert np.array_equal(getattr(before, name), getattr(after, name)), (
            f"rejected step changed episode.{name}"
        )
    masks = env._observations()
    assert masks["agent_1"]["action_mask"].tolist() == [1, 1, 0, 1] * 2, "rank 3 should be masked for agent_1"
    for _ in range(K - 1):
        actions = {a: int(np.flatnonzero(env._observations()[a]["action_mask"])[0]) for a in env.agents}
        assert first_difference(env.step(actions), reference.step(actions)) is None, "episode differs after"


# --- 5. Value checks ------------------------------------------------------------------------------------------


def quota_permutation_types(env: Any, rng: np.random.Generator) -> np.ndarray:
    """Overwrite env.state_.types: each agent's K true types are a random permutation of its quota."""
    mechanism = env.mechanism
    k = env.options.num_problems
    types = np.empty((k, mechanism.num_agents), dtype=np.int64)
    for i, budget in enumerate(mechanism.budgets):
        assert budget.num_classes == len(budget.class_of_type), "value checks use budget='type'"
        types[:, i] = rng.permutation(np.repeat(np.arange(budget.num_classes), budget.quota))
    env.state_.types[0] = types
    return types


TRUTH_CASES = [
    pytest.param(linked_voting_v0.parallel_env, {}, id="voting"),
    pytest.param(linked_voting_v0.parallel_env, {"num_agents": 3, "discount": 0.8}, id="voting-3-discounted"),
    pytest.param(linked_voting_v0.parallel_env, {"form": "all_at_once"}, id="voting-all_at_once"),
    pytest.param(
        lambda **kw: pettingzoo.make("parallel", "linkmech/LinkedPublicGoods-v0", **kw),
        {"discount": 0.9},
        id="public_goods",
    ),
    pytest.param(linked_bargaining_v0.parallel_env, {"discount": 0.95}, id="bargaining"),
    pytest.param(
        lambda **kw: pettingzoo.make("parallel", "linkmech/LinkedAllocation-v0", **kw),
        {"form": "all_at_once"},
        id="allocation-all_at_once",
    ),
    pytest.param(
        lambda **kw: linked_problem_v0.parallel_env(problem=tabular_voting(), **kw),
        {"discount": 0.7},
        id="tabular_voting",
    ),
]


@pytest.mark.parametrize(("factory", "kwargs"), TRUTH_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_truthful_announcements_meeting_the_quota(factory, kwargs, seed):
    k = 8
    env = factory(num_problems=k, mixing=False, **kwargs)
    env.reset(seed=seed)
    types = quota_permutation_types(env, np.random.default_rng(seed))
    problem, discount, over_time = env.problem, env.options.discount, env.options.form == "over_time"
    agents = env.possible_agents
    for date in range(k):
        observations = env._observations()
        for i, agent in enumerate(agents):
            mask = observations[agent]["action_mask"]
            assert mask[types[date, i]] == 1, f"date {date + 1}: {agent}'s true type is masked: {mask}"
        _, rewards, terminations, _, infos = env.step({a: int(types[date, i]) for i, a in enumerate(agents)})
        assert (env.state_.remaining >= 0).all(), f"date {date + 1}: negative budget {env.state_.remaining}"
        assert all(terminations.values()) == (date == k - 1), f"date {date + 1}: terminations {terminations}"
        if over_time:
            for agent in agents:
                expected = discount**date * infos[agent]["utility"]
                assert math.isclose(rewards[agent], expected, abs_tol=1e-12), (
                    f"date {date + 1}: {agent} got reward {rewards[agent]}, expected "
                    f"{discount}**{date} * {infos[agent]['utility']} = {expected}"
                )
                assert infos[agent]["true_type"] == infos[agent]["announced"] == infos[agent]["used"], (
                    f"date {date + 1}: truthful announcement not used as is: {infos[agent]}"
                )
        elif date < k - 1:
            assert all(r == 0 for r in rewards.values()), (
                f"all at once, date {date + 1}: rewards {rewards} != 0"
            )
        else:
            for agent in agents:
                total = sum(infos[agent]["utilities"])
                assert math.isclose(rewards[agent], total, abs_tol=1e-12), (
                    f"all at once: {agent}'s final reward {rewards[agent]} != sum of utilities {total}"
                )
    assert (env.state_.remaining == 0).all(), f"budgets left at the end: {env.state_.remaining.tolist()}"
    lottery = problem.target(types)
    decisions = env.state_.decisions[0]
    for date in range(k):
        support = lottery.alternatives[date][lottery.probs[date] > 0]
        assert decisions[date] in support, (
            f"date {date + 1}: decision {decisions[date]} not in f's support {support.tolist()} for types "
            f"{types[date].tolist()}"
        )
        if len(set(support.tolist())) == 1:
            assert decisions[date] == support[0], f"date {date + 1}: f is deterministic but decision differs"
    if problem.name in ("voting", "tabular_voting"):
        values = np.stack([problem.type_values[i][types[:, i]] for i in range(len(agents))], axis=1).sum(
            axis=1
        )
        decided = values != 0
        assert decided.any(), "no date with a nonzero value sum; choose another seed"
        expected_b = (values > 0).astype(np.int64)
        assert decisions[decided].tolist() == expected_b[decided].tolist(), (
            f"voting decisions {decisions.tolist()} are not the sign of the value sums {values.tolist()}"
        )
        # a tie is a fair coin, drawn at reset: f's lottery (a, b) = (1/2, 1/2) inverted at that date's uniform
        coins = (env.state_.randomness.decision_uniforms[0] >= 0.5).astype(np.int64)
        assert decisions[~decided].tolist() == coins[~decided].tolist(), (
            f"tied voting decisions {decisions[~decided].tolist()} do not follow the coins {coins[~decided].tolist()}"
        )


def test_all_at_once_decides_only_after_the_last_entry():
    env = voting_env(form="all_at_once", num_problems=6)
    env.reset(seed=4)
    for date in range(6):
        assert (env.state_.decisions[0] == -1).all(), (
            f"decided before entry {date + 1}: {env.state_.decisions}"
        )
        _, _, _, _, infos = env.step(good_actions(env))
    assert (env.state_.decisions[0] >= 0).all(), "not every problem decided after the last entry"
    assert infos["agent_0"]["decisions"] == [
        env.problem.alternative_label(int(d)) for d in env.state_.decisions[0]
    ]


def status_quo_problem() -> TabularProblem:
    """Two agents, types 0/1 (1/2 each); alternatives e (status quo), x, y; every utility is nonzero.

    Agent 0's table is ``table`` below, agent 1's the same with the type rows swapped, so the status-quo
    utility is ``[1, 2][t]`` for agent 0 and ``[2, 1][t]`` for agent 1. f: x if the announced types sum to
    at least 1, else y.
    """
    table = np.array([[1.0, 3.0, -1.0], [2.0, -2.0, 4.0]])  # [type, (e, x, y)]

    def target(announced):
        x = (announced.sum(axis=1) >= 1).astype(float)
        return np.stack([np.zeros_like(x), x, 1 - x], axis=1)

    return TabularProblem(
        utilities=[table, table[::-1].copy()],
        type_probs=[[0.5, 0.5], [0.5, 0.5]],
        target=target,
        alternative_labels=["e", "x", "y"],
        status_quo=0,
        name="with_status_quo",
    )


def discounted_status_quo(types: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``[K, 2]`` status-quo utilities of :func:`status_quo_problem` (by hand), times ``discount**k``."""
    by_type = np.array([[1.0, 2.0], [2.0, 1.0]])  # [agent, type]
    return np.stack([by_type[0][types[:, 0]], by_type[1][types[:, 1]]], axis=1) * weights[:, None]


@pytest.mark.parametrize("form", ["over_time", "all_at_once"])
@pytest.mark.parametrize("accept", [(1, 1), (0, 1), (1, 0), (0, 0)])
def test_whole_participation(form, accept):
    discount = 0.9 if form == "over_time" else 1.0
    k = 4
    env = linked_problem_v0.parallel_env(
        problem=status_quo_problem(),
        num_problems=k,
        participation="whole",
        form=form,
        discount=discount,
        mixing=False,
    )
    env.reset(seed=11)
    types = quota_permutation_types(env, np.random.default_rng(11))
    for date in range(k):
        _, rewards, terminations, _, _ = env.step(
            {"agent_0": int(types[date, 0]), "agent_1": int(types[date, 1])}
        )
        assert rewards == {"agent_0": 0.0, "agent_1": 0.0}, f"announcing step {date + 1} paid {rewards}"
        assert not any(terminations.values()), "terminated before the participation step"
    assert env.phase == "participate", f"phase {env.phase} after K announcements"
    weights = discount ** np.arange(k)
    proposed = env.state_.utilities[0] * weights[:, None]
    status_quo = discounted_status_quo(types, weights)
    observations = env._observations()
    for i, agent in enumerate(env.agents):
        assert observations[agent]["action_mask"].tolist() == [1, 1], f"{agent}: participation mask wrong"
        offer = observations[agent]["observation"][dict(env.observation_fields(agent))["offer"]]
        assert np.allclose(offer, [proposed[:, i].sum(), status_quo[:, i].sum()]), (
            f"{agent}: offer {offer} vs proposed {proposed[:, i].sum()} / status quo {status_quo[:, i].sum()}"
        )
    _, rewards, terminations, _, infos = env.step({"agent_0": accept[0], "agent_1": accept[1]})
    implemented = all(accept)
    expected = proposed.sum(axis=0) if implemented else status_quo.sum(axis=0)
    for i, agent in enumerate(env.possible_agents):
        assert math.isclose(rewards[agent], expected[i], abs_tol=1e-12), (
            f"accept {accept}: {agent} got {rewards[agent]}, expected {expected[i]}"
        )
        assert infos[agent]["implemented"] is implemented, f"accept {accept}: implemented {infos[agent]}"
        assert infos[agent]["accepted"] is bool(accept[i]), f"accept {accept}: accepted {infos[agent]}"
    assert all(terminations.values()) and not env.agents, (
        "the episode should end after the participation step"
    )


def test_whole_participation_voting_status_quo_is_zero():
    env = voting_env(participation="whole", discount=0.9)
    env.reset(seed=0)
    advance(env, K)
    _, rewards, _, _, infos = env.step({"agent_0": 1, "agent_1": 0})
    assert rewards == {"agent_0": 0.0, "agent_1": 0.0}, f"voting's status quo a pays 0, got {rewards}"
    assert not infos["agent_0"]["implemented"], "a declined mechanism reported as implemented"


@pytest.mark.parametrize("declined", [0, 2])
def test_per_problem_participation(declined):
    k, discount = 4, 0.9
    env = linked_problem_v0.parallel_env(
        problem=status_quo_problem(),
        num_problems=k,
        participation="per_problem",
        discount=discount,
        mixing=False,
    )
    env.reset(seed=12)
    types = quota_permutation_types(env, np.random.default_rng(12))
    for date in range(k):
        env.step({"agent_0": int(types[date, 0]), "agent_1": int(types[date, 1])})
    weights = discount ** np.arange(k)
    proposed = env.state_.utilities[0] * weights[:, None]
    status_quo = discounted_status_quo(types, weights)
    for j in range(k):
        observations = env._observations()
        for i, agent in enumerate(env.agents):
            offer = observations[agent]["observation"][dict(env.observation_fields(agent))["offer"]]
            assert np.allclose(offer, [proposed[j, i], status_quo[j, i]]), (
                f"problem {j + 1}: {agent} offer {offer}"
            )
        actions = {"agent_0": 1, "agent_1": 0 if j == declined else 1}
        _, rewards, terminations, _, infos = env.step(actions)
        expected = status_quo[j] if j == declined else proposed[j]
        for i, agent in enumerate(env.possible_agents):
            assert math.isclose(rewards[agent], expected[i], abs_tol=1e-12), (
                f"problem {j + 1} (declined {declined + 1}): {agent} got {rewards[agent]}, expected {expected[i]}"
            )
            assert infos[agent]["problem"] == j + 1, f"info problem {infos[agent]['problem']} at step {j + 1}"
            assert infos[agent]["implemented"] is (j != declined), f"problem {j + 1}: {infos[agent]}"
        assert all(terminations.values()) == (j == k - 1), f"problem {j + 1}: terminations {terminations}"


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        pytest.param(linked_voting_v0.parallel_env, {}, id="voting"),
        pytest.param(
            linked_voting_v0.parallel_env, {"budget": "intensity", "participation": "whole"}, id="intensity"
        ),
        pytest.param(linked_voting_v0.parallel_env, {"form": "all_at_once"}, id="all_at_once"),
        pytest.param(
            lambda **kw: pettingzoo.make("parallel", "linkmech/LinkedPublicGoods-v0", **kw),
            {"participation": "per_problem"},
            id="public_goods",
        ),
        pytest.param(linked_bargaining_v0.parallel_env, {}, id="bargaining"),
    ],
)
def test_masks_and_observation_fields(factory, kwargs):
    k = 8
    env = factory(num_problems=k, **kwargs)
    observations, _ = env.reset(seed=9)
    rng = np.random.default_rng(9)
    while True:
        for i, agent in enumerate(env.possible_agents):
            observation = observations[agent]
            vector, mask = observation["observation"], observation["action_mask"]
            assert mask.dtype == np.int8, f"{agent}: mask dtype {mask.dtype}, expected int8"
            assert vector.dtype == np.float32, f"{agent}: observation dtype {vector.dtype}, expected float32"
            assert env.observation_space(agent).contains(observation), (
                f"{agent}: observation outside its space"
            )
            fields = env.observation_fields(agent)
            starts = [s.start for _, s in fields]
            stops = [s.stop for _, s in fields]
            assert starts[0] == 0 and stops[-1] == len(vector) and starts[1:] == stops[:-1], (
                f"{agent}: fields {fields} do not tile the vector of length {len(vector)}"
            )
            names = [name for name, _ in fields]
            assert len(set(names)) == len(names), f"{agent}: duplicate field names {names}"
            budget = env.mechanism.budgets[i]
            remaining = env.state_.remaining[0, i, : budget.num_classes]
            got = vector[dict(fields)["budget"]]
            assert np.allclose(got, remaining / k), (
                f"{agent}: budget field {got} vs remaining/K {remaining / k}"
            )
            expected = np.zeros(env.action_space(agent).n, dtype=np.int8)
            if env.phase == "announce":
                n_types = env.problem.type_counts[i]
                expected[:n_types] = remaining[budget.class_of_type] > 0
            elif env.phase == "participate":
                expected[:2] = 1
            assert mask.tolist() == expected.tolist(), (
                f"{agent} in phase {env.phase}: mask {mask} vs {expected}"
            )
        if not env.agents:
            break
        actions = {a: int(rng.choice(np.flatnonzero(observations[a]["action_mask"]))) for a in env.agents}
        observations, *_ = env.step(actions)
    assert (env.state_.remaining == 0).all(), f"budget left at the end: {env.state_.remaining.tolist()}"


# --- 6. Registry -------------------------------------------------------------------------------------------


def test_pettingzoo_make_after_import():
    assert linkmech.make is linkmech.envs.make, "linkmech.make should be linkmech.envs.make"
    parallel = pettingzoo.make("parallel", "linkmech/LinkedVoting-v0", num_problems=K)
    aec = pettingzoo.make("aec", "linkmech/LinkedVoting-v0", num_problems=K)
    assert isinstance(parallel, pettingzoo.ParallelEnv), f"parallel make gave {type(parallel)}"
    assert isinstance(aec, pettingzoo.AECEnv), f"aec make gave {type(aec)}"
    assert parallel.options.num_problems == K, "kwargs were not passed through pettingzoo.make"
    for entry in ENVIRONMENTS:
        kwargs = problem_kwargs(entry.id)
        for kind, cls in (("parallel", pettingzoo.ParallelEnv), ("aec", pettingzoo.AECEnv)):
            made = pettingzoo.make(kind, entry.id, **kwargs)
            assert isinstance(made, cls), f"pettingzoo.make({kind!r}, {entry.id!r}) gave {type(made)}"


@pytest.mark.parametrize("name", ["linked_voting_v0", "linkmech/LinkedVoting-v0", "LinkedVoting-v0"])
def test_linkmech_make_by_module_or_id(name):
    parallel = linkmech.envs.make(name, num_problems=K)
    aec = linkmech.envs.make(name, aec=True, num_problems=K)
    assert type(parallel).__name__ == "LinkedVotingEnv", f"make({name!r}) gave {type(parallel)}"
    assert isinstance(aec, pettingzoo.AECEnv), f"make({name!r}, aec=True) gave {type(aec)}"
    assert find(name).id == "linkmech/LinkedVoting-v0", f"find({name!r}) gave {find(name)}"


def test_unknown_name_lists_known_ids():
    with pytest.raises(ValueError) as caught:
        linkmech.envs.make("linked_chess_v0")
    message = str(caught.value)
    assert "linked_chess_v0" in message, f"message {message!r} does not repeat the bad name"
    for entry in ENVIRONMENTS:
        assert entry.id in message, f"message {message!r} does not list {entry.id}"
    with pytest.raises(ValueError, match="LinkedVoting-v0"):
        find("LinkedVoting-v1")


@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(lambda: ranked_voting_v0.parallel_env(num_problems=3), id="RankedVoting"),
        pytest.param(importance_vote_v0.parallel_env, id="ImportanceVote"),
        pytest.param(
            lambda: linked_bargaining_v0.parallel_env(num_problems=2, participation="whole"), id="Bargaining"
        ),
    ],
)
def test_step_before_reset_and_after_the_end(factory):
    env = factory()
    with pytest.raises(ValueError, match=r"reset\(\)"):
        env.step({"agent_0": 0, "agent_1": 0})
    observations, _ = env.reset(seed=0)
    while env.agents:
        actions = {a: int(np.flatnonzero(observations[a]["action_mask"])[0]) for a in env.agents}
        observations, *_ = env.step(actions)
    with pytest.raises(ValueError, match=r"reset\(\)"):
        env.step({"agent_0": 0, "agent_1": 0})


def test_aec_rejects_a_bad_first_action():
    aec = linked_voting_v0.env(num_problems=K)
    aec.reset(seed=0)
    before = state_snapshot(aec.unwrapped)
    with pytest.raises(ValueError, match=r"agent_0 .*0\.\.3"):
        aec.step(7)
    assert aec.agent_selection == "agent_0", f"agent_selection moved to {aec.agent_selection}"
    assert first_difference(before, state_snapshot(aec.unwrapped)) is None, (
        "the rejected action changed the env"
    )


# --- validation bugs found while writing these tests (fixed; kept as regressions) ---------------------------


def test_budget_with_too_few_class_lists_raises_value_error():
    with pytest.raises(ValueError, match=r"budget"):
        linked_voting_v0.parallel_env(num_problems=K, budget=[[0, 0, 1, 1]])


def test_budget_with_too_many_class_lists_raises_value_error():
    with pytest.raises(ValueError, match=r"budget"):
        linked_voting_v0.parallel_env(num_problems=K, budget=[[0, 0, 1, 1]] * 3)


def test_mixing_must_be_a_bool():
    with pytest.raises(ValueError, match=r"mixing"):
        linked_voting_v0.parallel_env(num_problems=K, mixing="no")
