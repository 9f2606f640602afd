"""Actor-critic networks for PPO: masked categorical (announcements) and Gaussian (reports).

One interface serves both, so the PPO code does not care which one it trains.

Both sample with an explicit ``torch.Generator`` (never torch's global generator), so a run is reproducible.
Both can be rebuilt from :meth:`spec` and a ``state_dict`` alone (what checkpoints store).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

_MASKED_LOGIT = -1e9


def _mlp(inputs: int, hidden: tuple[int, ...], outputs: int, last_gain: float) -> nn.Sequential:
    """A tanh MLP with orthogonal initialisation (the last layer scaled by ``last_gain``)."""
    layers: list[nn.Module] = []
    size = inputs
    for width in hidden:
        linear = nn.Linear(size, width)
        nn.init.orthogonal_(linear.weight, gain=float(np.sqrt(2.0)))
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Tanh()]
        size = width
    last = nn.Linear(size, outputs)
    nn.init.orthogonal_(last.weight, gain=last_gain)
    nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Base class: a policy head and a value head over the same observation vector."""

    kind = ""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.obs_dim, self.hidden = int(obs_dim), tuple(int(h) for h in hidden)
        self.critic = _mlp(self.obs_dim, self.hidden, 1, 1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values ``[B]``."""
        return self.critic(obs).squeeze(-1)

    def spec(self) -> dict[str, Any]:
        """What :func:`build_policy` needs to rebuild this network (JSON-ready)."""
        raise NotImplementedError

    def sample(
        self, obs: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled actions and their log-probabilities."""
        raise NotImplementedError

    def evaluate(
        self, obs: torch.Tensor, mask: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities and entropies of ``actions`` under the current policy."""
        raise NotImplementedError

    def greedy(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The most likely action (the mode)."""
        raise NotImplementedError


class MaskedCategorical(ActorCritic):
    """Categorical policy over ``num_actions`` announcements; actions with mask 0 get probability 0."""

    kind = "categorical"

    def __init__(self, obs_dim: int, num_actions: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__(obs_dim, hidden)
        self.num_actions = int(num_actions)
        self.actor = _mlp(self.obs_dim, self.hidden, self.num_actions, 0.01)

    def spec(self) -> dict[str, Any]:
        """``{"kind", "obs_dim", "num_actions", "hidden"}``."""
        return {
            "kind": self.kind,
            "obs_dim": self.obs_dim,
            "num_actions": self.num_actions,
            "hidden": list(self.hidden),
        }

    def log_probs(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every action ``[B, A]`` (``-inf``-like where masked)."""
        logits = self.actor(obs)
        logits = torch.where(mask > 0, logits, torch.full_like(logits, _MASKED_LOGIT))
        return torch.log_softmax(logits, dim=-1)

    def sample(
        self, obs: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw one allowed action per row."""
        log_probs = self.log_probs(obs, mask)
        actions = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(-1)
        return actions, log_probs.gather(-1, actions[:, None]).squeeze(-1)

    def evaluate(
        self, obs: torch.Tensor, mask: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of ``actions`` and entropies over the allowed actions."""
        log_probs = self.log_probs(obs, mask)
        probs = log_probs.exp()
        entropy = -(probs * torch.where(mask > 0, log_probs, torch.zeros_like(log_probs))).sum(-1)
        return log_probs.gather(-1, actions.long()[:, None]).squeeze(-1), entropy

    def greedy(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The allowed action of largest probability."""
        return self.log_probs(obs, mask).argmax(-1)


class Gaussian(ActorCritic):
    """Diagonal Gaussian policy over a ``Box`` action.

    Samples are clipped into ``[low, high]`` by the caller (:meth:`to_env`); the log-probability is that of
    the unclipped sample (as in CleanRL).
    """

    kind = "gaussian"

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        low: list[float],
        high: list[float],
        hidden: tuple[int, ...] = (64, 64),
        log_std: float = -0.5,
    ) -> None:
        super().__init__(obs_dim, hidden)
        self.action_dim = int(action_dim)
        self.low, self.high = [float(v) for v in low], [float(v) for v in high]
        self.actor = _mlp(self.obs_dim, self.hidden, self.action_dim, 0.01)
        self.log_std = nn.Parameter(torch.full((self.action_dim,), float(log_std)))

    def spec(self) -> dict[str, Any]:
        """``{"kind", "obs_dim", "action_dim", "low", "high", "hidden"}`` (infinite bounds as strings)."""
        return {
            "kind": self.kind,
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "low": [str(v) for v in self.low],
            "high": [str(v) for v in self.high],
            "hidden": list(self.hidden),
        }

    def _normal(self, obs: torch.Tensor) -> torch.distributions.Normal:
        mean = self.actor(obs)
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))

    def sample(
        self, obs: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw one action per row (unclipped)."""
        mean = self.actor(obs)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        actions = mean + self.log_std.exp() * noise
        return actions, self._normal(obs).log_prob(actions).sum(-1)

    def evaluate(
        self, obs: torch.Tensor, mask: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities and entropies (summed over action dimensions)."""
        normal = self._normal(obs)
        return normal.log_prob(actions).sum(-1), normal.entropy().sum(-1)

    def greedy(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The mean action."""
        return self.actor(obs)

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Clip sampled actions into the action space (float32)."""
        return np.clip(actions, self.low, self.high).astype(np.float32)


def build_policy(spec: dict[str, Any]) -> ActorCritic:
    """Rebuild a network from :meth:`ActorCritic.spec` (weights are loaded separately)."""
    kind = spec.get("kind")
    hidden = tuple(int(h) for h in spec["hidden"])
    if kind == MaskedCategorical.kind:
        return MaskedCategorical(int(spec["obs_dim"]), int(spec["num_actions"]), hidden)
    if kind == Gaussian.kind:
        low = [float(v) for v in spec["low"]]
        high = [float(v) for v in spec["high"]]
        return Gaussian(int(spec["obs_dim"]), int(spec["action_dim"]), low, high, hidden)
    raise ValueError(f"policy spec: kind {kind!r} is unknown; allowed are 'categorical' and 'gaussian'")


def policy_for_spaces(obs_dim: int, action_space: Any, hidden: tuple[int, ...]) -> ActorCritic:
    """The network matching an env's action space: Discrete -> masked categorical, Box -> Gaussian."""
    from gymnasium import spaces

    if isinstance(action_space, spaces.Discrete):
        return MaskedCategorical(obs_dim, int(action_space.n), hidden)
    if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        low = [float(v) for v in action_space.low]
        high = [float(v) for v in action_space.high]
        return Gaussian(obs_dim, int(action_space.shape[0]), low, high, hidden)
    raise ValueError(
        f"action space: got {action_space}; PPO here supports Discrete and one-dimensional Box actions"
    )
