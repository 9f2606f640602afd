"""One typed configuration per training run (:class:`TrainConfig`), saved with every run as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

SHARING = ("independent", "shared")
VECTOR_ENGINES = ("auto", "batched", "copies")
"""Allowed values of ``TrainConfig.vector``."""
"""Allowed values of :attr:`TrainConfig.sharing`."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a PPO run (with the seed, the run is deterministic on CPU).

    Attributes:
        env: registered environment name (``linkmech list``), e.g. ``"linked_voting_v0"``.
        env_options: keyword options of the environment, e.g. ``{"num_problems": 20}``.
        learners: the seats trained by PPO.
        opponents: scripted strategy (``"name:k=v"``) per other seat; seats in neither list get
            ``default_opponent``.
        default_opponent: strategy of seats that are neither learners nor in ``opponents``.
        sharing: ``"independent"`` (one network per learner seat) or ``"shared"`` (one network for every
            learner seat, the seat's one-hot appended to its observation; with every seat a learner this is
            self-play).
        team_reward: every learner seat is trained on the MEAN reward of all learner seats (a coalition of
            learners sharing its payoff); evaluation still reports each seat's own utility.
        total_steps: environment steps to train for, counted per learner seat (vector steps x num_envs).
        num_envs: episodes stepped together (vectorised rollouts).
        vector: ``"auto"`` (the batched engine where the env has one, else lockstep copies), ``"batched"``
            or ``"copies"``; both give the same episodes for the same seed (the batched engine is faster).
        rollout_steps: steps per copy between updates.
        epochs, minibatches: passes over each rollout and minibatches per pass.
        learning_rate: Adam step size, annealed linearly to 0 when ``anneal_lr``.
        gamma, gae_lambda: discount and GAE parameter of the advantage estimate.
        clip: PPO ratio clip; ``value_coef``, ``entropy_coef``: loss weights; ``max_grad_norm``: gradient clip.
        hidden: sizes of the hidden layers (tanh MLPs, separate actor and critic).
        seed: the run seed; every generator of the run derives from it.
        eval_episodes: episodes of the final evaluation (learner vs the reference in the same seat).
        reference: the strategy the learner is compared with in its seat (``approximately_truthful``).
    """

    env: str = "linked_voting_v0"
    env_options: dict[str, Any] = field(default_factory=lambda: {"num_problems": 20})
    learners: tuple[str, ...] = ("agent_0",)
    opponents: dict[str, str] = field(default_factory=dict)
    default_opponent: str = "approximately_truthful"
    sharing: str = "independent"
    team_reward: bool = False
    total_steps: int = 200_000
    num_envs: int = 32
    vector: str = "auto"
    rollout_steps: int = 40
    epochs: int = 4
    minibatches: int = 4
    learning_rate: float = 2.5e-3
    anneal_lr: bool = True
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.003
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    seed: int = 0
    eval_episodes: int = 2000
    reference: str = "approximately_truthful"

    def __post_init__(self) -> None:
        problems = []
        if not self.learners:
            problems.append("learners: got none; name at least one seat, e.g. ('agent_0',)")
        overlap = sorted(set(self.learners) & set(self.opponents))
        if overlap:
            problems.append(f"seats {overlap} are both learners and opponents; give each seat one role")
        if self.vector not in VECTOR_ENGINES:
            problems.append(f"vector: got {self.vector!r}; allowed are {VECTOR_ENGINES}")
        if self.sharing not in SHARING:
            problems.append(f"sharing: got {self.sharing!r}; allowed are {SHARING}")
        for name in ("total_steps", "num_envs", "rollout_steps", "epochs", "minibatches", "eval_episodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{name}: got {value!r}; use an integer >= 1")
        if self.batch_size % self.minibatches:
            problems.append(
                f"minibatches: got {self.minibatches}, which does not divide num_envs x rollout_steps = "
                f"{self.batch_size}; pick a divisor"
            )
        for name, low, high in (("gamma", 0.0, 1.0), ("gae_lambda", 0.0, 1.0), ("clip", 0.0, 1.0)):
            value = getattr(self, name)
            if not low < value <= high:
                problems.append(f"{name}: got {value!r}; allowed is ({low}, {high}]")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate: got {self.learning_rate!r}; use a positive number")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            problems.append(f"hidden: got {self.hidden!r}; give one or more positive layer sizes")
        if problems:
            raise ValueError("TrainConfig: " + "; ".join(problems))

    @property
    def batch_size(self) -> int:
        """Learner steps per rollout and learner seat: ``num_envs x rollout_steps``."""
        return self.num_envs * self.rollout_steps

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming the allowed ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown keys {unknown}; allowed are {sorted(names)}")
        values = dict(data)
        for name in ("learners", "hidden"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)
