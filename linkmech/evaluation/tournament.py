"""Tournaments: every match of a set of strategies in a set of environments, played in parallel, journaled.

A :class:`TournamentConfig` names the environments (with their options), the strategies and how they are
seated; :func:`schedule` expands it into the full, ordered list of :class:`MatchSpec` s, every match seed drawn
up front from one generator of ``config.seed``, so results never depend on the number of workers, the backend
or the order in which matches finish. :func:`run_tournament` plays the matches with
:func:`linkmech.evaluation.match.play_match` (in-process, in a process pool or as Ray tasks).

Nothing is lost. The output directory holds

- ``manifest.json`` (written atomically when the directory is created): ``{"format": FORMAT, "config": ...,
  "config_digest": ..., "schedule_digest": ..., "matches": N}``;
- ``matches.jsonl``: one line per finished match, appended, flushed and fsynced as each match finishes:
  ``{"match_id": i, "spec_digest": sha256 of the MatchSpec, "spec": MatchSpec.as_dict(), "rows": [...]}``.
  The journal is strict JSON: NaN values of the rows are written as ``null`` and read back as NaN.

Running again with the same config and directory resumes: matches already in the journal are skipped, a torn
last line (a crash mid-write) is truncated away, and the final rows are exactly those of an uninterrupted run.
A directory of another tournament, or one that is not a tournament directory, is refused
(:class:`TournamentDirError`), never overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from linkmech.evaluation.match import MatchSpec, Row, play_match

FORMAT = "linkmech-tournament/1"
"""The format tag of a tournament directory's manifest."""

MANIFEST = "manifest.json"
"""File name of the manifest in a tournament directory."""

JOURNAL = "matches.jsonl"
"""File name of the match journal in a tournament directory."""

SEATINGS = ("round_robin", "population")
"""Allowed values of :attr:`TournamentConfig.seating`."""

BACKENDS = ("local", "ray")
"""Allowed values of ``run_tournament(backend=...)``."""

RAY_INSTALL = 'pip install -c constraints.txt -e ".[ray]"'

EnvOptions = tuple[tuple[str, Any], ...]


class TournamentDirError(ValueError):
    """An output directory that cannot hold (or resume) this tournament."""


def _freeze(value: Any) -> Any:
    """Lists (from JSON) as tuples, recursively, so option values are hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    return value


def _options_pairs(options: Any, env: str) -> EnvOptions:
    """Env options (a mapping or ``(key, value)`` pairs) as sorted pairs with hashable values."""
    items = options.items() if isinstance(options, dict) else options
    try:
        pairs = [(str(key), _freeze(value)) for key, value in items]
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"envs: options of {env!r} are {options!r}; give a mapping or (key, value) pairs"
        ) from error
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"envs: options of {env!r} repeat a key ({keys}); give each option once")
    return tuple(sorted(pairs))


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: got {value!r}; allowed are integers >= 1")


def _check_envs(entries: tuple[tuple[str, EnvOptions], ...]) -> None:
    from linkmech import envs as registry

    if not entries:
        raise ValueError("envs: got none; give at least one (name, options) entry")
    for name, _ in entries:
        registry.find(name)  # raises naming the known environments
    if len(set(entries)) != len(entries):
        raise ValueError(
            f"envs: {list(entries)} lists an environment twice with the same options; list it once"
        )


def _check_strategies(strategies: tuple[str, ...]) -> None:
    import linkmech.agents  # noqa: F401  (registers the built-in strategies)
    from linkmech.agents.base import make_strategy

    if not strategies:
        raise ValueError("strategies: got none; give at least one strategy spec")
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"strategies: {list(strategies)} repeats a spec; list each strategy once")
    for spec in strategies:
        if not isinstance(spec, str):
            raise ValueError(f"strategies: got {spec!r}; give specs as strings 'name' or 'name:key=value'")
        make_strategy(spec)  # raises naming the registered strategies


@dataclass(frozen=True)
class TournamentConfig:
    """What a tournament plays.

    Attributes:
        envs: ``(env name, sorted (option, value) pairs)`` per environment; a mapping of options is accepted
            and normalised.
        strategies: strategy specs (``"name"`` or ``"name:key=value,..."``); every one must play every env.
        seating: ``"round_robin"``: every ordered assignment of the strategies to an env's n seats (S^n
            profiles); ``"population"``: ``population_matches`` profiles per env, each seat's strategy drawn
            uniformly with replacement from a generator of ``seed``.
        repetitions: how often each profile is played (each time with its own seed).
        episodes: episodes per match.
        seed: the tournament seed (population draws and every match seed).
        population_matches: profiles sampled per env when ``seating == "population"``.
    """

    envs: tuple[tuple[str, EnvOptions], ...]
    strategies: tuple[str, ...]
    seating: str = "round_robin"
    repetitions: int = 1
    episodes: int = 1
    seed: int = 0
    population_matches: int = 10

    def __post_init__(self) -> None:
        entries = tuple((str(name), _options_pairs(options, str(name))) for name, options in self.envs)
        object.__setattr__(self, "envs", entries)
        object.__setattr__(self, "strategies", tuple(self.strategies))
        _check_envs(entries)
        _check_strategies(self.strategies)
        if self.seating not in SEATINGS:
            raise ValueError(f"seating: got {self.seating!r}; allowed are {list(SEATINGS)}")
        for name in ("repetitions", "episodes", "population_matches"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: got {self.seed!r}; allowed are integers >= 0")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (envs as ``{"name": ..., "options": {...}}``)."""
        return {
            "envs": [{"name": name, "options": dict(options)} for name, options in self.envs],
            "strategies": list(self.strategies),
            "seating": self.seating,
            "repetitions": self.repetitions,
            "episodes": self.episodes,
            "seed": self.seed,
            "population_matches": self.population_matches,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TournamentConfig:
        """Inverse of :meth:`as_dict` (envs may also be ``[name, options]`` pairs).

        Raises:
            ValueError: for unknown or missing keys, and everything ``__init__`` validates.
        """
        allowed = {"envs", "strategies", "seating", "repetitions", "episodes", "seed", "population_matches"}
        if not isinstance(data, dict):
            raise ValueError(f"tournament config: got {type(data).__name__}; give a JSON object")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"tournament config: unknown keys {unknown}; allowed are {sorted(allowed)}")
        missing = sorted({"envs", "strategies"} - set(data))
        if missing:
            raise ValueError(f"tournament config: missing {missing}; give envs and strategies")
        entries: list[tuple[Any, Any]] = []
        for entry in data["envs"]:
            if isinstance(entry, dict):
                entries.append((entry.get("name"), entry.get("options", {})))
            elif isinstance(entry, (list, tuple)) and len(entry) == 2:
                entries.append((entry[0], entry[1]))
            else:
                raise ValueError(
                    f"envs: got entry {entry!r}; give {{'name': ..., 'options': {{...}}}} or [name, options]"
                )
        rest = {key: value for key, value in data.items() if key not in ("envs", "strategies")}
        return cls(envs=tuple(entries), strategies=tuple(data["strategies"]), **rest)

    def to_json(self) -> str:
        """The config as a JSON string (see :meth:`as_dict`)."""
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TournamentConfig:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def digest(self) -> str:
        """sha256 of the canonical JSON of the config."""
        return _digest(self.as_dict())

    def seats(self, index: int) -> list[str]:
        """The agent ids of environment ``index`` (built once to read ``possible_agents``)."""
        from linkmech import envs as registry

        name, options = self.envs[index]
        return list(registry.make(name, **dict(options)).possible_agents)


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def spec_digest(spec: MatchSpec) -> str:
    """sha256 of the canonical JSON of a match spec: what the journal records next to its rows."""
    return _digest(spec.as_dict())


def schedule_digest(specs: Sequence[MatchSpec]) -> str:
    """sha256 of the whole schedule (every spec, in order)."""
    return _digest([spec.as_dict() for spec in specs])


def _profiles(config: TournamentConfig, num_seats: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """The strategy profiles of one env: all S^n, or ``population_matches`` sampled with replacement."""
    if config.seating == "round_robin":
        return list(itertools.product(config.strategies, repeat=num_seats))
    draws = rng.integers(0, len(config.strategies), size=(config.population_matches, num_seats))
    return [tuple(config.strategies[int(i)] for i in row) for row in draws]


def schedule(config: TournamentConfig) -> list[MatchSpec]:
    """Every match of the tournament in a fixed order, match_id = position.

    Order: env (config order), then repetition, then profile (round robin: ``itertools.product`` order).
    One generator ``numpy.random.default_rng(config.seed)`` first samples the population profiles (if any),
    then draws every match seed (uint32) at once, so a match's seed depends only on the config.
    """
    rng = np.random.default_rng(config.seed)
    plan: list[tuple[str, EnvOptions, tuple[tuple[str, str], ...], int]] = []
    for index, (name, options) in enumerate(config.envs):
        agents = config.seats(index)
        profiles = _profiles(config, len(agents), rng)
        for repetition in range(config.repetitions):
            for profile in profiles:
                plan.append((name, options, tuple(zip(agents, profile)), repetition))
    seeds = rng.integers(0, 2**32, size=len(plan), dtype=np.uint64)
    return [
        MatchSpec(i, name, options, profile, repetition, int(seed), config.episodes)
        for i, ((name, options, profile, repetition), seed) in enumerate(zip(plan, seeds))
    ]


# --- journal encoding -------------------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _decode_value(value: Any) -> Any:
    return math.nan if value is None else value


def encode_record(spec: MatchSpec, rows: Sequence[Row]) -> bytes:
    """One journal line (with its newline) for a finished match."""
    record = {
        "match_id": spec.match_id,
        "spec_digest": spec_digest(spec),
        "spec": spec.as_dict(),
        "rows": [{key: _encode_value(value) for key, value in row.items()} for row in rows],
    }
    return (json.dumps(record, sort_keys=True) + "\n").encode()


def decode_rows(record: dict[str, Any]) -> list[Row]:
    """The rows of a journal record, with ``null`` read back as NaN."""
    return [{key: _decode_value(value) for key, value in row.items()} for row in record["rows"]]


# --- the output directory ---------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file in the same directory, fsync, os.replace)."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2, sort_keys=True)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def _manifest(config: TournamentConfig, specs: Sequence[MatchSpec]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "config": config.as_dict(),
        "config_digest": config.digest(),
        "schedule_digest": schedule_digest(specs),
        "matches": len(specs),
    }


_FIX = "use a new --out directory, or delete this one to start over"


def _check_manifest(path: Path, expected: dict[str, Any]) -> None:
    """Refuse a manifest that is not ours or describes another tournament."""
    try:
        found = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TournamentDirError(f"{path}: not a readable JSON manifest ({error}); {_FIX}") from error
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        tag = found.get("format") if isinstance(found, dict) else None
        raise TournamentDirError(f"{path}: format tag {tag!r}, expected {FORMAT!r}; {_FIX}")
    for key in ("config_digest", "schedule_digest"):
        if found.get(key) != expected[key]:
            raise TournamentDirError(
                f"{path}: holds another tournament ({key} {found.get(key)!r}, this config gives "
                f"{expected[key]!r}; its config: {json.dumps(found.get('config'), sort_keys=True)}); "
                f"to resume it rerun with that config, else {_FIX}"
            )


def prepare_dir(out: Path, config: TournamentConfig, specs: Sequence[MatchSpec]) -> None:
    """Create ``out`` with its manifest, or check that it holds this tournament.

    Raises:
        TournamentDirError: if ``out`` is a file, a non-empty directory without a manifest, or a tournament
            directory of another config, schedule or format.
    """
    expected = _manifest(config, specs)
    if out.exists() and not out.is_dir():
        raise TournamentDirError(f"{out}: exists and is not a directory; {_FIX}")
    manifest = out / MANIFEST
    if manifest.exists():
        _check_manifest(manifest, expected)
        return
    if out.is_dir() and any(out.iterdir()):
        names = sorted(p.name for p in out.iterdir())[:5]
        raise TournamentDirError(
            f"{out}: a non-empty directory without a tournament {MANIFEST} (holds {names}); {_FIX}"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(manifest, expected)


def _lock(stream: BinaryIO, path: Path) -> None:
    """Hold an exclusive lock on the journal, so that two runs never append to one directory."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        raise TournamentDirError(
            f"{path}: another run is writing this tournament; wait for it to finish or {_FIX}"
        ) from error


def _parse_line(line: bytes) -> dict[str, Any] | None:
    """A journal record, or None if the line is not a complete record."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not {"match_id", "spec_digest", "rows"} <= set(record):
        return None
    return record


def read_journal(
    stream: BinaryIO, path: Path, specs: Sequence[MatchSpec]
) -> tuple[dict[int, list[Row]], int]:
    """The rows of every match recorded in the journal, and the byte length of its valid part.

    A last line that is torn (no newline) or not a valid record is left out of the valid part (a crash
    mid-write); a duplicate record with the same rows is ignored.

    Raises:
        TournamentDirError: for an invalid line other than the last, a record of a match this schedule does
            not have (id or spec digest), or a duplicate record with different rows.
    """
    stream.seek(0)
    data = stream.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    done: dict[int, list[Row]] = {}
    valid = 0
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        record = _parse_line(line)
        torn = last and not data.endswith(b"\n")
        if record is None or torn:
            if last:
                break
            raise TournamentDirError(
                f"{path}: line {number} is not a valid match record ({line[:80]!r}...); the journal is "
                f"corrupted; {_FIX}"
            )
        _accept(record, path, number, specs, done)
        valid += len(line) + 1
    return done, valid


def _accept(
    record: dict[str, Any], path: Path, number: int, specs: Sequence[MatchSpec], done: dict[int, list[Row]]
) -> None:
    """Check one journal record against the schedule and add its rows to ``done``."""
    match_id = record["match_id"]
    if not isinstance(match_id, int) or not 0 <= match_id < len(specs):
        raise TournamentDirError(
            f"{path}: line {number} records match {match_id!r}, not in this schedule; {_FIX}"
        )
    if record["spec_digest"] != spec_digest(specs[match_id]):
        raise TournamentDirError(
            f"{path}: line {number} records match {match_id} of another schedule (spec digest differs); {_FIX}"
        )
    rows = decode_rows(record)
    if match_id in done and _canonical(done[match_id]) != _canonical(rows):
        raise TournamentDirError(
            f"{path}: match {match_id} is recorded twice with different rows (line {number}); {_FIX}"
        )
    done.setdefault(match_id, rows)


def _canonical(rows: Sequence[Row]) -> str:
    return json.dumps(list(rows), sort_keys=True)


# --- playing ----------------------------------------------------------------------------------------------


def _play_checked(spec: MatchSpec) -> list[Row]:
    """:func:`play_match`, naming the match in any error (module level: picklable for spawned workers)."""
    try:
        return play_match(spec)
    except Exception as error:
        raise RuntimeError(f"match {spec.match_id} ({spec.as_dict()}) failed: {error}") from error


def _play_chunk(chunk: Sequence[MatchSpec]) -> list[list[Row]]:
    """Play several matches in one worker task (fewer round trips between the parent and the workers)."""
    return [_play_checked(spec) for spec in chunk]


def chunk_size(pending: int, workers: int) -> int:
    """Matches per worker task: about 8 tasks per worker, at most 16 matches each, at least 1."""
    return max(1, min(16, pending // (8 * workers)))


def _play_local(pending: Sequence[MatchSpec], workers: int) -> Iterator[tuple[MatchSpec, list[Row]]]:
    """Yield (spec, rows) as matches finish: in-process for one worker, else a spawned process pool.

    With a pool, matches travel in chunks (:func:`chunk_size`); each finished chunk's matches are yielded (and
    journaled) at once, so an interruption loses at most the chunks in flight, which a resume plays again.
    """
    if workers == 1:
        for spec in pending:
            yield spec, _play_checked(spec)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    size = chunk_size(len(pending), workers)
    chunks = [list(pending[i : i + size]) for i in range(0, len(pending), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        try:
            futures = {pool.submit(_play_chunk, chunk): chunk for chunk in chunks}
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    chunk = futures.pop(future)
                    yield from zip(chunk, future.result())
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"backend 'ray' needs Ray; install it with: {RAY_INSTALL}") from error
    return ray


def _play_ray(pending: Sequence[MatchSpec], workers: int) -> Iterator[tuple[MatchSpec, list[Row]]]:
    """Yield (spec, rows) as Ray tasks finish (``ray.init(num_cpus=workers)`` unless Ray is running)."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_play_checked)
        refs = {task.remote(spec): spec for spec in pending}
        while refs:
            finished, _ = ray.wait(list(refs), num_returns=1)
            for ref in finished:
                yield refs.pop(ref), ray.get(ref)
        # a cancelled generator leaves the remaining tasks to ray.shutdown below (if we started Ray)
    finally:
        if started:
            ray.shutdown()


def _progress(total: int, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=sys.stderr, disable=not enabled, unit="match")


def _sorted_rows(done: dict[int, list[Row]], specs: Sequence[MatchSpec]) -> list[Row]:
    rows: list[Row] = []
    for spec in specs:
        order = {agent: i for i, (agent, _) in enumerate(spec.profile)}
        rows.extend(sorted(done[spec.match_id], key=lambda row: order.get(str(row.get("seat")), len(order))))
    return rows


def run_tournament(
    config: TournamentConfig,
    out: Path | str,
    workers: int = 1,
    backend: str = "local",
    progress: bool = True,
) -> list[Row]:
    """Play every match of ``config`` not yet recorded in ``out`` and return all rows.

    Args:
        config: the tournament.
        out: the output directory (created; or resumed if it holds this tournament, see the module docstring).
        workers: processes (local) or CPUs for ``ray.init`` (ray; ignored if Ray is already initialised).
        backend: ``"local"`` (workers == 1: in-process; else a spawned process pool) or ``"ray"``.
        progress: show a tqdm bar over matches on stderr.

    Returns:
        every row of every match (:data:`linkmech.evaluation.match.ROW_FIELDS`), sorted by match_id and seat
        order: the same for the same config whatever the workers, backend or interruptions.

    Raises:
        ValueError: for a bad ``workers`` or ``backend``.
        TournamentDirError: if ``out`` cannot hold this tournament.
        ImportError: for backend ``"ray"`` without Ray.
    """
    _positive_int("workers", workers)
    if backend not in BACKENDS:
        raise ValueError(f"backend: got {backend!r}; allowed are {list(BACKENDS)}")
    if backend == "ray":
        _import_ray()
    out = Path(out)
    specs = schedule(config)
    prepare_dir(out, config, specs)
    journal = out / JOURNAL
    with open(journal, "a+b") as stream:
        _lock(stream, journal)
        done, valid = read_journal(stream, journal, specs)
        if stream.seek(0, os.SEEK_END) != valid:
            stream.truncate(valid)  # a torn last line: drop it before appending
            os.fsync(stream.fileno())
        pending = [spec for spec in specs if spec.match_id not in done]
        play: Callable[[Sequence[MatchSpec], int], Iterable[tuple[MatchSpec, list[Row]]]]
        play = _play_ray if backend == "ray" else _play_local
        with _progress(len(specs), len(done), progress) as bar:
            for spec, rows in play(pending, workers):
                line = encode_record(spec, rows)
                stream.write(line)
                stream.flush()
                os.fsync(stream.fileno())
                done[spec.match_id] = decode_rows(json.loads(line))
                bar.update(1)
    return _sorted_rows(done, specs)
