"""Behaviour cloning: maximise log pi(a_D | s) of the tanh-Gaussian policy.

Which data it clones (task only, all, successful episodes only) is the replay buffer's
business; this file only fits the policy to whatever batches it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from cog.distributions import policy_action, tanh_gaussian_log_prob
from cog.networks import ActorCritic, Obs
from cog.replay import Batch


@dataclass
class BCConfig:
    policy_lr: float = 1e-4

    @classmethod
    def from_train_config(cls, cfg) -> BCConfig:
        return cls(policy_lr=cfg.policy_lr)


class BC:
    def __init__(self, nets: ActorCritic, cfg: BCConfig, *, seed: int = 0,
                 device: str | torch.device = "cpu"):
        self.nets, self.cfg = nets, cfg
        self.device = torch.device(device)
        self.shares_encoder = nets.actor.uses_critic_features
        params = list(nets.actor.parameters())
        if self.shares_encoder:
            # The fast preset's actor has no encoder of its own: BC trains the critic's.
            params += list(nets.critic.encoder.parameters())
        self.params = params
        self.opt = torch.optim.Adam(params, lr=cfg.policy_lr)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.step = 0

    def _dist(self, obs: Obs) -> tuple[Tensor, Tensor]:
        return self.nets.policy(obs, train_shared_encoder=True)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        mean, log_std = self._dist(batch.obs)
        loss = -tanh_gaussian_log_prob(mean, log_std, batch.actions).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward(inputs=self.params)
        self.opt.step()
        self.step += 1
        with torch.no_grad():
            mse = (torch.tanh(mean) - batch.actions).pow(2).mean()
        return {"loss/policy": loss.detach(), "bc/mse": mse}

    @torch.no_grad()
    def heldout_stats(self, batch: Batch) -> dict[str, float]:
        """The behaviour-cloning loss on held-out transitions (BC has no Q)."""
        mean, log_std = self._dist(batch.obs)
        return {"heldout/bc_nll": float(-tanh_gaussian_log_prob(mean, log_std,
                                                                batch.actions).mean())}

    @torch.no_grad()
    def act(self, obs: Obs, deterministic: bool = True,
            generator: torch.Generator | None = None) -> Tensor:
        mean, log_std = self._dist(obs)
        return policy_action(mean, log_std, deterministic, generator or self.generator)

    def state_dict(self) -> dict:
        return {"nets": self.nets.state_dict(), "opt": self.opt.state_dict(),
                "generator": self.generator.get_state(), "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.nets.load_state_dict(state["nets"])
        self.opt.load_state_dict(state["opt"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
