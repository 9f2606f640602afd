"""Proximal policy optimisation in PyTorch, readable top to bottom (after CleanRL), as testable functions.

A run (:func:`train`) repeats:

1. :func:`collect_rollout`: ``rollout_steps`` steps of ``num_envs`` episodes at once (the batched engine,
   :class:`linkmech.training.vector.BatchedSeatVectorEnv`, or lockstep copies where an env has none); every
   learner seat samples from its network with its action mask, the other seats play their scripted
   strategies.
2. :func:`compute_gae`: generalised advantage estimates and returns per seat (episode ends cut the
   bootstrap).
3. :func:`ppo_update`: ``epochs`` passes of clipped-ratio policy loss + value loss - entropy bonus over
   shuffled minibatches.

Independent learners have one network per seat; parameter sharing has one network for all learner seats,
each seat's observation extended by its one-hot (with every seat a learner, that is self-play). Every random
draw (network initialisation, action sampling, minibatch order, episode seeds) derives from ``config.seed``:
the same seed gives the same run on CPU.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from linkmech.training.config import TrainConfig
from linkmech.training.policy import ActorCritic, Gaussian, policy_for_spaces
from linkmech.training.vector import SeatBatch, VectorEnv, make_vector_env


@dataclass
class Rollout:
    """One seat's rollout, tensors with leading axes ``[steps, envs]``."""

    obs: torch.Tensor
    mask: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    last_value: torch.Tensor


@dataclass
class Learner:
    """A network and the seats it plays (one seat when independent, all learner seats when shared)."""

    policy: ActorCritic
    seats: list[str]
    optimizer: torch.optim.Optimizer
    shared: bool = False

    def features(self, seat: str, obs: np.ndarray) -> torch.Tensor:
        """Observation tensor of ``seat``, with the seat's one-hot appended when shared."""
        tensor = torch.as_tensor(obs, dtype=torch.float32)
        if not self.shared:
            return tensor
        one_hot = torch.zeros(tensor.shape[0], len(self.seats))
        one_hot[:, self.seats.index(seat)] = 1.0
        return torch.cat([tensor, one_hot], dim=-1)


@dataclass
class TrainResult:
    """What :func:`train` returns: the learners, the log and the counts."""

    learners: list[Learner]
    history: list[dict[str, float]] = field(default_factory=list)
    env_steps: int = 0
    wall_seconds: float = 0.0


def _seeds(seed: int) -> dict[str, int]:
    """Independent seeds for the run's four random streams, all from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(4)
    names = ("envs", "init", "actions", "minibatches")
    return {n: int(c.generate_state(1, dtype=np.uint32)[0]) for n, c in zip(names, children)}


def make_learners(config: TrainConfig, vec: VectorEnv, init_seed: int) -> list[Learner]:
    """Networks for the learner seats (initialised from ``init_seed`` without touching torch's global RNG)."""
    groups = [list(config.learners)] if config.sharing == "shared" else [[s] for s in config.learners]
    learners = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        for seats in groups:
            shared = config.sharing == "shared"
            dims = {vec.observation_dim(s) for s in seats}
            spaces = {str(vec.action_space(s)) for s in seats}
            if len(dims) > 1 or len(spaces) > 1:
                raise ValueError(
                    f"sharing='shared': seats {seats} have different observation sizes {sorted(dims)} or "
                    f"action spaces {sorted(spaces)}; use sharing='independent'"
                )
            obs_dim = dims.pop() + (len(seats) if shared else 0)
            policy = policy_for_spaces(obs_dim, vec.action_space(seats[0]), config.hidden)
            optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate, eps=1e-5)
            learners.append(Learner(policy, seats, optimizer, shared))
    return learners


def _env_actions(learner: Learner, actions: torch.Tensor) -> np.ndarray:
    if isinstance(learner.policy, Gaussian):
        return learner.policy.to_env(actions.numpy())
    return actions.numpy().astype(np.int64)


def collect_rollout(
    vec: VectorEnv,
    learners: list[Learner],
    batches: dict[str, SeatBatch],
    steps: int,
    generator: torch.Generator,
    team: bool = False,
) -> tuple[dict[str, Rollout], dict[str, SeatBatch], dict[str, list[float]]]:
    """Play ``steps`` lockstep steps; returns the rollouts per seat, the next observations, finished returns.

    With ``team`` every learner seat stores the mean reward of all learner seats (:func:`team_rewards`).
    """
    owner = {seat: learner for learner in learners for seat in learner.seats}
    store: dict[str, dict[str, list[torch.Tensor]]] = {s: {} for s in owner}
    finished: dict[str, list[float]] = {s: [] for s in owner}
    for _ in range(steps):
        actions = {}
        with torch.no_grad():
            for seat, learner in owner.items():
                obs = learner.features(seat, batches[seat].obs)
                mask = torch.as_tensor(batches[seat].mask)
                action, log_prob = learner.policy.sample(obs, mask, generator)
                value = learner.policy.value(obs)
                for key, item in (
                    ("obs", obs),
                    ("mask", mask),
                    ("actions", action),
                    ("log_probs", log_prob),
                    ("values", value),
                ):
                    store[seat].setdefault(key, []).append(item)
                actions[seat] = _env_actions(learner, action)
        result = vec.step(actions)
        done = torch.as_tensor(result.done, dtype=torch.float32)
        rewards = team_rewards(result.rewards) if team else result.rewards
        for seat in owner:
            store[seat].setdefault("rewards", []).append(torch.as_tensor(rewards[seat], dtype=torch.float32))
            store[seat].setdefault("dones", []).append(done)
            finished[seat] += result.returns[seat]
        batches = result.batches
    rollouts = {}
    with torch.no_grad():
        for seat, learner in owner.items():
            last_value = learner.policy.value(learner.features(seat, batches[seat].obs))
            stacked = {key: torch.stack(items) for key, items in store[seat].items()}
            rollouts[seat] = Rollout(last_value=last_value, **stacked)
    return rollouts, batches, finished


def team_rewards(rewards: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every seat's reward replaced by the mean over the seats (a coalition sharing its payoff equally)."""
    mean = np.mean(list(rewards.values()), axis=0)
    return {seat: mean for seat in rewards}


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns, ``[steps, envs]``.

    ``dones[t]`` marks that the episode ended AT step t (its next state is the next episode's start), so
    neither the value nor the advantage of step t + 1 flows back into step t.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    for t in reversed(range(steps)):
        next_value = last_value if t == steps - 1 else values[t + 1]
        keep = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * keep - values[t]
        running = delta + gamma * gae_lambda * keep * running
        advantages[t] = running
    return advantages, advantages + values


def ppo_update(
    learner: Learner, batch: dict[str, torch.Tensor], config: TrainConfig, generator: torch.Generator
) -> dict[str, float]:
    """``config.epochs`` passes of minibatch PPO on a flat batch; returns mean losses and diagnostics."""
    size = batch["obs"].shape[0]
    minibatch = size // config.minibatches
    stats: dict[str, list[float]] = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": []}
    for _ in range(config.epochs):
        order = torch.randperm(size, generator=generator)
        for start in range(0, size, minibatch):
            index = order[start : start + minibatch]
            log_prob, entropy = learner.policy.evaluate(
                batch["obs"][index], batch["mask"][index], batch["actions"][index]
            )
            log_ratio = log_prob - batch["log_probs"][index]
            ratio = log_ratio.exp()
            advantage = batch["advantages"][index]
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
            policy_loss = torch.max(
                -advantage * ratio, -advantage * ratio.clamp(1 - config.clip, 1 + config.clip)
            ).mean()
            value_loss = (
                0.5 * (learner.policy.value(batch["obs"][index]) - batch["returns"][index]).pow(2).mean()
            )
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy.mean()
            learner.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(learner.policy.parameters(), config.max_grad_norm)
            learner.optimizer.step()
            with torch.no_grad():
                stats["approx_kl"].append(float(((ratio - 1) - log_ratio).mean()))
            stats["policy_loss"].append(float(policy_loss.detach()))
            stats["value_loss"].append(float(value_loss.detach()))
            stats["entropy"].append(float(entropy.mean().detach()))
    return {key: float(np.mean(values)) for key, values in stats.items()}


def _flat_batch(rollouts: list[Rollout], config: TrainConfig) -> dict[str, torch.Tensor]:
    """Concatenate the seats' rollouts of one learner into one flat batch with advantages and returns."""
    parts: dict[str, list[torch.Tensor]] = {}
    for r in rollouts:
        advantages, returns = compute_gae(
            r.rewards, r.values, r.dones, r.last_value, config.gamma, config.gae_lambda
        )
        for key, tensor in (
            ("obs", r.obs),
            ("mask", r.mask),
            ("actions", r.actions),
            ("log_probs", r.log_probs),
            ("advantages", advantages),
            ("returns", returns),
        ):
            rows = tensor.shape[0] * tensor.shape[1]
            parts.setdefault(key, []).append(tensor.reshape(rows, *tensor.shape[2:]))
    return {key: torch.cat(items) for key, items in parts.items()}


Progress = Callable[[int, dict[str, float]], None]


def _warn_if_rollouts_cut_episodes(config: TrainConfig, episode_length: int) -> None:
    """Warn when a rollout is shorter than an episode: most advantages then rest on the value estimate."""
    if config.rollout_steps < episode_length:
        warnings.warn(
            f"rollout_steps={config.rollout_steps} is shorter than an episode ({episode_length} steps): most "
            "advantages are bootstrapped from the value estimate, and PPO learns much less at long K "
            "(docs/learning.md); give rollout_steps >= 2K (linkmech train --rollout-steps)",
            UserWarning,
            stacklevel=3,
        )


def train(config: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """Run PPO as ``config`` says; ``progress(env_steps, stats)`` is called after every update."""
    seeds = _seeds(config.seed)
    vec = make_vector_env(
        config.env,
        config.env_options,
        config.learners,
        config.opponents,
        config.num_envs,
        seeds["envs"],
        config.default_opponent,
        batched={"auto": None, "batched": True, "copies": False}[config.vector],
    )
    _warn_if_rollouts_cut_episodes(config, vec.problems_per_episode())
    learners = make_learners(config, vec, seeds["init"])
    action_generator = torch.Generator().manual_seed(seeds["actions"])
    batch_generator = torch.Generator().manual_seed(seeds["minibatches"])
    updates = max(1, config.total_steps // config.batch_size)
    result = TrainResult(learners)
    batches = vec.reset()
    start = time.perf_counter()
    per_problem = vec.problems_per_episode()
    for update in range(updates):
        if config.anneal_lr:
            for learner in learners:
                for group in learner.optimizer.param_groups:
                    group["lr"] = config.learning_rate * (1.0 - update / updates)
        rollouts, batches, finished = collect_rollout(
            vec, learners, batches, config.rollout_steps, action_generator, config.team_reward
        )
        result.env_steps += config.batch_size
        stats: dict[str, float] = {"update": float(update + 1), "env_steps": float(result.env_steps)}
        for i, learner in enumerate(learners):
            batch = _flat_batch([rollouts[s] for s in learner.seats], config)
            for key, value in ppo_update(learner, batch, config, batch_generator).items():
                stats[f"{key}_{i}" if len(learners) > 1 else key] = value
        for seat, values in finished.items():
            if values:
                stats[f"utility_per_problem/{seat}"] = float(np.mean(values)) / per_problem
        stats["wall_seconds"] = time.perf_counter() - start
        result.history.append(stats)
        if progress is not None:
            progress(result.env_steps, stats)
    result.wall_seconds = time.perf_counter() - start
    return result
