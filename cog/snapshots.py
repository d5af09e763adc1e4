"""Policy snapshots: a small file per evaluation interval, so any past step can be evaluated,
selected (``cog select``) or exported (``cog export --step N``) after the run.

A snapshot holds the weights the policy needs (the actor, plus the critic's encoder where the
actor reads its features), the network dimensions, the step, and the training statistics at
that step (the last logging window's means and the held-out TD error and Q). The rolling
``checkpoint.pt`` still holds everything needed to resume; snapshots are for looking back.

Files are ``RUN/snapshots/step_00012000.pt``, written atomically, read with
``torch.load(weights_only=True)``; ``RUN/snapshots/index.csv`` lists their statistics.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import torch

from cog.config import TrainConfig
from cog.networks import ActorCritic
from envs.atomic import write_bytes_atomic

SNAPSHOT_DIR = "snapshots"
_NAME = re.compile(r"^step_(\d{8})\.pt$")


def snapshot_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / SNAPSHOT_DIR


def snapshot_path(run_dir: str | os.PathLike, step: int) -> Path:
    return snapshot_dir(run_dir) / f"step_{int(step):08d}.pt"


def policy_keys(nets: ActorCritic) -> list[str]:
    """The state-dict keys acting needs: the actor's, and the critic encoder's when the actor
    reads the critic's features (fast and state presets)."""
    prefixes = ["actor."]
    if nets.actor.encoder is None:
        prefixes.append("critic.encoder.")
    return [k for k in nets.state_dict() if k.startswith(tuple(prefixes))]


def save_snapshot(run_dir: str | os.PathLike, step: int, nets: ActorCritic,
                  stats: dict[str, float]) -> Path:
    state = nets.state_dict()
    spec = nets.spec
    payload = {
        "step": int(step),
        "policy": {k: state[k].detach().cpu().clone() for k in policy_keys(nets)},
        "spec": {"image_size": spec.image_size, "state_dim": spec.state_dim,
                 "action_dim": spec.action_dim},
        "stats": {k: float(v) for k, v in stats.items()},
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    path = snapshot_path(run_dir, step)
    write_bytes_atomic(path, buf.getvalue())
    return path


def snapshot_steps(run_dir: str | os.PathLike) -> list[int]:
    folder = snapshot_dir(run_dir)
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name)))


def read_snapshot(run_dir: str | os.PathLike, step: int) -> dict:
    path = snapshot_path(run_dir, step)
    if not path.is_file():
        have = snapshot_steps(run_dir)
        raise FileNotFoundError(
            f"run {run_dir} has no snapshot at step {step}; it has "
            + (", ".join(map(str, have)) if have else "none"))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged zip archives
        raise ValueError(f"snapshot {path} is corrupt ({exc})") from None
    if not isinstance(state, dict) or not {"step", "policy", "spec", "stats"} <= set(state):
        raise ValueError(f"{path} is not a cog policy snapshot")
    return state


def load_snapshot(run_dir: str | os.PathLike, step: int) -> tuple[ActorCritic, TrainConfig]:
    """The run's networks with the snapshot's policy weights (critic heads left at their
    initial values: a snapshot is for acting), in eval mode, and the run's config."""
    from cog.trainer import build_nets

    cfg = TrainConfig.load(Path(run_dir) / "config.json")
    state = read_snapshot(run_dir, step)
    nets = build_nets(cfg, **{k: int(v) for k, v in state["spec"].items()})
    needed = set(policy_keys(nets))
    missing = sorted(needed - set(state["policy"]))
    if missing:
        raise ValueError(f"snapshot at step {step} of {run_dir} lacks {missing[0]} "
                         f"(and {len(missing) - 1} more): it does not match the run's config")
    try:
        nets.load_state_dict(state["policy"], strict=False)
    except RuntimeError as exc:
        raise ValueError(f"snapshot at step {step} of {run_dir} does not match the run's "
                         f"networks ({str(exc).splitlines()[0]})") from None
    return nets.eval(), cfg


def prune_after(run_dir: str | os.PathLike, step: int) -> None:
    """On resume from a checkpoint at ``step``: snapshots taken after it are re-made."""
    for s in snapshot_steps(run_dir):
        if s > step:
            snapshot_path(run_dir, s).unlink(missing_ok=True)
