"""Checkpoints of trained policies, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors and strings, so no pickled code is ever executed on load.

Layout: ``{"format": "linkmech-policy", "version": 1, "spec": {...}, "state_dict": {...}, "seats": [...],
"shared": bool, "env": str, "env_options": {...}, "config": {...}}``. One file per network; a shared network
lists every seat it plays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from linkmech.training.policy import ActorCritic, build_policy

FORMAT = "linkmech-policy"
VERSION = 1


def save_policy(
    path: str | Path,
    policy: ActorCritic,
    seats: list[str],
    shared: bool,
    env: str,
    env_options: dict[str, Any],
    config: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint of ``policy`` (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "spec": policy.spec(),
        "state_dict": {k: v.detach().clone() for k, v in policy.state_dict().items()},
        "seats": list(seats),
        "shared": bool(shared),
        "env": env,
        # JSON text: options may hold values torch's safe loader does not accept (e.g. None inside lists)
        "env_options": json.dumps(env_options),
        "config": json.dumps(config or {}),
    }
    torch.save(payload, path)
    return path


def load_policy(path: str | Path) -> tuple[ActorCritic, dict[str, Any]]:
    """The network and its metadata (``seats``, ``shared``, ``env``, ``env_options``, ``config``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a linkmech policy checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint: {str(path)!r} does not exist; give the .pt file `linkmech train` wrote"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors have many types
        raise ValueError(
            f"checkpoint {str(path)!r}: not loadable with weights_only=True ({error})"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"checkpoint {str(path)!r}: not a {FORMAT} file (written by linkmech.training.save_policy)"
        )
    if payload.get("version") != VERSION:
        raise ValueError(
            f"checkpoint {str(path)!r}: version {payload.get('version')!r}; this linkmech reads {VERSION}"
        )
    policy = build_policy(payload["spec"])
    policy.load_state_dict(payload["state_dict"])
    policy.eval()
    meta = {
        "seats": list(payload["seats"]),
        "shared": bool(payload["shared"]),
        "env": payload["env"],
        "env_options": json.loads(payload["env_options"]),
        "config": json.loads(payload["config"]),
    }
    return policy, meta
