"""Reading finished (or running) runs back: networks, config and step from a run directory."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from cog.checkpoint import checkpoint_path, load_checkpoint
from cog.config import TrainConfig
from cog.distributions import policy_action
from cog.networks import ActorCritic


def load_run(run_dir: str | os.PathLike, step: int | None = None
             ) -> tuple[ActorCritic, TrainConfig, int]:
    """The trained networks (on CPU, eval mode), the run's config and their step: the last
    checkpoint's, or with ``step`` the policy snapshot taken at that step."""
    from cog.trainer import build_nets

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    if step is not None:
        from cog.snapshots import load_snapshot

        nets, cfg = load_snapshot(run_dir, step)
        return nets, cfg, int(step)
    cfg = TrainConfig.load(run_dir / "config.json")
    state = load_checkpoint(checkpoint_path(run_dir))
    nets_state = state["algo"].get("nets") if isinstance(state["algo"], dict) else None
    if nets_state is None:
        raise ValueError(f"checkpoint in {run_dir} holds no networks")
    if "spec" not in state:
        raise ValueError(f"checkpoint in {run_dir} holds no network spec")
    dims = {k: int(v) for k, v in state["spec"].items()}
    nets = build_nets(cfg, **dims)
    try:
        nets.load_state_dict(nets_state)
    except RuntimeError as exc:
        raise ValueError(f"checkpoint in {run_dir} does not match its config ({exc})") from None
    return nets.eval(), cfg, int(state["step"])


class GreedyActor:
    """Acting with loaded networks (no optimiser): ``act(obs) -> tanh(mean)``, as CQL/BC do."""

    def __init__(self, nets: ActorCritic):
        self.nets = nets

    @torch.no_grad()
    def act(self, obs, deterministic: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
        mean, log_std = self.nets.policy(obs)
        return policy_action(mean, log_std, deterministic, generator)
