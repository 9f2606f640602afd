"""From what a user types (command-line flags or a TOML/YAML file) to a checked tournament.

- ``--env NAME[:key=value,...]`` (repeatable) names an environment and its options; unknown names and
  options get a "did you mean" suggestion (:func:`linkmech.envs.make`).
- ``--strategy NAME[:key=value,...]`` (repeatable) names a strategy; unknown names get a suggestion.
- A config file (``--config tournament.toml``) holds the same keys, e.g.::

      strategies = ["approximately_truthful", "front_loading", "random"]
      seating = "round_robin"      # or "population" (with population_matches = N)
      repetitions = 4
      episodes = 5
      seed = 0
      [[envs]]
      name = "linked_voting_v0"
      options = { num_problems = 20 }

  Flags given on the command line override the file.
- :func:`check_playable` rejects, before any match starts, a strategy that cannot play an environment
  (continuous reports in a finite-announcement env, a strategy built for other seat counts, a strategy that
  breaks the budget): it plays one short trial episode with the strategy in every seat and reports the
  strategy, the environment and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from linkmech import envs
from linkmech.agents.base import make_strategy, parse_value
from linkmech.evaluation.play import play_episode

DEFAULT_ENVS = (
    "linked_voting_v0:num_problems=20",
    "linked_public_goods_v0:num_agents=3,num_problems=48,policing=true",
)
"""The main job's environments."""

DEFAULT_STRATEGIES = (
    "approximately_truthful",
    "approximately_truthful:lies=myopic",
    "front_loading",
    "lagged_truth",
    "random",
)
"""The main job's strategies."""

KEYS = ("envs", "strategies", "seating", "repetitions", "episodes", "seed", "population_matches")
"""Keys of a tournament config file."""


def parse_env(spec: str) -> tuple[str, dict[str, Any]]:
    """``"name:key=value,key=value"`` as (name, options); checks the name and options by building the env."""
    name, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--env: got {item!r} in {spec!r}; write NAME:key=value,key=value")
        options[key.strip()] = parse_value(value.strip())
    envs.make(name, **options)
    return envs.find(name).module, options


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A tournament config from TOML (``.toml``) or YAML (``.yaml``/``.yml``); unknown keys are an error."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--config: {str(path)!r} does not exist")
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        data = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as error:
            raise ValueError("--config: YAML files need PyYAML (pip install pyyaml); or use TOML") from error
        data = yaml.safe_load(text) or {}
    else:
        raise ValueError(f"--config: got {path.name!r}; use a .toml, .yaml or .yml file")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        hints = "".join(envs.did_you_mean(k, list(KEYS)) for k in unknown)
        raise ValueError(f"--config {path.name}: unknown keys {unknown}{hints}; allowed are {list(KEYS)}")
    return data


def env_entries(items: Sequence[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Env entries from flags (``"name:k=v"``) or a config file (``{name = ..., options = {...}}``)."""
    entries = []
    for item in items:
        if isinstance(item, str):
            entries.append(parse_env(item))
        elif isinstance(item, Mapping) and "name" in item:
            options = dict(item.get("options", {}))
            envs.make(str(item["name"]), **options)
            entries.append((envs.find(str(item["name"])).module, options))
        else:
            raise ValueError(
                f"envs: got {item!r}; give 'name:key=value' strings or {{name=..., options={{...}}}}"
            )
    return entries


def check_strategy_names(specs: Sequence[str]) -> None:
    """Build each strategy once (unknown names and bad parameters raise with a suggestion)."""
    for spec in specs:
        make_strategy(spec)


def check_playable(entries: Sequence[tuple[str, Mapping[str, Any]]], specs: Sequence[str]) -> None:
    """Raise one ValueError listing every (strategy, environment) pair that cannot play, before any match."""
    problems = []
    for name, options in entries:
        env = envs.make(name, **dict(options))
        for spec in specs:
            strategies = {agent: make_strategy(spec) for agent in env.possible_agents}
            try:
                play_episode(env, strategies, seed=0)
            except Exception as error:  # any failure means the pair cannot be scheduled
                space = env.action_space(env.possible_agents[0])
                problems.append(
                    f"{spec!r} cannot play {name} {json.dumps(dict(options))} (actions {space}, "
                    f"{len(env.possible_agents)} seats): {error}"
                )
    if problems:
        raise ValueError(
            "strategies that cannot play an environment (remove them or the environment):\n  "
            + "\n  ".join(problems)
        )
