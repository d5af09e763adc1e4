"""CQL(H), SAC-based (Kumar et al. 2020), as COG uses it. One file, top to bottom.

For each Q network i (the facts file's equation, called (CQL) below):

    L_i = w * E_D[(Q_i(s,a) - y)^2]                                            (Bellman)
        + alpha * ( E_s[ logsumexp_j( Q_i(s,a_j) - log q(a_j) ) ] - E_D[Q_i(s,a)] )  (gap)

    y = r + gamma * (1 - done) * min_k Qtarget_k(s', a'),   a' ~ pi(.|s')          (target)

(with the n_step option, r is the replay's n-step discounted reward sum, s' the state k <= n
steps on, and gamma becomes gamma^k per row: ``batch.discounts``)

with w = bellman_weight (1 in COG's code, which uses nn.MSELoss; the CQL paper writes 1/2)
and the a_j: N uniform actions on [-1,1]^d (log q = -d log 2), N from pi(.|s) and N from
pi(.|s') (both evaluated at s); log q is detached.  Lagrange variant: alpha' >= 0 learned so
that alpha * gap stays near tau.  Policy (SAC):  E[ alpha_ent * log pi(a|s) - min_i Q_i(s,a) ],
replaced by behaviour cloning  E[ alpha_ent * log pi(a|s) - log pi(a_D|s) ]  for the first K
steps.  Entropy (SAC):  alpha_ent minimises  -log alpha_ent * (log pi + target_entropy).
Offline SAC is this file with cql_alpha = 0.

The losses only call the networks' ``encode``/``q``/``policy`` (see ``cog.networks``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from cog.config import CQLConfig
from cog.distributions import policy_action, tanh_gaussian_log_prob, tanh_gaussian_sample
from cog.networks import ActorCritic, Obs
from cog.replay import Batch


@dataclass
class Noise:
    """Every random number one update uses, drawn up front in a fixed order, so that the
    straightforward reference implementation can be fed exactly the same ones."""

    uniform: Tensor  # (B, N, A) uniform actions in [-1, 1]
    curr: Tensor  # (B, N, A) standard normal, for pi(.|s) actions in the logsumexp
    next: Tensor  # (B, N, A) standard normal, for pi(.|s') actions in the logsumexp
    target: Tensor  # (B, Nt, A) standard normal, for a' in the target (Nt = N with max-backup)
    policy: Tensor  # (B, 1, A) standard normal, for the policy loss's action


def draw_noise(cfg: CQLConfig, batch_size: int, action_dim: int,
               generator: torch.Generator, device: torch.device) -> Noise:
    n = cfg.cql_n_actions
    n_target = n if cfg.max_backup else 1

    def normal(k: int) -> Tensor:
        return torch.randn(batch_size, k, action_dim, generator=generator, device=device)

    uniform = torch.rand(batch_size, n, action_dim, generator=generator, device=device) * 2 - 1
    return Noise(uniform, normal(n), normal(n), normal(n_target), normal(1))


class CQL:
    def __init__(self, nets: ActorCritic, cfg: CQLConfig, *, seed: int = 0,
                 device: str | torch.device = "cpu"):
        self.nets, self.cfg = nets, cfg
        self.device = torch.device(device)
        self.action_dim = nets.spec.action_dim
        self.target_entropy = -float(self.action_dim)  # SAC's heuristic: -dim(A)
        self.log_alpha = torch.zeros(1, device=self.device, requires_grad=True)
        self.log_alpha_prime = torch.zeros(1, device=self.device, requires_grad=True)
        self.actor_params = list(nets.actor.parameters())
        self.critic_params = list(nets.critic.parameters())
        self.actor_opt = torch.optim.Adam(self.actor_params, lr=cfg.policy_lr)
        self.critic_opt = torch.optim.Adam(self.critic_params, lr=cfg.q_lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.entropy_lr)
        self.alpha_prime_opt = torch.optim.Adam([self.log_alpha_prime], lr=cfg.lagrange_lr)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.step = 0

    # ------------------------------------------------------------------------------------
    def entropy_alpha(self) -> Tensor:
        if self.cfg.auto_entropy:
            return self.log_alpha.exp().detach()
        return torch.full((1,), self.cfg.entropy_alpha, device=self.device)

    def alpha_prime(self) -> Tensor:
        return self.log_alpha_prime.exp().clamp(0.0, 1e6)

    def losses(self, batch: Batch, noise: Noise) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """All losses of one update with the current parameters (no optimiser step)."""
        cfg, nets = self.cfg, self.nets
        critic, target = nets.critic, nets.critic_target
        obs, next_obs, actions = batch.obs, batch.next_obs, batch.actions
        alpha_ent = self.entropy_alpha()

        # Encode each observation batch once per network; features are reused for every action.
        q_feats = critic.encode(obs)
        mean, log_std = nets.policy(obs, q_feats)

        with torch.no_grad():
            # Actions for the logsumexp: pi(.|s) and pi(.|s'), both to be evaluated at s.
            a_curr, logp_curr = tanh_gaussian_sample(mean.detach(), log_std.detach(), noise.curr)
            mean2, log_std2 = nets.policy(next_obs)
            a_next, logp_next = tanh_gaussian_sample(mean2, log_std2, noise.next)

            # (target) y = r + gamma * min_k Qtarget_k(s', a')
            a_targ, logp_targ = tanh_gaussian_sample(mean2, log_std2, noise.target)
            q_targ = target.q(target.encode(next_obs), a_targ)  # (n_q, B, Nt)
            if cfg.max_backup:
                v_next = q_targ.max(dim=2).values.min(dim=0).values  # max over a', min over k
            else:
                v_next = q_targ[:, :, 0].min(dim=0).values
                if cfg.backup_entropy:
                    v_next = v_next - alpha_ent * logp_targ[:, 0]
            gamma = cfg.discount if batch.discounts is None else batch.discounts
            y = batch.rewards + gamma * (1.0 - batch.dones) * v_next

        # One Q pass for the dataset action and all 3N sampled actions.
        n = cfg.cql_n_actions
        all_actions = torch.cat([actions.unsqueeze(1), noise.uniform, a_curr, a_next], dim=1)
        q_all = critic.q(q_feats, all_actions)  # (n_q, B, 1 + 3N)
        q_data = q_all[:, :, 0]  # Q_i(s, a) on dataset actions

        # (Bellman) w * E[(Q_i(s,a) - y)^2], per Q network.
        bellman = cfg.bellman_weight * (q_data - y.unsqueeze(0)).pow(2).mean(dim=1)  # (n_q,)

        # (gap) logsumexp_j (Q_i(s,a_j) - log q(a_j)): importance weights for each kind.
        log_q_uniform = torch.full_like(logp_curr, -self.action_dim * math.log(2.0))
        log_q = torch.cat([log_q_uniform, logp_curr, logp_next], dim=1)  # (B, 3N), detached
        lse = torch.logsumexp(q_all[:, :, 1:] - log_q.unsqueeze(0), dim=2)  # (n_q, B)
        gap = lse.mean(dim=1) - q_data.mean(dim=1)  # (n_q,)
        conservative = cfg.cql_alpha * gap
        if cfg.lagrange:
            # alpha' >= 0 grows while alpha*gap > tau and shrinks towards 0 below it.
            alpha_prime = self.alpha_prime()
            conservative = alpha_prime.detach() * (conservative - cfg.lagrange_tau)
            alpha_prime_loss = -(alpha_prime * (cfg.cql_alpha * gap.detach()
                                                - cfg.lagrange_tau)).mean()
        else:
            alpha_prime_loss = torch.zeros((), device=self.device)
        critic_loss = (bellman + conservative).sum()

        # Policy (SAC), or behaviour cloning during the warm-up.
        a_pi, logp_pi = tanh_gaussian_sample(mean, log_std, noise.policy)
        logp_pi = logp_pi[:, 0]
        if self.step < cfg.bc_warmup_steps:
            fit = tanh_gaussian_log_prob(mean, log_std, actions)
        else:
            fit = critic.q(q_feats.detach(), a_pi)[:, :, 0].min(dim=0).values
        policy_loss = (alpha_ent * logp_pi - fit).mean()
        alpha_loss = -(self.log_alpha * (logp_pi.detach() + self.target_entropy)).mean()

        losses = {"critic": critic_loss, "policy": policy_loss, "alpha": alpha_loss,
                  "alpha_prime": alpha_prime_loss}
        with torch.no_grad():
            metrics = {
                "loss/critic": critic_loss, "loss/policy": policy_loss,
                "loss/bellman": bellman.mean(),
                "q/data": q_data.mean(),
                "q/random": q_all[:, :, 1 : 1 + n].mean(),
                "q/policy": q_all[:, :, 1 + n : 1 + 2 * n].mean(),
                "q/target": y.mean(),
                "cql/gap": gap.mean(),
                "cql/alpha": (self.alpha_prime() if cfg.lagrange
                              else torch.tensor(cfg.cql_alpha, device=self.device)),
                "entropy/alpha": alpha_ent.squeeze(),
                "entropy/entropy": -logp_pi.mean(),
            }
        metrics = {k: v.detach() for k, v in metrics.items()}
        return losses, metrics

    @torch.no_grad()
    def heldout_stats(self, batch: Batch) -> dict[str, float]:
        """On transitions the critic never trained on: the TD error E[(Q_i(s,a) - y)^2]
        (mean over the Q networks) and the mean Q on their actions. Kumar et al.'s workflow
        (CoRL 2021) reads a large held-out TD error as underfitting; the target's policy
        action is drawn with a fixed seed, so the figure moves only with the networks."""
        cfg, nets = self.cfg, self.nets
        g = torch.Generator(device=self.device).manual_seed(0)
        noise = torch.randn(batch.actions.shape[0], 1, self.action_dim, generator=g,
                            device=self.device)
        mean2, log_std2 = nets.policy(batch.next_obs)
        a_targ, _ = tanh_gaussian_sample(mean2, log_std2, noise)
        v_next = nets.critic_target.q(nets.critic_target.encode(batch.next_obs),
                                      a_targ)[:, :, 0].min(dim=0).values
        gamma = cfg.discount if batch.discounts is None else batch.discounts
        y = batch.rewards + gamma * (1.0 - batch.dones) * v_next
        q_data = nets.critic.q(nets.critic.encode(batch.obs), batch.actions.unsqueeze(1))[:, :, 0]
        return {"heldout/td_error": float((q_data - y.unsqueeze(0)).pow(2).mean()),
                "heldout/q_data": float(q_data.mean())}

    def update(self, batch: Batch) -> dict[str, Tensor]:
        noise = draw_noise(self.cfg, batch.actions.shape[0], self.action_dim, self.generator,
                           self.device)
        losses, metrics = self.losses(batch, noise)
        self.apply(losses)
        return metrics

    def apply(self, losses: dict[str, Tensor]) -> None:
        """Step every optimiser on gradients of the losses w.r.t. its own parameters only
        (``inputs=`` keeps the policy loss's gradient out of the critic)."""
        for opt in (self.actor_opt, self.critic_opt, self.alpha_opt, self.alpha_prime_opt):
            opt.zero_grad(set_to_none=True)
        losses["policy"].backward(inputs=self.actor_params)
        losses["critic"].backward(inputs=self.critic_params)
        self.actor_opt.step()
        self.critic_opt.step()
        if self.cfg.auto_entropy:
            losses["alpha"].backward(inputs=[self.log_alpha])
            self.alpha_opt.step()
        if self.cfg.lagrange:
            losses["alpha_prime"].backward(inputs=[self.log_alpha_prime])
            self.alpha_prime_opt.step()
        self.polyak_update()
        self.step += 1

    @torch.no_grad()
    def polyak_update(self) -> None:
        tau = self.cfg.polyak_tau
        online = list(self.nets.critic.parameters())
        targets = list(self.nets.critic_target.parameters())
        torch._foreach_lerp_(targets, online, tau)  # t <- t + tau * (o - t)

    # ------------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Obs, deterministic: bool = True,
            generator: torch.Generator | None = None) -> Tensor:
        """Batch of actions in [-1, 1]; deterministic = tanh(mean), for evaluation.
        Stochastic actions draw from ``generator`` (default: the algorithm's own)."""
        nets = self.nets
        mean, log_std = nets.policy(obs)
        return policy_action(mean, log_std, deterministic, generator or self.generator)

    def state_dict(self) -> dict:
        return {
            "nets": self.nets.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "log_alpha_prime": self.log_alpha_prime.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
            "alpha_prime_opt": self.alpha_prime_opt.state_dict(),
            "generator": self.generator.get_state(),
            "step": self.step,
        }

    def load_state_dict(self, state: dict) -> None:
        self.nets.load_state_dict(state["nets"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
            self.log_alpha_prime.copy_(state["log_alpha_prime"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.alpha_prime_opt.load_state_dict(state["alpha_prime_opt"])
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
