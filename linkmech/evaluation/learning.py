"""Measurements of learned agents (docs/learning.md).

Exploitability curves, learned coalitions, learners in Zhu's statistical mechanism.

Every PPO number here is a trained best response, hence a LOWER bound on the best-response gain; the exact
dynamic programme of :mod:`linkmech.training.best_response` gives the true gain where its state space fits
(and its history-free variant a lower bound beyond). Gains are per problem (per date for the resource
allocation env), learner minus reference on the same evaluation episodes, with 95% intervals.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from linkmech import envs
from linkmech.agents.base import Seat, Strategy, make_strategy
from linkmech.agents.learned import Learned
from linkmech.evaluation.play import play_episode
from linkmech.training.config import TrainConfig
from linkmech.training.run import run_training

Row = dict[str, Any]


def ppo_settings_for(num_problems: int) -> dict[str, int]:
    """PPO settings for episodes of K steps: every rollout at least two whole episodes long.

    64 episodes per rollout, ``rollout_steps = max(40, 2K)``, 8 minibatches, and a budget of
    ``100,000 + 12,500 K`` env steps.

    Rollouts shorter than an episode (the defaults' 40 steps at K = 32 or 64) leave most advantages
    bootstrapped from the value estimate; whole episodes per rollout roughly doubled the gain PPO found at
    K = 32 and 64 in linked voting (docs/learning.md).
    """
    return {
        "total_steps": 100_000 + 12_500 * num_problems,
        "num_envs": 64,
        "rollout_steps": max(40, 2 * num_problems),
        "minibatches": 8,
    }


def _interval(summary: Mapping[str, Any]) -> tuple[float, float]:
    _, hi = summary["difference"]["ci95"]
    return float(summary["difference"]["mean"]), float(hi - summary["difference"]["mean"])


def train_and_compare(config: TrainConfig, out: str | Path | None = None) -> dict[str, Any]:
    """:func:`linkmech.training.run.run_training` into ``out`` (a temporary directory when None)."""
    if out is not None:
        return run_training(config, out, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        return run_training(config, tmp, progress=False)


def exact_gain(env_name: str, options: Mapping[str, Any], seat: str, max_states: int) -> dict[str, Any]:
    """Exact best-response gain per problem, or the history-free lower bound when the state space is too big."""
    from linkmech.training import best_response as br

    env = envs.make(env_name, **dict(options))
    try:
        result = br.exact_best_response(env, seat, keep_policy=False, max_states=max_states)
    except ValueError as error:
        if "max_states" not in str(error):
            raise
        result = br.history_free_best_response(env, seat, keep_policy=False)
    return {
        "method": result.method,
        "approximate truth": result.replaced_per_problem,
        "best response": result.best_per_problem,
        "gain": result.gain_per_problem,
    }


def exploitability_rows(
    env_name: str,
    base_options: Mapping[str, Any],
    problem_counts: Sequence[int],
    seat: str = "agent_0",
    ppo: bool = True,
    eval_episodes: int = 2000,
    seed: int = 0,
    max_states: int = 20_000_000,
    steps: Callable[[int], int] | None = None,
) -> list[Row]:
    """Gain per problem of a deviating seat over approximate truth, all others approximately truthful.

    Columns: K; the exact (or history-free, marked) values per problem of approximate truth and of the best
    response and their difference; the PPO learner's gain with its 95% interval (a lower bound, trained with
    :func:`ppo_settings_for`, for ``steps(K)`` env steps when ``steps`` is given).
    """
    rows = []
    for k in problem_counts:
        options = {**base_options, "num_problems": k}
        exact = exact_gain(env_name, options, seat, max_states)
        row: Row = {"K": k, "method": exact["method"]}
        row["approx. truth / problem"] = exact["approximate truth"]
        row["best response / problem"] = exact["best response"]
        row["gain / problem"] = exact["gain"]
        if ppo:
            settings = ppo_settings_for(k)
            if steps is not None:
                settings["total_steps"] = steps(k)
            config = TrainConfig(
                env=env_name,
                env_options=options,
                learners=(seat,),
                eval_episodes=eval_episodes,
                seed=seed,
                total_steps=settings["total_steps"],
                num_envs=settings["num_envs"],
                rollout_steps=settings["rollout_steps"],
                minibatches=settings["minibatches"],
            )
            summary = train_and_compare(config)
            gain, half = _interval(summary)
            row["PPO gain / problem"] = f"{gain:+.4f} +- {half:.4f}"
            row["PPO steps"] = summary["env_steps"]
        rows.append(row)
    return rows


def coalition_rows(
    num_agents: int,
    num_problems: int,
    coalition: Sequence[str],
    forms: Sequence[str] = ("over_time", "all_at_once"),
    total_steps: int = 150_000,
    eval_episodes: int = 2000,
    seed: int = 0,
) -> list[Row]:
    """A coalition of PPO learners sharing its reward in linked public goods, with and without policing.

    One network for the coalition (parameter sharing, seat one-hot), trained on the coalition's mean
    reward; the others approximately truthful. Columns: form, policing, the members' mean utility per
    problem, approximate truth's in the same seats on the same episodes, the gain with its 95% interval, and
    the outsiders' utility change (what the coalition's play does to them).
    """
    rows = []
    for form in forms:
        for policing in (False, True):
            options = {
                "num_agents": num_agents,
                "num_problems": num_problems,
                "form": form,
                "policing": True if policing else None,
            }
            config = TrainConfig(
                env="linked_public_goods_v0",
                env_options=options,
                learners=tuple(coalition),
                sharing="shared",
                team_reward=True,
                total_steps=total_steps,
                eval_episodes=eval_episodes,
                seed=seed,
            )
            summary = train_and_compare(config)
            gain, half = _interval(summary)
            rows.append(
                {
                    "form": form,
                    "policing": policing,
                    "members (learned)": summary["learner_utility_per_problem"],
                    "members (approx. truth)": summary["reference_utility_per_problem"],
                    "coalition gain / problem": f"{gain:+.4f} +- {half:.4f}",
                    "PPO steps": summary["env_steps"],
                }
            )
    return rows


class _RecordingReports(Strategy):
    """Plays a wrapped strategy and records (true endowment, report) at every date."""

    name: ClassVar[str] = "_recording_reports"

    def __init__(self, inner: Strategy) -> None:
        super().__init__()
        self.inner = inner
        self.pairs: list[tuple[float, float]] = []

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        super().reset(seat, rng)
        self.inner.reset(seat, rng)

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> Any:
        seat, _ = self._ready()
        action = self.inner.act(observation, action_mask)
        self.pairs.append((float(seat.field(observation, "endowment")[0]), float(np.asarray(action)[0])))
        return action


def report_ratio(checkpoint: str | Path, options: Mapping[str, Any], episodes: int, seed: int) -> float:
    """Mean report / endowment of a learned agent_0 (greedy) against truthful reports (1 = truthful)."""
    env = envs.make("resource_allocation_v0", **dict(options))
    recorder = _RecordingReports(Learned(path=str(checkpoint)))
    strategies: dict[str, Strategy] = {a: make_strategy("truthful_report") for a in env.possible_agents}
    strategies["agent_0"] = recorder
    for e in range(episodes):
        play_episode(env, strategies, seed=seed + e)
    pairs = np.array(recorder.pairs)
    positive = pairs[:, 0] > 1e-9
    return float(pairs[positive, 1].sum() / pairs[positive, 0].sum())


def statistical_learner_rows(
    num_agents: int,
    num_dates: int,
    mechanisms: Sequence[str] = ("unlinked", "linked"),
    member: str = "iid_uniform",
    epsilon: float = 0.1,
    total_steps: int = 30_000,
    eval_episodes: int = 500,
    seed: int = 0,
) -> list[Row]:
    """A PPO learner (Gaussian reports) in the resource allocation env vs truthful reports in its seat.

    The others report truthfully. Columns: mechanism, the learner's utility per date, truth's, the gain per
    episode with its 95% interval (compare with the design's epsilon, a bound on the expected gain of a
    deviation from a reasonable strategy under linked VCG; unlinked VCG is ex-post IC: no gain at all), and
    the learner's total report / total endowment on 50 episodes (1 = truthful on average).
    """
    rows = []
    for mechanism in mechanisms:
        options = {
            "num_agents": num_agents,
            "num_dates": num_dates,
            "mechanism": mechanism,
            "member": member,
            "epsilon": epsilon,
        }
        config = TrainConfig(
            env="resource_allocation_v0",
            env_options=options,
            default_opponent="truthful_report",
            reference="truthful_report",
            total_steps=total_steps,
            num_envs=16,
            rollout_steps=4 * num_dates,
            learning_rate=3e-4,
            eval_episodes=eval_episodes,
            seed=seed,
        )
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_training(config, tmp, progress=False)
            ratio = report_ratio(Path(tmp) / "agent_0.pt", options, 50, seed)
        gain, half = _interval(summary)
        rows.append(
            {
                "mechanism": mechanism,
                "learner / date": summary["learner_utility_per_problem"],
                "truth / date": summary["reference_utility_per_problem"],
                "gain / episode": f"{gain * num_dates:+.4f} +- {half * num_dates:.4f}",
                "epsilon": epsilon,
                "report / endowment": ratio,
                "PPO steps": summary["env_steps"],
            }
        )
    return rows
