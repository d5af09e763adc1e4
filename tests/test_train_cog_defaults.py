"""The training defaults reproduce COG's released code (the facts file's section on it)."""

from __future__ import annotations

import pytest
import torch

from cog.algos.cql import CQL, CQLConfig, draw_noise
from cog.config import TrainConfig
from cog.networks import ActorCritic, NetSpec
from cog.replay import Batch
from cog.trainer import build_nets


def _state_batch(b: int = 6) -> Batch:
    g = torch.Generator().manual_seed(0)

    def obs():
        return {"state": torch.randn(b, 10, generator=g)}

    return Batch(obs(), torch.rand(b, 8, generator=g) * 2 - 1, torch.rand(b, generator=g),
                 torch.zeros(b), obs(), torch.ones(b, dtype=torch.bool))


def test_bellman_term_is_plain_mse_by_default():
    """COG's code uses nn.MSELoss: with one Q network's Bellman error e, the critic loss
    holds E[e^2], not 0.5 E[e^2]. Checked by switching the conservative term off."""
    cfg = CQLConfig.from_train_config(TrainConfig(cql_alpha=0.0, bc_warmup_steps=0))
    assert cfg.bellman_weight == 1.0
    torch.manual_seed(0)
    algo = CQL(ActorCritic(NetSpec("state", "state")), cfg)
    batch = _state_batch()
    noise = draw_noise(cfg, 6, 8, algo.generator, algo.device)
    losses, metrics = algo.losses(batch, noise)
    # critic = sum over the two Q networks of w * MSE; metrics report their mean.
    critic = float(losses["critic"].detach())
    assert critic == pytest.approx(2 * float(metrics["loss/bellman"]))
    half = CQL(algo.nets, CQLConfig(**{**cfg.__dict__, "bellman_weight": 0.5}))
    half_losses, _ = half.losses(batch, noise)
    assert float(half_losses["critic"].detach()) == pytest.approx(0.5 * critic)


def test_entropy_temperature_uses_the_policy_learning_rate():
    cfg = TrainConfig()
    assert cfg.entropy_lr == cfg.policy_lr == 1e-4
    algo = CQL(ActorCritic(NetSpec("state", "state")), CQLConfig.from_train_config(cfg))
    assert algo.alpha_opt.param_groups[0]["lr"] == 1e-4


@pytest.mark.parametrize("floor", [-5.0, -20.0])
def test_policy_log_std_is_clamped_to_cogs_range(floor):
    nets = build_nets(TrainConfig(obs="state", policy_log_std_min=floor), 48, 10)
    last = nets.actor.net[-1]
    with torch.no_grad():  # push every log std far below and far above the range
        last.weight.zero_()
        last.bias[8:] = -100.0
        feats = torch.zeros(1, nets.actor.net[0].in_features)
        _, low = nets.actor(feats)
        last.bias[8:] = 100.0
        _, high = nets.actor(feats)
    assert torch.all(low == floor) and torch.all(high == 2.0)
    assert TrainConfig().policy_log_std_min == -5.0  # COG's LOG_SIG_MIN


def test_bad_bellman_weight_and_log_std_floor_are_refused():
    with pytest.raises(ValueError, match="bellman_weight"):
        TrainConfig(bellman_weight=0.0).validate()
    with pytest.raises(ValueError, match="policy_log_std_min"):
        TrainConfig(policy_log_std_min=3.0).validate()
