"""Tests of exact best responses in the linking mechanism over time (linkmech.training.best_response).

1. Hand-worked K = 1 values, and brute force: the best of all deterministic policies (on the seat's
   observation: date, own remaining budget, others' announcement counts, own type), each evaluated by exact
   enumeration in fractions, equals the DP's best value; approximate truth's enumerated value equals the
   DP's policy evaluation.
2. Monte Carlo: approximate truth and the best-response table, played in the env with play_episode, attain
   the DP values within a 99% interval.
3. Properties: gain >= 0, the history-free lower bound lies between, the numbers for linked voting at
   K = 2, 4, 8 (pinned), the exact announcement laws against the scripted strategies themselves.
4. Errors: envs and strategies that cannot be modelled exactly.

Voting type indices: 0 = -2, 1 = -1, 2 = +1, 3 = +2. Public goods: 0 = value 0, 1 = value 1.
"""

from __future__ import annotations

import copy
import itertools
import pickle
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from linkmech.agents import Seat, make_strategy
from linkmech.agents.myopic import myopic_model, myopic_values
from linkmech.envs import linked_public_goods_v0, linked_voting_v0
from linkmech.evaluation.play import play_episode
from linkmech.mechanisms import LinkingMechanism, PublicGoodsProblem, VotingProblem
from linkmech.mechanisms.budgets import replacement_distribution
from linkmech.mechanisms.problem import as_fraction
from linkmech.training.best_response import (
    BestResponseTable,
    PolicyTable,
    action_distribution,
    exact_best_response,
    history_free_best_response,
    outcome_table,
)

Law = dict[int, Fraction]
Counts = tuple[tuple[int, ...], ...]

# --- 1. brute force over deterministic policies -------------------------------------------------------------


class BruteForce:
    """Exhaustive exact evaluation of one seat's policies against approximately truthful opponents (random
    forced lies), written from the mechanism's rules independently of the module under test."""

    def __init__(self, mechanism: LinkingMechanism, seat: int = 0) -> None:
        self.mechanism, self.seat = mechanism, seat
        self.problem = mechanism.problem
        self.n, self.k = self.problem.num_agents, mechanism.num_problems
        self.opponents = [j for j in range(self.n) if j != seat]
        self.utilities: dict[tuple[int, tuple[int, ...]], Fraction] = {}

    def allowed(self, agent: int, counts: tuple[int, ...]) -> list[int]:
        budget = self.mechanism.budgets[agent]
        spent = [0] * budget.num_classes
        for t, c in enumerate(counts):
            spent[int(budget.class_of_type[t])] += c
        return [
            t
            for t in range(len(counts))
            if spent[int(budget.class_of_type[t])] < int(budget.quota[budget.class_of_type[t]])
        ]

    def truth_law(self, agent: int, own_type: int, counts: tuple[int, ...]) -> Law:
        allowed = self.allowed(agent, counts)
        if own_type in allowed:
            return {own_type: Fraction(1)}
        return {a: Fraction(1, len(allowed)) for a in allowed}

    def announcement_law(self, agent: int, counts: tuple[int, ...]) -> Law:
        law: Law = {}
        for u, p in enumerate(self.problem.exact_type_probs[agent]):
            for a, q in self.truth_law(agent, u, counts).items():
                law[a] = law.get(a, Fraction(0)) + p * q
        return {a: q for a, q in law.items() if q > 0}

    def used_law(self, agent: int, announced: int) -> Law:
        budget = self.mechanism.budgets[agent]
        gamma = self.mechanism.mixing_prob(agent)
        probs = self.problem.exact_type_probs[agent]
        law = {announced: 1 - gamma}
        if gamma > 0:
            hat = replacement_distribution(budget.class_probs, [int(q) for q in budget.quota], self.k, gamma)
            for u, p in enumerate(probs):
                c = int(budget.class_of_type[u])
                law[u] = law.get(u, Fraction(0)) + gamma * hat[c] * p / budget.class_probs[c]
        return law

    def date_utility(self, own_type: int, announced: tuple[int, ...]) -> Fraction:
        key = (own_type, announced)
        if key not in self.utilities:
            self.utilities[key] = self.enumerated_utility(own_type, announced)
        return self.utilities[key]

    def enumerated_utility(self, own_type: int, announced: tuple[int, ...]) -> Fraction:
        """Expected utility of one problem: every mixing outcome of every agent, then f's lottery."""
        total = Fraction(0)
        laws = [self.used_law(i, a) for i, a in enumerate(announced)]
        for used in itertools.product(*(law.items() for law in laws)):
            profile = np.array([[u for u, _ in used]], dtype=np.int64)
            weight = np.prod([p for _, p in used])
            lottery = self.problem.target(profile)
            types = profile.copy()
            types[0, self.seat] = own_type
            for s in range(lottery.probs.shape[1]):
                alternative = lottery.alternatives[:, s : s + 1]
                utility = self.problem.utility(types, alternative)[0, 0, self.seat]
                total += weight * as_fraction(lottery.probs[0, s], "p") * as_fraction(utility, "u")
        return total

    def value(
        self, policy: Callable[[int, Counts, int], Law], date: int = 0, counts: Counts | None = None
    ) -> Fraction:
        """Expected total discounted utility of the seat under ``policy(date, counts, own type) -> law``."""
        counts = counts if counts is not None else tuple((0,) * c for c in self.problem.type_counts)
        if date == self.k:
            return Fraction(0)
        delta = as_fraction(self.mechanism.discount, "discount") ** date
        total = Fraction(0)
        opponent_laws = [self.announcement_law(j, counts[j]) for j in self.opponents]
        for own_type, p in enumerate(self.problem.exact_type_probs[self.seat]):
            for a, pa in policy(date, counts, own_type).items():
                for moves in itertools.product(*(law.items() for law in opponent_laws)):
                    announced = [0] * self.n
                    announced[self.seat] = a
                    weight = p * pa
                    for j, (b, pb) in zip(self.opponents, moves):
                        announced[j] = b
                        weight *= pb
                    following = tuple(
                        tuple(c + (t == announced[i]) for t, c in enumerate(row))
                        for i, row in enumerate(counts)
                    )
                    now = delta * self.date_utility(own_type, tuple(announced))
                    total += weight * (now + self.value(policy, date + 1, following))
        return total

    def decision_points(self) -> list[tuple[tuple[Any, ...], list[int]]]:
        """Every (date, own counts, others' counts, own type) the seat can meet with a real choice."""
        points: dict[tuple[Any, ...], list[int]] = {}
        frontier = {tuple((0,) * c for c in self.problem.type_counts)}
        for date in range(self.k):
            following = set()
            for counts in frontier:
                options = self.allowed(self.seat, counts[self.seat])
                for own_type in range(self.problem.type_counts[self.seat]):
                    if len(options) > 1:
                        points[(date, counts, own_type)] = options
                opponent_moves = [list(self.announcement_law(j, counts[j])) for j in self.opponents]
                for a in options:
                    for moves in itertools.product(*opponent_moves):
                        announced = dict(zip(self.opponents, moves))
                        announced[self.seat] = a
                        following.add(
                            tuple(
                                tuple(c + (t == announced[i]) for t, c in enumerate(row))
                                for i, row in enumerate(counts)
                            )
                        )
            frontier = following
        return sorted(points.items())

    def best(self) -> tuple[Fraction, int]:
        """The best value over every deterministic policy, and how many policies there were."""
        points = self.decision_points()
        best, count = None, 0
        for choice in itertools.product(*(options for _, options in points)):
            table = dict(zip((key for key, _ in points), choice))

            def policy(date: int, counts: Counts, own_type: int, table: dict = table) -> Law:
                key = (date, counts, own_type)
                if key in table:
                    return {table[key]: Fraction(1)}
                return {self.allowed(self.seat, counts[self.seat])[0]: Fraction(1)}

            value = self.value(policy)
            best = value if best is None or value > best else best
            count += 1
        assert best is not None
        return best, count

    def approximate_truth(self) -> Fraction:
        return self.value(
            lambda date, counts, own_type: self.truth_law(self.seat, own_type, counts[self.seat])
        )


def test_k1_voting_is_worth_zero_by_hand():
    # K = 1: the quota nearest to 1/4 each is [1, 0, 0, 0] (ties to the lowest index): both announce -2, and
    # gamma = 1 - (1/4) / 1 = 3/4 replaces it by P_hat = (0, 1/3, 1/3, 1/3). Used announcements are then
    # uniform and independent of the true types, so E[v * P(b)] = E[v] P(b) = 0 whatever the seat does.
    result = exact_best_response(linked_voting_v0.parallel_env(num_problems=1), fractions=True)
    assert result.replaced_exact == 0 and result.best_exact == 0
    assert result.gain == 0.0


def test_k1_public_goods_by_hand():
    # Two agents, P(1) = 2/3, K = 1: quota [0, 1] (announce 1), gamma = 1 - (2/3)/1 = 1/3, P_hat = (1, 0): the
    # used announcement is 1 w.p. 2/3 independently of the type. Built unless both used are 0: 8/9. The seat
    # pays 3/8 or 3/4 when its used is 1: 2/3 * (2/3 * 3/8 + 1/3 * 3/4) = 1/3. Value 2/3 * 8/9 - 1/3 = 7/27.
    env = linked_public_goods_v0.parallel_env(num_agents=2, num_problems=1)
    result = exact_best_response(env, fractions=True)
    assert result.replaced_exact == Fraction(7, 27) and result.best_exact == Fraction(7, 27)


BRUTE_CASES = {
    "voting K=1": (LinkingMechanism(VotingProblem(), 1), 1),
    "voting K=2": (LinkingMechanism(VotingProblem(), 2), 16),
    "voting K=2 no mixing, discount 1/2": (
        LinkingMechanism(VotingProblem(), 2, mixing=False, discount=0.5),
        16,
    ),
    "voting 3 agents K=2": (LinkingMechanism(VotingProblem(3), 2), 16),
    "public goods K=2": (LinkingMechanism(PublicGoodsProblem(2), 2), 4),
    "public goods 3 agents K=2, seat 2": (LinkingMechanism(PublicGoodsProblem(3), 2), 4),
    # two types, quotas [2, 1]: the choice at date 1 can depend on the opponent's first announcement
    "voting {-1, 2} K=3": (LinkingMechanism(VotingProblem(values=(-1, 2)), 3), 64),
}


@pytest.mark.parametrize("label", list(BRUTE_CASES))
def test_dp_matches_brute_force_over_all_deterministic_policies(label):
    mechanism, num_policies = BRUTE_CASES[label]
    seat = 2 if "seat 2" in label else 0
    brute = BruteForce(mechanism, seat)
    best, count = brute.best()
    assert count == num_policies, f"{label}: enumerated {count} policies"
    result = exact_best_response(mechanism, seat, fractions=True)
    assert result.best_exact == best, f"{label}: DP best {result.best_exact}, brute force {best}"
    assert result.replaced_exact == brute.approximate_truth()
    assert result.best_value == pytest.approx(float(best), abs=1e-12)
    assert result.replaced_value == pytest.approx(float(result.replaced_exact), abs=1e-12)


def test_voting_k2_numbers():
    # Quotas [1, 1, 0, 0]: both must announce -2 and -1 once; the seat only chooses which comes first.
    result = exact_best_response(LinkingMechanism(VotingProblem(), 2), fractions=True)
    assert (result.replaced_exact, result.best_exact) == (Fraction(1, 64), Fraction(3, 32))
    assert result.exact_gain == Fraction(5, 64)


# --- 2. Monte Carlo in the env ------------------------------------------------------------------------------


def mean_and_half_width(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values)
    return float(array.mean()), 2.576 * float(array.std(ddof=1)) / np.sqrt(len(array))


def played_totals(env: Any, seat_strategy: Any, others: str, episodes: int) -> list[float]:
    totals = []
    for seed in range(episodes):
        strategies = {a: make_strategy(others) for a in env.possible_agents}
        strategies["agent_0"] = seat_strategy
        totals.append(play_episode(env, strategies, seed=seed).totals["agent_0"])
    return totals


MC_CASES = {
    "voting K=4": (lambda: linked_voting_v0.parallel_env(num_problems=4), "approximately_truthful"),
    "voting K=6 intensity, myopic lies, discount 0.9": (
        lambda: linked_voting_v0.parallel_env(num_problems=6, budget="intensity", discount=0.9),
        "approximately_truthful:lies=myopic",
    ),
    "public goods 3 agents K=5": (
        lambda: linked_public_goods_v0.parallel_env(num_problems=5),
        "approximately_truthful",
    ),
}


@pytest.mark.parametrize("label", list(MC_CASES))
def test_dp_values_match_play_episode_within_99_percent(label):
    make_env, spec = MC_CASES[label]
    env = make_env()
    result = exact_best_response(env, 0, spec)
    for name, strategy, value in (
        ("replaced", make_strategy(spec), result.replaced_value),
        ("best response", result.strategy(), result.best_value),
    ):
        mean, half = mean_and_half_width(played_totals(env, strategy, spec, 1000))
        assert abs(mean - value) <= half, f"{label} {name}: DP {value:.4f}, played {mean:.4f} +- {half:.4f}"


def test_history_matters_and_the_table_uses_it():
    # K = 8 voting: the best response reads the opponent's remaining budget; ignoring it is worth less.
    env = linked_voting_v0.parallel_env(num_problems=8)
    exact = exact_best_response(env)
    free = history_free_best_response(env)
    assert free.best_value < exact.best_value - 1e-3
    assert exact.table is not None and exact.table.conditions_on_history
    assert free.table is not None and not free.table.conditions_on_history
    mean, half = mean_and_half_width(played_totals(env, free.strategy(), "approximately_truthful", 1000))
    assert abs(mean - free.best_value) <= half


# --- 3. properties and pinned numbers -----------------------------------------------------------------------


GAIN_CASES = {
    "voting type K=10": (lambda: linked_voting_v0.parallel_env(num_problems=10), "approximately_truthful"),
    "voting intensity K=10": (
        lambda: linked_voting_v0.parallel_env(num_problems=10, budget="intensity"),
        "approximately_truthful",
    ),
    "voting no mixing K=9 discount 0.8": (
        lambda: linked_voting_v0.parallel_env(num_problems=9, mixing=False, discount=0.8),
        "approximately_truthful",
    ),
    "voting 3 agents K=4": (lambda: linked_voting_v0.parallel_env(num_agents=3, num_problems=4), "random"),
    "public goods 3 agents K=12": (
        lambda: linked_public_goods_v0.parallel_env(num_problems=12),
        "approximately_truthful",
    ),
    "voting relabel K=6": (lambda: linked_voting_v0.parallel_env(num_problems=6), "relabel"),
}


@pytest.mark.parametrize("label", list(GAIN_CASES))
def test_gain_is_non_negative_and_the_history_free_bound_lies_between(label):
    make_env, spec = GAIN_CASES[label]
    exact = exact_best_response(make_env(), 0, spec)
    free = history_free_best_response(make_env(), 0, spec)
    assert exact.gain >= -1e-12
    assert free.is_lower_bound and not exact.is_lower_bound
    assert free.replaced_value == pytest.approx(exact.replaced_value, abs=1e-10)
    assert exact.replaced_value - 1e-10 <= free.best_value <= exact.best_value + 1e-10


def test_history_dependent_opponents_are_solved_exactly():
    for spec in ("approximately_truthful:lies=myopic", "front_loading", "relabel:lies=myopic"):
        result = exact_best_response(linked_voting_v0.parallel_env(num_problems=5), 0, spec, fractions=True)
        assert result.exact_gain is not None and result.exact_gain >= 0
        assert result.best_value == pytest.approx(float(result.best_exact), abs=1e-12)


def test_voting_gain_per_problem_at_k_2_4_8():
    # Two agents, budget per type, random forced lies. Not monotone at tiny K: at K = 2 the quotas [1, 1, 0, 0]
    # leave only the order of -2 and -1 to choose; from K = 4 on, the gain per problem falls with K.
    gains = {
        k: exact_best_response(linked_voting_v0.parallel_env(num_problems=k), fractions=k <= 4)
        for k in (2, 4, 8)
    }
    assert gains[2].exact_gain == Fraction(5, 64)  # 5/128 = 0.0390625 per problem
    assert gains[4].exact_gain == Fraction(17, 64)  # 17/256 = 0.06640625 per problem
    assert gains[8].gain_per_problem == pytest.approx(0.0608424847876584, abs=1e-12)
    assert gains[8].replaced_per_problem == pytest.approx(0.2734375, abs=1e-12)
    assert gains[2].gain_per_problem < gains[8].gain_per_problem < gains[4].gain_per_problem
    larger = [
        exact_best_response(linked_voting_v0.parallel_env(num_problems=k)).gain_per_problem for k in (12, 16)
    ]
    assert gains[8].gain_per_problem > larger[0] > larger[1] > 0.05


def test_seats_are_symmetric_in_voting():
    env = linked_voting_v0.parallel_env(num_problems=6)
    zero, one = exact_best_response(env, "agent_0"), exact_best_response(env, 1)
    assert zero.best_value == pytest.approx(one.best_value, abs=1e-12)
    assert zero.replaced_value == pytest.approx(one.replaced_value, abs=1e-12)


def observation_with_counts(env: Any, agent: str, counts: np.ndarray) -> np.ndarray:
    """A vector whose ``others_announced`` field holds ``counts / K`` as the env writes it (float32)."""
    fields = dict(env.observation_fields(agent))
    size = max(s.stop for s in fields.values())
    observation = np.zeros(size, dtype=np.float32)
    observation[fields["others_announced"]] = (counts.astype(np.float64) / env.options.num_problems).astype(
        np.float32
    )
    return observation


def test_myopic_values_enumerate_the_others_empirical_announcements():
    # Written from the rules: E over the opponent's announcement a ~ its empirical law (counts / total, P
    # before any) of the seat's utility at f(candidate, a) with its true type, f's lottery in expectation.
    env = linked_voting_v0.parallel_env(num_problems=7)
    env.reset(seed=0)
    seat = Seat.from_env(env, "agent_1")
    problem = env.problem
    outcomes = np.asarray(outcome_table(problem, 1), dtype=np.float64)  # [true, a_0, a_1]
    rng = np.random.default_rng(3)
    cases = [rng.integers(0, 3, size=4) for _ in range(20)] + [np.zeros(4, dtype=np.int64)]
    observations = np.stack([observation_with_counts(env, "agent_1", counts) for counts in cases])
    model = myopic_model(seat)
    for truth in range(4):
        values = myopic_values(model, seat, observations, np.full(len(cases), truth))
        for row, counts in enumerate(cases):
            law = counts / counts.sum() if counts.sum() else problem.type_probs[0]
            expected = [
                sum(law[a] * outcomes[truth, a, candidate] for a in range(4)) for candidate in range(4)
            ]
            np.testing.assert_allclose(values[row], expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    ("spec", "budget"),
    [
        ("approximately_truthful", "type"),
        ("approximately_truthful:lies=myopic", "type"),
        ("approximately_truthful:lies=myopic", "intensity"),
        ("front_loading", "type"),
        ("relabel:mapping=1/0/3/2,lies=myopic", "type"),
        ("random", "intensity"),
    ],
)
def test_action_distribution_is_what_the_strategy_does(spec, budget):
    env = linked_voting_v0.parallel_env(num_problems=8, budget=budget)
    observations, _ = env.reset(seed=5)
    for actions in ({"agent_0": 3, "agent_1": 2}, {"agent_0": 3, "agent_1": 0}, {"agent_0": 2, "agent_1": 2}):
        observations, _, _, _, _ = env.step(actions)
    state = env.state_
    counts = [np.bincount(state.announced[0, : state.date, i], minlength=4) for i in range(2)]
    seat = Seat.from_env(env, "agent_0")
    obs, mask = observations["agent_0"]["observation"], observations["agent_0"]["action_mask"]
    for truth in range(4):
        obs = obs.copy()
        obs[dict(env.observation_fields("agent_0"))["type"]] = np.eye(4)[truth]
        law = action_distribution(spec, env.mechanism, 0, truth, counts)
        assert sum(law) == 1
        draws = []
        for seed in range(300):
            strategy = make_strategy(spec)
            strategy.reset(seat, np.random.default_rng(seed))
            draws.append(strategy.act(obs, mask))
        frequency = np.bincount(draws, minlength=4) / len(draws)
        support = {a for a, p in enumerate(law) if p > 0}
        assert set(draws) == support, f"{spec} truth {truth}: drew {sorted(set(draws))}, law {law}"
        np.testing.assert_allclose(frequency, [float(p) for p in law], atol=0.1)


# --- the table strategy -------------------------------------------------------------------------------------


def test_table_strategy_pickles_and_is_registered():
    env = linked_voting_v0.parallel_env(num_problems=5)
    result = exact_best_response(env)
    strategy = result.strategy()
    assert isinstance(strategy.table, PolicyTable) and "best_response_table" in repr(type(strategy).name)
    first = play_episode(
        env, {"agent_0": strategy, "agent_1": make_strategy("approximately_truthful")}, seed=4
    )
    for clone in (pickle.loads(pickle.dumps(strategy)), copy.deepcopy(strategy)):
        again = play_episode(
            env, {"agent_0": clone, "agent_1": make_strategy("approximately_truthful")}, seed=4
        )
        assert again.totals == first.totals
    lazy = make_strategy("best_response_table")
    lazily = play_episode(env, {"agent_0": lazy, "agent_1": make_strategy("approximately_truthful")}, seed=4)
    assert lazily.totals == first.totals
    free = make_strategy("best_response_table:method=history_free")
    play_episode(env, {"agent_0": free, "agent_1": make_strategy("approximately_truthful")}, seed=4)


def test_table_refuses_another_env_or_seat():
    table = exact_best_response(linked_voting_v0.parallel_env(num_problems=5)).table
    strategy = BestResponseTable(table=table)
    other = linked_voting_v0.parallel_env(num_problems=6)
    other.reset(seed=0)
    with pytest.raises(ValueError, match="built for seat 0, K = 5"):
        strategy.reset(Seat.from_env(other, "agent_0"), np.random.default_rng(0))
    same = linked_voting_v0.parallel_env(num_problems=5)
    same.reset(seed=0)
    with pytest.raises(ValueError, match="this seat is 1"):
        strategy.reset(Seat.from_env(same, "agent_1"), np.random.default_rng(0))
    with pytest.raises(ValueError, match="PolicyTable"):
        BestResponseTable(table="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        BestResponseTable(method="greedy")


# --- 4. errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_env", "message"),
    [
        (lambda: linked_voting_v0.parallel_env(num_problems=4, form="all_at_once"), "form='over_time'"),
        (lambda: linked_voting_v0.parallel_env(num_problems=4, participation="whole"), "participation=None"),
        (lambda: linked_public_goods_v0.parallel_env(num_problems=6, policing=True), "policing=None"),
        (lambda: linked_voting_v0.parallel_env(num_problems=4, process="repeat", correlation=0.5), "iid"),
    ],
)
def test_envs_that_cannot_be_modelled_are_refused(make_env, message):
    with pytest.raises(ValueError, match=message):
        exact_best_response(make_env())


def test_bad_inputs_are_refused_clearly():
    env = linked_voting_v0.parallel_env(num_problems=4)
    with pytest.raises(ValueError, match=r"LaggedTruth\(\) in seat agent_1: .* remembers \['previous'\]"):
        exact_best_response(env, 0, {"agent_0": "approximately_truthful", "agent_1": "lagged_truth"})
    with pytest.raises(ValueError, match=r"Truthful\(\) in seat agent_1: truthful: agent_1's true type"):
        exact_best_response(env, 0, {"agent_0": "approximately_truthful", "agent_1": "truthful"})
    with pytest.raises(ValueError, match="reads the public history"):
        history_free_best_response(env, 0, "approximately_truthful:lies=myopic")
    with pytest.raises(ValueError, match="no strategy for agent_1"):
        exact_best_response(env, 0, {"agent_0": "random"})
    with pytest.raises(ValueError, match="seat"):
        exact_best_response(env, "agent_2")
    with pytest.raises(ValueError, match="max_states"):
        exact_best_response(env, 0, max_states=10)
    with pytest.raises(ValueError, match="fractions=True"):
        exact_best_response(linked_voting_v0.parallel_env(num_problems=24), fractions=True)
    with pytest.raises(TypeError, match="linking env"):
        exact_best_response(object())
    no_budget = linked_voting_v0.parallel_env(num_problems=3, budget="none")
    truthful = exact_best_response(no_budget, 0, "truthful", fractions=True)
    assert truthful.exact_gain is not None and truthful.exact_gain >= 0
