"""Export a trained policy to a self-contained TorchScript file (``cog export``).

The exported module takes raw inputs, as the env or a real camera gives them:
    image uint8 (H, W, 3) or (B, H, W, 3) at the policy's image size,
    state float32 (D,) or (B, D): the observation keys listed in the metadata's
        ``state_keys``, concatenated (proprioception; plus the privileged ``object`` vector
        for state-observation policies, which therefore run in simulation only),
and returns the deterministic action tanh(mean), (8,) or (B, 8).  The network part is
traced (it has no control flow); a small scripted wrapper handles the optional batch axis
and checks shapes with clear messages.  Load it with ``policies.load_exported``.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from cog.config import TrainConfig, state_keys
from cog.networks import ActorCritic
from envs.atomic import write_bytes_atomic
from policies.exported import META_FILE


class _ActorCore(nn.Module):
    """(B, H, W, 3) uint8 + (B, S) float -> (B, A) deterministic action."""

    def __init__(self, nets: ActorCritic):
        super().__init__()
        self.actor = nets.actor
        # The fast preset's actor reads the critic's (shared) encoder.
        self.critic_encoder = nets.critic.encoder if nets.actor.encoder is None else None

    def forward(self, image: Tensor, state: Tensor) -> Tensor:
        obs = {"image": image, "state": state}
        mean, _ = self.actor.distribution(obs, critic_encode=self.critic_encoder)
        return torch.tanh(mean)


class _PolicyWrapper(nn.Module):
    def __init__(self, core: nn.Module, image_size: int, state_dim: int, uses_image: bool):
        super().__init__()
        self.core = core
        self.uses_image = uses_image  # state-only policies accept (and ignore) any image
        self.image_size = image_size
        self.state_dim = state_dim

    def forward(self, image: Tensor, state: Tensor) -> Tensor:
        single = state.dim() == 1
        if single:
            image = image.unsqueeze(0)
            state = state.unsqueeze(0)
        if state.dim() != 2 or state.shape[1] != self.state_dim:
            raise ValueError("state must be (D,) or (B, D) with D the policy's state_dim")
        if image.dim() != 4 or image.shape[3] != 3:
            raise ValueError("image must be (H, W, 3) or (B, H, W, 3) uint8")
        if self.uses_image and (image.shape[1] != self.image_size
                                or image.shape[2] != self.image_size):
            raise ValueError("image size differs from the policy's: "
                             "resize with envs.camera.preprocess_image")
        if image.shape[0] != state.shape[0]:
            raise ValueError("image and state batch sizes differ")
        action = self.core(image.to(torch.uint8).contiguous(), state.to(torch.float32))
        return action.squeeze(0) if single else action


def build_scripted_policy(nets: ActorCritic) -> torch.jit.ScriptModule:
    spec = nets.spec
    core = _ActorCore(nets).eval().cpu()
    example = (torch.zeros(2, spec.image_size, spec.image_size, 3, dtype=torch.uint8),
               torch.zeros(2, spec.state_dim))
    wrapper_args = (spec.image_size, spec.state_dim, spec.obs == "image")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript: deprecated, works
        traced = torch.jit.trace(core, example, check_trace=False)
        return torch.jit.script(_PolicyWrapper(traced, *wrapper_args))


def export_bytes(nets: ActorCritic, cfg: TrainConfig, step: int) -> bytes:
    module = build_scripted_policy(nets)
    meta = {"obs": cfg.obs, "net": cfg.resolved_net(), "algo": cfg.algo,
            "image_size": nets.spec.image_size, "state_dim": nets.spec.state_dim,
            "state_keys": list(state_keys(cfg.obs)),
            "action_dim": nets.spec.action_dim, "step": step, "config": cfg.to_dict()}
    buf = io.BytesIO()
    with warnings.catch_warnings():  # torch 2.13 marks TorchScript deprecated; it still works
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(module, buf, _extra_files={META_FILE: json.dumps(meta)})
    return buf.getvalue()


def export_policy(nets: ActorCritic, cfg: TrainConfig, step: int,
                  out: str | os.PathLike) -> Path:
    out = Path(out)
    write_bytes_atomic(out, export_bytes(nets, cfg, step))
    return out

