"""Atomic checkpoints: everything needed to continue a run exactly.

Written with ``torch.save`` to a temp file in the run directory, then ``os.replace``: a run
killed at any moment (SIGKILL included) leaves either the previous or the new checkpoint,
never half of one.  Read with ``torch.load(weights_only=True)``: tensors, numbers, strings,
lists and dicts only, no pickled code.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

from envs.atomic import write_bytes_atomic

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def checkpoint_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CHECKPOINT_NAME


def save_checkpoint(run_dir: str | os.PathLike, state: dict[str, Any]) -> Path:
    buf = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **state}, buf)
    path = checkpoint_path(run_dir)
    write_bytes_atomic(path, buf.getvalue())
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    mmap: bool = False) -> dict:
    """Load and sanity-check a checkpoint; a clear ValueError if it is damaged. ``mmap``
    maps the tensors instead of reading them: cheap when only the step is wanted."""
    path = Path(path)
    if path.is_dir():
        path = checkpoint_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # torch raises many types for damaged zip archives
        raise ValueError(f"checkpoint {path} is corrupt or not a cog checkpoint ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path} is not a cog checkpoint (format {FORMAT_VERSION})")
    for key in ("algo", "step", "rng"):
        if key not in state:
            raise ValueError(f"checkpoint {path} is missing {key!r}")
    return state


def rng_state(extra: dict[str, torch.Generator]) -> dict[str, torch.Tensor]:
    """torch's global CPU (and CUDA) RNG plus the named generators the run owns."""
    state = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state()
    for name, gen in extra.items():
        state[name] = gen.get_state()
    return state


def restore_rng_state(state: dict[str, torch.Tensor], extra: dict[str, torch.Generator]) -> None:
    torch.set_rng_state(state["torch_cpu"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["torch_cuda"])
    for name, gen in extra.items():
        gen.set_state(state[name])
