"""A trained policy as a strategy: ``learned:path=runs/train/agent_0.pt`` plays anywhere a scripted one does.

The checkpoint is read with ``weights_only=True`` (:func:`linkmech.training.checkpoint.load_policy`) when the
strategy is first reset, so the object stays small and picklable (tournament workers rebuild it from the path).
Actions come from the network: ``mode="greedy"`` (default) takes the most likely allowed announcement (the
mean report for continuous actions); ``mode="sample"`` draws from the policy with the seat's generator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from linkmech.agents.base import Seat, Strategy, register

MODES = ("greedy", "sample")


@register
class Learned(Strategy):
    """Play a PPO checkpoint written by ``linkmech train``.

    Args:
        path: the ``.pt`` checkpoint.
        mode: ``"greedy"`` or ``"sample"``.
    """

    name: ClassVar[str] = "learned"

    def __init__(self, path: str = "", mode: str = "greedy", policy: Any = None, meta: Any = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode: got {mode!r}; allowed are {MODES}")
        if not path and policy is None:
            raise ValueError("learned: give path=<checkpoint .pt written by `linkmech train`>")
        self.path, self.mode = str(path), mode
        self._policy, self._meta = policy, meta

    @classmethod
    def from_policy(cls, policy: Any, seats: list[str], shared: bool, mode: str = "greedy") -> Learned:
        """Wrap an in-memory network (e.g. right after training) without a file."""
        return cls(path="", mode=mode, policy=policy, meta={"seats": seats, "shared": shared})

    def params(self) -> dict[str, Any]:
        """``{"path": ..., "mode": ...}``."""
        return {"path": self.path, "mode": self.mode}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.path:  # rebuilt from the file in the receiving process
            state["_policy"], state["_meta"] = None, None
        return state

    def reset(self, seat: Seat, rng: np.random.Generator) -> None:
        """Load the network (once) and check it fits the seat."""
        super().reset(seat, rng)
        self._load()
        expected = self._obs_dim(seat)
        if expected != self._policy.obs_dim:
            raise ValueError(
                f"learned {self.path!r}: the network takes observations of size {self._policy.obs_dim}, seat "
                f"{seat.agent} gives {expected}; use it in the environment and options it was trained on "
                f"({self._meta.get('env')!r}, {self._meta.get('env_options')!r})"
            )

    def _load(self) -> None:
        """Read the checkpoint unless the network is already here (unpickled copies read it again)."""
        if self._policy is None:
            from linkmech.training.checkpoint import load_policy

            self._policy, self._meta = load_policy(self.path)

    def _obs_dim(self, seat: Seat) -> int:
        size = max((where.stop for _, where in seat.fields), default=0)
        return size + (len(self._meta["seats"]) if self._meta["shared"] else 0)

    def _features(self, observation: np.ndarray) -> Any:
        import torch

        seat, _ = self._ready()
        vector = torch.as_tensor(np.asarray(observation, dtype=np.float32))[None]
        if self._meta["shared"]:
            seats = self._meta["seats"]
            one_hot = torch.zeros(1, len(seats))
            if seat.agent in seats:
                one_hot[0, seats.index(seat.agent)] = 1.0
            vector = torch.cat([vector, one_hot], dim=-1)
        return vector

    def act(self, observation: np.ndarray, action_mask: np.ndarray) -> Any:
        """The network's action for this observation."""
        import torch

        _, rng = self._ready()
        self._load()
        policy = self._policy
        obs = self._features(observation)
        mask = torch.as_tensor(np.asarray(action_mask))[None]
        with torch.no_grad():
            if policy.kind == "gaussian":
                action = policy.greedy(obs, mask)[0].numpy()
                if self.mode == "sample":
                    action = action + np.exp(policy.log_std.numpy()) * rng.standard_normal(action.shape)
                return policy.to_env(action)
            if self.mode == "greedy":
                return int(policy.greedy(obs, mask)[0])
            probs = policy.log_probs(obs, mask)[0].exp().numpy().astype(np.float64)
            return int(rng.choice(len(probs), p=probs / probs.sum()))
