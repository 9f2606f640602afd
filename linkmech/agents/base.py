"""One protocol for scripted and learned agents, and the registry of strategies by name.

An agent plays one seat of a PettingZoo environment. A :class:`Seat` says what the seat may know before an
episode starts (its id and index, the observation layout, the public description of the problem and of the
mechanism's budgets); a ``numpy.random.Generator`` per episode is the only source of randomness a strategy
may use. Strategies come in two shapes:

- **Policy kernels** (:class:`KernelStrategy`, every built-in strategy): the rule is written once, as array
  code over a batch of B episodes: from observations ``[B, D]`` and int8 action masks ``[B, A]`` (and the
  strategy's own per-episode arrays where it has memory) to the probability of every action ``[B, A]``
  (:meth:`KernelStrategy.probabilities`) or, where the rule is deterministic or the actions are continuous,
  to the actions (:meth:`KernelStrategy.decide`). Randomness is drawn per episode from that episode's
  generator when the episode starts (uniforms for every step, turned into actions by inverse CDF), so an
  episode is the same alone or in any batch. The one definition serves single play (:meth:`Strategy.act`,
  B = 1), the batched engine, tournaments and training opponents (:meth:`Strategy.act_batch`, one call per
  seat and step) and the exact best-response DP (which reads :meth:`KernelStrategy.probabilities`).
- **Per-episode strategies** (a plain :class:`Strategy` subclass implementing only :meth:`Strategy.reset` and
  :meth:`Strategy.act`): they play everywhere too, each episode of a batch by its own copy (slower), but the
  exact analysis cannot read them.

Strategies are plain Python objects: ``copy.deepcopy`` and ``pickle`` work, and the same seat, generator
seed and observations give the same actions.

Register a strategy with :func:`register`; build one by name with :func:`make_strategy` (also from the CLI as
``NAME`` or ``NAME:param=value,param=value``).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from linkmech.mechanisms.linking import LinkingMechanism
from linkmech.mechanisms.problem import FiniteProblem, FloatArray, IntArray


@dataclass(frozen=True)
class Seat:
    """What an agent may know about its seat before the episode starts.

    Attributes:
        agent: the env's agent id (``"agent_0"``).
        index: the agent's index i in the base problem.
        fields: the observation layout, ``env.observation_fields(agent)`` (names and slices).
        num_actions: size of the Discrete action space (0 for Box actions).
        problem: the base problem (types, P, utilities, target): public in mechanism design.
        mechanism: the linking mechanism (K, budgets, discount) or None for envs without budgets.
        form: ``"over_time"`` or ``"all_at_once"``.
        participation: None, ``"whole"`` or ``"per_problem"``.
        context: other public facts the env discloses through ``public_context()`` (e.g. Omega*, the
            resource and the agent's own endowment law in the resource-allocation env).
        num_steps: steps per episode (0 when the env does not say); kernels draw each episode's uniforms for
            this many steps at once.
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
    num_steps: int = 0

    @classmethod
    def from_env(cls, env: Any, agent: str) -> Seat:
        """The seat of ``agent`` in a linkmech env (parallel, AEC, or a batched engine's env)."""
        base = env.unwrapped if hasattr(env, "unwrapped") else env
        fields = tuple(base.observation_fields(agent)) if hasattr(base, "observation_fields") else ()
        options = getattr(base, "options", None)
        steps = getattr(base, "num_steps", None)
        if steps is None:
            steps = getattr(base, "num_dates", 0)
        return cls(
            agent=agent,
            index=base.possible_agents.index(agent),
            fields=fields,
            num_actions=int(getattr(base.action_space(agent), "n", 0)),
            problem=getattr(base, "problem", None),
            mechanism=getattr(base, "mechanism", None)
            if isinstance(getattr(base, "mechanism", None), LinkingMechanism)
            else None,
            form=getattr(options, "form", "over_time"),
            participation=getattr(options, "participation", None),
            context=base.public_context() if hasattr(base, "public_context") else {},
            num_steps=int(steps or 0),
        )

    def field(self, observation: np.ndarray, name: str) -> np.ndarray:
        """The named slice of an observation vector ``[D]``, or of every row of a batch ``[B, D]``.

        Raises:
            ValueError: if the env's observation has no such field.
        """
        for field_name, where in self.fields:
            if field_name == name:
                return observation[..., where]
        names = [n for n, _ in self.fields]
        raise ValueError(f"observation field {name!r} is not in this env's observation; fields are {names}")

    def has_field(self, name: str) -> bool:
        """Whether the observation has the named field."""
        return any(n == name for n, _ in self.fields)

    def same_as(self, other: Seat) -> bool:
        """Whether ``other`` is this seat of the same env (same problem and mechanism objects, same layout)."""
        return (
            self.agent == other.agent
            and self.index == other.index
            and self.fields == other.fields
            and self.num_actions == other.num_actions
            and self.problem is other.problem
            and self.mechanism is other.mechanism
            and self.form == other.form
            and self.participation == other.participation
            and self.num_steps == other.num_steps
            and self.context.keys() == other.context.keys()
            and all(self.context[k] is other.context[k] for k in self.context)
        )


class Episodes:
    """One seat's B episodes of a strategy: per-episode generators, memory arrays and the step count.

    :meth:`Strategy.start` builds it; the caller hands it back to :meth:`Strategy.act_batch` at every step.

    Attributes:
        seat: the seat.
        size: B.
        step: steps acted so far.
        prepared: what the strategy computed once for the seat (:meth:`KernelStrategy.prepare`).
        memory: the strategy's per-episode arrays by name, each ``[B, ...]`` (draws made at the start of the
            episodes, and state it updates in :meth:`KernelStrategy.remember`).
        copies: for per-episode strategies, one reset copy per episode (else empty).
    """

    def __init__(
        self,
        seat: Seat,
        size: int,
        generators: Sequence[np.random.Generator] | None,
        prepared: Any = None,
        uniform_width: int = 0,
    ) -> None:
        self.seat = seat
        self.size = size
        self.step = 0
        self.prepared = prepared
        self.memory: dict[str, np.ndarray] = {}
        self.copies: list[Strategy] = []
        self._generators = None if generators is None else list(generators)
        self._width = uniform_width
        self._block = np.zeros((size, 0, uniform_width))
        self._block_start = 0
        if uniform_width and generators is not None:
            self._draw_block()

    @property
    def analysed(self) -> bool:
        """True for the episodes of an exact analysis: no generators, only probabilities may be read."""
        return self._generators is None

    def draw(self, each: Callable[[np.random.Generator], np.ndarray], what: str) -> np.ndarray:
        """``[B, ...]``: ``each(generator)`` for every episode's generator, in episode order, stacked.

        Raises:
            ValueError: in an exact analysis (``what`` names the draw in the message).
        """
        if self._generators is None:
            raise ValueError(
                f"{what}: this rule draws random numbers beyond choosing an action from its probabilities, so "
                "the exact analysis cannot read it"
            )
        return np.stack([np.asarray(each(rng)) for rng in self._generators])

    def uniforms(self) -> FloatArray:
        """``[B, width]`` uniforms in [0, 1) of the current step, drawn per episode from its own generator.

        Each episode draws ``[num_steps, width]`` uniforms from its generator when it starts (before anything
        the strategy draws in :meth:`KernelStrategy.start_memory`; again after ``num_steps`` steps), so row
        ``step`` is this step's and episode b draws the same numbers alone or in any batch.
        """
        if self._width == 0:
            raise ValueError("this strategy draws no uniforms per step (its uniform width is 0)")
        if self.step - self._block_start >= self._block.shape[1]:
            self._draw_block()
        return self._block[:, self.step - self._block_start]

    def _draw_block(self) -> None:
        """Each episode draws its uniforms ``[num_steps, width]`` for the steps from now on."""
        length, width = max(self.seat.num_steps, 1), self._width
        self._block_start = self.step
        self._block = self.draw(lambda rng: rng.random((length, width)), "per-step uniforms")


class Strategy(ABC):
    """A policy for one seat: reset with a seat and a generator, then act on observations.

    Subclasses set ``name`` (the registry key) and implement :meth:`act` (a per-episode strategy) or derive
    from :class:`KernelStrategy` (a policy kernel over a batch); parameters go in ``__init__``.
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

    def start(self, seat: Seat, generators: Sequence[np.random.Generator]) -> Episodes:
        """Start B = ``len(generators)`` episodes in ``seat``; episode b draws only from ``generators[b]``.

        A per-episode strategy plays each episode with its own copy (reset with that episode's generator).
        """
        _check_generators(generators)
        episodes = Episodes(seat, len(generators), generators)
        for rng in generators:
            player = copy.deepcopy(self)
            player.reset(seat, rng)
            episodes.copies.append(player)
        return episodes

    def act_batch(self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """The actions of the B episodes, episode b acting on row b: ``[B]`` ints, or ``[B, d]`` reports.

        Equal, row by row, to each episode's strategy acting alone on its own row.
        """
        _check_rows(episodes, observations, action_masks)
        actions = [player.act(observations[b], action_masks[b]) for b, player in enumerate(episodes.copies)]
        episodes.step += 1
        return stack_actions(actions)

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


class KernelStrategy(Strategy):
    """A strategy whose rule is a policy kernel over a batch of episodes (see the module docstring).

    Subclasses implement :meth:`probabilities` (Discrete actions) or :meth:`decide` (deterministic rules and
    Box actions); optionally :meth:`prepare` (computed once per seat), :meth:`start_memory` (per-episode arrays
    at the start, e.g. draws) and :meth:`remember` (update them after each step), and they declare the
    observation fields they read (:meth:`observed_fields`), which the exact analysis needs.

    ``uniforms_per_step`` uniforms are drawn per step and episode (1 by default: the inverse-CDF draw of
    :meth:`decide`; 0 for deterministic rules).
    """

    uniforms_per_step: ClassVar[int] = 1

    def __init__(self) -> None:
        super().__init__()
        self._episodes: Episodes | None = None
        self._prepared_for: tuple[Seat, Any] | None = None

    # ----- the rule (subclasses) -----------------------------------------------------------------------

    def prepare(self, seat: Seat) -> Any:
        """What the rule needs that depends on the seat only (computed once per seat). Raises if it cannot play."""
        return None

    def start_memory(self, episodes: Episodes) -> dict[str, np.ndarray]:
        """The per-episode arrays at the start (``[B, ...]`` each); draws use ``episodes.draw``."""
        return {}

    def observed_fields(self) -> frozenset[str] | None:
        """The observation fields the rule reads (None: undeclared; the exact analysis then refuses it)."""
        return None

    def uniform_width(self, prepared: Any) -> int:
        """Uniforms drawn per step and episode (``uniforms_per_step`` unless the seat decides)."""
        return self.uniforms_per_step

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """``[B, A]`` the probability of every action in every episode (rows sum to 1)."""
        raise NotImplementedError(
            f"strategy {self.name!r} gives its actions directly (continuous or undeclared probabilities)"
        )

    def decide(self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """The actions ``[B]``: sampled from :meth:`probabilities` by inverse CDF with this step's uniforms.

        With ``uniforms_per_step = 0`` the probabilities must be one-hot and their action is taken.
        """
        probs = self.probabilities(episodes, observations, action_masks)
        if self.uniform_width(episodes.prepared) == 0:
            return deterministic_actions(probs, self.name)
        return sample_actions(probs, episodes.uniforms()[:, 0])

    def remember(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray, actions: np.ndarray
    ) -> None:
        """Update ``episodes.memory`` after the step (nothing by default)."""

    # ----- the frame ---------------------------------------------------------------------------------------

    def prepared(self, seat: Seat) -> Any:
        """:meth:`prepare` for ``seat``, cached while the seat stays the same."""
        if self._prepared_for is None or not self._prepared_for[0].same_as(seat):
            self._prepared_for = (seat, self.prepare(seat))
        return self._prepared_for[1]

    def start(self, seat: Seat, generators: Sequence[np.random.Generator]) -> Episodes:
        """Start B = ``len(generators)`` episodes in ``seat``; episode b draws only from ``generators[b]``."""
        _check_generators(generators)
        return self._begin(seat, len(generators), generators)

    def analysis_episodes(self, seat: Seat, size: int) -> Episodes:
        """``size`` rows for an exact analysis: no generators, so only :meth:`probabilities` may be read.

        Raises:
            ValueError: if the rule draws at the start or keeps memory the observation does not show.
        """
        episodes = self._begin(seat, size, None)
        if episodes.memory:
            raise ValueError(
                f"strategy {self!r} remembers {sorted(episodes.memory)} across steps, a state the observation "
                "does not show; the exact analysis models rules that read only the current observation"
            )
        return episodes

    def _begin(self, seat: Seat, size: int, generators: Sequence[np.random.Generator] | None) -> Episodes:
        prepared = self.prepared(seat)
        episodes = Episodes(seat, size, generators, prepared, self.uniform_width(prepared))
        episodes.memory.update(self.start_memory(episodes))
        return episodes

    def act_batch(self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """The actions of the B episodes (:meth:`decide`), then :meth:`remember`; ``[B]`` or ``[B, d]``."""
        _check_rows(episodes, observations, action_masks)
        actions = self.decide(episodes, observations, action_masks)
        self.remember(episodes, observations, action_masks, actions)
        episodes.step += 1
        return actions

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Start one episode (B = 1) in ``seat`` with generator ``rng``."""
        super().reset(seat, rng)
        self._episodes = self.start(seat, [rng])

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> Any:
        """Row 0 of :meth:`act_batch` on the one episode: an int (Discrete) or a ``[d]`` array (Box)."""
        if self._episodes is None:
            raise ValueError(f"strategy {self.name!r} has not been reset; call reset(seat, rng) first")
        actions = self.act_batch(self._episodes, np.asarray(observation)[None], np.asarray(action_mask)[None])
        return int(actions[0]) if actions.ndim == 1 else actions[0]


def _check_generators(generators: Sequence[np.random.Generator]) -> None:
    if len(generators) < 1:
        raise ValueError("generators: got none; give one numpy.random.Generator per episode")
    for rng in generators:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"generators: got a {type(rng).__name__}; give numpy.random.Generator objects")


def _check_rows(episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> None:
    if observations.ndim != 2 or observations.shape[0] != episodes.size or len(action_masks) != episodes.size:
        raise ValueError(
            f"observations: got shape {observations.shape} and masks of length {len(action_masks)}; expected "
            f"[B, D] and [B, A] with B = {episodes.size}, the episodes started"
        )


def stack_actions(actions: Sequence[Any]) -> np.ndarray:
    """Per-episode actions as ``[B]`` int64 (Discrete) or ``[B, d]`` floats (Box reports)."""
    arrays = [np.asarray(a) for a in actions]
    if all(a.ndim == 0 and np.issubdtype(a.dtype, np.integer) for a in arrays):
        return np.array([int(a) for a in arrays], dtype=np.int64)
    return np.stack([a.reshape(-1) for a in arrays])


def sample_actions(probs: FloatArray, uniforms: FloatArray) -> IntArray:
    """``[B]``: per row, the action whose cumulative probability first exceeds ``uniform * total`` (inverse CDF).

    Only actions of positive probability can be drawn.
    """
    cumulative = np.cumsum(probs, axis=1)
    thresholds = uniforms * cumulative[:, -1]
    return np.argmax(cumulative > thresholds[:, None], axis=1).astype(np.int64)


def deterministic_actions(probs: FloatArray, who: str) -> IntArray:
    """``[B]`` the action of one-hot rows.

    Raises:
        ValueError: if a row is not one-hot (the rule said it draws no uniforms).
    """
    actions = np.argmax(probs, axis=1)
    if not np.all(probs[np.arange(len(probs)), actions] == 1.0):
        raise ValueError(f"strategy {who!r} draws no uniforms, but its probabilities are not one-hot")
    return actions.astype(np.int64)


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
