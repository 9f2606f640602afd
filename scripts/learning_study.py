"""Learned agents, measured: writes docs/learning.md and its plots.

Usage: python scripts/learning_study.py [--parts bar,exploit,coalition,statistical] [--eval-episodes E]
                                        [--out docs/learning.md]
Sections: the `linkmech train` bar (K = 20 linked voting), exploitability curves (exact DP and PPO) for
linked voting and linked public goods, learned coalitions with and without policing, PPO learners in Zhu's
resource allocation env. The whole run takes about 8 minutes on 2 cores (on the batched engine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from linkmech.evaluation.collusion import markdown_table
from linkmech.evaluation.learning import coalition_rows, exploitability_rows, statistical_learner_rows
from linkmech.training.config import TrainConfig
from linkmech.training.run import run_training

PROBLEM_COUNTS = [2, 4, 8, 16, 32, 64]
THIRDS = [3, 6, 12, 24, 48, 96, 192]
CURVES = {
    "linked voting (2 agents)": ("linked_voting_v0", {}),
    "linked public goods (3 agents)": ("linked_public_goods_v0", {"num_agents": 3}),
}


def _log(start: float, text: str) -> None:
    print(f"[{time.perf_counter() - start:6.0f} s] {text}", file=sys.stderr, flush=True)


def bar_section(out_dir: Path) -> str:
    config = TrainConfig()
    summary = run_training(config, out_dir / "bar", progress=False)
    diff = summary["difference"]
    return (
        "## The bar: `linkmech train` on defaults\n\n"
        "Linked voting, K = 20, two agents; agent_0 learns (PPO, masked categorical policy, "
        f"{config.num_envs} episodes on the batched engine x {config.rollout_steps} steps per update) against an approximately "
        "truthful agent_1; evaluation: the greedy network vs approximate truth in the same seat, same opponent, "
        f"on the same {summary['eval_episodes']} episodes.\n\n"
        "| env steps | training seconds | learner / problem | approx. truth / problem | difference (95%) | ratio |\n"
        "|---|---|---|---|---|---|\n"
        f"| {summary['env_steps']} | {summary['wall_seconds']:.1f} | {summary['learner_utility_per_problem']:.4f} | "
        f"{summary['reference_utility_per_problem']:.4f} | {diff['mean']:+.4f} [{diff['ci95'][0]:+.4f}, "
        f"{diff['ci95'][1]:+.4f}] | {summary['ratio']:.3f} |\n"
    )


def plot_curves(curves: dict[str, list[dict]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, rows in curves.items():
        ks = [r["K"] for r in rows]
        axis.plot(ks, [r["gain / problem"] for r in rows], marker="o", label=f"{label}: exact DP")
        if rows and "PPO gain / problem" in rows[0]:
            means = [float(r["PPO gain / problem"].split("+-")[0]) for r in rows]
            halves = [float(r["PPO gain / problem"].split("+-")[1]) for r in rows]
            axis.errorbar(ks, means, yerr=halves, fmt="s--", capsize=3, label=f"{label}: PPO (lower bound)")
    axis.set_xscale("log", base=2)
    axis.axhline(0.0, color="k", lw=0.5)
    axis.set_xlabel("K (linked problems)")
    axis.set_ylabel("best-response gain per problem over approximate truth")
    axis.set_title("Exploitability of approximate truth (others approximately truthful)")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="bar,exploit,coalition,statistical")
    parser.add_argument("--eval-episodes", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("docs/learning.md"))
    parser.add_argument("--runs", type=Path, default=Path("runs/learning"))
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    start = time.perf_counter()
    sections, data = [], {}
    if "bar" in parts:
        sections.append(bar_section(args.runs))
        _log(start, "bar")
    if "exploit" in parts:
        curves = {}
        for label, (env, options) in CURVES.items():
            curves[label] = exploitability_rows(
                env, options, PROBLEM_COUNTS, eval_episodes=args.eval_episodes
            )
            _log(start, f"exploitability {label}")
        figure = args.out.with_name("learning_exploitability.png")
        has_plot = plot_curves(curves, figure)
        text = "## Exploitability of approximate truth (Theorem 1, parts 3-4)\n\n"
        text += (
            "One seat deviates, every other seat is approximately truthful (random forced lies). `gain / problem` "
            "is the exact best-response gain from the dynamic programme over every agent's budget state "
            "(`method = exact`; `history_free` marks the lower bound that ignores the public history, used where "
            "the joint state space is too large). PPO trains a best response for `PPO steps` env steps: a "
            "lower bound, shown with its 95% interval on the evaluation episodes.\n\n"
        )
        text += f"![exploitability]({figure.name})\n\n" if has_plot else ""
        for label, rows in curves.items():
            text += f"### {label}\n\n" + markdown_table(rows, 4) + "\n\n"
        thirds = exploitability_rows("linked_public_goods_v0", {"num_agents": 3}, THIRDS, ppo=False)
        text += (
            "### linked public goods (3 agents), K a multiple of 3 (exact DP only)\n\n"
            "The quotas are K/3 and 2K/3; for other K they are rounded, which moves the gain up and down.\n\n"
            + markdown_table(thirds, 5)
            + "\n\n"
        )
        curves["linked public goods (3 agents), K multiple of 3"] = thirds
        sections.append(text)
        data["exploitability"] = curves
    if "coalition" in parts:
        rows = coalition_rows(3, 30, ["agent_1", "agent_2"], eval_episodes=args.eval_episodes)
        _log(start, "coalitions")
        sections.append(
            "## Learned coalitions (linked public goods, n = 3, K = 30)\n\n"
            "agent_1 and agent_2 share one network and train on their mean reward; agent_0 is approximately "
            "truthful. Policing: `PolicingConfig()` (coalitions up to 2). The gain is the members' utility per "
            "problem minus approximate truth's in the same seats on the same episodes.\n\n"
            + markdown_table(rows, 4)
            + "\n"
        )
        data["coalitions"] = rows
    if "statistical" in parts:
        rows = statistical_learner_rows(3, 6)
        _log(start, "statistical learners")
        sections.append(
            "## A PPO learner in Zhu's repeated resource allocation (N = 3, T = 6, q-bar = 3, hoeffding Omega*)\n\n"
            "agent_0 learns its reports (Gaussian policy) while the others report truthfully; the reference is "
            "truthful reporting in its seat. Unlinked VCG is ex-post incentive compatible (no gain possible); "
            "under linked VCG a deviation from a reasonable strategy gains at most epsilon in expectation.\n\n"
            + markdown_table(rows, 4)
            + "\n"
        )
        data["statistical"] = rows
    header = (
        "# Learned agents (measured)\n\n"
        f"Generated by `python scripts/learning_study.py --parts {args.parts} --eval-episodes {args.eval_episodes}` "
        f"({time.perf_counter() - start:.0f} s on a 2-core machine). Every PPO number is deterministic for its "
        "seed (0).\n\n"
    )
    args.out.write_text(header + "\n".join(sections))
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    _log(start, f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
