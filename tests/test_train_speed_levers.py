"""Issue 10's speed levers: the ones that claim unchanged maths give unchanged values; bf16
stays within a bound of float32; the wall-clock schedule and the time limit work and resume."""

from __future__ import annotations

import pytest
import torch

from cog.algos.cql import CQL, CQLConfig, draw_noise
from cog.augment import random_crop, random_crop_padded
from cog.checkpoint import load_checkpoint
from cog.config import TrainConfig
from cog.logger import CsvLog
from cog.networks import ActorCritic, NetSpec
from cog.replay import Batch
from cog.testing import random_batch, random_dataset
from cog.trainer import Trainer


def _image_batch(b: int = 16, size: int = 48, seed: int = 0) -> Batch:
    return random_batch(b, size, seed)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("pad", [1, 4])
def test_gather_crop_equals_pad_then_crop(dtype, pad):
    images = torch.randint(0, 256, (32, 12, 10, 3), generator=torch.Generator().manual_seed(1))
    images = images.to(dtype)
    fast = random_crop(images, pad, torch.Generator().manual_seed(7))
    ref = random_crop_padded(images, pad, torch.Generator().manual_seed(7))
    assert fast.dtype == dtype and fast.shape == images.shape
    assert torch.equal(fast, ref)


def test_gather_crop_gives_unchanged_losses():
    """The whole update's losses with the gather crop equal those with pad-then-crop."""
    torch.manual_seed(0)
    algo = CQL(ActorCritic(NetSpec("fast", "image")), CQLConfig(bc_warmup_steps=0))
    batch = _image_batch()
    noise = draw_noise(algo.cfg, 16, 8, algo.generator, algo.device)
    values = []
    for crop in (random_crop, random_crop_padded):
        b = Batch(dict(batch.obs), batch.actions, batch.rewards, batch.dones,
                  dict(batch.next_obs), batch.from_task)
        b.obs["image"] = crop(batch.obs["image"], 4, torch.Generator().manual_seed(3))
        b.next_obs["image"] = crop(batch.next_obs["image"], 4, torch.Generator().manual_seed(4))
        losses, _ = algo.losses(b, noise)
        values.append({k: float(v.detach()) for k, v in losses.items()})
    assert values[0] == values[1]


@pytest.mark.parametrize("low", ["bf16", "bf16-first-layer"])
@pytest.mark.parametrize("preset", ["fast", "cog"])
def test_bf16_stays_close_to_float32(preset, low):
    """bf16 (conv trunks under autocast, heads float32) and bf16-first-layer (also the
    feature matmul of each head's first layer) on a fixed batch and fixed random numbers:
    every loss within 2% (relative, or 0.05 absolute) of float32, and the critic's gradient
    pointing the same way (cosine > 0.99)."""
    torch.manual_seed(0)
    nets = ActorCritic(NetSpec(preset, "image"))
    algo = CQL(nets, CQLConfig(bc_warmup_steps=0))
    batch = _image_batch(8)
    noise = draw_noise(algo.cfg, 8, 8, algo.generator, algo.device)
    results = {}
    for precision in ("float32", low):
        nets.set_precision(precision)
        losses, _ = algo.losses(batch, noise)
        nets.critic.zero_grad()
        losses["critic"].backward()
        grad = torch.cat([p.grad.flatten() for p in nets.critic.parameters()])
        results[precision] = ({k: float(v.detach()) for k, v in losses.items()}, grad)
    (f32, g32), (b16, g16) = results["float32"], results[low]
    for key in ("critic", "policy", "alpha"):
        assert b16[key] == pytest.approx(f32[key], rel=0.02, abs=0.05), key
    assert torch.nn.functional.cosine_similarity(g32, g16, dim=0) > 0.99
    assert f32["critic"] != b16["critic"]  # bf16 did run: the values are not bit-equal


def test_bf16_first_layer_runs_the_heads_first_matmul_in_bf16_and_float32_undoes_it():
    """The first-layer option changes the Q values and the policy beyond the trunk-only bf16
    (so it does run), and setting float32 again gives float32's values bit for bit."""
    torch.manual_seed(0)
    nets = ActorCritic(NetSpec("cog", "image"))
    obs = _image_batch(4).obs
    actions = torch.rand(4, 3, 8) * 2 - 1

    def outputs():
        with torch.no_grad():
            return nets.critic.q(nets.critic.encode(obs), actions), nets.policy(obs)[0]

    q32, mean32 = outputs()
    values = {}
    for precision in ("bf16", "bf16-first-layer"):
        nets.set_precision(precision)
        values[precision] = outputs()
    nets.set_precision("float32")
    q_again, mean_again = outputs()
    assert torch.equal(q_again, q32) and torch.equal(mean_again, mean32)
    (q_trunk, mean_trunk), (q_first, mean_first) = values["bf16"], values["bf16-first-layer"]
    assert not torch.equal(q_first, q_trunk) and not torch.equal(mean_first, mean_trunk)
    assert q_first.dtype == torch.float32 and mean_first.dtype == torch.float32
    assert torch.allclose(q_first, q32, rtol=0.02, atol=0.02)


def test_bf16_leaves_weights_and_exports_float32(tmp_path):
    nets = ActorCritic(NetSpec("fast", "image"))
    nets.set_precision("bf16")
    assert all(p.dtype == torch.float32 for p in nets.parameters())
    out = nets.critic.encode(_image_batch(2).obs)
    assert out.dtype == torch.float32
    with pytest.raises(ValueError, match="precision"):
        nets.set_precision("fp8")


def _cfg(**kw) -> TrainConfig:
    base = dict(obs="image", net="fast", steps=10_000, batch_size=8, checkpoint_every=1000,
                log_every=5, bc_warmup_steps=2, progress=False, seed=3, eval_gif=False)
    base.update(kw)
    return TrainConfig(**base)


def test_time_limit_stops_with_a_checkpoint_and_resumes_counting_on(tmp_path):
    task = random_dataset(3, 6, image_size=16, seed=1)
    trainer = Trainer(_cfg(time_limit_minutes=0.02), tmp_path / "run", task=task)
    trainer.run()
    assert 0 < trainer.step < 10_000
    assert trainer.train_seconds >= 1.2
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == trainer.step
    assert state["train_seconds"] == pytest.approx(trainer.train_seconds)
    first_step, first_seconds = trainer.step, trainer.train_seconds

    resumed = Trainer.resume(tmp_path / "run", task=task, time_limit_minutes=0.04)
    assert resumed.train_seconds == pytest.approx(first_seconds)
    resumed.run()
    assert resumed.step > first_step
    assert resumed.train_seconds >= 2.4
    rows = CsvLog(tmp_path / "run" / "train.csv").rows
    seconds = [r["time/train_seconds"] for r in rows]
    assert seconds == sorted(seconds)  # training time keeps counting across the resume


def test_wall_clock_schedule_evaluates_by_training_time(tmp_path):
    from cog.testing import LINE_ENV_SPEC, register_line_env

    register_line_env()
    task = random_dataset(3, 6, image_size=16, seed=1)
    cfg = _cfg(time_limit_minutes=0.05, eval_every_minutes=0.01, eval_every=10**6,
               eval_env=LINE_ENV_SPEC, eval_episodes=1)
    Trainer(cfg, tmp_path / "run", task=task).run()
    rows = CsvLog(tmp_path / "run" / "eval.csv").rows
    times = [r["time/train_seconds"] for r in rows]
    # An evaluation at the first step past each 0.6 s of training time (eval_every in steps
    # is far away; a slow step may cross two periods at once), and one at the 3 s limit.
    periods = [int(t // 0.6) for t in times[:-1]]
    assert len(rows) >= 3 and periods[0] >= 1
    assert periods == sorted(set(periods))  # at most one evaluation per period
    assert times[-1] >= 3.0
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_no_grad_max_pool_is_bit_identical(dtype):
    from torch.nn import functional as F

    from cog.networks import max_pool_2x2

    # Small integers make many ties, where an inexact max would show.
    x = torch.randint(-3, 4, (4, 16, 12, 10)).to(dtype).contiguous(
        memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(max_pool_2x2(x), F.max_pool2d(x, 2))
    odd = torch.randn(2, 3, 5, 7)
    assert torch.equal(max_pool_2x2(odd), F.max_pool2d(odd, 2))
    # With gradient the built-in kernel runs (its argmax tie-breaking is kept).
    xg = x.float().requires_grad_()
    max_pool_2x2(xg).sum().backward()
    ref = x.float().requires_grad_()
    F.max_pool2d(ref, 2).sum().backward()
    assert torch.equal(xg.grad, ref.grad)


def test_compiled_networks_give_the_eager_losses():
    """torch.compile (inductor, on this CPU) of every encoder and head: the same loss values
    as eager to float rounding, and the same state_dict keys (checkpoints are unaffected)."""
    torch.manual_seed(0)
    nets = ActorCritic(NetSpec("fast", "image", image_size=16, hidden=(32,)))
    algo = CQL(nets, CQLConfig(bc_warmup_steps=0, cql_n_actions=2))
    batch = _image_batch(8, size=16)
    noise = draw_noise(algo.cfg, 8, 8, algo.generator, algo.device)
    eager, _ = algo.losses(batch, noise)
    keys = list(nets.state_dict())
    nets.compile_modules()
    compiled, _ = algo.losses(batch, noise)
    assert list(nets.state_dict()) == keys
    for key in ("critic", "policy", "alpha"):
        assert float(compiled[key].detach()) == pytest.approx(float(eager[key].detach()),
                                                              rel=1e-5, abs=1e-5), key
