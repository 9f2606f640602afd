"""The ``linkmech`` command: ``list`` the environments, run a ``demo`` episode of each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
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
from linkmech.evaluation.play import play_batch, play_episode
from linkmech.mechanisms.baselines import unlinked_baseline
from linkmech.mechanisms.catalogue import tabular_voting
from linkmech.mechanisms.incentives import expected_utilities
from linkmech.training.config import TrainConfig


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``linkmech`` command."""
    parser = argparse.ArgumentParser(
        prog="linkmech",
        description="Linking mechanisms (Jackson-Sonnenschein 2007) as PettingZoo environments.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "list", help="list the environments with their options and the strategies with their parameters"
    )
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
    add_train_parser(commands)
    add_tournament_parser(commands)
    add_reproduce_parser(commands)
    best = commands.add_parser(
        "second-best",
        help="the best unlinked incentive-compatible mechanism of each env's problem (exact LP) vs target and baseline",
        description=(
            "Solve the linear program over every direct mechanism of one problem (Bayesian incentive constraints, "
            "and participation constraints where the problem has a status quo), certify it exactly, and compare "
            "it with the target f and the paper's unlinked baseline (linkmech/evaluation/second_best.py)."
        ),
    )
    best.add_argument("--env", action="append", default=None, help="NAME[:key=value,...] (repeatable)")
    best.add_argument(
        "--objective",
        choices=["welfare", "target"],
        default="welfare",
        help="what to maximise (default welfare)",
    )
    best.add_argument(
        "--incentives",
        choices=["bayesian", "dominant"],
        default="bayesian",
        help="Bayesian incentive compatibility (default) or strategy-proofness",
    )
    bench = commands.add_parser(
        "bench",
        help="throughput: PettingZoo loop vs batched engine vs rps, linked VCG vs SciPy, PPO, tournament workers",
        description="Benchmarks measured in one run (see linkmech/evaluation/bench.py); prints a table and ratios.",
    )
    bench.add_argument(
        "--json", default=None, help='write {"results": [{"id", "value", "unit"}]} to this file'
    )
    bench.add_argument("--quick", action="store_true", help="short measurements, no N = 1000 (noisy)")
    return parser


def add_reproduce_parser(commands: Any) -> None:
    """The ``reproduce`` subcommand (every quantitative claim of both papers)."""
    reproduce = commands.add_parser(
        "reproduce",
        help="compute every quantitative claim of both papers from the library and compare with the printed values",
        description=(
            "Compute the papers' figures (exact fractions where exact, Monte Carlo with 95% intervals otherwise), "
            "compare each with the paper's printed value, explain disagreements. IDS are prefixes: js.ex2, zhu, "
            "js.ex5.utility_k4 (default: everything)."
        ),
    )
    reproduce.add_argument("ids", nargs="*", help="figure ids or prefixes (default: all)")
    reproduce.add_argument("--json", default=None, help="write {'figures': [...]} to this file")
    reproduce.add_argument("--markdown", default=None, help="write the report (table and plots) to this file")
    reproduce.add_argument("--plots", default=None, help="write the plots (PNG) into this directory")
    reproduce.add_argument("--quick", action="store_true", help="fewer Monte Carlo episodes (CI)")


def add_tournament_parser(commands: Any) -> None:
    """The ``tournament`` subcommand (the main job on defaults)."""
    from linkmech.evaluation.tournament_setup import DEFAULT_ENVS, DEFAULT_STRATEGIES

    tournament = commands.add_parser(
        "tournament",
        help="play every strategy against every other in every seat; summary table, results, plots",
        description=(
            "A tournament of strategies across environments. Defaults: "
            + ", ".join(DEFAULT_ENVS)
            + "; strategies "
            + ", ".join(DEFAULT_STRATEGIES)
            + "; round robin over seats. Results are journaled as each match finishes: run the same command "
            "again with the same --out to resume an interrupted run."
        ),
    )
    tournament.add_argument("--env", action="append", default=None, help="NAME[:key=value,...] (repeatable)")
    tournament.add_argument(
        "--strategy", action="append", default=None, help="NAME[:key=value,...] (repeatable)"
    )
    tournament.add_argument(
        "--config", default=None, help="a TOML or YAML tournament file (flags override it)"
    )
    tournament.add_argument("--seating", choices=["round_robin", "population"], default=None)
    tournament.add_argument(
        "--population-matches", type=int, default=None, help="profiles per env (population)"
    )
    tournament.add_argument("--repetitions", type=int, default=None, help="plays of each profile (default 3)")
    tournament.add_argument("--episodes", type=int, default=None, help="episodes per match (default 6)")
    tournament.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    tournament.add_argument(
        "--backend", choices=["local", "ray"], default="local", help="local processes or Ray"
    )
    tournament.add_argument("--seed", type=int, default=None, help="tournament seed (default 0)")
    tournament.add_argument(
        "--out", default="runs/tournament", help="results directory (default runs/tournament)"
    )
    tournament.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    tournament.add_argument("--quiet", action="store_true", help="no progress bar")


def add_train_parser(commands: Any) -> None:
    """The ``train`` subcommand (PPO; defaults: linked voting K = 20, agent_0 vs approximate truth)."""
    defaults = TrainConfig()
    train = commands.add_parser(
        "train",
        help="train PPO learners; writes checkpoints, a log and summary.json",
        description=(
            "Train PPO in one environment. With no environment arguments: linked voting, K = 20, two agents, "
            "agent_0 learns against an approximately truthful agent_1. The summary compares the learner with "
            "approximate truth in the same seat against the same opponents on the same evaluation episodes."
        ),
    )
    train.add_argument("--env", default=None, help="environment id or module name (default linked_voting_v0)")
    train.add_argument(
        "--option",
        action="append",
        default=[],
        help="env option key=value (repeatable; default num_problems=20)",
    )
    train.add_argument(
        "--learner", action="append", default=[], help="learner seat (repeatable; default agent_0)"
    )
    train.add_argument(
        "--opponent",
        action="append",
        default=[],
        help="SEAT=NAME[:k=v] for one seat or NAME[:k=v] for every other seat (default approximately_truthful)",
    )
    train.add_argument(
        "--sharing", choices=["independent", "shared"], default=None, help="one network per seat or shared"
    )
    train.add_argument("--self-play", action="store_true", help="every seat learns, one shared network")
    train.add_argument("--steps", type=int, default=None, help=f"env steps (default {defaults.total_steps})")
    train.add_argument(
        "--num-envs", type=int, default=None, help=f"episodes stepped together (default {defaults.num_envs})"
    )
    train.add_argument(
        "--rollout-steps",
        type=int,
        default=None,
        help=f"steps per episode between updates (default {defaults.rollout_steps}; give at least the "
        "episode length, e.g. 2K, for long episodes)",
    )
    train.add_argument(
        "--vector",
        choices=("auto", "batched", "copies"),
        default=None,
        help="auto (default): the batched engine where the env has one, else lockstep copies (same episodes)",
    )
    train.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help=f"evaluation episodes (default {defaults.eval_episodes})",
    )
    train.add_argument(
        "--config", type=str, default=None, help="a TrainConfig JSON file (flags given override it)"
    )
    train.add_argument("--seed", type=int, default=None, help="run seed (default 0)")
    train.add_argument("--out", default="runs/train", help="output directory (default runs/train)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")


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


PLAY_CHUNK = 1024
"""Episodes ``linkmech play`` steps together on the batched engine (memory grows with it)."""


def run_play(env_name: str, specs: Sequence[str], options: Sequence[str], episodes: int, seed: int) -> str:
    """Play ``episodes`` seeded episodes and report each seat's utility per problem with a 95% interval."""
    kwargs = parse_options(options)
    env = envs.make(env_name, **kwargs)
    strategies = seat_strategies(env.possible_agents, specs)
    seeds = [seed + e for e in range(episodes)]
    chunks = [seeds[i : i + PLAY_CHUNK] for i in range(0, len(seeds), PLAY_CHUNK)]
    totals = np.concatenate([play_batch(env_name, strategies, chunk, **kwargs).totals for chunk in chunks])
    k = getattr(getattr(env, "options", None), "num_problems", getattr(env, "num_problems", 1))
    lines = [f"{env_name}  {kwargs}  {episodes} episodes from seed {seed}"]
    for i, agent in enumerate(env.possible_agents):
        mean, half = mean_ci(list(totals[:, i] / k))
        lines.append(f"  {agent}: {strategies[agent]!r:40s} utility per problem {mean:+.4f} +- {half:.4f}")
    return "\n".join(lines)


def run_bench_command(json_path: str | None, quick: bool) -> str:
    """Run the benchmarks (progress on stderr), write the JSON, return the table with the target ratios."""
    import json

    from linkmech.evaluation.bench import ratios, run_bench

    results = run_bench(quick, progress=lambda line: print(line, file=sys.stderr))
    targets = ratios(results)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps({"results": results, "ratios": targets}, indent=2) + "\n")
    lines = [f"{r['id']:38s} {r['value']:14.4g} {r['unit']}" for r in results]
    for r in targets:
        verdict = f" ({'met' if r['met'] else 'NOT met'})" if "met" in r else ""
        lines.append(f"{r['id']:38s} {r['value']:14.4g} {r['unit']}{verdict}")
    return "\n".join(lines)


def parse_options(options: Sequence[str]) -> dict[str, Any]:
    """``key=value`` strings as a dict of parsed values."""
    kwargs: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise ValueError(f"--option: got {option!r}; write key=value")
        kwargs[key] = parse_value(value)
    return kwargs


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of ``linkmech train``'s arguments (see its --help)."""
    import json

    base = TrainConfig.from_dict(json.loads(Path(args.config).read_text())) if args.config else TrainConfig()
    values = base.to_dict()
    if args.env is not None:
        values["env"] = args.env
        values["env_options"] = {}
    if args.option:
        values["env_options"] = parse_options(args.option)
    agents = envs.make(values["env"], **values["env_options"]).possible_agents
    if args.self_play:
        values["learners"], values["opponents"], values["sharing"] = list(agents), {}, "shared"
    elif args.learner:
        values["learners"] = list(args.learner)
    if args.sharing:
        values["sharing"] = args.sharing
    opponents = dict(values["opponents"])
    for spec in args.opponent:
        seat, sep, name = spec.partition("=")
        if sep and ":" not in seat:
            if seat not in agents:
                raise ValueError(f"--opponent: got seat {seat!r}; seats are {list(agents)}")
            opponents[seat] = name
        else:
            values["default_opponent"] = spec
    values["opponents"] = {k: v for k, v in opponents.items() if k not in values["learners"]}
    flags = {
        "seed": args.seed,
        "total_steps": args.steps,
        "num_envs": args.num_envs,
        "rollout_steps": args.rollout_steps,
        "eval_episodes": args.eval_episodes,
        "vector": args.vector,
    }
    values.update({key: value for key, value in flags.items() if value is not None})
    return TrainConfig.from_dict(values)


def run_train(args: argparse.Namespace) -> str:
    """Run ``linkmech train`` and return the summary lines."""
    from linkmech.training.run import run_training

    config = train_config(args)
    summary = run_training(config, args.out, progress=not args.quiet)
    return format_train_summary(config, summary, args.out)


def format_train_summary(config: TrainConfig, summary: dict[str, Any], out: str) -> str:
    """The lines `linkmech train` prints for a run's summary."""
    diff = summary["difference"]
    ratio = summary["ratio"]
    lines = [
        f"{config.env} {config.env_options}: learners {list(config.learners)} ({config.sharing}), "
        f"{summary['env_steps']} env steps in {summary['wall_seconds']:.1f} s",
        f"  learner (greedy) utility per problem   {summary['learner_utility_per_problem']:+.4f}  "
        f"95% [{summary['learner_ci95'][0]:+.4f}, {summary['learner_ci95'][1]:+.4f}]",
        f"  {config.reference} in the same seats {summary['reference_utility_per_problem']:+.4f}  "
        f"95% [{summary['reference_ci95'][0]:+.4f}, {summary['reference_ci95'][1]:+.4f}]",
        f"  difference {diff['mean']:+.4f} 95% [{diff['ci95'][0]:+.4f}, {diff['ci95'][1]:+.4f}] on "
        f"{summary['eval_episodes']} common episodes; ratio "
        + (f"{ratio:.3f}" if ratio is not None else "n/a"),
        f"  wrote {out}/summary.json, log.jsonl, config.json, {', '.join(Path(p).name for p in summary['checkpoints'])}",
    ]
    return "\n".join(lines)


def list_everything() -> str:
    """Environments with their options and defaults, then strategies with their parameters."""
    import inspect

    lines = ["Environments (linkmech.make(NAME, **options); --env NAME:key=value,...):"]
    for entry in envs.ENVIRONMENTS:
        lines.append(f"  {entry.id:34s} {entry.module:24s} {entry.summary}")
        options = ", ".join(f"{k}={_short(v)}" for k, v in envs.env_options(entry.id).items())
        lines.append(f"      options: {options}")
    lines.append("")
    lines.append("Strategies (--strategy NAME:key=value,...):")
    for name in sorted(STRATEGIES):
        cls = STRATEGIES[name]
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        parameters = [
            f"{p.name}={_short(p.default)}"
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self"
            and p.kind is p.POSITIONAL_OR_KEYWORD
            and not p.name.startswith("_")
            and not (name == "learned" and p.name in ("policy", "meta"))
        ]
        lines.append(f"  {name:24s} {summary}")
        if parameters:
            lines.append(f"      parameters: {', '.join(parameters)}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    import inspect

    if value is inspect.Parameter.empty:
        return "<required>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
    from linkmech.evaluation.second_best import second_best

    try:
        baseline = unlinked_baseline(env.problem)
        scf, name = baseline.scf, baseline.name
    except (TypeError, ValueError):  # no paper family for this problem: the exact LP second best instead
        scf, name = second_best(env.problem).scf, "LP second best, linkmech second-best"
    unlinked = [float(u) for u in expected_utilities(env.problem, scf)]
    cells = "  ".join(f"{a}: {u:+.3f}" for a, u in zip(env.possible_agents, unlinked))
    return f"unlinked baseline    {cells}   ({name})"


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
            print(list_everything())
        elif args.command == "strategies":
            print(list_strategies())
        elif args.command == "play":
            print(run_play(args.env, args.strategy, args.option, args.episodes, args.seed))
        elif args.command == "second-best":
            from linkmech.evaluation.second_best import run_second_best_command

            print(run_second_best_command(args.env, args.objective, args.incentives))
        elif args.command == "bench":
            print(run_bench_command(args.json, args.quick))
        elif args.command == "reproduce":
            from linkmech.evaluation.reproduce.command import run_reproduce

            print(run_reproduce(args.ids, args.json, args.markdown, args.plots, args.quick))
        elif args.command == "tournament":
            from linkmech.evaluation.tournament_command import run_tournament_command

            print(run_tournament_command(args))
        elif args.command == "train":
            print(run_train(args))
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
