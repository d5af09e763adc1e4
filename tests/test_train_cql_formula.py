"""Correctness test 1 and the speed tricks' equality: CQL loss values against independent
computations (an explicit per-sample formula, and the straightforward re-encoding code)."""

from __future__ import annotations

import math

import pytest
import torch

from cog.algos.cql import CQL, CQLConfig, draw_noise
from cog.distributions import tanh_gaussian_sample
from cog.networks import ActorCritic, NetSpec, straightforward_encoders
from cog.reference import reference_losses
from cog.replay import Batch
from cog.testing import random_batch


def _batch(b: int, image_size: int = 48, seed: int = 0) -> Batch:
    return random_batch(b, image_size, seed)


@pytest.mark.parametrize("bellman_weight", [1.0, 0.5])
def test_cql_loss_matches_the_facts_formula_sample_by_sample(bellman_weight):
    """bellman_weight 1 is COG's code (nn.MSELoss); 0.5 is the CQL paper's 1/2."""
    torch.manual_seed(0)
    nets = ActorCritic(NetSpec("state", "state"))
    cfg = CQLConfig(cql_n_actions=2, cql_alpha=1.7, bc_warmup_steps=0, discount=0.9,
                    bellman_weight=bellman_weight)
    algo = CQL(nets, cfg, seed=3)
    b, n, d = 3, 2, 8
    batch = _batch(b)
    noise = draw_noise(cfg, b, d, algo.generator, algo.device)
    losses, _ = algo.losses(batch, noise)

    # Independent computation: one observation and one action at a time, python loops.
    critic, target, actor = nets.critic, nets.critic_target, nets.actor
    with torch.no_grad():
        def q(net, i, s, a):  # Q_i(s, a) for a single state/action
            return float(net.q_naive({"state": s[None]}, a[None])[i, 0])

        def pi(s, eps):  # a ~ pi(.|s) with the given standard-normal noise, and log pi(a|s)
            mean, log_std = actor(actor.encode({"state": s[None]}))
            a, logp = tanh_gaussian_sample(mean, log_std, eps[None, None])
            return a[0, 0], float(logp[0, 0])

        total = 0.0
        for i in range(2):
            sq_err, lse_sum, q_sum = 0.0, 0.0, 0.0
            for k in range(b):
                s, s2 = batch.obs["state"][k], batch.next_obs["state"][k]
                a2, _ = pi(s2, noise.target[k, 0])
                y = float(batch.rewards[k]) + 0.9 * min(q(target, 0, s2, a2), q(target, 1, s2, a2))
                q_data = q(critic, i, s, batch.actions[k])
                sq_err += (q_data - y) ** 2
                terms = []
                for j in range(n):
                    terms.append(q(critic, i, s, noise.uniform[k, j]) - (-d * math.log(2)))
                for j in range(n):
                    a, logp = pi(s, noise.curr[k, j])
                    terms.append(q(critic, i, s, a) - logp)
                for j in range(n):
                    a, logp = pi(s2, noise.next[k, j])
                    terms.append(q(critic, i, s, a) - logp)
                m = max(terms)
                lse_sum += m + math.log(sum(math.exp(t - m) for t in terms))
                q_sum += q_data
            total += bellman_weight * sq_err / b + 1.7 * (lse_sum / b - q_sum / b)
    assert float(losses["critic"].detach()) == pytest.approx(total, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize(
    "preset,obs,cfg",
    [
        ("cog", "image", CQLConfig(cql_n_actions=2, bc_warmup_steps=5)),
        ("cog", "image", CQLConfig(cql_n_actions=2, bc_warmup_steps=0, max_backup=True,
                                   lagrange=True)),
        ("fast", "image", CQLConfig(cql_n_actions=3, bc_warmup_steps=0)),
        ("state", "state", CQLConfig(cql_n_actions=3, bc_warmup_steps=0, backup_entropy=True)),
        ("thumb", "image", CQLConfig(cql_n_actions=2, bc_warmup_steps=0)),
    ],
)
def test_fast_losses_equal_the_straightforward_implementation(preset, obs, cfg):
    """Encode-once, the split first layer and channels_last change no loss value."""
    torch.manual_seed(1)
    algo = CQL(ActorCritic(NetSpec(preset, obs)), cfg, seed=5)
    batch = _batch(4)
    for _ in range(2):  # also after one optimiser step, on moved parameters
        noise = draw_noise(cfg, 4, 8, algo.generator, algo.device)
        fast, _ = algo.losses(batch, noise)
        with straightforward_encoders(algo.nets):
            ref = reference_losses(algo, batch, noise)
        for key in ("critic", "policy", "alpha", "alpha_prime"):
            got, want = float(fast[key].detach()), float(ref[key].detach())
            assert got == pytest.approx(want, rel=1e-5, abs=1e-5), key
        algo.apply(fast)


def test_cog_preset_has_the_papers_size():
    nets = ActorCritic(NetSpec("cog", "image"))
    n = sum(p.numel() for p in nets.actor.parameters()) + sum(
        p.numel() for p in nets.critic.parameters())
    assert 8.5e6 < n < 9.5e6  # the facts: about 9.3M (9.1M measured by peers)
    feats = nets.critic.encode(_batch(2).obs)
    assert feats.shape == (2, 2, 2304)


def test_polyak_moves_targets_by_tau():
    torch.manual_seed(0)
    nets = ActorCritic(NetSpec("state", "state"))
    algo = CQL(nets, CQLConfig(polyak_tau=0.25))
    before = [p.clone() for p in nets.critic_target.parameters()]
    with torch.no_grad():
        for p in nets.critic.parameters():
            p.add_(1.0)
    algo.polyak_update()
    for old, new in zip(before, nets.critic_target.parameters(), strict=True):
        assert torch.allclose(new, old + 0.25, atol=1e-6)


def test_cog_encoder_equals_conv_relu_pool_in_the_papers_order():
    """The encoder pools before the relu (cheaper); outputs and gradients are unchanged."""
    from torch.nn import functional as F

    from cog.networks import CogEncoder

    torch.manual_seed(0)
    enc = CogEncoder().to(memory_format=torch.channels_last)
    obs = _batch(3).obs
    out = enc(obs)
    (out.square().sum()).backward()
    fast_grads = [p.grad.clone() for p in enc.parameters()]
    enc.zero_grad()

    x = obs["image"].permute(0, 3, 1, 2).float() / 255.0
    x = F.max_pool2d(F.relu(enc.conv1(x)), 2)
    x = F.max_pool2d(F.relu(enc.conv2(x)), 2)
    ref = F.relu(enc.conv3(x)).flatten(1)
    (ref.square().sum()).backward()
    with straightforward_encoders(enc):
        torch.testing.assert_close(enc(obs), ref)
    torch.testing.assert_close(out, ref)
    for p, g in zip(enc.parameters(), fast_grads, strict=True):
        torch.testing.assert_close(g, p.grad)
