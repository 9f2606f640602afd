"""Measurements of Zhu's linked vs unlinked VCG in the paper's family (T = N, q-bar = N q, beta = 1).

With truthful reports the mechanisms need no environment loop: the pure functions give the allocation,
surplus and transfers directly. For each N and credal member, :func:`cost_rows` draws endowment arrays from the
member, designs Omega* from the statistics the member discloses (:func:`linkmech.mechanisms.omega_star.design`),
retracts (the identity when omega is in Omega*) and reports:

- cost / surplus of unlinked VCG (exactly N - 1) and of linked VCG (expected to fall toward 0 with N);
- the frequency of omega in Omega* (all agents inside, so truth-telling is reasonable for everyone and the
  mechanism implements the efficient allocation), against the designer's guaranteed lower bound;
- efficiency, realised surplus / first-best surplus (1 whenever no history was retracted).

:func:`ex_post_check_rows` checks ex-post incentive compatibility on Omega*: for random omega in Omega* and
random misreports that stay inside Omega*n, no agent's utility (surplus + transfer) rises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from linkmech.mechanisms.allocation import (
    PROJECT_TYPES,
    agent_surplus,
    efficient_allocation,
    unlinked_vcg_transfers,
)
from linkmech.mechanisms.credal import CREDAL_MEMBERS
from linkmech.mechanisms.linked_vcg import linked_vcg_transfers
from linkmech.mechanisms.omega_star import OmegaStar, design, retract

Row = dict[str, Any]


def _true_surplus(endowments: np.ndarray, reports: np.ndarray, resource: float, project_name: str) -> float:
    """Surplus of the true endowments under the allocation computed from ``reports``."""
    project = PROJECT_TYPES[project_name]
    allocation = efficient_allocation(reports, resource)
    safe = np.where(endowments > 0, endowments, 1.0)
    values = np.where(endowments > 0, endowments * project.f(allocation / safe), 0.0)
    return float(values.sum())


def cost_rows(
    num_agents_list: Sequence[int],
    members: Sequence[str],
    episodes: int,
    method: str = "hoeffding",
    epsilon: float = 0.1,
    q: float = 1.0,
    project_name: str = "exp",
    seed: int = 0,
) -> list[Row]:
    """Cost / surplus of unlinked and linked VCG, P(omega in Omega*) and efficiency, per N and member."""
    project = PROJECT_TYPES[project_name]
    rows = []
    for member_name in members:
        member = CREDAL_MEMBERS[member_name]
        for n in num_agents_list:
            resource = n * q
            omega_star, plan = design(method, member.statistics(), n, n, resource, project, epsilon)
            rng = np.random.default_rng([seed, n])
            ratios_u, ratios_l, inside, efficiency = [], [], [], []
            for _ in range(episodes):
                endowments = member.sample(n, n, rng)
                used = retract(omega_star, endowments)
                surplus = float(agent_surplus(endowments, resource, project).sum())
                ratios_u.append(float(unlinked_vcg_transfers(endowments, resource, project).sum()) / surplus)
                linked = linked_vcg_transfers(used, resource, project, omega_star)
                ratios_l.append(float(linked.sum()) / surplus)
                inside.append(bool(omega_star.contains(endowments).all()))
                efficiency.append(_true_surplus(endowments, used, resource, project_name) / surplus)
            rows.append(
                {
                    "member": member_name,
                    "N = T": n,
                    "x": plan.radius,
                    "unlinked cost/surplus": float(np.mean(ratios_u)),
                    "linked cost/surplus": float(np.mean(ratios_l)),
                    "P(omega in Omega*)": float(np.mean(inside)),
                    "guaranteed >=": _guarantee(plan.implementation_probability),
                    "efficiency": float(np.mean(efficiency)),
                }
            )
    return rows


def _guarantee(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _random_point_in(
    omega_star: OmegaStar, agent: int, rng: np.random.Generator, tries: int = 200
) -> np.ndarray:
    """A random sequence in Omega*n near the center (rejection from a shrunken box), or the center itself."""
    center, radius, t = omega_star.centers[agent], omega_star.radius, omega_star.num_dates
    for _ in range(tries):
        candidate = center + rng.uniform(-radius, radius, size=t) * 0.5
        candidate = np.clip(candidate, omega_star.lower, omega_star.upper)
        column = np.zeros((t, omega_star.num_agents))
        column[:, agent] = candidate
        column[:, [m for m in range(omega_star.num_agents) if m != agent]] = center
        if omega_star.contains(column)[agent]:
            return candidate
    return np.full(t, center)


def ex_post_check_rows(
    num_agents: int,
    num_dates: int,
    trials: int,
    radius: float = 0.3,
    project_name: str = "exp",
    seed: int = 0,
) -> list[Row]:
    """Largest utility gain of a misreport inside Omega*n over truth, for omega in Omega* (must be <= 0)."""
    project = PROJECT_TYPES[project_name]
    resource = float(num_agents)
    omega_star = OmegaStar(num_dates, np.ones(num_agents), radius)
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(trials):
        truth = np.stack([_random_point_in(omega_star, m, rng) for m in range(num_agents)], axis=1)
        agent = int(rng.integers(num_agents))
        lie = truth.copy()
        lie[:, agent] = _random_point_in(omega_star, agent, rng)
        honest = _utility(truth, truth, resource, project_name, omega_star)[agent]
        deviating = _utility(truth, lie, resource, project_name, omega_star)[agent]
        gains.append(deviating - honest)
    return [
        {
            "N": num_agents,
            "T": num_dates,
            "project": project.name,
            "trials": trials,
            "largest gain from a misreport in Omega*": float(np.max(gains)),
            "mean gain": float(np.mean(gains)),
        }
    ]


def _utility(
    truth: np.ndarray, reports: np.ndarray, resource: float, project_name: str, omega_star: OmegaStar
) -> np.ndarray:
    """Each agent's surplus at its true endowments under the reports' allocation, plus its linked transfer."""
    project = PROJECT_TYPES[project_name]
    allocation = efficient_allocation(reports, resource)
    safe = np.where(truth > 0, truth, 1.0)
    surplus = np.where(truth > 0, truth * project.f(allocation / safe), 0.0).sum(axis=0)
    return surplus + linked_vcg_transfers(reports, resource, project, omega_star)


def reasonable_rows(
    num_agents_list: Sequence[int], members: Sequence[str], episodes: int, samples: int = 100, seed: int = 0
) -> list[Row]:
    """Every agent plays Zhu's reasonable strategy in the env (T = N, q-bar = N, beta = 1, linked VCG).

    Columns: the share of episodes in which every agent stayed truthful at every date and omega was in
    Omega*, the designer's guarantee 1 - N c / (N - 1), and the linked cost / surplus of those episodes.
    """
    from linkmech import envs
    from linkmech.agents.reporting import Reasonable
    from linkmech.evaluation.play import play_episode

    rows = []
    for member in members:
        for n in num_agents_list:
            env = envs.make("resource_allocation_v0", num_agents=n, num_dates=n, member=member)
            truthful, ratios = [], []
            for e in range(episodes):
                strategies = {a: Reasonable(samples=samples) for a in env.possible_agents}
                result = play_episode(env, strategies, seed=seed + e, keep_infos=True)
                honest = not any(s.deviating for s in strategies.values())
                inside = bool(env.omega_star.contains(env.episode.endowments).all())
                truthful.append(honest and inside)
                final = result.infos[-1]["agent_0"]
                ratios.append(final["cost"] / final["total_surplus"])
            rows.append(
                {
                    "member": member,
                    "N = T": n,
                    "all truthful and omega in Omega*": float(np.mean(truthful)),
                    "guaranteed >=": _guarantee(
                        env.design.implementation_probability if env.design else None
                    ),
                    "linked cost/surplus": float(np.mean(ratios)),
                }
            )
    return rows


def _adversary_utility(
    truth: np.ndarray, reports: np.ndarray, resource: float, project_name: str, transfers: np.ndarray
) -> float:
    """Agent 0's utility: its surplus at its true endowments under the reports' allocation plus a transfer."""
    project = PROJECT_TYPES[project_name]
    allocation = efficient_allocation(reports, resource)[:, 0]
    own = truth[:, 0]
    surplus = np.where(own > 0, own * project.f(allocation / np.where(own > 0, own, 1.0)), 0.0).sum()
    return float(surplus + transfers[0])


def misreport_rows(
    num_agents_list: Sequence[int],
    member_name: str,
    episodes: int,
    factors: Sequence[float] = (0.5, 0.9, 1.1, 2.0),
    method: str = "hoeffding",
    epsilon: float = 0.1,
    project_name: str = "exp",
    seed: int = 0,
) -> list[Row]:
    """What agent 0 gains by reporting ``factor`` x its endowment every date while the others tell the truth.

    T = N, q-bar = N, beta = 1. Unlinked VCG sees the raw reports (ex-post IC on every omega: the gain is
    never positive). Linked VCG sees the retracted reports (the misreport usually leaves Omega*n and the
    mechanism continues it) and pays the linked transfer. Gains are per episode, in utility units, with a
    95% interval over episodes; compare them with the design's epsilon (the bound on the expected gain of a
    deviation from a reasonable strategy) and with the agent's truthful utility.
    """
    from linkmech.evaluation.collusion import mean_ci

    project = PROJECT_TYPES[project_name]
    member = CREDAL_MEMBERS[member_name]
    rows = []
    for n in num_agents_list:
        resource = float(n)
        omega_star, _ = design(method, member.statistics(), n, n, resource, project, epsilon)
        rng = np.random.default_rng([seed, n])
        truths = [member.sample(n, n, rng) for _ in range(episodes)]
        honest_u, honest_l = [], []
        for truth in truths:
            honest_u.append(
                _adversary_utility(
                    truth, truth, resource, project_name, unlinked_vcg_transfers(truth, resource, project)
                )
            )
            used = retract(omega_star, truth)
            honest_l.append(
                _adversary_utility(
                    truth,
                    used,
                    resource,
                    project_name,
                    linked_vcg_transfers(used, resource, project, omega_star),
                )
            )
        for factor in factors:
            gains_u, gains_l, retracted = [], [], []
            for truth, base_u, base_l in zip(truths, honest_u, honest_l):
                lie = truth.copy()
                lie[:, 0] *= factor
                unlinked = unlinked_vcg_transfers(lie, resource, project)
                gains_u.append(_adversary_utility(truth, lie, resource, project_name, unlinked) - base_u)
                used = retract(omega_star, lie)
                retracted.append(bool(not np.array_equal(used[:, 0], lie[:, 0])))
                linked = linked_vcg_transfers(used, resource, project, omega_star)
                gains_l.append(_adversary_utility(truth, used, resource, project_name, linked) - base_l)
            mean_u, half_u = mean_ci(gains_u)
            mean_l, half_l = mean_ci(gains_l)
            rows.append(
                {
                    "N = T": n,
                    "factor": factor,
                    "unlinked gain": f"{mean_u:.4f} +- {half_u:.4f}",
                    "linked gain": f"{mean_l:.4f} +- {half_l:.4f}",
                    "largest linked gain": float(np.max(gains_l)),
                    "retracted": float(np.mean(retracted)),
                    "truthful utility (linked)": float(np.mean(honest_l)),
                    "epsilon": epsilon,
                }
            )
    return rows
