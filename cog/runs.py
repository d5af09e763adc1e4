"""Reading finished (or running) runs back: networks, config and step from a run directory."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from cog.checkpoint import checkpoint_path, load_checkpoint
from cog.config import TrainConfig
from cog.networks import ActorCritic, NetSpec


def load_run(run_dir: str | os.PathLike) -> tuple[ActorCritic, TrainConfig, int]:
    """The trained networks (on CPU, eval mode), the run's config and the checkpoint step."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    cfg = TrainConfig.load(run_dir / "config.json")
    state = load_checkpoint(checkpoint_path(run_dir))
    nets_state = state["algo"].get("nets") if isinstance(state["algo"], dict) else None
    if nets_state is None:
        raise ValueError(f"checkpoint in {run_dir} holds no networks")
    if "spec" in state:
        dims = {k: int(v) for k, v in state["spec"].items()}
        spec = NetSpec(cfg.resolved_net(), cfg.obs, use_state=cfg.image_use_state, **dims)
    else:
        spec = spec_from_state(cfg, nets_state)
    nets = ActorCritic(spec)
    try:
        nets.load_state_dict(nets_state)
    except RuntimeError as exc:
        raise ValueError(f"checkpoint in {run_dir} does not match its config ({exc})") from None
    return nets.eval(), cfg, int(state["step"])


def spec_from_state(cfg: TrainConfig, nets_state: dict) -> NetSpec:
    """Recover the image size from the stored weights, so a run needs no dataset to load."""
    image_size = 48
    preset = cfg.resolved_net()
    if preset == "cog":
        w = nets_state["critic.heads.0.first.weight"]
        extra = 10 if cfg.image_use_state else 0
        image_size = int(round(((w.shape[1] - 8 - extra) / 16) ** 0.5)) * 4
    elif preset == "fast":
        w = nets_state["critic.encoder.proj.weight"]
        side = int(round((w.shape[1] / 32) ** 0.5))
        image_size = side * 8
    return NetSpec(preset, cfg.obs, image_size=image_size, use_state=cfg.image_use_state)


class GreedyActor:
    """Acting with loaded networks (no optimiser): ``act(obs) -> tanh(mean)``, as CQL/BC do."""

    def __init__(self, nets: ActorCritic):
        self.nets = nets

    @torch.no_grad()
    def act(self, obs, deterministic: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
        nets = self.nets
        feats = nets.critic.encode(obs) if nets.actor.uses_critic_features else None
        mean, log_std = nets.actor(nets.actor.encode(obs, feats))
        if deterministic:
            return torch.tanh(mean)
        noise = torch.randn(mean.shape, device=mean.device, generator=generator)
        return torch.tanh(mean + log_std.exp() * noise)
