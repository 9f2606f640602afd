"""One learner seat of a linkmech environment as a Gymnasium env, every other seat played by a strategy.

:class:`SingleAgentEnv` is what single-agent libraries (Stable-Baselines3, sb3-contrib's MaskablePPO, any
``gymnasium.Env`` trainer) train on: the learner's seat of a PettingZoo parallel env, with the other seats
played by scripted :class:`~linkmech.agents.base.Strategy` objects.

- **Observation**: the learner's observation vector (the ``"observation"`` Box of the masked Dict
  observation; the plain Box of the resource-allocation env).
- **Action**: the learner's action space (``Discrete(A)``, or ``Box`` for reports). An action the env does
  not allow now (outside the space, or masked out) raises a ``ValueError`` and changes nothing; actions
  are never coerced.
- **Action mask**: :meth:`SingleAgentEnv.action_masks` (the sb3-contrib ``MaskablePPO`` convention, a bool
  array) and ``info["action_mask"]`` after every reset and step (int8, as the env sends it).
- **Reward**, **terminated**, **truncated**, **info**: the learner's, from the parallel env; ``info`` also
  carries ``"rewards"``, every seat's reward of the step.

Seeding: ``reset(seed=s)`` gives the parallel env and every seat the generators that
:func:`linkmech.evaluation.play.seat_generators` derives from ``s``; so a learner that plays a strategy
reset with ``seat_generators(s, agents)[1][learner]`` reproduces ``play_episode(env, strategies, seed=s)``
exactly. ``reset()`` without a seed draws the next episode's seed from the wrapper's own generator
(``self.np_random``, seeded by the last ``reset(seed=...)``): the same seed gives the same sequence of
episodes, and the opponents draw from nothing else.

Gymnasium ids: importing this module registers ``linkmech/<Name>-single-v0`` for every environment (for
example ``gymnasium.make("linkmech/LinkedVoting-single-v0", num_problems=8)``); without importing it first,
write ``gymnasium.make("linkmech.envs.single_agent:linkmech/LinkedVoting-single-v0")``.
``gymnasium.make_vec(id, num_envs=B, ...)`` gives the batched engine's
:class:`~linkmech.envs.gym_vector.BatchedGymVectorEnv` (``vectorization_mode="sync"``: copies of this env).

Example::

    from linkmech.envs.single_agent import SingleAgentEnv
    env = SingleAgentEnv("linkmech/LinkedVoting-v0", learner="agent_0",
                         opponents={"agent_1": "approximately_truthful:lies=myopic"}, num_problems=8)
    observation, info = env.reset(seed=0)
    while True:
        action = int(env.np_random.choice(env.action_masks().nonzero()[0]))
        observation, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from linkmech.agents import Seat, Strategy, make_strategy
from linkmech.envs import ENVIRONMENTS, find
from linkmech.envs import make as make_parallel
from linkmech.evaluation.play import seat_generators

OpponentSpec = Strategy | str
"""A strategy object, or a registered strategy's ``"name"`` / ``"name:key=value,..."``."""

DEFAULT_OPPONENTS: dict[str, str] = {
    "linked_voting_v0": "approximately_truthful",
    "linked_public_goods_v0": "approximately_truthful",
    "linked_bargaining_v0": "approximately_truthful",
    "linked_allocation_v0": "approximately_truthful",
    "linked_problem_v0": "approximately_truthful",
    "ranked_voting_v0": "random",
    "importance_vote_v0": "random",
    "resource_allocation_v0": "truthful_report",
}
"""The strategy that plays a seat no opponent was given for, by env module: the secure strategy of the
linking mechanisms (approximate truth), truthful reports in Zhu's resource allocation, and uniform admissible
play where no scripted strategy reads the observation (ranked voting, importance vote)."""

SINGLE_AGENT_SUFFIX = "-single"
"""Gymnasium ids are the PettingZoo ids with this before the version: ``linkmech/LinkedVoting-single-v0``."""


RENDER_MODES = ("ansi", "human")
"""Render modes some linkmech env supports (the linking envs: a text table of the decisions)."""


def _module_name(env: Any) -> str:
    """The registry module name (``linked_voting_v0``) of a parallel env, from its metadata."""
    return str(getattr(env, "metadata", {}).get("name", ""))


class SingleAgentEnv(gymnasium.Env):  # type: ignore[misc]
    """The learner's seat of a linkmech parallel env; the other seats play scripted strategies.

    ``metadata["render_modes"]`` is, on an instance, the parallel env's (``["ansi", "human"]`` for the
    linking envs, none for the others); on the class, every mode some env supports.

    Args:
        env: an environment id or module name (``"linkmech/LinkedVoting-v0"``, ``"linked_voting_v0"``),
            built with ``options``; or a linkmech PettingZoo parallel env instance (then give no options).
        learner: the learner's agent id.
        opponents: a strategy (object or ``"name:key=value"``) for every other seat, or a mapping from seat
            to strategy; seats left out play :data:`DEFAULT_OPPONENTS`'s strategy for the env. A strategy
            object given for every seat plays the first opponent seat and copies of it the others; one
            object may not play two seats of a mapping.
        render_mode: passed to the env when it is built here (``"ansi"`` for the linking envs).
        action_high: for a ``Box`` action space unbounded above (the resource-allocation reports), expose
            ``Box(low, action_high)`` instead: libraries that need finite bounds (Stable-Baselines3) then
            work, and a report above it is rejected like any action outside the space. None keeps the env's
            space.
        **options: the env's options (``num_problems=8``, ``budget="intensity"``, ...).

    Raises:
        ValueError: for an unknown env, learner or opponent seat, a strategy name the registry does not
            know, options given with an env instance, or an env that is not a PettingZoo parallel env.
    """

    metadata: dict[str, Any] = {"render_modes": list(RENDER_MODES), "render_fps": 1}

    def __init__(
        self,
        env: str | ParallelEnv = "linkmech/LinkedVoting-v0",
        learner: str = "agent_0",
        opponents: OpponentSpec | Mapping[str, OpponentSpec] | None = None,
        render_mode: str | None = None,
        action_high: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        if isinstance(env, str):
            module = find(env).module
            kwargs = dict(options) if render_mode is None else {**options, "render_mode": render_mode}
            parallel = make_parallel(env, **kwargs)
        elif isinstance(env, ParallelEnv):
            if options or render_mode is not None:
                raise ValueError(
                    f"options: got {sorted(options) + (['render_mode'] if render_mode else [])} with an env "
                    "instance; build the env with its options, or pass its name and the options here"
                )
            parallel, module = env, _module_name(env)
        else:
            raise ValueError(
                f"env: got {type(env).__name__}; give an env id or module name "
                "('linkmech/LinkedVoting-v0') or a PettingZoo parallel env (linkmech.make(name)), not an AEC env"
            )
        self.parallel_env = parallel
        agents = list(parallel.possible_agents)
        if learner not in agents:
            raise ValueError(f"learner: got {learner!r}; the env's seats are {agents}")
        self.learner = learner
        self.opponents: dict[str, Strategy] = self._build_opponents(opponents, agents, module)
        self.render_mode = getattr(parallel, "render_mode", None)
        self.metadata = {
            "render_modes": list(getattr(parallel, "metadata", {}).get("render_modes", [])),
            "render_fps": 1,
            "name": f"{module}_single" if module else "single_agent",
        }
        learner_space = parallel.observation_space(learner)
        self._masked = isinstance(learner_space, spaces.Dict) and "action_mask" in learner_space.spaces
        self.observation_space = learner_space["observation"] if self._masked else learner_space
        self.action_space = self._learner_action_space(parallel.action_space(learner), action_high)
        self._observations: dict[str, Any] = {}
        self._done = True

    @staticmethod
    def _learner_action_space(space: spaces.Space[Any], action_high: float | None) -> spaces.Space[Any]:
        if action_high is None:
            return space
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"action_high: got {action_high!r} for the action space {space}; it bounds Box actions only, "
                "leave it None"
            )
        if not (np.isfinite(action_high) and np.all(action_high > space.low)):
            raise ValueError(
                f"action_high: got {action_high!r}; give a finite number above the space's low {space.low}"
            )
        high = np.minimum(space.high, np.full(space.shape, action_high, dtype=space.dtype))
        return spaces.Box(low=space.low, high=high, dtype=space.dtype)  # type: ignore[arg-type]

    def _build_opponents(
        self,
        opponents: OpponentSpec | Mapping[str, OpponentSpec] | None,
        agents: list[str],
        module: str,
    ) -> dict[str, Strategy]:
        others = [a for a in agents if a != self.learner]
        default = DEFAULT_OPPONENTS.get(module, "random")
        if opponents is None or isinstance(opponents, (str, Strategy)):
            given: OpponentSpec = default if opponents is None else opponents
            chosen: dict[str, OpponentSpec] = {
                a: copy.deepcopy(given) if isinstance(given, Strategy) and k > 0 else given
                for k, a in enumerate(others)
            }
        elif isinstance(opponents, Mapping):
            unknown = [seat for seat in opponents if seat not in others]
            if unknown:
                raise ValueError(
                    f"opponents: got seats {unknown}; opponent seats are {others} (the learner is "
                    f"{self.learner!r})"
                )
            chosen = {a: opponents.get(a, default) for a in others}
            objects = [id(s) for s in chosen.values() if isinstance(s, Strategy)]
            if len(objects) != len(set(objects)):
                raise ValueError(
                    "opponents: one Strategy object plays two seats; give each seat its own object "
                    "(or a name such as 'random'), since a strategy is reset with one seat"
                )
        else:
            raise ValueError(
                f"opponents: got {type(opponents).__name__}; give a strategy, a strategy name "
                "('approximately_truthful:lies=myopic') or a mapping {seat: strategy or name}"
            )
        out: dict[str, Strategy] = {}
        for seat, spec in chosen.items():
            if isinstance(spec, Strategy):
                out[seat] = spec
            elif isinstance(spec, str):
                out[seat] = make_strategy(spec)
            else:
                raise ValueError(
                    f"opponents[{seat!r}]: got {type(spec).__name__}; give a Strategy object or a "
                    "registered strategy name (linkmech strategies lists them)"
                )
        return out

    # ----- gymnasium API ----------------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; the env seed and every opponent's generator come from this seed (see module)."""
        super().reset(seed=seed)
        episode_seed = seed if seed is not None else int(self.np_random.integers(2**63))
        env_seed, generators = seat_generators(episode_seed, list(self.parallel_env.possible_agents))
        observations, infos = self.parallel_env.reset(seed=env_seed, options=options)
        for seat, strategy in self.opponents.items():
            strategy.reset(Seat.from_env(self.parallel_env, seat), generators[seat])
        self._observations = observations
        self._done = False
        return self._learner_view(observations, infos.get(self.learner, {}), None)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play the learner's action with the opponents' actions; a rejected action changes nothing.

        Raises:
            ValueError: when the episode is over (call ``reset()``), or the action is not allowed now (its
                message names the action and what the mask allows).
        """
        if self._done:
            raise ValueError("the episode is over or has not started; call reset() first")
        try:
            self.parallel_env.check_action(self.learner, action)
            self._check_in_space(action)
        except ValueError as error:
            allowed = (
                f"; the action mask allows {np.flatnonzero(self.action_masks()).tolist()}"
                if self._masked
                else ""
            )
            raise ValueError(f"SingleAgentEnv learner: {error}{allowed}") from error
        actions = {
            seat: strategy.act(*self._split(self._observations[seat]))
            for seat, strategy in self.opponents.items()
            if seat in self.parallel_env.agents
        }
        actions[self.learner] = action
        observations, rewards, terminations, truncations, infos = self.parallel_env.step(actions)
        self._observations = observations
        terminated = bool(terminations[self.learner])
        truncated = bool(truncations[self.learner])
        self._done = terminated or truncated or not self.parallel_env.agents
        rewards_now = {seat: float(r) for seat, r in rewards.items()}
        observation, info = self._learner_view(observations, infos.get(self.learner, {}), rewards_now)
        return observation, rewards_now[self.learner], terminated, truncated, info

    def _check_in_space(self, action: Any) -> None:
        """Box actions only: a finite report the env accepts must also lie in the (bounded) space."""
        if isinstance(self.action_space, spaces.Box):
            value = np.asarray(action, dtype=self.action_space.dtype).reshape(self.action_space.shape)
            if not self.action_space.contains(value):
                raise ValueError(
                    f"{self.learner} sent {action!r}, outside the action space {self.action_space} "
                    f"(low {self.action_space.low.tolist()}, high {self.action_space.high.tolist()})"
                )

    def action_masks(self) -> np.ndarray:
        """The learner's allowed actions now, as a bool array (sb3-contrib MaskablePPO's convention).

        Raises:
            ValueError: for an env whose learner has continuous actions (no mask).
        """
        if not self._masked:
            raise ValueError(
                f"action_masks: {self.metadata['name']}'s learner has {self.action_space}, which has no "
                "action mask; use a Discrete-action env, or an algorithm without masks (PPO)"
            )
        if not self._observations:
            raise ValueError("action_masks: call reset() first")
        return np.asarray(self._observations[self.learner]["action_mask"], dtype=bool)

    def render(self) -> Any:
        """The decisions table of the linking envs: returned in ``"ansi"`` mode, printed in ``"human"``."""
        result = self.parallel_env.render()
        if result is None:
            return None
        if self.render_mode == "human":
            print(result)
            return None
        return str(result)

    def close(self) -> None:
        """Close the parallel env."""
        self.parallel_env.close()

    # ----- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _split(observation: Any) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(observation, dict):
            return observation["observation"], observation["action_mask"]
        return np.asarray(observation), np.zeros(0, dtype=np.int8)

    def _learner_view(
        self, observations: dict[str, Any], info: dict[str, Any], rewards: dict[str, float] | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        vector, mask = self._split(observations[self.learner])
        out = dict(info)
        if self._masked:
            out["action_mask"] = np.array(mask, dtype=np.int8)
        if rewards is not None:
            out["rewards"] = rewards
        return np.array(vector, dtype=self.observation_space.dtype), out


def single_agent_id(env_id: str) -> str:
    """The Gymnasium id of an env's single-agent view: ``linkmech/LinkedVoting-v0`` -> ``...-single-v0``."""
    name, sep, version = env_id.rpartition("-v")
    if not sep:
        raise ValueError(
            f"env_id: got {env_id!r}; expected a versioned id such as 'linkmech/LinkedVoting-v0'"
        )
    return f"{name}{SINGLE_AGENT_SUFFIX}-v{version}"


def register_gymnasium() -> None:
    """Register ``linkmech/<Name>-single-v0`` with Gymnasium for every environment; safe to call again."""
    for entry in ENVIRONMENTS:
        env_id = single_agent_id(entry.id)
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point="linkmech.envs.single_agent:SingleAgentEnv",
                vector_entry_point="linkmech.envs.gym_vector:BatchedGymVectorEnv",
                kwargs={"env": entry.id},
            )


register_gymnasium()
