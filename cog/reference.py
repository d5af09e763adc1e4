"""The straightforward CQL loss, written the way the original code computes it.

Every network call is a separate full forward: each image is repeated N times and
re-encoded for every sampled-action batch, the action is concatenated to the features and
the whole first layer is applied, the policy is re-run on the repeated observations.  It
shares the parameters (and the random numbers, via ``cog.algos.cql.Noise``) with the fast
``CQL``, so the two must give the same loss values: ``tests/test_train_cql_formula.py``
checks this, and ``benchmarks/train_speed.py`` times both side by side.

It is also written independently of ``CQL.losses`` (no shared loss code), so it doubles as
a second reading of the (CQL) equation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from cog.algos.cql import CQL, Noise, draw_noise
from cog.distributions import tanh_gaussian_log_prob, tanh_gaussian_sample
from cog.networks import Obs, straightforward_encoders
from cog.replay import Batch


def repeat_obs(obs: Obs, n: int) -> Obs:
    """Each observation repeated n times, consecutively: row b*n + j is observation b."""
    return {k: v.repeat_interleave(n, dim=0) for k, v in obs.items()}


def _policy(algo: CQL, obs: Obs) -> tuple[Tensor, Tensor]:
    return algo.nets.policy(obs)


def _q_repeated(critic, obs: Obs, actions: Tensor) -> Tensor:
    """Q of (B, N, A) actions by repeating and re-encoding observations -> (n_q, B, N)."""
    b, n, a = actions.shape
    q = critic.q_naive(repeat_obs(obs, n), actions.reshape(b * n, a))
    return q.view(q.shape[0], b, n)


def _sample_repeated(mean: Tensor, log_std: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
    """Sample with the policy run on repeated observations (mean is already (B*N, A))."""
    b, n, a = noise.shape
    act, logp = tanh_gaussian_sample(mean, log_std, noise.reshape(b * n, 1, a))
    return act.view(b, n, a), logp.view(b, n)


def reference_losses(algo: CQL, batch: Batch, noise: Noise) -> dict[str, Tensor]:
    cfg, nets = algo.cfg, algo.nets
    critic, target = nets.critic, nets.critic_target
    obs, next_obs, actions = batch.obs, batch.next_obs, batch.actions
    n = cfg.cql_n_actions
    alpha_ent = algo.entropy_alpha()

    with torch.no_grad():
        nt = noise.target.shape[1]
        m2, s2 = _policy(algo, repeat_obs(next_obs, nt))
        a_targ, logp_targ = _sample_repeated(m2, s2, noise.target)
        q_targ = _q_repeated(target, next_obs, a_targ)
        if cfg.max_backup:
            v = torch.minimum(q_targ[0].max(dim=1).values, q_targ[1].max(dim=1).values)
        else:
            v = torch.minimum(q_targ[0, :, 0], q_targ[1, :, 0])
            if cfg.backup_entropy:
                v = v - alpha_ent * logp_targ[:, 0]
        gamma = cfg.discount if batch.discounts is None else batch.discounts
        y = batch.rewards + gamma * (1.0 - batch.dones) * v

        mc, sc = _policy(algo, repeat_obs(obs, n))
        a_curr, logp_curr = _sample_repeated(mc, sc, noise.curr)
        mn, sn = _policy(algo, repeat_obs(next_obs, n))
        a_next, logp_next = _sample_repeated(mn, sn, noise.next)

    q_data = critic.q_naive(obs, actions)  # (n_q, B)
    q_rand = _q_repeated(critic, obs, noise.uniform) + algo.action_dim * math.log(2.0)
    q_curr = _q_repeated(critic, obs, a_curr) - logp_curr
    q_next = _q_repeated(critic, obs, a_next) - logp_next
    cat = torch.cat([q_rand, q_curr, q_next], dim=2)

    critic_loss = torch.zeros((), device=actions.device)
    gaps = []
    for i in range(q_data.shape[0]):
        mse = cfg.bellman_weight * ((q_data[i] - y) ** 2).mean()
        gap = torch.logsumexp(cat[i], dim=1).mean() - q_data[i].mean()
        gaps.append(gap)
        term = cfg.cql_alpha * gap
        if cfg.lagrange:
            term = algo.alpha_prime().detach() * (term - cfg.lagrange_tau)
        critic_loss = critic_loss + mse + term

    mean, log_std = _policy(algo, obs)
    a_pi, logp_pi = tanh_gaussian_sample(mean, log_std, noise.policy)
    if algo.step < cfg.bc_warmup_steps:
        fit = tanh_gaussian_log_prob(mean, log_std, actions)
    else:
        q_pi = critic.q_naive(obs, a_pi[:, 0])
        fit = torch.minimum(q_pi[0], q_pi[1])
    policy_loss = (alpha_ent * logp_pi[:, 0] - fit).mean()
    alpha_loss = -(algo.log_alpha * (logp_pi[:, 0].detach() + algo.target_entropy)).mean()
    gap = torch.stack(gaps)
    alpha_prime_loss = torch.zeros((), device=actions.device)
    if cfg.lagrange:
        alpha_prime_loss = -(algo.alpha_prime() * (cfg.cql_alpha * gap.detach()
                                                   - cfg.lagrange_tau)).mean()
    return {"critic": critic_loss, "policy": policy_loss, "alpha": alpha_loss,
            "alpha_prime": alpha_prime_loss, "gap": gap.mean(), "q_data": q_data.mean()}


def reference_update(algo: CQL, batch: Batch) -> dict[str, Tensor]:
    """One full update (losses, three Adam steps, Polyak) the straightforward way."""
    noise = draw_noise(algo.cfg, batch.actions.shape[0], algo.action_dim, algo.generator,
                       algo.device)
    with straightforward_encoders(algo.nets):  # conv -> relu -> pool, as the paper writes it
        losses = reference_losses(algo, batch, noise)
        algo.apply(losses)  # the optimiser steps are the same code in both
    return losses
