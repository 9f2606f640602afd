"""One protocol for scripted and learned agents, and the registry of strategies by name.

An agent plays one seat of a PettingZoo environment. Before each episode it is :meth:`Strategy.reset` with
a :class:`Seat` (what the seat may know: its id and index, the observation layout, the public description of
the problem and of the mechanism's budgets) and a ``numpy.random.Generator``, the only source of randomness it
may use. Then it maps each observation (the float vector and the int8 action mask of the env's
``{"observation", "action_mask"}`` dict) to an action with :meth:`Strategy.act`. Strategies are plain Python
objects: ``copy.deepcopy`` and ``pickle`` work, and the same seat, generator seed and observations give the same
actions.

Register a strategy with :func:`register`; build one by name with :func:`make_strategy` (also from the CLI as
``NAME`` or ``NAME:param=value,param=value``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from linkmech.mechanisms.linking import LinkingMechanism
from linkmech.mechanisms.problem import FiniteProblem


@dataclass(frozen=True)
class Seat:
    """What an agent may know about its seat before the episode starts.

    Attributes:
        agent: the env's agent id (``"agent_0"``).
        index: the agent's index i in the base problem.
        fields: the observation layout, ``env.observation_fields(agent)`` (names and slices).
        num_actions: size of the Discrete action space.
        problem: the base problem (types, P, utilities, target): public in mechanism design.
        mechanism: the linking mechanism (K, budgets, discount) or None for envs without budgets.
        form: ``"over_time"`` or ``"all_at_once"``.
        participation: None, ``"whole"`` or ``"per_problem"``.
        context: other public facts the env discloses through ``public_context()`` (e.g. Omega*, the
            resource and the agent's own endowment law in the resource-allocation env).
    """

    agent: str
    index: int
    fields: tuple[tuple[str, slice], ...]
    num_actions: int
    problem: FiniteProblem | None = None
    mechanism: LinkingMechanism | None = None
    form: str = "over_time"
    participation: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Any, agent: str) -> Seat:
        """The seat of ``agent`` in a linkmech env (parallel or AEC)."""
        base = env.unwrapped if hasattr(env, "unwrapped") else env
        fields = tuple(base.observation_fields(agent)) if hasattr(base, "observation_fields") else ()
        options = getattr(base, "options", None)
        return cls(
            agent=agent,
            index=base.possible_agents.index(agent),
            fields=fields,
            num_actions=int(getattr(base.action_space(agent), "n", 0)),
            problem=getattr(base, "problem", None),
            mechanism=getattr(base, "mechanism", None),
            form=getattr(options, "form", "over_time"),
            participation=getattr(options, "participation", None),
            context=base.public_context() if hasattr(base, "public_context") else {},
        )

    def field(self, observation: np.ndarray, name: str) -> np.ndarray:
        """The named slice of an observation vector.

        Raises:
            ValueError: if the env's observation has no such field.
        """
        for field_name, where in self.fields:
            if field_name == name:
                return observation[where]
        names = [n for n, _ in self.fields]
        raise ValueError(f"observation field {name!r} is not in this env's observation; fields are {names}")

    def has_field(self, name: str) -> bool:
        """Whether the observation has the named field."""
        return any(n == name for n, _ in self.fields)


class Strategy(ABC):
    """A policy for one seat: reset with a seat and a generator, then act on observations.

    Subclasses set ``name`` (the registry key) and implement :meth:`act`; parameters go in ``__init__``.
    """

    name: ClassVar[str] = "strategy"

    def __init__(self) -> None:
        self.seat: Seat | None = None
        self.rng: np.random.Generator | None = None

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start an episode in ``seat``, drawing randomness only from ``rng``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: got {type(rng).__name__}; give a numpy.random.Generator")
        self.seat = seat
        self.rng = rng

    @abstractmethod
    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> Any:
        """The action for one observation vector and its int8 action mask (empty for Box actions)."""

    @classmethod
    def act_copies(
        cls, copies: Sequence[Strategy], observations: np.ndarray, action_masks: np.ndarray
    ) -> list[Any]:
        """The actions of B copies of this strategy, copy b acting on row b of ``observations`` ``[B, D]``.

        Equal, row by row, to ``[copies[b].act(observations[b], action_masks[b]) for b ...]`` (the default
        does exactly that); a subclass may compute the rows that need no randomness together, as long as
        every copy draws from its own generator exactly what its :meth:`act` would.
        """
        return [copy.act(observations[b], action_masks[b]) for b, copy in enumerate(copies)]

    def _ready(self) -> tuple[Seat, np.random.Generator]:
        if self.seat is None or self.rng is None:
            raise ValueError(f"strategy {self.name!r} has not been reset; call reset(seat, rng) first")
        return self.seat, self.rng

    def params(self) -> dict[str, Any]:
        """The constructor parameters (for tables and for rebuilding by name)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


S = TypeVar("S", bound=type[Strategy])

STRATEGIES: dict[str, type[Strategy]] = {}
"""Registered strategy classes by name."""


def register(cls: S) -> S:
    """Class decorator adding a strategy to :data:`STRATEGIES` under its ``name``."""
    if cls.name in STRATEGIES and STRATEGIES[cls.name] is not cls:
        raise ValueError(
            f"strategy name {cls.name!r} is already registered by {STRATEGIES[cls.name].__name__}"
        )
    STRATEGIES[cls.name] = cls
    return cls


def make_strategy(spec: str, **params: Any) -> Strategy:
    """Build a registered strategy from ``"name"`` or ``"name:key=value,key=value"`` plus keyword params.

    Values in the string are read as int, float, bool (``true``/``false``) or left as strings.

    Raises:
        ValueError: for an unknown name or a malformed parameter, listing what is allowed.
    """
    name, _, rest = spec.partition(":")
    if name not in STRATEGIES:
        from linkmech.envs import did_you_mean

        hint = did_you_mean(name, sorted(STRATEGIES))
        raise ValueError(f"strategy: got {name!r}{hint}; registered strategies are {sorted(STRATEGIES)}")
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(
                f"strategy parameters: got {item!r} in {spec!r}; write key=value pairs separated by commas"
            )
        params.setdefault(key.strip(), parse_value(value.strip()))
    try:
        return STRATEGIES[name](**params)
    except TypeError as error:
        raise ValueError(f"strategy {name!r}: {error}") from error


def parse_value(text: str) -> Any:
    """A command-line value as bool (true/false), int, float, or the string itself."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def act_all(copies: Sequence[Strategy], observations: np.ndarray, action_masks: np.ndarray) -> list[Any]:
    """One action per episode from per-episode strategy copies (one seat), grouped by strategy class.

    Each group goes through its class's :meth:`Strategy.act_copies`, so the result equals every copy acting
    alone on its own row.
    """
    actions: list[Any] = [None] * len(copies)
    groups: dict[type[Strategy], list[int]] = {}
    for b, strategy in enumerate(copies):
        groups.setdefault(type(strategy), []).append(b)
    for cls, rows in groups.items():
        chosen = cls.act_copies([copies[b] for b in rows], observations[rows], action_masks[rows])
        for b, action in zip(rows, chosen):
            actions[b] = action
    return actions
