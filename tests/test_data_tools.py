"""`cog data` tools: info, validate, merge, video, Minari export."""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import test_data_fakes as fakes  # noqa: E402

from cog.cli import main as cli_main  # noqa: E402
from data_collection import load_dataset, save_dataset  # noqa: E402
from data_collection.collect import CollectConfig, collect  # noqa: E402


def make_file(tmp_path, name, seed=0, policy="fake_open", episodes=6, save_all=True):
    cfg = CollectConfig("fake/Drawer-v0", policy, episodes, tmp_path / name, image_size=8,
                        seed=seed, save_all=save_all)
    collect(cfg, env_factory=fakes.fake_env_factory,
            policy_factory=fakes.fake_policy_factory, progress=False)
    return tmp_path / name


def test_info_reports_counts_success_and_sizes(tmp_path, capsys):
    path = make_file(tmp_path, "a.h5")
    ds = load_dataset(path)
    assert cli_main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"episodes      {ds.num_episodes}" in out
    assert f"transitions   {ds.num_transitions}" in out
    assert f"success rate  {ds.success.mean():.1%}" in out
    assert "observations/image" in out and "lzf" in out and "cog-dataset v2" in out


def test_validate_exit_codes(tmp_path, capsys):
    path = make_file(tmp_path, "a.h5")
    assert cli_main(["data", "validate", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


def test_merge_concatenates_compatible_files(tmp_path):
    a, b = make_file(tmp_path, "a.h5", seed=0), make_file(tmp_path, "b.h5", seed=1)
    out = tmp_path / "c.h5"
    assert cli_main(["data", "merge", str(a), str(b), "--out", str(out)]) == 0
    da, db, dc = load_dataset(a), load_dataset(b), load_dataset(out)
    assert dc.num_episodes == da.num_episodes + db.num_episodes
    assert np.array_equal(dc.images, np.concatenate([da.images, db.images]))
    assert np.array_equal(dc.actions, np.concatenate([da.actions, db.actions]))
    assert np.array_equal(dc.success, np.concatenate([da.success, db.success]))
    assert dc.attrs["source_seeds"] == [0, 1] and "fingerprint" not in dc.attrs


@pytest.mark.parametrize("second, message", [
    (dict(seed=1, policy="other"), "policy_name differs"),
    (dict(seed=1, save_all=False), "save_all differs"),
    (dict(seed=0), "same episodes"),
])
def test_merge_refuses_incompatible_files(tmp_path, capsys, second, message):
    a = make_file(tmp_path, "a.h5")
    b = make_file(tmp_path, "b.h5", **second)
    out = tmp_path / "c.h5"
    assert cli_main(["data", "merge", str(a), str(b), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_video_writes_every_frame_of_the_episode(tmp_path):
    import imageio.v2 as imageio

    path = make_file(tmp_path, "a.h5")
    gif = tmp_path / "ep.gif"
    assert cli_main(["data", "video", str(path), "--episode", "1", "--out", str(gif)]) == 0
    frames = imageio.mimread(gif)
    assert len(frames) == fakes.HORIZON + 1 and frames[0].shape[:2] == (32, 32)
    from PIL import Image

    assert Image.open(gif).info["duration"] == 100  # 10 fps, stored in milliseconds
    assert cli_main(["data", "video", str(path), "--episode", "99", "--out", str(gif)]) == 2


def test_minari_export_loads_back(tmp_path, monkeypatch):
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    path = make_file(tmp_path, "a.h5")
    ds = load_dataset(path)
    assert cli_main(["data", "export-minari", str(path), "--name", "fake-drawer"]) == 0
    loaded = minari.load_dataset("cog/fake-drawer-v0")
    assert loaded.total_episodes == ds.num_episodes
    assert loaded.total_steps == ds.num_transitions
    episode = next(iter(loaded.iterate_episodes()))
    t = int(ds.lengths[0])
    assert np.array_equal(episode.observations["image"], ds.images[: t + 1])
    assert np.allclose(episode.actions, ds.actions[:t])
    assert np.array_equal(episode.truncations, ds.timeouts[:t])
    assert "behaviour" not in episode.infos  # this file names no behaviours
    # A prior with irrelevant behaviour keeps its episodes' expert names.
    names = np.array(["drawer_open", "wander"] * (ds.num_episodes // 2))
    save_dataset(tmp_path / "named.h5", dataclasses.replace(ds, behaviour=names))
    assert cli_main(["data", "export-minari", str(tmp_path / "named.h5"), "--name",
                     "named"]) == 0
    named = minari.load_dataset("cog/named-v0")
    got = [ep.infos["behaviour"] for ep in named.iterate_episodes()]
    assert [str(g[0].decode()) for g in got] == names.tolist()
    assert all(len(set(g.tolist())) == 1 for g in got)
    # A second export under the same name is refused unless --overwrite.
    assert cli_main(["data", "export-minari", str(path), "--name", "fake-drawer"]) == 2
    assert cli_main(["data", "export-minari", str(path), "--name", "fake-drawer",
                     "--overwrite"]) == 0
