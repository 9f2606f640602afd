"""Tournaments: schedule, parallel backends, the journal, resume after a crash, refusing foreign directories."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from linkmech.evaluation.match import ROW_FIELDS
from linkmech.evaluation.tournament import (
    FORMAT,
    JOURNAL,
    MANIFEST,
    TournamentConfig,
    TournamentDirError,
    run_tournament,
    schedule,
)

VOTING = ("approximately_truthful", "front_loading", "random", "lagged_truth")
REPORTING = ("truthful_report", "misreport:factor=1.5")


def voting_config(**changes) -> TournamentConfig:
    options = {"envs": (("linked_voting_v0", {"num_problems": 8}),), "strategies": VOTING[:3], "episodes": 2}
    options.update(changes)
    return TournamentConfig(**options)


def canonical(rows) -> str:
    """Rows as text (NaN compares equal to NaN here)."""
    return json.dumps(rows, sort_keys=True)


def journal_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / JOURNAL).read_text().splitlines()]


# --- config -----------------------------------------------------------------------------------------------


def test_config_json_round_trip_and_normalised_options():
    config = TournamentConfig(
        envs=(("linked_voting_v0", {"num_problems": 8, "budget": "per_type"}),),
        strategies=VOTING,
        seating="population",
        repetitions=2,
        episodes=3,
        seed=7,
        population_matches=4,
    )
    assert config.envs == (("linked_voting_v0", (("budget", "per_type"), ("num_problems", 8))),)
    assert TournamentConfig.from_json(config.to_json()) == config
    assert TournamentConfig.from_dict(config.as_dict()).digest() == config.digest()
    assert hash(config) == hash(TournamentConfig.from_json(config.to_json()))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seating": "swiss"}, "seating: got 'swiss'; allowed are"),
        ({"repetitions": 0}, "repetitions: got 0; allowed are integers >= 1"),
        ({"episodes": 1.5}, "episodes: got 1.5"),
        ({"seed": -1}, "seed: got -1"),
        ({"strategies": ()}, "strategies: got none"),
        ({"strategies": ("random", "random")}, "repeats a spec"),
        ({"strategies": ("no_such_strategy",)}, "registered strategies are"),
        ({"envs": (("NoSuchEnv-v0", {}),)}, "known environments are"),
        ({"envs": ()}, "envs: got none"),
    ],
)
def test_config_validation_names_the_problem(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        voting_config(**changes)


def test_from_dict_refuses_unknown_keys():
    data = voting_config().as_dict() | {"seats": 3}
    with pytest.raises(ValueError, match=r"unknown keys \['seats'\]"):
        TournamentConfig.from_dict(data)


# --- schedule ---------------------------------------------------------------------------------------------


def test_round_robin_counts_every_ordered_profile_times_repetitions():
    config = TournamentConfig(
        envs=(("linked_voting_v0", {"num_problems": 8}), ("resource_allocation_v0", {"num_agents": 3})),
        strategies=VOTING[:2],
        repetitions=3,
    )
    specs = schedule(config)
    voting = [s for s in specs if s.env == "linked_voting_v0"]
    allocation = [s for s in specs if s.env == "resource_allocation_v0"]
    assert len(voting) == 2**2 * 3 and len(allocation) == 2**3 * 3
    assert [s.match_id for s in specs] == list(range(len(specs)))
    profiles = Counter(tuple(name for _, name in s.profile) for s in allocation)
    assert len(profiles) == 8 and set(profiles.values()) == {3}
    assert all(s.episodes == 1 for s in specs)
    assert len({s.seed for s in specs}) == len(specs)


def test_schedule_is_deterministic_and_depends_on_the_seed():
    config = voting_config(repetitions=2)
    assert schedule(config) == schedule(TournamentConfig.from_json(config.to_json()))
    other = schedule(voting_config(repetitions=2, seed=1))
    assert [s.seed for s in other] != [s.seed for s in schedule(config)]
    assert [s.profile for s in other] == [s.profile for s in schedule(config)]


def test_population_sampling_uses_the_seed():
    def profiles(seed):
        config = TournamentConfig(
            envs=(("resource_allocation_v0", {"num_dates": 4}),),
            strategies=REPORTING,
            seating="population",
            population_matches=6,
            repetitions=2,
            seed=seed,
        )
        specs = schedule(config)
        assert len(specs) == 6 * 2
        assert all(len(s.profile) == 4 and {n for _, n in s.profile} <= set(REPORTING) for s in specs)
        return [s.profile for s in specs]

    assert profiles(3) == profiles(3)
    assert profiles(3) != profiles(4)
    drawn = profiles(3)
    assert drawn[:6] == drawn[6:]  # the second repetition replays the sampled profiles


# --- running ----------------------------------------------------------------------------------------------


def test_rows_are_identical_for_one_and_two_workers(tmp_path):
    config = voting_config(repetitions=2)
    one = run_tournament(config, tmp_path / "one", workers=1, progress=False)
    two = run_tournament(config, tmp_path / "two", workers=2, progress=False)
    assert canonical(one) == canonical(two)
    specs = schedule(config)
    assert len(one) == 2 * len(specs)
    assert [(r["match_id"], r["seat"]) for r in one] == [
        (s.match_id, agent) for s in specs for agent, _ in s.profile
    ]
    assert all(tuple(sorted(row)) == tuple(sorted(ROW_FIELDS)) for row in one)
    records = journal_records(tmp_path / "two")
    assert sorted(r["match_id"] for r in records) == list(range(len(specs)))
    manifest = json.loads((tmp_path / "one" / MANIFEST).read_text())
    assert manifest["format"] == FORMAT and manifest["matches"] == len(specs)
    assert TournamentConfig.from_dict(manifest["config"]) == config


def test_population_with_resource_allocation_runs(tmp_path):
    config = TournamentConfig(
        envs=(("resource_allocation_v0", {"num_dates": 4}),),
        strategies=REPORTING,
        seating="population",
        population_matches=3,
    )
    rows = run_tournament(config, tmp_path / "out", progress=False)
    assert len(rows) == 3 * 4
    assert {r["strategy"] for r in rows} <= set(REPORTING)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_backend_gives_the_same_rows(tmp_path):
    config = voting_config()
    local = run_tournament(config, tmp_path / "local", workers=1, progress=False)
    remote = run_tournament(config, tmp_path / "ray", workers=2, backend="ray", progress=False)
    assert canonical(local) == canonical(remote)


def test_bad_backend_and_workers(tmp_path):
    with pytest.raises(ValueError, match="backend: got 'dask'"):
        run_tournament(voting_config(), tmp_path / "a", backend="dask")
    with pytest.raises(ValueError, match="workers: got 0"):
        run_tournament(voting_config(), tmp_path / "a", workers=0)


# --- resume -----------------------------------------------------------------------------------------------

SLOW = {
    "envs": [{"name": "linked_voting_v0", "options": {"num_problems": 20}}],
    "strategies": list(VOTING),
    "repetitions": 8,
    "episodes": 5,
    "seed": 11,
}


def test_resume_after_sigkill_loses_nothing_and_counts_nothing_twice(tmp_path):
    config = TournamentConfig.from_dict(SLOW)
    total = len(schedule(config))
    out = tmp_path / "killed"
    code = (
        "import json, sys\n"
        "from linkmech.evaluation.tournament import TournamentConfig, run_tournament\n"
        "run_tournament(TournamentConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], progress=False)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, json.dumps(SLOW), str(out)])
    journal = out / JOURNAL
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    recorded = journal.read_bytes().count(b"\n")
    assert 3 <= recorded < total
    with open(journal, "ab") as stream:  # a torn write: half a record, no newline
        stream.write(b'{"match_id": 99, "rows": [{"seat": "agent_')

    resumed = run_tournament(config, out, workers=2, progress=False)
    clean = run_tournament(config, tmp_path / "clean", workers=2, progress=False)
    assert canonical(resumed) == canonical(clean)
    ids = [r["match_id"] for r in journal_records(out)]
    assert sorted(ids) == list(range(total))  # each match once; the torn line is gone
    assert canonical(run_tournament(config, out, progress=False)) == canonical(clean)  # nothing left to play


def test_torn_last_line_is_truncated_and_replayed(tmp_path):
    config = voting_config()
    out = tmp_path / "out"
    clean = run_tournament(config, out, progress=False)
    lines = (out / JOURNAL).read_bytes().splitlines(keepends=True)
    (out / JOURNAL).write_bytes(b"".join(lines[:-1]) + lines[-1][:40])
    assert canonical(run_tournament(config, out, progress=False)) == canonical(clean)
    assert (out / JOURNAL).read_bytes().count(b"\n") == len(lines)


def test_duplicate_records_are_counted_once_and_conflicts_refused(tmp_path):
    config = voting_config()
    out = tmp_path / "out"
    clean = run_tournament(config, out, progress=False)
    lines = (out / JOURNAL).read_text().splitlines(keepends=True)
    (out / JOURNAL).write_text("".join(lines) + lines[0])
    assert canonical(run_tournament(config, out, progress=False)) == canonical(clean)

    record = json.loads(lines[0])
    record["rows"][0]["utility_per_problem"] = 123.0
    (out / JOURNAL).write_text("".join(lines) + json.dumps(record) + "\n" + lines[1])
    with pytest.raises(TournamentDirError, match="recorded twice with different rows"):
        run_tournament(config, out, progress=False)


# --- refusing foreign directories -------------------------------------------------------------------------


def test_refuses_a_directory_of_another_config(tmp_path):
    out = tmp_path / "out"
    run_tournament(voting_config(), out, progress=False)
    before = (out / JOURNAL).read_bytes()
    with pytest.raises(TournamentDirError, match="holds another tournament.*new --out"):
        run_tournament(voting_config(seed=1), out, progress=False)
    assert (out / JOURNAL).read_bytes() == before


def test_refuses_garbage_manifest_and_foreign_format(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST).write_text("not json at all")
    with pytest.raises(TournamentDirError, match="not a readable JSON manifest"):
        run_tournament(voting_config(), out, progress=False)
    (out / MANIFEST).write_text(json.dumps({"format": "someone-else/3"}))
    with pytest.raises(TournamentDirError, match="format tag 'someone-else/3'"):
        run_tournament(voting_config(), out, progress=False)
    assert (out / MANIFEST).read_text() == json.dumps({"format": "someone-else/3"})


def test_refuses_a_garbage_middle_line(tmp_path):
    out = tmp_path / "out"
    config = voting_config()
    run_tournament(config, out, progress=False)
    lines = (out / JOURNAL).read_text().splitlines(keepends=True)
    corrupted = "".join(lines[:2]) + "garbage\n" + "".join(lines[2:])
    (out / JOURNAL).write_text(corrupted)
    with pytest.raises(TournamentDirError, match="line 3 is not a valid match record"):
        run_tournament(config, out, progress=False)
    assert (out / JOURNAL).read_text() == corrupted


def test_refuses_a_record_of_another_schedule(tmp_path):
    out = tmp_path / "out"
    config = voting_config()
    run_tournament(config, out, progress=False)
    lines = (out / JOURNAL).read_text().splitlines(keepends=True)
    record = json.loads(lines[0])
    record["spec_digest"] = "0" * 64
    (out / JOURNAL).write_text(json.dumps(record) + "\n" + "".join(lines[1:]))
    with pytest.raises(TournamentDirError, match="of another schedule"):
        run_tournament(config, out, progress=False)


def test_refuses_a_non_empty_directory_without_manifest(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(TournamentDirError, match="non-empty directory without a tournament manifest"):
        run_tournament(voting_config(), out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(TournamentDirError, match="not a directory"):
        run_tournament(voting_config(), file, progress=False)
