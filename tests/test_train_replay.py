"""Correctness tests 3 and 4: relabelling only prior rewards, and the mixing ratio."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cog.augment import random_crop
from cog.replay import ReplayBuffer
from cog.testing import random_dataset


def test_relabelling_zeroes_prior_rewards_and_only_those():
    prior = random_dataset(3, 4, image_size=8, seed=1, reward=1.0)
    task = random_dataset(2, 5, image_size=8, seed=2, reward=1.0)
    task.rewards[::2] = 0.0  # task rewards must be kept exactly, zeros and ones
    buf = ReplayBuffer(task, prior)
    r = buf.rewards.numpy()
    is_task = buf.from_task.numpy()
    assert np.all(r[~is_task] == 0.0)
    np.testing.assert_array_equal(r[is_task], task.rewards)
    # Switched off, prior rewards survive.
    kept = ReplayBuffer(task, prior, relabel_prior=False)
    np.testing.assert_array_equal(kept.rewards.numpy()[~is_task], prior.rewards)
    # The sampled batch carries the same rewards as the stored transition.
    batch = buf.sample(64, torch.Generator().manual_seed(0))
    assert torch.all(batch.rewards[~batch.from_task] == 0)


def test_transitions_pair_each_observation_with_its_successor():
    task = random_dataset(3, 4, image_size=8, seed=3)
    prior = random_dataset(2, 4, image_size=8, seed=4)
    buf = ReplayBuffer(task, prior)
    batch = buf.sample(200, torch.Generator().manual_seed(1))
    all_states = np.concatenate([prior.states, task.states])
    all_actions = np.concatenate([prior.actions, task.actions])
    all_obs_index = np.concatenate([prior.obs_index, task.obs_index + prior.states.shape[0]])
    for s, s2, a in zip(batch.obs["state"], batch.next_obs["state"], batch.actions, strict=True):
        i = int(np.flatnonzero((all_actions == a.numpy()).all(1))[0])
        np.testing.assert_array_equal(s.numpy(), all_states[all_obs_index[i]])
        np.testing.assert_array_equal(s2.numpy(), all_states[all_obs_index[i] + 1])


@pytest.mark.parametrize("mixing,fraction", [("proportional", None), ("fixed", 0.3)])
def test_mixing_ratio_holds_statistically(mixing, fraction):
    prior = random_dataset(30, 10, image_size=4, seed=5)  # 300 prior transitions
    task = random_dataset(10, 10, image_size=4, seed=6)  # 100 task transitions
    buf = ReplayBuffer(task, prior, mixing=mixing, task_fraction=fraction or 0.5)
    g = torch.Generator().manual_seed(7)
    n, total = 200, 0
    for _ in range(n):
        total += int(buf.sample(64, g).from_task.sum())
    observed = total / (n * 64)
    expected = 100 / 400 if mixing == "proportional" else round(64 * fraction) / 64
    # 12,800 draws: the standard error of a proportion near 0.25 is about 0.004.
    assert abs(observed - expected) < 0.02


def test_success_only_and_task_only_selection():
    task = random_dataset(4, 3, image_size=4, seed=8)
    object.__setattr__(task, "success", np.array([True, False, True, False]))
    prior = random_dataset(2, 3, image_size=4, seed=9)
    buf = ReplayBuffer(task, prior, only_successful=True)
    assert buf.num_task == 6 and buf.num_prior == 0
    only_task = ReplayBuffer(task, prior, include_prior=False)
    assert len(only_task) == 12 and bool(only_task.from_task.all())


def test_images_stay_uint8_until_the_network():
    task = random_dataset(2, 3, image_size=8)
    buf = ReplayBuffer(task)
    assert buf.images.dtype == torch.uint8
    assert buf.sample(4).obs["image"].dtype == torch.uint8


def test_random_crop_shifts_within_the_padding():
    img = torch.arange(8 * 8, dtype=torch.uint8).view(1, 8, 8, 1).expand(16, 8, 8, 3).clone()
    out = random_crop(img, pad=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == img.shape and out.dtype == torch.uint8
    # Every crop is a shift of the original by at most 2 pixels (replicate padding at edges).
    shifts = set()
    for k in range(16):
        found = None
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                rows = (torch.arange(8) + dy).clamp(0, 7)
                cols = (torch.arange(8) + dx).clamp(0, 7)
                if torch.equal(out[k], img[k][rows][:, cols]):
                    found = (dy, dx)
        assert found is not None
        shifts.add(found)
    assert len(shifts) > 3  # offsets actually vary


def test_bad_mixing_is_refused():
    task = random_dataset(1, 2, image_size=4)
    with pytest.raises(ValueError, match="mixing"):
        ReplayBuffer(task, mixing="half")
    with pytest.raises(ValueError, match="task_fraction"):
        ReplayBuffer(task, mixing="fixed", task_fraction=1.5)


def test_state_observations_append_the_object_state_and_give_statistics():
    """obs=state trains on [proprioception, privileged object state]; the normaliser's
    statistics are those of exactly the rows the buffer holds."""
    from dataclasses import replace

    from cog.replay import low_dim_rows

    task = random_dataset(2, 5, image_size=8, seed=5)
    prior = random_dataset(3, 4, image_size=8, seed=6)
    buf = ReplayBuffer(task, prior, use_images=False, state_keys=("state", "object"))
    want = np.concatenate([np.concatenate([d.states, d.objects], axis=1) for d in (prior, task)])
    np.testing.assert_array_equal(buf.states.numpy(), want)
    mean, std = buf.state_statistics(min_std=0.0)
    np.testing.assert_allclose(mean.numpy(), want.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std.numpy(), want.std(0, ddof=1), rtol=1e-4)
    floor = buf.state_statistics(min_std=5.0)[1]
    assert torch.all(floor == 5.0)  # the floor keeps near-constant dims from blowing up
    no_objects = replace(task, objects=np.zeros((task.states.shape[0], 0), np.float32))
    with pytest.raises(ValueError, match="no object state"):
        low_dim_rows(no_objects, ("state", "object"))


def _brute_n_step(ds, n, gamma):
    """Per transition of one dataset: (reward sum, done, next state row, discount), by loops."""
    out = []
    for start, length in zip(ds.episode_starts, ds.lengths, strict=True):
        for t in range(int(start), int(start + length)):
            total, k = 0.0, 0
            while k < n and t + k < start + length:
                total += gamma**k * float(ds.rewards[t + k])
                k += 1
                if ds.terminals[t + k - 1]:
                    break
            last = t + k - 1
            out.append((total, float(ds.terminals[last]), int(ds.obs_index[last]) + 1, gamma**k))
    return out


@pytest.mark.parametrize("n", [2, 3, 7])
def test_n_step_returns_stop_at_episode_ends_and_terminals(n):
    task = random_dataset(3, 5, image_size=4, seed=8)
    rng = np.random.default_rng(0)
    task.rewards[:] = rng.integers(0, 2, task.num_transitions)
    task.terminals[[3, 11]] = 1  # terminals inside episodes 0 and 2
    gamma = 0.9
    buf = ReplayBuffer(task, use_images=False, n_step=n, discount=gamma)
    for t, (total, done, row, disc) in enumerate(_brute_n_step(task, n, gamma)):
        assert buf.rewards[t].item() == pytest.approx(total, rel=1e-6)
        assert buf.dones[t].item() == done
        assert int(buf.next_rows[t]) == row
        assert buf.discounts[t].item() == pytest.approx(disc, rel=1e-6)
    # A sampled batch pairs each row with its own n-step successor and discount.
    batch = buf.sample(50, torch.Generator().manual_seed(2))
    assert batch.discounts is not None and batch.discounts.shape == (50,)
    assert torch.all(batch.discounts <= gamma)


def test_one_step_is_unchanged_and_prior_rewards_stay_relabelled_in_n_step_sums():
    task = random_dataset(2, 4, image_size=4, seed=9, reward=1.0)
    prior = random_dataset(2, 4, image_size=4, seed=10, reward=1.0)
    one = ReplayBuffer(task, prior, use_images=False)
    assert one.discounts is None
    assert torch.equal(one.next_rows, one.obs_index + 1)
    assert one.sample(8, torch.Generator().manual_seed(0)).discounts is None
    three = ReplayBuffer(task, prior, use_images=False, n_step=3, discount=0.5)
    prior_rows = ~three.from_task
    assert torch.all(three.rewards[prior_rows] == 0)
    # Task episodes of length 4 with reward 1: the first transition sums 1 + 0.5 + 0.25.
    first_task = int(torch.nonzero(three.from_task)[0, 0])
    assert three.rewards[first_task].item() == pytest.approx(1.75)
    with pytest.raises(ValueError, match="n_step=0"):
        ReplayBuffer(task, n_step=0)


def test_cql_target_uses_the_batch_discounts():
    from cog.algos.cql import CQL, CQLConfig, draw_noise
    from cog.networks import ActorCritic, NetSpec
    from cog.testing import random_batch

    batch = random_batch(16, image_size=48, seed=3)
    cfg = CQLConfig(bc_warmup_steps=0)
    algo = CQL(ActorCritic(NetSpec("fast", "image")), cfg)
    noise = draw_noise(cfg, 16, 8, torch.Generator().manual_seed(0), torch.device("cpu"))
    _, base = algo.losses(batch, noise)
    batch.discounts = torch.full((16,), cfg.discount)
    _, same = algo.losses(batch, noise)
    assert torch.equal(base["q/target"], same["q/target"])
    batch.discounts = torch.zeros(16)  # no bootstrap: the target is the reward alone
    _, none = algo.losses(batch, noise)
    assert none["q/target"].item() == pytest.approx(batch.rewards.mean().item(), abs=1e-6)
