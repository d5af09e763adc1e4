"""The HDF5 format: round trip, and refusing every kind of bad file with a clear message."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from cog.cli import main as cli_main
from data_collection import (
    DatasetFormatError,
    episodes_to_dataset,
    load_dataset,
    save_dataset,
    validate_dataset,
    validate_file,
)
from data_collection.episodes import Episode, get_episode


def make_dataset(num_episodes=4, size=12, seed=0, object_dim=8):
    rng = np.random.default_rng(seed)
    episodes = []
    for e in range(num_episodes):
        t = 3 + e
        episodes.append(Episode(
            images=rng.integers(0, 256, (t + 1, size, size, 3), dtype=np.uint8),
            states=rng.normal(size=(t + 1, 10)).astype(np.float32),
            objects=rng.normal(size=(t + 1, object_dim)).astype(np.float32),
            actions=rng.uniform(-1, 1, (t, 8)).astype(np.float32),
            rewards=(rng.random(t) < 0.5).astype(np.float32),
            terminals=np.zeros(t, bool),
            timeouts=np.arange(t) == t - 1,
            success=bool(e % 2),
        ))
    attrs = {"env_id": "fake/Env-v0", "policy_name": "p", "noise": 0.1, "seed": 3,
             "env_config": {"image_size": size, "flag": True}}
    return episodes_to_dataset(episodes, attrs), episodes


@pytest.mark.parametrize("codec", ["lzf", "gzip", "none"])
def test_round_trip_gives_identical_arrays(tmp_path, codec):
    ds, episodes = make_dataset()
    path = tmp_path / "d.h5"
    save_dataset(path, ds, codec=codec)
    back = load_dataset(path)
    for name in ("images", "states", "objects", "actions", "rewards", "terminals", "timeouts",
                 "obs_index", "episode_starts", "lengths", "success"):
        a, b = getattr(ds, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.object_dim == 8
    assert back.attrs["env_config"] == {"image_size": 12, "flag": True}
    assert back.attrs["schema_version"] == 2 and back.attrs["num_transitions"] == ds.num_transitions
    assert back.attrs["package_version"] and back.attrs["created_at"]
    # T+1 layout: s_{t+1} of an episode's last transition is its final observation.
    ep = get_episode(back, 2)
    assert np.array_equal(ep.images, episodes[2].images)
    last = back.episode_starts[2] + back.lengths[2] - 1
    assert np.array_equal(back.images[back.next_obs_index[last]], episodes[2].images[-1])
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def _saved_without_object_state(tmp_path, schema_version: int):
    """A valid v2 file with /observations/object removed and the given schema version."""
    ds, _ = make_dataset()
    path = tmp_path / "d.h5"
    save_dataset(path, ds)
    with h5py.File(path, "a") as h5:
        del h5["observations/object"]
        h5.attrs["schema_version"] = schema_version
    return ds, path


def test_schema_v1_file_loads_without_object_state(tmp_path):
    """Files written before the object state existed (schema 1) still load, with K = 0."""
    ds, path = _saved_without_object_state(tmp_path, 1)
    back = load_dataset(path)
    assert back.objects.shape == (ds.states.shape[0], 0) and back.object_dim == 0
    assert np.array_equal(back.states, ds.states)


def test_v2_file_missing_object_state_is_refused(tmp_path):
    _, path = _saved_without_object_state(tmp_path, 2)
    with pytest.raises(DatasetFormatError, match="observations/object"):
        load_dataset(path)


def test_datasets_without_object_state_round_trip(tmp_path):
    ds, _ = make_dataset(object_dim=0)
    save_dataset(tmp_path / "d.h5", ds)
    assert load_dataset(tmp_path / "d.h5").objects.shape == (ds.states.shape[0], 0)


def test_object_rows_must_match_observations():
    ds, _ = make_dataset()
    from dataclasses import replace
    bad = replace(ds, objects=ds.objects[:-1])
    assert any("objects has" in p for p in validate_dataset(bad))
    nan = ds.objects.copy()
    nan[3, 1] = np.nan
    assert any("objects contains 1 NaN" in p for p in validate_dataset(replace(ds, objects=nan)))


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_header(path):
    data = bytearray(path.read_bytes())
    data[8:200] = b"\xff" * 192  # keep the HDF5 signature, destroy the superblock
    path.write_bytes(bytes(data))


def _other_schema(path):
    with h5py.File(path, "a") as h5:
        h5.attrs["schema_version"] = 99


def _missing_key(path):
    with h5py.File(path, "a") as h5:
        del h5["rewards"]


def _not_hdf5(path):
    path.write_text("episode,reward\n0,1\n")


def _huge_length(path):
    with h5py.File(path, "a") as h5:
        h5["lengths"][-1] = 10**12  # once crashed validate/info/train asking numpy for 7 TiB


def _narrowed(key, width):
    def damage(path):
        with h5py.File(path, "a") as h5:
            old = h5[key][()]
            del h5[key]
            h5.create_dataset(key, data=np.ascontiguousarray(old[:, :width]))
    return damage


def _empty_images(path):
    with h5py.File(path, "a") as h5:
        m = h5["observations/image"].shape[0]
        del h5["observations/image"]
        h5.create_dataset("observations/image", data=np.zeros((m, 0, 0, 3), np.uint8))


@pytest.mark.parametrize("damage, expected", [
    (_huge_length, "lengths[3] = 1000000000000 exceeds"),
    (_narrowed("observations/state", 7), "'observations/state' rows have 7 columns, expected 10"),
    (_narrowed("actions", 6), "'actions' rows have 6 columns, expected 8"),
    (_empty_images, "rows are 0x0x3"),
    (_truncated, "truncated or corrupt"),
    (_corrupt_header, "corrupt"),
    (_other_schema, "schema_version 99"),
    (_missing_key, "missing key 'rewards'"),
    (_not_hdf5, "not an HDF5 file"),
])
def test_bad_files_are_refused_clearly(tmp_path, capsys, damage, expected):
    ds, _ = make_dataset()
    path = tmp_path / "bad.h5"
    save_dataset(path, ds, codec="none")
    damage(path)
    problems = validate_file(path)
    assert problems and any(expected in p for p in problems), problems
    with pytest.raises(DatasetFormatError, match=re.escape(expected)):
        load_dataset(path)
    assert cli_main(["data", "validate", str(path)]) == 1
    out = capsys.readouterr()
    assert expected in out.out and "Traceback" not in out.out + out.err
    assert cli_main(["data", "info", str(path)]) == 2  # one-line error, no traceback
    assert expected in capsys.readouterr().err


def test_schema_widths_are_the_envs():
    from data_collection.hdf5_format import ACTION_WIDTH, STATE_WIDTH
    from envs.constants import ACTION_DIM, STATE_DIM

    assert (STATE_WIDTH, ACTION_WIDTH) == (STATE_DIM, ACTION_DIM)


def test_a_directory_as_training_data_is_named_as_such(tmp_path, capsys):
    assert cli_main(["train", "--task", str(tmp_path), "--out", str(tmp_path / "run"),
                     "--obs", "state", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and "Traceback" not in err


def test_missing_file_is_a_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nope.h5")
    assert validate_file(tmp_path / "nope.h5") == [f"{tmp_path / 'nope.h5'}: file not found"]


def test_content_problems_each_get_a_line(tmp_path):
    ds, _ = make_dataset()
    ds.actions[0, 0] = np.nan
    ds.actions[1, 1] = 1.5
    ds.timeouts[0] = True  # inside episode 0
    ds.states[2, 0] = np.inf
    problems = validate_dataset(ds)
    assert any("actions contains 1 NaN" in p for p in problems)
    assert any("actions outside [-1, 1]" in p for p in problems)
    assert any("inside an episode" in p for p in problems)
    assert any("states contains 1 NaN/inf" in p for p in problems)
    with pytest.raises(DatasetFormatError):
        save_dataset(tmp_path / "x.h5", ds)
    assert not (tmp_path / "x.h5").exists()


def test_bad_episode_boundaries_in_file_are_reported(tmp_path):
    ds, _ = make_dataset()
    path = tmp_path / "d.h5"
    save_dataset(path, ds, codec="none")
    with h5py.File(path, "a") as h5:
        h5["episode_starts"][1] += 1
    assert any("episode_starts[1]" in p for p in validate_file(path))


def test_failed_save_leaves_old_file_and_no_temp(tmp_path):
    ds, _ = make_dataset()
    path = tmp_path / "d.h5"
    save_dataset(path, ds)
    before = path.read_bytes()
    bad = type(ds)(**{**ds.__dict__, "attrs": {**ds.attrs, "oops": object()}})
    with pytest.raises(ValueError, match="oops"):
        save_dataset(path, bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]
