"""In-process collection: success filtering, determinism, resume after an interruption."""

from __future__ import annotations

import functools
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import test_data_fakes as fakes  # noqa: E402

from data_collection import load_dataset, validate_file  # noqa: E402
from data_collection.collect import CollectConfig, CollectionError, collect  # noqa: E402
from data_collection.rollout import episode_seeds  # noqa: E402

ARRAYS = ("images", "states", "actions", "rewards", "terminals", "timeouts", "lengths",
          "success", "episode_starts")


def run(tmp_path, name="out.h5", env_factory=fakes.fake_env_factory, **kw):
    cfg = CollectConfig(**{"env_id": "fake/Drawer-v0", "policy_name": "fake_open",
                           "episodes": 14, "out": tmp_path / name, "image_size": 8,
                           "shard_episodes": 4, **kw})
    return collect(cfg, env_factory=env_factory, policy_factory=fakes.fake_policy_factory,
                   progress=False)


def assert_same_data(a, b):
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_default_keeps_policy_successes_and_env_rewards(tmp_path):
    result = run(tmp_path)
    ds = load_dataset(result.out)
    # Success is the policy's own key (drawer_open), not the env reward, which is always 0.
    assert 0 < result.kept < 14 and ds.success.all() and ds.num_episodes == result.kept
    assert (ds.rewards == 0).all()
    assert ds.attrs["success_key"] == "drawer_open" and ds.attrs["save_all"] is False
    assert ds.attrs["num_attempted_episodes"] == 14
    assert (ds.lengths == fakes.HORIZON).all()
    assert ds.timeouts[ds.episode_starts + ds.lengths - 1].all() and not ds.terminals.any()
    assert not (tmp_path / "out.h5.shards").exists()
    assert validate_file(result.out) == []


def test_save_all_keeps_failures_and_records_it(tmp_path):
    ds = load_dataset(run(tmp_path, save_all=True).out)
    assert ds.num_episodes == 14 and not ds.success.all() and ds.success.any()
    assert ds.attrs["save_all"] is True


def test_data_depends_only_on_seed_not_on_sharding(tmp_path):
    a = load_dataset(run(tmp_path, "a.h5", shard_episodes=4, save_all=True).out)
    b = load_dataset(run(tmp_path, "b.h5", shard_episodes=5, save_all=True).out)
    c = load_dataset(run(tmp_path, "c.h5", seed=1, save_all=True).out)
    assert_same_data(a, b)
    assert not np.array_equal(a.images, c.images)
    assert episode_seeds(0, 3) != episode_seeds(0, 4) != episode_seeds(1, 3)


def test_resume_after_interruption_gives_identical_complete_file(tmp_path):
    reference = load_dataset(run(tmp_path, "ref.h5").out)
    crashing = functools.partial(fakes.fake_env_factory, fail_after_resets=9)
    with pytest.raises(CollectionError, match="shard 2 failed.*re-run the same command"):
        run(tmp_path, env_factory=crashing)
    shards = tmp_path / "out.h5.shards"
    assert not (tmp_path / "out.h5").exists()
    assert sorted(p.name for p in shards.glob("shard-*.h5")) == ["shard-00000.h5",
                                                                  "shard-00001.h5"]
    assert not list(shards.glob(".*tmp*")), "a half-written shard was left behind"
    result = run(tmp_path)
    assert result.reused_shards == 2 and result.attempted == 14
    resumed = load_dataset(result.out)
    assert_same_data(resumed, reference)
    assert validate_file(result.out) == []
    # Re-running a finished command does nothing.
    again = run(tmp_path)
    assert again.already_complete and again.kept == result.kept


def test_shards_of_another_collection_are_not_mixed_in(tmp_path):
    crashing = functools.partial(fakes.fake_env_factory, fail_after_resets=5)
    with pytest.raises(CollectionError):
        run(tmp_path, env_factory=crashing)
    with pytest.raises(CollectionError, match="different collection.*noise"):
        run(tmp_path, noise=0.3)


def test_existing_different_output_needs_overwrite(tmp_path):
    run(tmp_path)
    with pytest.raises(CollectionError, match="--overwrite"):
        run(tmp_path, seed=5)
    assert load_dataset(run(tmp_path, seed=5, overwrite=True).out).attrs["seed"] == 5


def test_no_success_is_a_clear_error(tmp_path):
    class NeverPolicy(fakes.FakeOpenPolicy):
        success_key = "is_success"  # the fake env's is_success is never true

    cfg = CollectConfig("fake/Drawer-v0", "never", 3, tmp_path / "n.h5", image_size=8)
    with pytest.raises(CollectionError, match="none of the 3 episodes succeeded.*--save-all"):
        collect(cfg, env_factory=fakes.fake_env_factory,
                policy_factory=lambda *a: NeverPolicy(), progress=False)


@pytest.mark.parametrize("kw, message", [
    ({"episodes": 0}, "--episodes"),
    ({"workers": 0}, "--workers"),
    ({"out": "x.txt"}, "--out"),
    ({"seed": -1}, "--seed"),
])
def test_bad_config_values_are_named(tmp_path, kw, message):
    base = {"env_id": "e", "policy_name": "p", "episodes": 2, "out": tmp_path / "o.h5"}
    with pytest.raises(ValueError, match=message):
        CollectConfig(**{**base, **kw})
