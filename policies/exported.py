"""Learned policies exported by ``cog export``: a TorchScript file behind the Policy protocol.

The file is self-contained: it takes the raw uint8 camera image (H, W, 3) or (B, H, W, 3)
at the policy's image size and the float32 low-dimensional state, does its own
preprocessing, and returns the deterministic 8-D action in [-1, 1].  Loading it needs only
torch (no pickle: TorchScript archives hold code and tensors), so the real-robot layer can
use it without the training library.

The low-dimensional input is the concatenation of the observation keys in the metadata's
``state_keys``: ``["state"]`` (proprioception, 10 numbers) for image policies, and
``["state", "object"]`` for state policies, whose privileged ``object`` vector only a
simulator provides.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

META_FILE = "cog_policy.json"


class ExportedPolicy:
    """Policy protocol over an exported TorchScript module."""

    def __init__(self, module, meta: dict[str, Any]):
        self.module = module
        self.meta = meta
        self.image_size = int(meta.get("image_size", 48))
        self.obs_kind = str(meta.get("obs", "image"))
        self.state_keys = tuple(meta.get("state_keys", ["state"]))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ExportedPolicy:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no exported policy at {path}")
        return cls._load(str(path), f"exported policy {path}")

    @classmethod
    def from_bytes(cls, data: bytes) -> ExportedPolicy:
        return cls._load(io.BytesIO(data), "exported policy bytes")

    @classmethod
    def _load(cls, source, what: str) -> ExportedPolicy:
        import torch

        extra = {META_FILE: ""}
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13, not gone
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(source, map_location="cpu", _extra_files=extra)
        except Exception as exc:  # damaged zip, not TorchScript, ...
            raise ValueError(f"{what} is not a valid TorchScript policy ({exc})") from None
        try:
            meta = json.loads(extra[META_FILE] or "{}")
        except json.JSONDecodeError:
            raise ValueError(f"{what} has unreadable metadata") from None
        module.eval()
        return cls(module, meta)

    def reset(self, seed: int | None = None) -> None:
        return None  # deterministic: nothing to re-seed

    def act(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        import torch

        missing = [k for k in self.state_keys if k not in obs]
        if missing:
            raise ValueError(
                f"this policy reads observation key(s) {missing}, which the observation lacks "
                f"(it has {sorted(obs)}); a state policy needs the simulator's privileged "
                "'object' state and cannot run on a real arm"
            )
        parts = [np.asarray(obs[k], dtype=np.float32) for k in self.state_keys]
        state = torch.as_tensor(np.concatenate(parts, axis=-1))
        if "image" in obs:
            image = torch.as_tensor(np.asarray(obs["image"], dtype=np.uint8))
        else:  # state-only policies ignore the image; give them a correctly shaped blank
            image = torch.zeros(self.image_size, self.image_size, 3, dtype=torch.uint8)
        with torch.inference_mode():
            try:
                action = self.module(image, state)
            except torch.jit.Error as exc:  # the module's own shape checks
                lines = [ln for ln in str(exc).splitlines() if ln.strip()]
                raise ValueError(f"exported policy refused its input: {lines[-1]}") from None
        return action.numpy().astype(np.float32)


def load_exported(path: str | os.PathLike) -> ExportedPolicy:
    """Load a ``cog export`` file as a Policy (``reset``, ``act(obs, info)``)."""
    return ExportedPolicy.load(path)
