"""Where the time goes and how it scales (issue 8): B episodes, K problems, n agents, N = T for allocation.

Four sections, each a function returning rows (dicts); :func:`run_scaling` runs them all and
:func:`scaling_markdown` writes the tables and the fitted log-log exponents:

- ``batched``: :class:`linkmech.envs.batched.BatchedLinkingEnv` on linked voting (n = 2) over B x K and on
  linked public goods (K = 100) over B x n: seconds per step (random allowed actions drawn for all episodes at
  once, the draw included, as in ``linkmech bench``; mean and median), seconds per reset (all K types of all B
  episodes) and agent decisions per second (B x n over the median step, robust to a busy neighbour;
  ``episode_decisions_per_second``: a whole episode's decisions over its reset plus K mean steps);
- ``profile``: cProfile over the single PettingZoo env's loop (:func:`linkmech.evaluation.bench.pettingzoo_loop_rate`,
  linked voting, K = 100), its time split into buckets (see :func:`profile_buckets`);
- ``allocation``: :class:`linkmech.envs.batched_allocation.BatchedAllocationEnv` with truthful reports over
  B x N (= T) for the linked and the unlinked mechanism: seconds per date step before the last, and seconds of
  the last step (which computes all B x N transfers);
- ``linked_vcg``: :func:`linkmech.mechanisms.linked_vcg.linked_vcg_transfers` alone for N = T
  (:func:`linkmech.evaluation.bench.linked_vcg_seconds`).

Every function takes ``quick``: a grid that runs in a few seconds (for tests; the numbers are then rough).
Time goes by ``time.perf_counter``; the cores may be shared, so the numbers are noisy.
"""

from __future__ import annotations

import cProfile
import itertools
import math
import pstats
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from linkmech.evaluation.bench import linked_vcg_seconds, pettingzoo_loop_rate, random_allowed_actions

Row = dict[str, Any]
Progress = Callable[[str], None] | None

SECTIONS = {
    "batched": "Batched linking engine",
    "profile": "PettingZoo loop profile",
    "allocation": "Resource allocation",
    "linked_vcg": "Linked VCG transfers",
}
"""Result keys and the markdown section titles."""


def _report(progress: Progress, row: Row) -> Row:
    if progress is not None:
        progress(" ".join(f"{key}={_cell(value)}" for key, value in row.items()))
    return row


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# ----- batched linking engine ---------------------------------------------------------------------------


def batched_timing(
    env_name: str, num_envs: int, seconds: float, seed: int = 0, **options: Any
) -> dict[str, float]:
    """Seconds per step and per reset of B = ``num_envs`` episodes of ``env_name`` with random allowed actions.

    Steps are timed one by one until ``seconds`` of stepping have passed (resets in between are timed apart), so
    one long episode need not finish: ``step_seconds`` is their mean, ``median_step_seconds`` their median (less
    swayed by a busy neighbour on shared cores), ``reset_seconds`` the fastest reset, ``steps`` the number of
    steps timed and ``num_steps`` the episode length.
    """
    from linkmech.envs.batched import BatchedLinkingEnv

    batched = BatchedLinkingEnv(env_name, num_envs, **options)
    rng = np.random.default_rng(seed)
    resets: list[float] = []
    steps: list[float] = []
    done = True
    masks: Mapping[str, np.ndarray] = {}
    while sum(steps) < seconds:
        if done:
            start = time.perf_counter()
            _, masks = batched.reset(int(rng.integers(2**31)))
            resets.append(time.perf_counter() - start)
        start = time.perf_counter()
        _, masks, _, done = batched.step(random_allowed_actions(masks, rng))
        steps.append(time.perf_counter() - start)
    return {
        "step_seconds": float(np.mean(steps)),
        "median_step_seconds": float(np.median(steps)),
        "reset_seconds": min(resets),
        "steps": float(len(steps)),
        "num_steps": float(batched.num_steps),
    }


def batched_row(env_name: str, num_envs: int, num_problems: int, num_agents: int, seconds: float) -> Row:
    """One grid cell of :func:`batched_scaling`."""
    timing = batched_timing(env_name, num_envs, seconds, num_problems=num_problems, num_agents=num_agents)
    per_step = num_envs * num_agents
    episode = timing["reset_seconds"] + timing["num_steps"] * timing["step_seconds"]
    return {
        "env": env_name,
        "num_envs": num_envs,
        "num_problems": num_problems,
        "num_agents": num_agents,
        "steps_timed": int(timing["steps"]),
        "step_seconds": timing["step_seconds"],
        "median_step_seconds": timing["median_step_seconds"],
        "reset_seconds": timing["reset_seconds"],
        "decisions_per_second": per_step / timing["median_step_seconds"],
        "episode_decisions_per_second": per_step * timing["num_steps"] / episode,
    }


def batched_scaling(quick: bool = False, progress: Progress = None) -> list[Row]:
    """Batched engine over B x K (linked voting, n = 2) and B x n (linked public goods, K = 100)."""
    if quick:
        voting, goods, seconds = [(b, k) for b in (1, 16) for k in (10, 100)], [(1, 3), (1, 5)], 0.02
    else:
        voting = [(b, k) for b in (1, 16, 256, 4096) for k in (10, 100, 1000)]
        goods, seconds = [(b, n) for b in (1, 256) for n in (3, 5, 7)], 0.4
    rows = [_report(progress, batched_row("linked_voting_v0", b, k, 2, seconds)) for b, k in voting]
    rows += [_report(progress, batched_row("linked_public_goods_v0", b, 100, n, seconds)) for b, n in goods]
    return rows


# ----- profile of the single PettingZoo env ---------------------------------------------------------------

_ENV = "linkmech/envs/linking_env.py"
_BUCKET_ROOTS = {
    "action_checks": [(_ENV, "check_action"), ("linkmech/envs/api.py", "check_action_dict")],
    "observations": [(_ENV, "_observations")],
    "infos": [(_ENV, "_date_infos"), (_ENV, "_final_infos")],
    "mechanism_step": [(_ENV, "_apply"), ("linkmech/mechanisms/linking.py", "start_episodes")],
}


def _cumulative(stats: pstats.Stats, roots: Iterable[tuple[str, str]]) -> float:
    """Summed cumulative seconds of the profiled functions named by (file path ending, function name)."""
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    return sum(
        entry[3]
        for (filename, _, name), entry in table.items()
        for path, wanted in roots
        if name == wanted and filename.replace("\\", "/").endswith(path)
    )


def profile_buckets(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of a profiled PettingZoo loop by bucket, from the cumulative time of each bucket's entry points.

    ``action_checks``: ``check_action_dict`` and ``check_action`` (with ``check_agent_announcement`` and the
    first mask of the date); ``observations``: ``LinkingEnv._observations`` (``batch_vector``, ``batch_mask``);
    ``infos``: ``_date_infos`` and ``_final_infos``; ``mechanism_step``: ``LinkingEnv._apply`` (the
    :mod:`linkmech.mechanisms` step) less the infos it builds, plus ``start_episodes`` of each reset;
    ``rest``: everything else (the loop's action draw, PettingZoo's dicts of rewards/terminations, reset).
    """
    seconds = {bucket: _cumulative(stats, roots) for bucket, roots in _BUCKET_ROOTS.items()}
    seconds["mechanism_step"] = max(seconds["mechanism_step"] - seconds["infos"], 0.0)
    total: float = stats.total_tt  # type: ignore[attr-defined]
    seconds["rest"] = max(total - sum(seconds.values()), 0.0)
    return seconds


def loop_profile(quick: bool = False, progress: Progress = None, num_problems: int = 100) -> list[Row]:
    """The cProfile of the linked voting PettingZoo loop; one row per bucket with its seconds and share (sum 1).

    Profiling slows Python calls more than NumPy's, so the shares lean towards the call-heavy buckets.
    """
    from linkmech import envs

    env = envs.make("linked_voting_v0", num_problems=num_problems)
    profiler = cProfile.Profile()
    rate = profiler.runcall(pettingzoo_loop_rate, env, 0.2 if quick else 2.0)
    seconds = profile_buckets(pstats.Stats(profiler))
    total = sum(seconds.values())
    return [
        _report(
            progress,
            {
                "bucket": bucket,
                "seconds": value,
                "share": value / total,
                "profiled_decisions_per_second": rate,
            },
        )
        for bucket, value in seconds.items()
    ]


# ----- resource allocation --------------------------------------------------------------------------------


def truthful_reports(batched: Any, observations: Mapping[str, np.ndarray]) -> np.ndarray:
    """``[B, N]`` reports equal to every agent's current endowment (the observation's ``endowment`` field)."""
    columns = []
    for agent in batched.possible_agents:
        field = dict(batched.observation_fields(agent))["endowment"]
        columns.append(observations[agent][:, field.start])
    return np.stack(columns, axis=1).astype(np.float64)


def allocation_episode(batched: Any, seed: int) -> list[float]:
    """Seconds of each of the T date steps of one truthful episode (the last one computes the transfers)."""
    observations, _ = batched.reset(seed)
    durations = []
    for _ in range(batched.num_steps):
        reports = truthful_reports(batched, observations)
        start = time.perf_counter()
        observations, _, _, _ = batched.step(reports)
        durations.append(time.perf_counter() - start)
    return durations


def allocation_row(mechanism: str, num_envs: int, size: int, seconds: float) -> Row:
    """One grid cell of :func:`allocation_scaling`: episodes are repeated until ``seconds`` have passed.

    ``date_step_seconds``: mean of the date steps before the last; ``last_step_seconds``: fastest last step;
    ``observations_seconds``: one build of the ``[B, N, 2 + 2T + TN]`` observations (part of every step).
    """
    from linkmech.envs.batched_allocation import BatchedAllocationEnv

    batched = BatchedAllocationEnv(
        "resource_allocation_v0", num_envs, num_agents=size, num_dates=size, mechanism=mechanism
    )
    dates: list[float] = []
    last: list[float] = []
    start = time.perf_counter()
    while not last or time.perf_counter() - start < seconds:
        durations = allocation_episode(batched, len(last))
        dates += durations[:-1]
        last.append(durations[-1])
    start = time.perf_counter()
    batched.env.batch_observations()
    observations = time.perf_counter() - start
    return {
        "mechanism": mechanism,
        "num_envs": num_envs,
        "num_agents": size,
        "num_dates": size,
        "episodes": len(last),
        "date_step_seconds": float(np.mean(dates)),
        "last_step_seconds": float(np.min(last)),
        "observations_seconds": observations,
    }


def allocation_scaling(quick: bool = False, progress: Progress = None) -> list[Row]:
    """Batched resource allocation, truthful reports, over mechanism x B x N = T."""
    sizes, batches, seconds = ((5, 10), (1, 4), 0.02) if quick else ((10, 30, 100), (1, 64), 0.3)
    return [
        _report(progress, allocation_row(mechanism, b, size, seconds))
        for mechanism in ("linked", "unlinked")
        for b in batches
        for size in sizes
    ]


# ----- linked VCG -----------------------------------------------------------------------------------------


def linked_vcg_row(size: int, seconds: float) -> Row:
    """Fastest of repeated calls (new instance each time) until ``seconds`` have passed; at least one call."""
    timings: list[float] = []
    start = time.perf_counter()
    while not timings or time.perf_counter() - start < seconds:
        timings.append(linked_vcg_seconds(size, seed=len(timings)))
    return {"size": size, "calls": len(timings), "seconds": min(timings)}


def linked_vcg_scaling(quick: bool = False, progress: Progress = None) -> list[Row]:
    """Seconds of all N linked VCG transfers at N = T."""
    sizes, seconds = ((10, 30), 0.05) if quick else ((10, 30, 100, 300, 1000), 0.5)
    return [_report(progress, linked_vcg_row(size, seconds)) for size in sizes]


# ----- everything, exponents, markdown --------------------------------------------------------------------


def run_scaling(quick: bool = False, progress: Progress = None) -> dict[str, list[Row]]:
    """Every section's rows, keyed as :data:`SECTIONS`."""
    return {
        "batched": batched_scaling(quick, progress),
        "profile": loop_profile(quick, progress),
        "allocation": allocation_scaling(quick, progress),
        "linked_vcg": linked_vcg_scaling(quick, progress),
    }


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope p of log y against log x (y ~ x^p); NaN with fewer than two distinct x."""
    if len(set(xs)) < 2:
        return math.nan
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _slopes(rows: list[Row], group: Sequence[str], x: str, y: str) -> list[Row]:
    """``loglog_slope`` of ``y`` against ``x`` within each group of rows sharing the values of the ``group`` keys."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        label = " ".join(
            str(row[key]) if key in ("env", "mechanism") else f"{key}={row[key]}" for key in group
        )
        groups.setdefault(label, []).append(row)
    return [
        {
            "rows": label or "all",
            "x": x,
            "y": y,
            "exponent": loglog_slope([r[x] for r in members], [r[y] for r in members]),
            "top_exponent": loglog_slope(*_largest_two(members, x, y)),
        }
        for label, members in groups.items()
    ]


def _largest_two(rows: list[Row], x: str, y: str) -> tuple[list[float], list[float]]:
    """The ``x`` and ``y`` values of the two rows with the largest ``x`` (the local growth at the top)."""
    top = sorted(rows, key=lambda r: r[x])[-2:]
    return [r[x] for r in top], [r[y] for r in top]


def exponents(results: Mapping[str, list[Row]]) -> list[Row]:
    """Fitted log-log exponents: what grows how (rates against B; seconds against K, n, N).

    ``exponent`` fits all the rows of a group; ``top_exponent`` only its two largest x (fixed per-call costs
    flatten the first, so the second is the growth that matters for large sizes).
    """
    batched = results.get("batched", [])
    voting = [r for r in batched if r["env"] == "linked_voting_v0"]
    goods = [r for r in batched if r["env"] == "linked_public_goods_v0"]
    out = _slopes(voting, ("env", "num_problems"), "num_envs", "decisions_per_second")
    out += _slopes(voting, ("env", "num_envs"), "num_problems", "median_step_seconds")
    out += _slopes(voting, ("env", "num_envs"), "num_problems", "reset_seconds")
    out += _slopes(goods, ("env", "num_envs"), "num_agents", "median_step_seconds")
    allocation = results.get("allocation", [])
    out += _slopes(allocation, ("mechanism", "num_envs"), "num_agents", "date_step_seconds")
    out += _slopes(allocation, ("mechanism", "num_envs"), "num_agents", "last_step_seconds")
    out += _slopes(allocation, ("mechanism", "num_envs"), "num_agents", "observations_seconds")
    out += _slopes(results.get("linked_vcg", []), (), "size", "seconds")
    return out


def saturation(results: Mapping[str, list[Row]]) -> list[Row]:
    """Decisions per second of each batched B over the previous B's (per env, K, n): near 1 means saturated."""
    out = []
    rows = sorted(
        results.get("batched", []),
        key=lambda r: (r["env"], r["num_problems"], r["num_agents"], r["num_envs"]),
    )
    for before, after in itertools.pairwise(rows):
        same = all(before[k] == after[k] for k in ("env", "num_problems", "num_agents"))
        if same:
            out.append(
                {
                    "env": after["env"],
                    "num_problems": after["num_problems"],
                    "num_agents": after["num_agents"],
                    "from_B": before["num_envs"],
                    "to_B": after["num_envs"],
                    "rate_gain": after["decisions_per_second"] / before["decisions_per_second"],
                    "B_gain": after["num_envs"] / before["num_envs"],
                }
            )
    return out


def markdown_table(rows: list[Row]) -> str:
    """A markdown table of ``rows`` (columns: the first row's keys)."""
    if not rows:
        return "(no rows)\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(row.get(key, "")) for key in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def scaling_markdown(results: Mapping[str, list[Row]]) -> str:
    """One section per result key with its table, then the batched saturation and the fitted exponents."""
    parts = ["# Scaling\n"]
    for key, title in SECTIONS.items():
        if key in results:
            parts.append(f"## {title}\n\n{markdown_table(results[key])}")
    parts.append(f"## Batched gain per step in B\n\n{markdown_table(saturation(results))}")
    parts.append(f"## Fitted exponents (y ~ x^p)\n\n{markdown_table(exponents(results))}")
    return "\n".join(parts)
