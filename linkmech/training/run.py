"""A whole training run as `linkmech train` does it: train, save, evaluate against the reference, summarise.

Output directory ``DIR``:

- ``config.json``: the :class:`~linkmech.training.config.TrainConfig`;
- ``log.jsonl``: one line of statistics per PPO update (env steps, losses, entropy, KL, the utility per
  problem of finished training episodes, seconds);
- ``<seat>.pt`` (independent learners) or ``shared.pt``: checkpoints (``learned:path=...`` plays them);
- ``summary.json``: ``learner_utility_per_problem`` and ``reference_utility_per_problem`` (means over the
  learner seats, greedy network vs the reference strategy in the same seats against the same opponents, on
  the same ``eval_episodes`` episodes), their 95% intervals, the paired difference, their ratio, per-seat
  detail, ``env_steps``, ``wall_seconds`` (training), ``eval_seconds``, the checkpoints and the config.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from linkmech.training.checkpoint import save_policy
from linkmech.training.config import TrainConfig
from linkmech.training.evaluate import Estimate, utility_per_problem
from linkmech.training.ppo import TrainResult, train

EVAL_SEED_OFFSET = 1_000_003
"""The evaluation episodes use seed ``config.seed + EVAL_SEED_OFFSET`` (never the training episodes)."""


class _Progress:
    """A tqdm bar over env steps showing the learners' recent utility per problem (plain lines without tqdm)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar: Any = None
        self.enabled = enabled
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="step", desc="train", file=sys.stderr, dynamic_ncols=True)
            except ImportError:
                self.bar = None
        self.done = 0

    def __call__(self, steps: int, stats: dict[str, float]) -> None:
        utilities = {k.split("/", 1)[1]: v for k, v in stats.items() if k.startswith("utility_per_problem/")}
        text = " ".join(f"{seat}={value:.4f}" for seat, value in utilities.items())
        if self.bar is not None:
            self.bar.update(steps - self.done)
            self.bar.set_postfix_str(f"utility/problem {text}")
        elif self.enabled:
            print(f"[train] {steps} steps  utility/problem {text}", file=sys.stderr)
        self.done = steps

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _save(result: TrainResult, config: TrainConfig, out: Path) -> list[str]:
    paths = []
    for learner in result.learners:
        name = "shared" if learner.shared else learner.seats[0]
        path = save_policy(
            out / f"{name}.pt",
            learner.policy,
            learner.seats,
            learner.shared,
            config.env,
            config.env_options,
            config.to_dict(),
        )
        paths.append(str(path))
    return paths


def _compare(config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """Learner (greedy) vs reference in the learner seats, same opponents and episodes."""
    seed = config.seed + EVAL_SEED_OFFSET
    learned = utility_per_problem(
        config.env,
        config.env_options,
        result.learners,
        config.opponents,
        config.eval_episodes,
        seed,
        config.default_opponent,
    )
    reference_profile = dict(config.opponents)
    reference_profile.update(dict.fromkeys(config.learners, config.reference))
    reference = utility_per_problem(
        config.env,
        config.env_options,
        [],
        reference_profile,
        config.eval_episodes,
        seed,
        config.default_opponent,
    )
    seats = list(config.learners)
    mean_learned = np.mean([learned[s] for s in seats], axis=0)
    mean_reference = np.mean([reference[s] for s in seats], axis=0)
    learner, ref, diff = (
        Estimate.of(mean_learned),
        Estimate.of(mean_reference),
        Estimate.of(mean_learned - mean_reference),
    )
    return {
        "learner_utility_per_problem": learner.mean,
        "reference_utility_per_problem": ref.mean,
        "learner_ci95": learner.as_dict()["ci95"],
        "reference_ci95": ref.as_dict()["ci95"],
        "difference": diff.as_dict(),
        "ratio": learner.mean / ref.mean if ref.mean else None,
        "reference": config.reference,
        "eval_episodes": config.eval_episodes,
        "per_seat": {
            seat: {
                "learner": Estimate.of(learned[seat]).as_dict(),
                "reference": Estimate.of(reference[seat]).as_dict(),
            }
            for seat in seats
        },
    }


def run_training(config: TrainConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Train with ``config``, write everything into ``out`` (see module docstring) and return the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    bar = _Progress(max(1, config.total_steps // config.batch_size) * config.batch_size, progress)
    with (out / "log.jsonl").open("w") as log:

        def report(steps: int, stats: dict[str, float]) -> None:
            log.write(json.dumps(stats) + "\n")
            log.flush()
            bar(steps, stats)

        try:
            result = train(config, report)
        finally:
            bar.close()
    checkpoints = _save(result, config, out)
    start = time.perf_counter()
    summary: dict[str, Any] = _compare(config, result)
    summary.update(
        {
            "env_steps": result.env_steps,
            "wall_seconds": result.wall_seconds,
            "eval_seconds": time.perf_counter() - start,
            "checkpoints": checkpoints,
            "config": config.to_dict(),
        }
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
