"""Ray RLlib adapter: linkmech's environments as RLlib multi-agent envs, multi-agent PPO, clusters.

This module imports without Ray; every function that needs it imports it and, where it is missing, raises
an ImportError saying how to install it (``pip install -c constraints.txt -e ".[ray]"``).

- :func:`rllib_env_creator` registers an env with ``ray.tune.registry.register_env`` as RLlib's
  ``ParallelPettingZooEnv`` (the parallel env as an RLlib ``MultiAgentEnv``), under its PettingZoo id.
- :func:`ppo_config` builds a multi-agent ``PPOConfig`` on RLlib's new API stack (RLModules, EnvRunners,
  Learners): one policy (RLModule) per seat (``policies="per_seat"``: module id = agent id) or one shared by
  every seat (``policies="shared"``). For the Discrete-action envs, whose observations are
  ``{"observation", "action_mask"}`` Dicts, the module is
  :class:`~linkmech.training._rllib_module.MaskedPPOTorchRLModule`: masked actions get probability 0. The
  resource-allocation env (Box reports, no mask) uses RLlib's default PPO module with actions clipped to the
  space (reports >= 0).
- :func:`train` runs a few iterations and returns RLlib's result dicts; ``address="auto"`` attaches to a
  running Ray cluster (``ray start --head`` on one machine, ``ray start --address=HEAD:6379`` on the
  others; every node needs linkmech installed), see ``docs/rl-libraries.md``.

Seeding: ``seed`` goes to ``config.debugging(seed=...)`` (RLlib seeds its env runners' envs and torch from
it); RLlib's sampling runs in parallel processes, so results are reproducible run to run only with
``num_env_runners=0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gymnasium import spaces

from linkmech.envs import find
from linkmech.envs import make as make_parallel

INSTALL_HINT = 'pip install -c constraints.txt -e ".[ray]"'
"""How to install Ray RLlib for linkmech (from the repository root)."""

POLICY_LAYOUTS = ("per_seat", "shared")
"""Allowed values of ``policies``: one RLModule per seat, or one shared by every seat."""

SHARED_POLICY = "shared"
"""Module id of the shared policy."""


def require_ray() -> Any:
    """Import and return the ``ray`` module (with RLlib), or raise an ImportError saying how to install it."""
    try:
        import ray
        import ray.rllib
    except ImportError as error:
        raise ImportError(
            f"linkmech.training.rllib needs Ray RLlib, which is not installed here ({error}); install it "
            f"with `{INSTALL_HINT}` from the linkmech repository, or `pip install 'ray[rllib]>=2.40'`"
        ) from error
    return ray


@dataclass(frozen=True)
class EnvCreator:
    """A picklable RLlib env creator: ``creator(env_config)`` -> ``ParallelPettingZooEnv(make(name, ...))``.

    Attributes:
        name: the env's id or module name.
        options: default env options; ``env_config`` (RLlib's ``config.environment(env_config=...)``)
            overrides them key by key.
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, env_config: Mapping[str, Any] | None = None) -> Any:
        """The env as an RLlib MultiAgentEnv."""
        require_ray()
        from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

        options = {**self.options, **dict(env_config or {})}
        return ParallelPettingZooEnv(make_parallel(self.name, **options))


def rllib_env_creator(name: str, register_as: str | None = None, **options: Any) -> str:
    """Register env ``name`` with Ray Tune's registry for RLlib and return the name registered.

    Args:
        name: an env id or module name (``"linkmech/LinkedVoting-v0"``, ``"linked_voting_v0"``).
        register_as: the name to register (default: the env's PettingZoo id).
        **options: default env options (``num_problems=4``); ``env_config`` overrides them.

    Raises:
        ValueError: for an unknown env or bad options (the env is built once here to check them).
        ImportError: without Ray RLlib.
    """
    entry = find(name)
    make_parallel(entry.id, **options).close()
    require_ray()
    from ray.tune.registry import register_env

    registered = register_as or entry.id
    register_env(registered, EnvCreator(entry.id, dict(options)))
    return registered


def seat_policy(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """Policy mapping of ``policies="per_seat"``: each seat its own module, named by its agent id."""
    return agent_id


def shared_policy(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """Policy mapping of ``policies="shared"``: every seat plays module :data:`SHARED_POLICY`."""
    return SHARED_POLICY


def _is_masked(space: spaces.Space[Any]) -> bool:
    return isinstance(space, spaces.Dict) and {"observation", "action_mask"} <= set(space.spaces)


def module_spaces(
    name: str, options: Mapping[str, Any] | None, policies: str
) -> dict[str, tuple[spaces.Space[Any], spaces.Space[Any]]]:
    """``{module id: (observation space, action space)}`` for a policy layout.

    Raises:
        ValueError: for an unknown layout, or ``"shared"`` over seats whose spaces differ.
    """
    if policies not in POLICY_LAYOUTS:
        raise ValueError(f"policies: got {policies!r}; allowed are {POLICY_LAYOUTS}")
    env = make_parallel(name, **dict(options or {}))
    seats = {a: (env.observation_space(a), env.action_space(a)) for a in env.possible_agents}
    env.close()
    if policies == "per_seat":
        return seats
    first_agent, first = next(iter(seats.items()))
    differ = [a for a, pair in seats.items() if pair != first]
    if differ:
        raise ValueError(
            f"policies='shared': seats {differ} have other spaces than {first_agent} ({first}); one module "
            "cannot play them all: use policies='per_seat'"
        )
    return {SHARED_POLICY: first}


def ppo_config(
    name: str,
    options: Mapping[str, Any] | None = None,
    policies: str = "per_seat",
    *,
    seed: int = 0,
    train_batch_size: int = 4000,
    minibatch_size: int = 128,
    num_epochs: int = 10,
    lr: float = 3e-4,
    gamma: float = 1.0,
    hidden: Sequence[int] = (64, 64),
    num_env_runners: int = 0,
    num_envs_per_env_runner: int = 1,
) -> Any:
    """A multi-agent RLlib ``PPOConfig`` (new API stack) for a linkmech env.

    Args:
        name: an env id or module name.
        options: the env's options, sent as RLlib's ``env_config``.
        policies: ``"per_seat"`` (one module per agent id, mapped by :func:`seat_policy`) or ``"shared"``
            (one module for every seat, :func:`shared_policy`; the seats' spaces must be equal).
        seed: RLlib's seed (``config.debugging(seed=...)``).
        train_batch_size: env steps per learner per iteration (``train_batch_size_per_learner``).
        minibatch_size: SGD minibatch size.
        num_epochs: passes over each train batch.
        lr: learning rate.
        gamma: discount in PPO's returns (1: an episode's utilities count alike; the env's own ``discount``
            option already discounts the rewards).
        hidden: sizes of the hidden layers of the policy and value networks.
        num_env_runners: remote sampling processes (0: sample in the driver, reproducible).
        num_envs_per_env_runner: envs vectorised in each runner.

    Returns:
        A ``ray.rllib.algorithms.ppo.PPOConfig``; ``config.build_algo()`` builds the algorithm.

    Raises:
        ValueError: for an unknown env, bad options or policy layout.
        ImportError: without Ray RLlib.
    """
    layout = module_spaces(name, options, policies)
    registered = rllib_env_creator(name)
    require_ray()
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    model_config = {"fcnet_hiddens": list(hidden), "head_fcnet_hiddens": []}
    specs = {}
    for module_id, (observation_space, action_space) in layout.items():
        module_class = None
        if _is_masked(observation_space):
            from linkmech.training._rllib_module import MaskedPPOTorchRLModule

            module_class = MaskedPPOTorchRLModule
        specs[module_id] = RLModuleSpec(
            module_class=module_class,
            observation_space=observation_space,
            action_space=action_space,
            model_config=model_config,
        )
    continuous = any(isinstance(a, spaces.Box) for _, a in layout.values())
    config = (
        PPOConfig()
        .environment(
            registered,
            env_config=dict(options or {}),
            normalize_actions=False,
            clip_actions=continuous,
        )
        .framework("torch")
        .multi_agent(
            policies=set(layout),
            policy_mapping_fn=seat_policy if policies == "per_seat" else shared_policy,  # type: ignore[arg-type]
        )
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=specs))
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=num_envs_per_env_runner)
        .learners(num_learners=0)
        .training(
            train_batch_size_per_learner=train_batch_size,
            minibatch_size=minibatch_size,
            num_epochs=num_epochs,
            lr=lr,
            gamma=gamma,
        )
        .debugging(seed=seed)
    )
    return config


def init_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Start a new Ray instance on this machine (``address=None``) or join a cluster (``"auto"``, ``"ray://..."``).

    ``address=None`` always starts a fresh local instance (Ray's ``address="local"``), even where a cluster
    was started with ``ray start`` on this machine: joining one is asked for with ``"auto"``. Does nothing
    when Ray is already initialised. Returns the ``ray`` module.

    Raises:
        ValueError: for ``num_cpus`` with an address (a cluster's CPUs are set by ``ray start``).
    """
    ray = require_ray()
    if address is not None and num_cpus is not None:
        raise ValueError(
            f"num_cpus: got {num_cpus} with address={address!r}; a cluster's CPUs are set by `ray start "
            "--num-cpus`, give num_cpus only for a local Ray (address=None)"
        )
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            kwargs.update(address="local", num_cpus=num_cpus)
        else:
            kwargs["address"] = address
        ray.init(**kwargs)
    return ray


def train(
    name: str,
    iterations: int,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    policies: str = "per_seat",
    address: str | None = None,
    num_cpus: int | None = None,
    **config_kwargs: Any,
) -> list[dict[str, Any]]:
    """Train multi-agent PPO on a linkmech env for ``iterations`` RLlib iterations; their result dicts.

    Args:
        name: an env id or module name.
        iterations: RLlib training iterations (>= 1).
        seed: RLlib's seed.
        options: the env's options.
        policies: ``"per_seat"`` or ``"shared"`` (see :func:`ppo_config`).
        address: None to start Ray on this machine, ``"auto"`` to join the running cluster.
        num_cpus: CPUs for a local Ray (None: all).
        **config_kwargs: more :func:`ppo_config` arguments (``train_batch_size=256``, ``num_env_runners=2``).

    Each result has ``result["env_runners"]["agent_episode_returns_mean"]`` (per seat) and
    ``result["learners"][module_id]`` (losses). The algorithm is stopped before returning; build it from
    :func:`ppo_config` to keep it (checkpoints, evaluation).
    """
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations: got {iterations!r}; give an integer >= 1")
    config = ppo_config(name, options, policies, seed=seed, **config_kwargs)
    init_ray(address, num_cpus)
    build = getattr(config, "build_algo", None) or config.build
    algorithm = build()
    try:
        return [algorithm.train() for _ in range(iterations)]
    finally:
        algorithm.stop()
