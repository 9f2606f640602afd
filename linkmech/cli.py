"""The ``linkmech`` command: ``list`` the environments, run a ``demo`` episode of each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from linkmech import envs
from linkmech.agents.approximate_truth import (
    ApproximatelyTruthful,
    truthful_importance_action,
    truthful_ranking_action,
)
from linkmech.agents.base import STRATEGIES, Strategy, make_strategy, parse_value
from linkmech.envs.linking_env import LinkingEnv, decisions_table
from linkmech.evaluation.collusion import mean_ci
from linkmech.evaluation.play import play_episode
from linkmech.mechanisms.baselines import unlinked_baseline
from linkmech.mechanisms.catalogue import tabular_voting
from linkmech.mechanisms.incentives import expected_utilities


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``linkmech`` command."""
    parser = argparse.ArgumentParser(
        prog="linkmech",
        description="Linking mechanisms (Jackson-Sonnenschein 2007) as PettingZoo environments.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("list", help="list the registered environments")
    demo = commands.add_parser(
        "demo", help="play one episode of each environment with approximately truthful agents"
    )
    demo.add_argument(
        "--env", action="append", help="environment id or module name (repeatable; default: all)"
    )
    demo.add_argument(
        "--num-problems", type=int, default=8, help="K, linked problems per episode (default 8)"
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the episodes and the agents (default 0)")
    demo.add_argument(
        "--episodes", type=int, default=200, help="episodes averaged in the utility summary (default 200)"
    )
    commands.add_parser("strategies", help="list the registered strategies")
    play = commands.add_parser(
        "play", help="play seeded episodes with chosen strategies; utilities per problem"
    )
    play.add_argument("--env", default="LinkedVoting-v0", help="environment id or module name")
    play.add_argument(
        "--strategy",
        action="append",
        default=[],
        help="NAME[:key=value,...] for every seat, or SEAT=NAME[:...] for one (repeatable; default approximate truth)",
    )
    play.add_argument("--option", action="append", default=[], help="env option key=value (repeatable)")
    play.add_argument("--episodes", type=int, default=100, help="episodes (default 100)")
    play.add_argument("--seed", type=int, default=0, help="first seed; episode e uses seed + e (default 0)")
    return parser


def list_strategies() -> str:
    """One line per registered strategy: name, parameters and the first line of its docstring."""
    lines = []
    for name in sorted(STRATEGIES):
        cls = STRATEGIES[name]
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        lines.append(f"{name:24s} {summary}")
    return "\n".join(lines)


def seat_strategies(agents: Sequence[str], specs: Sequence[str]) -> dict[str, Strategy]:
    """Strategies per seat from ``NAME`` (all seats) and ``SEAT=NAME`` specs; approximate truth by default."""
    chosen: dict[str, str] = dict.fromkeys(agents, "approximately_truthful")
    for spec in specs:
        seat, sep, name = spec.partition("=")
        if sep and seat in agents:
            chosen[seat] = name
        elif sep and ":" not in seat:
            raise ValueError(f"--strategy: got seat {seat!r}; seats are {list(agents)}")
        else:
            chosen = dict.fromkeys(agents, spec)
    return {agent: make_strategy(spec) for agent, spec in chosen.items()}


def run_play(env_name: str, specs: Sequence[str], options: Sequence[str], episodes: int, seed: int) -> str:
    """Play ``episodes`` seeded episodes and report each seat's utility per problem with a 95% interval."""
    kwargs: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise ValueError(f"--option: got {option!r}; write key=value")
        kwargs[key] = parse_value(value)
    env = envs.make(env_name, **kwargs)
    strategies = seat_strategies(env.possible_agents, specs)
    totals = [play_episode(env, strategies, seed + e).totals for e in range(episodes)]
    k = getattr(getattr(env, "options", None), "num_problems", getattr(env, "num_problems", 1))
    lines = [f"{env_name}  {kwargs}  {episodes} episodes from seed {seed}"]
    for agent in env.possible_agents:
        mean, half = mean_ci([t[agent] / k for t in totals])
        lines.append(f"  {agent}: {strategies[agent]!r:40s} utility per problem {mean:+.4f} +- {half:.4f}")
    return "\n".join(lines)


def list_envs() -> str:
    """One line per registered environment."""
    width = max(len(e.id) for e in envs.ENVIRONMENTS)
    return "\n".join(f"{e.id.ljust(width)}  {e.summary}" for e in envs.ENVIRONMENTS)


def demo_env(entry: envs.EnvEntry, num_problems: int, seed: int, episodes: int = 200) -> str:
    """Play one episode of ``entry`` and describe it as text."""
    kwargs: dict[str, Any] = {}
    if entry.module == "linked_problem_v0":
        kwargs["problem"] = tabular_voting()
    if entry.module == "importance_vote_v0":
        return _demo_importance(envs.make(entry.id), seed)
    if entry.module == "resource_allocation_v0":
        return _demo_allocation(seed)
    if entry.module == "ranked_voting_v0":
        return _demo_ranked(envs.make(entry.id, num_problems=num_problems, form="all_at_once"), seed)
    env = envs.make(entry.id, num_problems=num_problems, **kwargs)
    return _demo_linking(env, seed, episodes)


def _demo_linking(env: LinkingEnv, seed: int, episodes: int) -> str:
    strategies = {a: ApproximatelyTruthful() for a in env.possible_agents}
    k = env.options.num_problems
    totals = [play_episode(env, strategies, seed).totals]
    table = decisions_table(env)
    totals += [play_episode(env, strategies, seed + e).totals for e in range(1, episodes)]
    means = {a: float(np.mean([t[a] for t in totals])) / k for a in env.possible_agents}
    target = [float(u) for u in expected_utilities(env.problem, env.problem.target)]
    lines = [
        table,
        "utility per problem  "
        + "  ".join(f"{a}: {means[a]:+.3f}" for a in env.possible_agents)
        + f"   (approximately truthful agents, mean of {episodes} episodes)",
        "target f, ex ante    " + "  ".join(f"{a}: {u:+.3f}" for a, u in zip(env.possible_agents, target)),
        _baseline_line(env),
    ]
    return "\n".join(lines)


def _baseline_line(env: LinkingEnv) -> str:
    try:
        baseline = unlinked_baseline(env.problem)
    except TypeError:
        return "unlinked baseline    none derived for a user-defined problem"
    unlinked = [float(u) for u in expected_utilities(env.problem, baseline.scf)]
    cells = "  ".join(f"{a}: {u:+.3f}" for a, u in zip(env.possible_agents, unlinked))
    return f"unlinked baseline    {cells}   ({baseline.name})"


def _demo_ranked(env: Any, seed: int) -> str:
    observations, _ = env.reset(seed=seed)
    k = env.num_problems
    rows = []
    while env.agents:
        actions = {
            a: truthful_ranking_action(observations[a]["observation"], observations[a]["action_mask"], k)
            for a in env.agents
        }
        observations, _, _, _, _ = env.step(actions)
    episode = env.episode
    for p in range(k):
        cells = [
            f"{episode.values[p, i]:+.2f}:{'ab'[int(episode.votes[p, i])]}#{episode.ranks[p, i]}"
            for i in range(2)
        ]
        rows.append(f"{p + 1:>2}  " + "  ".join(cells) + f"  -> {'ab'[int(episode.decisions[p])]}")
    mean = episode.utilities.mean(axis=0)
    rows.append("value:vote#rank per agent; utility per problem " + "  ".join(f"{u:+.3f}" for u in mean))
    return "\n".join(rows)


def _demo_importance(env: Any, seed: int) -> str:
    observations, _ = env.reset(seed=seed)
    actions = {a: truthful_importance_action(observations[a]["observation"]) for a in env.agents}
    _, rewards, _, _, infos = env.step(actions)
    lines = []
    for i, agent in enumerate(env.possible_agents):
        info = infos[agent]
        lines.append(
            f"{agent}: values {env.values[:, i].tolist()} votes {info['votes']} claim {info['claim']!r} "
            f"-> decisions {info['decisions']} utility {rewards[agent]:+.0f}"
        )
    return "\n".join(lines)


def _demo_allocation(seed: int) -> str:
    lines = []
    for mechanism in ("unlinked", "linked"):
        env = envs.make("resource_allocation_v0", num_agents=4, num_dates=8, mechanism=mechanism)
        observations, _ = env.reset(seed=seed)
        infos: dict[str, Any] = {}
        while env.agents:
            truth = {a: np.array([observations[a][1]], dtype=np.float32) for a in env.agents}
            observations, _, _, _, infos = env.step(truth)
        surplus = infos["agent_0"]["total_surplus"]
        cost = infos["agent_0"]["cost"]
        transfers = "  ".join(f"{infos[a]['transfer']:.3f}" for a in env.possible_agents)
        lines.append(
            f"{mechanism:8s} VCG, truthful reports: surplus {surplus:.3f}, transfers {transfers}, "
            f"cost {cost:.3f}, cost/surplus {cost / surplus:.3f}"
        )
    radius = env.omega_star.radius
    lines.append(
        f"(N = 4, T = 8, iid uniform endowments on [0, 2]; Omega* leave-one-out radius x = {radius:.3f})"
    )
    return "\n".join(lines)


def run_demo(names: Sequence[str] | None, num_problems: int, seed: int, episodes: int = 200) -> str:
    """The demo text for the chosen environments (all by default)."""
    if episodes < 1:
        raise ValueError(f"episodes: got {episodes}; give at least 1")
    if num_problems < 1:
        raise ValueError(f"num_problems: got {num_problems}; give K >= 1")
    entries = [envs.find(n) for n in names] if names else list(envs.ENVIRONMENTS)
    parts = []
    for entry in entries:
        size = (
            "" if entry.module in ("importance_vote_v0", "resource_allocation_v0") else f"K={num_problems}, "
        )
        parts.append(f"=== {entry.id}: {entry.summary} ({size}seed={seed})")
        parts.append(demo_env(entry, num_problems, seed, episodes))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``linkmech`` console command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print(list_envs())
        elif args.command == "strategies":
            print(list_strategies())
        elif args.command == "play":
            print(run_play(args.env, args.strategy, args.option, args.episodes, args.seed))
        elif args.command == "demo":
            print(run_demo(args.env, args.num_problems, args.seed, args.episodes))
        else:
            parser.print_help()
    except ValueError as error:
        print(f"linkmech: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
