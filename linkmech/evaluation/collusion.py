"""Measurements of collusion and its policing (Example 4, Appendix 1, footnote 35) and of secure levels.

Every function plays seeded episodes with :func:`linkmech.evaluation.play.play_batch` (episode e = seed
``seed + e``, as :func:`~linkmech.evaluation.play.play_episode` would play it) and returns plain
rows (dicts with named fields) that :func:`markdown_table` prints; ``scripts/collusion_study.py`` writes
them to ``docs/collusion.md``. Confidence intervals are mean +- 1.96 standard errors over episodes; paired
comparisons use the same seeds (so the same type draws) for both strategy profiles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import linkmech
from linkmech.agents.approximate_truth import ApproximatelyTruthful
from linkmech.agents.base import Strategy, make_strategy
from linkmech.agents.coalition import JointPlan, PlanFollower, example4_plan, example4_profile
from linkmech.evaluation.play import play_batch
from linkmech.mechanisms.incentives import expected_utilities

Row = dict[str, Any]
Profile = Callable[[int, int], dict[str, Strategy]]


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% normal confidence interval (0 for a single value)."""
    data = np.asarray(values, dtype=np.float64)
    if len(data) < 2:
        return float(data.mean()), 0.0
    return float(data.mean()), float(1.96 * data.std(ddof=1) / np.sqrt(len(data)))


def _public_goods(num_agents: int, num_problems: int, form: str, policing: bool) -> Any:
    return linkmech.make(
        "linked_public_goods_v0",
        num_agents=num_agents,
        num_problems=num_problems,
        form=form,
        policing=policing or None,
        mixing=False,
    )


def truthful_profile(num_agents: int, num_problems: int) -> dict[str, Strategy]:
    """Every agent approximately truthful (random forced lies)."""
    return {f"agent_{i}": ApproximatelyTruthful() for i in range(num_agents)}


def _played(env: Any, profile: dict[str, Strategy], seed: int, episodes: int) -> list[Row]:
    """Per-episode stats of ``episodes`` seeded episodes (seeds ``seed + e``) played together."""
    played = play_batch(env, profile, [seed + e for e in range(episodes)])
    totals = [dict(zip(env.possible_agents, row)) for row in played.totals.tolist()]
    return [_episode_stats(played.engine.env, totals[b], b) for b in range(episodes)]


def _episode_stats(env: Any, totals: dict[str, float], episode: int = 0) -> Row:
    state = env.state_
    k = env.options.num_problems
    decisions = state.decisions[episode]
    payers = (decisions[:, None] >> np.arange(env.problem.num_agents)) & 1
    shares = np.where(
        payers.sum(axis=1, keepdims=True) > 0, payers / np.maximum(payers.sum(axis=1, keepdims=True), 1), 0
    )
    paid = shares.sum(axis=0)
    members = [totals[f"agent_{i}"] / k for i in range(1, env.problem.num_agents)]
    return {
        "built": float((decisions != 0).mean()),
        "agent0_cost_share": float(paid[0] / max(paid.sum(), 1e-12)),
        "agent0_utility": totals["agent_0"] / k,
        "member_utility": float(np.mean(members)),
        "detected": bool(state.policed[episode, :, 1:].any()),
        "policed_share": float(state.policed[episode, :, 1:].mean()),
    }


def example4_rows(
    num_agents: int, problem_counts: Sequence[int], episodes: int, form: str = "over_time", seed: int = 0
) -> list[Row]:
    """Example 4 with and without policing, against all-approximately-truthful play on the same seeds.

    Columns: K, policing, built fraction, agent 0's share of all cost paid, agent 0's and the members'
    utility per problem, the members' gain over approximate truth (paired), detection rate (episodes in which
    some member's announcement was made by the mechanism) and the policed share of members' announcements.
    """
    rows = []
    for k in problem_counts:
        truthful = _played(
            _public_goods(num_agents, k, form, False), truthful_profile(num_agents, k), seed, episodes
        )
        for policing in (False, True):
            env = _public_goods(num_agents, k, form, policing)
            stats = _played(env, example4_profile(num_agents, k), seed, episodes)
            gains = [s["member_utility"] - t["member_utility"] for s, t in zip(stats, truthful)]
            rows.append(_summarise(k, policing, stats, gains, truthful))
    return rows


def _summarise(k: int, policing: bool, stats: list[Row], gains: list[float], truthful: list[Row]) -> Row:
    gain, gain_ci = mean_ci(gains)
    return {
        "K": k,
        "policing": policing,
        "built": mean_ci([s["built"] for s in stats])[0],
        "built (truthful)": mean_ci([t["built"] for t in truthful])[0],
        "agent 0 cost share": mean_ci([s["agent0_cost_share"] for s in stats])[0],
        "agent 0 utility": mean_ci([s["agent0_utility"] for s in stats])[0],
        "member utility": mean_ci([s["member_utility"] for s in stats])[0],
        "member gain vs truth": gain,
        "gain ci95": gain_ci,
        "detection rate": float(np.mean([s["detected"] for s in stats])),
        "policed share": float(np.mean([s["policed_share"] for s in stats])),
    }


def _swap_plan(plan: JointPlan, member: int) -> JointPlan:
    """The paper's deviation: the member moves its last 1 from the first 2K/3 problems to the first of the rest."""
    announcements = plan.announcements.copy()
    column = announcements[:, member]
    last_one = int(np.flatnonzero(column == 1)[-1])
    first_zero = int(np.flatnonzero(column == 0)[0])
    column[last_one], column[first_zero] = 0, 1
    return JointPlan(plan.members, announcements)


def deviation_rows(num_agents: int, num_problems: int, episodes: int, seed: int = 0) -> list[Row]:
    """Member 1's gain from deviating from Example 4's collusive profile (no policing).

    Deviations: the paper's (announce value 1 on one of the last K/3 problems instead of one of the first
    2K/3) and approximate truth. A negative gain means the deviation does not pay.
    """
    plan = example4_plan(num_agents, num_problems)
    deviations: dict[str, Strategy] = {
        "move one 1 into the last third": PlanFollower(_swap_plan(plan, 0)),
        "approximately truthful": ApproximatelyTruthful(),
    }
    env = _public_goods(num_agents, num_problems, "over_time", False)
    seeds = [seed + e for e in range(episodes)]
    base = play_batch(env, example4_profile(num_agents, num_problems), seeds).totals[:, 1]
    rows = []
    for name, deviation in deviations.items():
        profile = example4_profile(num_agents, num_problems)
        profile["agent_1"] = deviation
        gains = list((play_batch(env, profile, seeds).totals[:, 1] - base) / num_problems)
        gain, ci = mean_ci(gains)
        rows.append(
            {
                "n": num_agents,
                "K": num_problems,
                "deviation of agent 1": name,
                "gain per problem": gain,
                "ci95": ci,
            }
        )
    return rows


def false_positive_rows(
    num_agents: int, problem_counts: Sequence[int], episodes: int, form: str, seed: int = 0
) -> list[Row]:
    """How often policing flags anyone when every agent is approximately truthful.

    Columns: K, the share of episodes with at least one flag, and the share of all announcements that the
    mechanism made instead of the agent.
    """
    rows = []
    for k in problem_counts:
        env = _public_goods(num_agents, k, form, True)
        state = play_batch(
            env, truthful_profile(num_agents, k), [seed + e for e in range(episodes)]
        ).engine.env.state_
        flagged = [bool(log) for log in state.flag_log]
        policed = [float(state.policed[b].mean()) for b in range(episodes)]
        rows.append(
            {
                "n": num_agents,
                "K": k,
                "form": form,
                "episodes flagged": float(np.mean(flagged)),
                "policed share": float(np.mean(policed)),
            }
        )
    return rows


def secure_level_rows(
    env_name: str,
    num_agents: int,
    problem_counts: Sequence[int],
    opponents: Sequence[str],
    episodes: int,
    seed: int = 0,
    **options: Any,
) -> list[Row]:
    """Approximate truth's utility per problem in seat 0 against each opponent strategy, vs K.

    Theorem 1 (3): approximate truth secures a level that converges to the target's ex ante utility whatever
    the others do; with three or more agents that needs the policing of joint announcements (pass
    ``policing=True`` in ``options``). Columns: opponent, K, utility per problem with its 95% interval, and
    the target.
    """
    rows = []
    for k in problem_counts:
        env = linkmech.make(env_name, num_agents=num_agents, num_problems=k, **options)
        target = float(expected_utilities(env.problem, env.problem.target)[0])
        for opponent in opponents:
            profile: dict[str, Strategy] = {"agent_0": ApproximatelyTruthful(lies="myopic")}
            profile.update({f"agent_{i}": make_strategy(opponent) for i in range(1, num_agents)})
            totals = play_batch(env, profile, [seed + e for e in range(episodes)]).totals
            mean, ci = mean_ci(list(totals[:, 0] / k))
            rows.append(
                {
                    "env": env_name,
                    "policing": bool(options.get("policing")),
                    "opponents": opponent,
                    "K": k,
                    "utility": mean,
                    "ci95": ci,
                    "target": target,
                }
            )
    return rows


def markdown_table(rows: Sequence[Row], digits: int = 3) -> str:
    """The rows as a GitHub markdown table (floats rounded to ``digits``)."""
    if not rows:
        return "(no rows)"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{row[h]:.{digits}f}" if isinstance(row[h], float) else str(row[h]) for h in header]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
