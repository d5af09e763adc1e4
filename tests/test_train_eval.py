"""Evaluation: seeded episodes, success counting, GIFs, and the same result on Ray."""

from __future__ import annotations

import numpy as np
import pytest

from cog.evaluation import evaluate
from cog.testing import LINE_ENV_SPEC


class _Mover:
    """Moves right at a fixed speed: reaches the goal from -1 in 7 steps (0.25 per step)."""

    def __init__(self, speed: float):
        self.speed = speed
        self.resets: list[int | None] = []

    def reset(self, seed=None):
        self.resets.append(seed)

    def act(self, obs, info):
        a = np.zeros(8, np.float32)
        a[0] = self.speed
        return a


def test_success_rate_and_gif(tmp_path):
    res = evaluate(_Mover(1.0), LINE_ENV_SPEC, 3, obs_kind="state", gif_path=tmp_path / "e.gif",
                   base_seed=5)
    assert res.success_rate == 1.0 and res.episodes == 3
    assert res.mean_return == pytest.approx(12 - 7)  # rewarded on steps 8..12 of 12
    assert (tmp_path / "e.gif").read_bytes()[:3] == b"GIF"
    slow = _Mover(0.1)
    res = evaluate(slow, LINE_ENV_SPEC, 2, obs_kind="state", base_seed=5)
    assert res.success_rate == 0.0 and res.any_success_rate == 0.0
    assert slow.resets == [5, 6]  # episode k is seeded base_seed + k


def test_play_episode_records_frames_and_names_a_missing_success_key():
    from cog.testing import LineReachEnv
    from policies.evaluate import play_episode

    env = LineReachEnv(horizon=12, render_mode="rgb_array")
    ep = play_episode(env, _Mover(1.0), seed=3, record=True)
    assert ep.success and ep.any_success and ep.total_reward == 12 - 7
    assert len(ep.frames) == len(ep.big_frames) == 13  # the reset frame plus one per step
    assert ep.frames[0].shape == (16, 16, 3) and ep.big_frames[0].shape == (64, 64, 3)
    assert not play_episode(env, _Mover(1.0), seed=3).frames  # nothing kept unless asked
    # An explicit success key that the env does not report is an error, not a silent 0.
    with pytest.raises(KeyError, match="drawer_open"):
        play_episode(env, _Mover(1.0), seed=3, success_key="drawer_open")


@pytest.mark.slow
def test_ray_evaluation_gives_the_same_result(tmp_path):
    import torch

    from cog.algos.cql import CQL, CQLConfig
    from cog.config import TrainConfig
    from cog.evaluation import TorchPolicy
    from cog.export import export_bytes
    from cog.networks import ActorCritic, NetSpec

    torch.manual_seed(0)
    nets = ActorCritic(NetSpec("state", "state", image_size=16, state_dim=11))
    data = export_bytes(nets, TrainConfig(obs="state"), 0)
    policy = TorchPolicy(CQL(nets, CQLConfig()), "state")
    local = evaluate(policy, LINE_ENV_SPEC, 4, obs_kind="state")
    remote = evaluate(policy, LINE_ENV_SPEC, 4, obs_kind="state", workers=2,
                      policy_bytes=data)
    assert local.successes == remote.successes
    assert local.mean_return == pytest.approx(remote.mean_return)


def test_stochastic_evaluation_is_seeded_and_leaves_training_rng_alone():
    import torch

    from cog.algos.cql import CQL, CQLConfig
    from cog.evaluation import TorchPolicy
    from cog.networks import ActorCritic, NetSpec

    torch.manual_seed(0)
    algo = CQL(ActorCritic(NetSpec("state", "state", hidden=(16,), state_dim=11)), CQLConfig())
    before = algo.generator.get_state()
    policy = TorchPolicy(algo, "state", deterministic=False)
    obs = {"state": np.zeros(10, np.float32), "object": np.zeros(1, np.float32)}
    policy.reset(seed=3)
    a = [policy.act(obs, {}) for _ in range(3)]
    policy.reset(seed=3)
    b = [policy.act(obs, {}) for _ in range(3)]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert not np.allclose(a[0], a[1])  # actually sampled
    assert torch.equal(algo.generator.get_state(), before)
