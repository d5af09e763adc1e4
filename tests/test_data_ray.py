"""The Ray path with 2 local workers: same file as in-process, worker deaths handled."""

from __future__ import annotations

import functools
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import test_data_fakes as fakes  # noqa: E402

ray = pytest.importorskip("ray")

from data_collection import load_dataset, validate_file  # noqa: E402
from data_collection.collect import CollectConfig, CollectionError, collect  # noqa: E402
from data_collection.local_ray import start_or_join_ray  # noqa: E402
from data_collection.rollout import episode_seeds  # noqa: E402

# The fakes live in a test module Ray workers cannot import: ship them by value.
ray.cloudpickle.register_pickle_by_value(fakes)


def run(tmp_path, name, workers=2, env_factory=fakes.fake_env_factory, **kw):
    cfg = CollectConfig("fake/Drawer-v0", "fake_open", 12, tmp_path / name, image_size=8,
                        shard_episodes=3, workers=workers, **kw)
    return collect(cfg, env_factory=env_factory, policy_factory=fakes.fake_policy_factory,
                   progress=False)


def same(a, b):
    return all(np.array_equal(getattr(a, k), getattr(b, k))
               for k in ("images", "states", "actions", "rewards", "lengths", "success"))


def test_two_ray_workers_give_the_in_process_file(tmp_path):
    serial = load_dataset(run(tmp_path, "serial.h5", workers=1).out)
    assert not ray.is_initialized()
    parallel = run(tmp_path, "ray.h5", workers=2)  # starts and stops its own local Ray
    assert not ray.is_initialized()
    assert same(serial, load_dataset(parallel.out))
    assert validate_file(parallel.out) == []


@pytest.fixture(scope="module")
def ray_session():
    assert start_or_join_ray(None, 2)
    yield
    ray.shutdown()


def test_a_worker_that_dies_once_is_retried(tmp_path, ray_session):
    reference = load_dataset(run(tmp_path, "ref.h5", workers=1).out)
    dies_once = functools.partial(fakes.fake_env_factory, die_after_resets=2,
                                  die_once_marker=str(tmp_path / "died"))
    result = run(tmp_path, "out.h5", env_factory=dies_once)
    assert (tmp_path / "died").exists(), "the fault was never injected"
    assert same(reference, load_dataset(result.out))


def test_a_worker_that_keeps_dying_fails_clearly_then_resumes(tmp_path, ray_session):
    reference = load_dataset(run(tmp_path, "ref.h5", workers=1).out)
    # Episode 7 (shard 2) kills its worker every time.
    always_dies = functools.partial(fakes.fake_env_factory, die_on_seed=episode_seeds(0, 7)[0])
    with pytest.raises(CollectionError, match=r"died 2 time\(s\).*re-run the same command"):
        run(tmp_path, "out.h5", env_factory=always_dies)
    assert not (tmp_path / "out.h5").exists()
    shards = tmp_path / "out.h5.shards"
    finished = sorted(shards.glob("shard-*.h5"))
    assert finished and all(validate_file(p) == [] for p in finished)
    result = run(tmp_path, "out.h5")
    assert result.reused_shards == len(finished)
    assert same(reference, load_dataset(result.out))
