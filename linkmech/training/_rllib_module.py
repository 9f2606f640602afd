"""RLlib's PPO module with linkmech's action masks (imported only where Ray RLlib is installed).

linkmech's discrete envs observe ``{"observation": float32 vector, "action_mask": int8 vector}``. This
module runs RLlib's default PPO torch module on the ``"observation"`` vector and adds ``log(mask)`` (clamped
to RLlib's ``FLOAT_MIN``) to the action logits, so masked actions get probability 0 when sampling, in
inference and in the PPO loss. It follows RLlib's ``ActionMaskingTorchRLModule`` example (whose key is
``"observations"``), for linkmech's key ``"observation"`` and int8 masks.

Use it through :func:`linkmech.training.rllib.ppo_config`, which picks it for masked envs.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

try:  # Ray >= 2.40 names it DefaultPPOTorchRLModule; the old name still imports, with a warning
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import (
        DefaultPPOTorchRLModule as PPOTorchRLModule,
    )
except ImportError:  # pragma: no cover - older Ray
    from ray.rllib.algorithms.ppo.torch.ppo_torch_rl_module import PPOTorchRLModule
from ray.rllib.core.columns import Columns
from ray.rllib.utils.torch_utils import FLOAT_MIN
from torch import Tensor, clamp, log

OBSERVATION_KEY = "observation"
"""Key of the observation vector in linkmech's Dict observations."""

MASK_KEY = "action_mask"
"""Key of the action mask in linkmech's Dict observations."""


class MaskedPPOTorchRLModule(PPOTorchRLModule):  # type: ignore[misc]
    """PPO's default torch module on ``obs["observation"]``, with logits masked by ``obs["action_mask"]``."""

    def __init__(self, *, observation_space: gym.Space[Any] | None = None, **kwargs: Any) -> None:
        if not (
            isinstance(observation_space, gym.spaces.Dict)
            and OBSERVATION_KEY in observation_space.spaces
            and MASK_KEY in observation_space.spaces
        ):
            raise ValueError(
                f"MaskedPPOTorchRLModule: got observation space {observation_space}; it needs a Dict with "
                f"{OBSERVATION_KEY!r} and {MASK_KEY!r} (linkmech's Discrete-action envs); use RLlib's default "
                "PPO module for envs without masks"
            )
        self.observation_space_with_mask = observation_space
        super().__init__(observation_space=observation_space[OBSERVATION_KEY], **kwargs)

    def setup(self) -> None:
        """Build the default networks for the vector, then show RLlib the Dict space the env sends."""
        super().setup()
        self.observation_space = self.observation_space_with_mask

    def _forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, batch = self._split(batch)
        return self._mask(super()._forward_inference(batch, **kwargs), mask)

    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, batch = self._split(batch)
        return self._mask(super()._forward_exploration(batch, **kwargs), mask)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if isinstance(batch[Columns.OBS], dict):
            mask, batch = self._split(batch)
        else:
            mask = batch[MASK_KEY]
        return self._mask(super()._forward_train(batch, **kwargs), mask)

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> Any:
        """Values of the observation vectors (the mask does not enter the value function)."""
        if isinstance(batch[Columns.OBS], dict):
            _, batch = self._split(batch)
        return super().compute_values(batch, embeddings)

    @staticmethod
    def _split(batch: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        observation = batch[Columns.OBS]
        if MASK_KEY not in observation or OBSERVATION_KEY not in observation:
            raise ValueError(
                f"MaskedPPOTorchRLModule: the batch's observations have keys {sorted(observation)}; "
                f"expected {OBSERVATION_KEY!r} and {MASK_KEY!r}"
            )
        batch = dict(batch)
        batch[Columns.OBS] = observation[OBSERVATION_KEY]
        return observation[MASK_KEY], batch

    @staticmethod
    def _mask(outputs: dict[str, Any], mask: Tensor) -> dict[str, Any]:
        outputs[Columns.ACTION_DIST_INPUTS] = outputs[Columns.ACTION_DIST_INPUTS] + clamp(
            log(mask.float()), min=FLOAT_MIN
        )
        return outputs
