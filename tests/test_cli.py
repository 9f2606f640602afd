"""The ``linkmech`` command: help, list and the demo episodes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from linkmech import envs
from linkmech.cli import main


def test_help_runs_as_a_console_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "linkmech.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in result.stdout and "list" in result.stdout, (
        f"--help must name the commands: {result.stdout}"
    )


def test_list_names_every_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for entry in envs.ENVIRONMENTS:
        assert entry.id in out, f"{entry.id} missing from `linkmech list`"


def test_demo_prints_decisions_and_utilities(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--num-problems", "4", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    for entry in envs.ENVIRONMENTS:
        assert f"=== {entry.id}" in out, f"demo skipped {entry.id}"
    assert "target f, ex ante" in out and "unlinked baseline" in out, (
        "demo must compare with f and the baseline"
    )
    assert "+0.438" in out, "voting's target utility per problem is 7/16 = 0.4375"
    # the user-defined problem (the tabular voting example) has no paper family: the LP second best stands in
    assert "agent_0: +0.375  agent_1: +0.375   (LP second best, linkmech second-best)" in out


def test_demo_is_deterministic_for_a_seed(capsys: pytest.CaptureFixture[str]) -> None:
    main(["demo", "--env", "LinkedBargaining-v0", "--seed", "5"])
    first = capsys.readouterr().out
    main(["demo", "--env", "linked_bargaining_v0", "--seed", "5"])
    assert capsys.readouterr().out == first, "the same seed must print the same episode"


def test_unknown_environment_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--env", "chess"]) == 2
    assert "environment: got 'chess'; known environments are" in capsys.readouterr().err
