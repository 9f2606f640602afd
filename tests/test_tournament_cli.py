"""`linkmech tournament` and `linkmech list`: config files, suggestions, playability checks, the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkmech.cli import main
from linkmech.evaluation.tournament_setup import (
    check_playable,
    env_entries,
    load_config_file,
    parse_env,
)

SMALL = ["--env", "linked_voting_v0:num_problems=4", "--repetitions", "1", "--episodes", "1", "--quiet"]


def test_parse_env_and_suggestions() -> None:
    assert parse_env("LinkedVoting-v0:num_problems=8,discount=0.9") == (
        "linked_voting_v0",
        {"num_problems": 8, "discount": 0.9},
    )
    with pytest.raises(ValueError, match="did you mean 'linked_voting_v0'"):
        parse_env("linked_votng_v0")
    with pytest.raises(ValueError, match="did you mean 'num_problems'"):
        parse_env("linked_voting_v0:num_problem=8")


def test_config_file_toml_and_yaml(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text(
        'strategies = ["random", "front_loading"]\nrepetitions = 3\n'
        '[[envs]]\nname = "linked_voting_v0"\noptions = { num_problems = 6 }\n'
    )
    data = load_config_file(toml)
    assert data["repetitions"] == 3
    assert env_entries(data["envs"]) == [("linked_voting_v0", {"num_problems": 6})]
    yaml_file = tmp_path / "t.yaml"
    yaml_file.write_text("strategies: [random]\nenvs: ['linked_voting_v0:num_problems=4']\n")
    assert load_config_file(yaml_file)["strategies"] == ["random"]
    bad = tmp_path / "bad.toml"
    bad.write_text("repetition = 2\n")
    with pytest.raises(ValueError, match="did you mean 'repetitions'"):
        load_config_file(bad)


def test_unplayable_pairs_are_rejected_before_any_match(tmp_path: Path) -> None:
    entries = [
        ("linked_voting_v0", {"num_problems": 4}),
        ("resource_allocation_v0", {"num_agents": 2, "num_dates": 3}),
    ]
    with pytest.raises(ValueError) as error:
        check_playable(entries, ["approximately_truthful", "truthful_report"])
    text = str(error.value)
    assert "'truthful_report' cannot play linked_voting_v0" in text
    assert "'approximately_truthful' cannot play resource_allocation_v0" in text
    out = tmp_path / "never"
    code = main(
        ["tournament", *SMALL, "--strategy", "random", "--strategy", "truthful_report", "--out", str(out)]
    )
    assert code == 2 and not out.exists()  # rejected before the results directory is made


def test_unknown_strategy_gets_a_suggestion(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["tournament", *SMALL, "--strategy", "front_loadin", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "did you mean 'front_loading'" in capsys.readouterr().err


def test_tournament_command_runs_resumes_and_summarises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["tournament", *SMALL, "--strategy", "random", "--strategy", "front_loading", "--out", str(out)]
    assert main([*args, "--workers", "1"]) == 0
    first = capsys.readouterr().out
    assert "4 matches (round_robin" in first and "Per strategy" in first and "Elo ranking" in first
    journal = (out / "matches.jsonl").read_text().splitlines()
    assert len(journal) == 4
    assert main([*args, "--workers", "2", "--no-plots"]) == 0  # everything recorded: nothing replayed
    assert (out / "matches.jsonl").read_text().splitlines() == journal
    second = capsys.readouterr().out
    assert (
        second.split("Per strategy")[1].split("results:")[0]
        == first.split("Per strategy")[1].split("results:")[0]
    )
    assert any(out.glob("results.*")) and (out / "utility_distributions.png").stat().st_size > 0


def test_tournament_from_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "t.toml"
    config.write_text(
        'strategies = ["random", "approximately_truthful"]\nseating = "population"\npopulation_matches = 3\n'
        'episodes = 1\nrepetitions = 1\n[[envs]]\nname = "linked_public_goods_v0"\noptions = { num_agents = 3, num_problems = 3 }\n'
    )
    assert (
        main(["tournament", "--config", str(config), "--out", str(tmp_path / "p"), "--quiet", "--no-plots"])
        == 0
    )
    assert "3 matches (population" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["config"]["seating"] == "population"


def test_list_shows_options_and_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "options: num_agents=2, values=(-2, -1, 1, 2)" in text and "num_problems=12" in text
    assert "misreport" in text and "parameters: factor=1.5" in text


def test_learned_checkpoints_and_the_statistical_mechanism_join(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from linkmech.training.config import TrainConfig
    from linkmech.training.run import run_training

    run_training(
        TrainConfig(
            env_options={"num_problems": 4}, total_steps=320, num_envs=4, rollout_steps=20, eval_episodes=4
        ),
        tmp_path / "ppo",
        progress=False,
    )
    learned = f"learned:path={tmp_path / 'ppo' / 'agent_0.pt'}"
    args = ["tournament", *SMALL, "--strategy", learned, "--strategy", "random", "--out", str(tmp_path / "t")]
    assert main([*args, "--no-plots"]) == 0
    assert "learned:path=" in capsys.readouterr().out
    stats = ["--env", "resource_allocation_v0:num_agents=2,num_dates=3", "--strategy", "truthful_report"]
    stats += [
        "--strategy",
        "misreport:factor=1.5",
        "--repetitions",
        "1",
        "--episodes",
        "1",
        "--quiet",
        "--no-plots",
    ]
    assert main(["tournament", *stats, "--out", str(tmp_path / "s")]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("truthful_report"))
    assert row.split()[-1] != "-"  # cost/surplus is reported for the statistical mechanism
