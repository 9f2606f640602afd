"""A trained policy as a strategy: ``learned:path=runs/train/agent_0.pt`` plays anywhere a scripted one does.

The checkpoint is read with ``weights_only=True`` (:func:`linkmech.training.checkpoint.load_policy`) when the
strategy is first prepared for a seat, so the object stays small and picklable (tournament workers rebuild it
from the path). The network acts on a whole batch of episodes with one forward pass. ``mode="greedy"``
(default) takes the most likely allowed announcement (the mean report for continuous actions);
``mode="sample"`` draws from the policy by inverse CDF (or, for reports, mean + std x a normal quantile) of
uniforms each episode draws from its own generator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from linkmech.agents.base import Episodes, KernelStrategy, Seat, register
from linkmech.agents.kernels import one_hot
from linkmech.mechanisms.problem import FloatArray

MODES = ("greedy", "sample")


class _Network:
    """A loaded network and what the seat adds to its input (the seat one-hot of a shared network)."""

    def __init__(self, policy: Any, meta: dict[str, Any], seat: Seat) -> None:
        self.policy, self.meta = policy, meta
        self.one_hot: np.ndarray | None = None
        if meta["shared"]:
            seats = list(meta["seats"])
            self.one_hot = np.zeros(len(seats), dtype=np.float32)
            if seat.agent in seats:
                self.one_hot[seats.index(seat.agent)] = 1.0

    def features(self, observations: np.ndarray) -> Any:
        """The network's input ``[B, obs_dim]`` as a float32 tensor."""
        import torch

        vectors = np.asarray(observations, dtype=np.float32)
        if self.one_hot is not None:
            vectors = np.concatenate(
                [vectors, np.broadcast_to(self.one_hot, (len(vectors), len(self.one_hot)))], 1
            )
        return torch.as_tensor(vectors)


@register
class Learned(KernelStrategy):
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
            state["_policy"], state["_meta"], state["_prepared_for"] = None, None, None
        return state

    def _load(self) -> None:
        """Read the checkpoint unless the network is already here (unpickled copies read it again)."""
        if self._policy is None:
            from linkmech.training.checkpoint import load_policy

            self._policy, self._meta = load_policy(self.path)

    def prepare(self, seat: Seat) -> _Network:
        """Load the network (once) and check it fits the seat."""
        self._load()
        size = max((where.stop for _, where in seat.fields), default=0)
        expected = size + (len(self._meta["seats"]) if self._meta["shared"] else 0)
        if expected != self._policy.obs_dim:
            raise ValueError(
                f"learned {self.path!r}: the network takes observations of size {self._policy.obs_dim}, seat "
                f"{seat.agent} gives {expected}; use it in the environment and options it was trained on "
                f"({self._meta.get('env')!r}, {self._meta.get('env_options')!r})"
            )
        return _Network(self._policy, self._meta, seat)

    def uniform_width(self, prepared: Any) -> int:
        """One uniform per step to sample an announcement, one per report dimension; none when greedy."""
        if self.mode == "greedy":
            return 0
        policy = prepared.policy
        return int(policy.action_dim) if policy.kind == "gaussian" else 1

    def probabilities(
        self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray
    ) -> FloatArray:
        """``[B, A]`` the network's masked softmax (``sample``) or one-hot on its most likely action (``greedy``)."""
        import torch

        network = episodes.prepared
        if network.policy.kind == "gaussian":
            raise NotImplementedError("a Gaussian policy reports numbers; it has no table of probabilities")
        with torch.no_grad():
            log_probs = network.policy.log_probs(
                network.features(observations), torch.as_tensor(action_masks)
            )
        probs = log_probs.exp().numpy().astype(np.float64)
        if self.mode == "greedy":
            return one_hot(np.argmax(probs, axis=1), probs.shape[1])
        probs[np.asarray(action_masks) == 0] = 0.0
        return probs / probs.sum(axis=1, keepdims=True)

    def decide(self, episodes: Episodes, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Announcements from :meth:`probabilities`; reports as mean (+ std x normal quantile when sampling)."""
        network = episodes.prepared
        if network.policy.kind != "gaussian":
            return super().decide(episodes, observations, action_masks)
        import torch
        from scipy.special import ndtri

        with torch.no_grad():
            mean = network.policy.greedy(network.features(observations), None).numpy().astype(np.float64)
        if self.mode == "sample":
            std = np.exp(network.policy.log_std.detach().numpy().astype(np.float64))
            mean = mean + std * ndtri(episodes.uniforms())
        return network.policy.to_env(mean)
