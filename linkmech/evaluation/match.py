"""One tournament match and the per-seat measurements a tournament aggregates.

A match is a seeded set of episodes of one environment with one strategy per seat.

:class:`MatchSpec` is plain data (hashable, JSON-able: it is what a results journal records and what a worker
process or a Ray task receives). :func:`play_match` plays its episodes together on the environment's batched engine
(:func:`linkmech.evaluation.play.play_batch`; episode e of the match is the episode
``play_episode(env, strategies, seed=SeedSequence([spec.seed, e]))`` plays) and returns one row per seat:

- ``utility_per_problem``: the seat's summed reward / K (T in the resource allocation), mean over episodes;
- ``target_utility_per_problem``: what the seat would get per problem if the target f were applied to the
  TRUE types (expected over f's lottery): the first-best reference of "utility relative to the target"; in
  the resource allocation: its first-best surplus plus the transfer it would get if everyone told the truth;
- ``welfare_per_problem`` and ``first_best_welfare_per_problem``: realised utilities summed over seats, and
  the targets' sum (efficiency is their ratio, computed when aggregating); in the resource allocation:
  realised total surplus at the true endowments (transfers excluded) and the first-best surplus, per date;
- ``error_rate``: mean over problems of the total-variation distance between f's lottery at the used
  announcements and f's lottery at the true types (for a deterministic f: the probability that the decision
  differs from the target's); NaN in envs without a target;
- ``lie_fraction``: share of the seat's announcements that differ from its true type (reports that differ
  from the endowment by more than :data:`REPORT_TOLERANCE`, relative, in the resource allocation);
- ``flags``: announcements of the seat made by the policing mechanism (0 without policing);
- ``cost_over_surplus``: transfers paid / total surplus (resource allocation only, else NaN).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from linkmech import envs
from linkmech.agents.base import make_strategy
from linkmech.evaluation.play import play_batch
from linkmech.mechanisms.problem import lottery_distance

Row = dict[str, Any]

REPORT_TOLERANCE = 1e-6
"""A report counts as a lie when it differs from the endowment by more than this (relative; float32 actions)."""

ROW_FIELDS = (
    "match_id",
    "env",
    "env_options",
    "num_problems",
    "repetition",
    "seed",
    "episodes",
    "seat",
    "strategy",
    "profile",
    "utility_per_problem",
    "target_utility_per_problem",
    "welfare_per_problem",
    "first_best_welfare_per_problem",
    "error_rate",
    "lie_fraction",
    "flags",
    "cost_over_surplus",
)
"""The columns of a match row, in order."""


@dataclass(frozen=True)
class MatchSpec:
    """What one match plays.

    Attributes:
        match_id: index of the match in its tournament (0, 1, ...).
        env: registered environment name.
        env_options: the env's keyword options as sorted ``(key, value)`` pairs (JSON-able values).
        profile: ``(agent, strategy spec)`` for every seat, in the env's agent order.
        repetition: which repetition of this pairing this is.
        seed: the match seed, drawn up front by the tournament.
        episodes: episodes played in the match.
    """

    match_id: int
    env: str
    env_options: tuple[tuple[str, Any], ...]
    profile: tuple[tuple[str, str], ...]
    repetition: int
    seed: int
    episodes: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "match_id": self.match_id,
            "env": self.env,
            "env_options": [list(item) for item in self.env_options],
            "profile": [list(item) for item in self.profile],
            "repetition": self.repetition,
            "seed": self.seed,
            "episodes": self.episodes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchSpec:
        """Inverse of :meth:`as_dict`."""
        return cls(
            match_id=int(data["match_id"]),
            env=str(data["env"]),
            env_options=tuple((str(k), v) for k, v in data["env_options"]),
            profile=tuple((str(a), str(s)) for a, s in data["profile"]),
            repetition=int(data["repetition"]),
            seed=int(data["seed"]),
            episodes=int(data.get("episodes", 1)),
        )


def episode_seed(match_seed: int, episode: int) -> int:
    """The seed of episode ``episode`` of a match."""
    return int(np.random.SeedSequence([match_seed, episode]).generate_state(1, dtype=np.uint32)[0])


def _linking_measures(env: Any) -> dict[str, np.ndarray]:
    """Per-episode, per-seat measures ``[B, n]`` of the finished linking episodes in ``env``'s state."""
    state, problem = env.state_, env.problem
    batch, k, n = state.types.shape
    types, used = state.types.reshape(batch * k, n), state.used.reshape(batch * k, n)
    target = problem.target(types)
    target_utility = problem.expected_utility(types, target).reshape(batch, k, n)
    distance = lottery_distance(problem.target(used), target).reshape(batch, k)
    return {
        "target_utility": target_utility.sum(axis=1),
        "first_best_welfare": _per_seat(target_utility.reshape(batch, k * n).sum(axis=1), n),
        "error_rate": _per_seat(distance.mean(axis=1), n),
        "lies": (state.announced != state.types).mean(axis=1),
        "flags": state.policed.sum(axis=1).astype(np.float64),
        "cost_over_surplus": np.full((batch, n), np.nan),
        "welfare": _per_seat(state.utilities.reshape(batch, k * n).sum(axis=1), n),
    }


def _per_seat(values: np.ndarray, n: int) -> np.ndarray:
    """``[B]`` episode values repeated for every seat, ``[B, n]``."""
    return np.repeat(np.asarray(values, dtype=np.float64)[:, None], n, axis=1)


def _allocation_measures(env: Any) -> dict[str, np.ndarray]:
    """Per-episode, per-seat measures ``[B, N]`` of the finished resource-allocation episodes in ``env``."""
    from linkmech.mechanisms.allocation import agent_surplus

    state = env.batch_state
    truth, reports = state.endowments, state.reports  # [B, T, N]
    n = truth.shape[2]
    first_best = agent_surplus(truth, env.resource, env.project, env.discount)  # [B, N]
    weights = env.discount ** np.arange(truth.shape[1])
    total_surplus = (state.utilities * weights[None, :, None]).sum(axis=1).sum(axis=1)  # as infos sum it
    cost = state.transfers.sum(axis=1)
    ratio = np.where(total_surplus != 0, cost / np.where(total_surplus != 0, total_surplus, 1.0), np.nan)
    return {
        "target_utility": first_best + _truthful_transfers(env, truth),
        "first_best_welfare": _per_seat(first_best.sum(axis=1), n),
        "error_rate": np.full((len(truth), n), np.nan),
        "lies": (np.abs(reports - truth) > REPORT_TOLERANCE * np.maximum(1.0, np.abs(truth))).mean(axis=1),
        "flags": np.zeros((len(truth), n)),
        "cost_over_surplus": _per_seat(ratio, n),
        "welfare": _per_seat(total_surplus, n),
    }


def _reward_measures(totals: np.ndarray) -> dict[str, np.ndarray]:
    """Measures of envs without a target or transfers (the variants): realised welfare only, the rest NaN."""
    batch, n = totals.shape
    missing = np.full((batch, n), np.nan)
    return {
        "target_utility": missing,
        "first_best_welfare": missing,
        "error_rate": missing,
        "lies": missing,
        "flags": np.zeros((batch, n)),
        "cost_over_surplus": missing,
        "welfare": _per_seat(totals.sum(axis=1), n),
    }


def _episode_measures(env: Any, totals: np.ndarray) -> dict[str, np.ndarray]:
    """The measures ``[B, n]`` of the finished episodes held by ``env`` (a single env or a batched state)."""
    from linkmech.envs.linking_env import LinkingEnv
    from linkmech.envs.resource_allocation_v0 import ResourceAllocationEnv

    if isinstance(env, LinkingEnv):
        return _linking_measures(env)
    if isinstance(env, ResourceAllocationEnv):
        return _allocation_measures(env)
    return _reward_measures(totals)


def _truthful_transfers(env: Any, truth: np.ndarray) -> np.ndarray:
    """The transfers every agent would get if everyone reported truthfully (the env's own mechanism)."""
    from linkmech.mechanisms.allocation import unlinked_vcg_transfers
    from linkmech.mechanisms.linked_vcg import linked_vcg_transfers
    from linkmech.mechanisms.omega_star import retract

    if env.mechanism == "unlinked":
        return unlinked_vcg_transfers(truth, env.resource, env.project, env.discount)
    used = retract(env.omega_star, truth)
    return linked_vcg_transfers(used, env.resource, env.project, env.omega_star, env.discount)


def play_match(spec: MatchSpec) -> list[Row]:
    """Play ``spec`` and return one row per seat (see the module docstring for the columns)."""
    env = envs.make(spec.env, **dict(spec.env_options))
    agents = list(env.possible_agents)
    given = dict(spec.profile)
    if sorted(given) != sorted(agents):
        raise ValueError(
            f"match {spec.match_id}: profile seats {sorted(given)}; the env's seats are {agents}"
        )
    per_problem = _problem_count(env)
    strategies = {agent: make_strategy(given[agent]) for agent in agents}
    seeds = [episode_seed(spec.seed, e) for e in range(spec.episodes)]
    played = play_batch(spec.env, strategies, seeds, **dict(spec.env_options))
    totals = played.totals
    measures = _episode_measures(played.engine.env, totals)
    mean = {key: values.mean(axis=0) for key, values in measures.items()}
    utility = totals.mean(axis=0) / per_problem
    target = mean["target_utility"] / per_problem
    rows = []
    for i, agent in enumerate(agents):
        rows.append(
            {
                "match_id": spec.match_id,
                "env": spec.env,
                "env_options": json.dumps(dict(spec.env_options), sort_keys=True),
                "num_problems": per_problem,
                "repetition": spec.repetition,
                "seed": spec.seed,
                "episodes": spec.episodes,
                "seat": agent,
                "strategy": given[agent],
                "profile": json.dumps(given),
                "utility_per_problem": float(utility[i]),
                "target_utility_per_problem": float(target[i]),
                "welfare_per_problem": float(mean["welfare"][i]) / per_problem,
                "first_best_welfare_per_problem": float(mean["first_best_welfare"][i]) / per_problem,
                "error_rate": float(mean["error_rate"][i]),
                "lie_fraction": float(mean["lies"][i]),
                "flags": float(mean["flags"][i]),
                "cost_over_surplus": float(mean["cost_over_surplus"][i]),
            }
        )
    return rows


def _problem_count(env: Any) -> int:
    options = getattr(env, "options", None)
    for name in ("num_problems", "num_dates"):
        value = getattr(options, name, None) if options is not None else None
        if value is None:
            value = getattr(env, name, None)
        if value is not None:
            return int(value)
    return 1
