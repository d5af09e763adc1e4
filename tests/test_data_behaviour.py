"""Per-episode behaviour names: a prior with irrelevant behaviour says which episodes are which,
through collection, merging, `cog data info` and validation."""

from __future__ import annotations

import dataclasses
import os
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import test_data_fakes as fakes  # noqa: E402

from cog.cli import main as cli_main  # noqa: E402
from data_collection import load_dataset, validate_file  # noqa: E402
from data_collection.collect import CollectConfig, collect  # noqa: E402
from data_collection.rollout import episode_seeds  # noqa: E402
from data_collection.tools import merge_files  # noqa: E402


class FakeMixture(fakes.FakeOpenPolicy):
    """Like a prior mixture: the episode's policy seed picks what it shows."""

    def reset(self, seed=None):
        super().reset(seed)
        self.behaviour = "open" if seed % 3 else "wander"


def mixture_factory(name, noise, seed, approach_gripper="open"):
    return FakeMixture(noise=noise, seed=seed)


def collect_mixture(tmp_path, name, seed=0, episodes=9, save_all=False):
    cfg = CollectConfig("fake/Drawer-v0", "fake_mix", episodes, tmp_path / name, image_size=8,
                        seed=seed, save_all=save_all, shard_episodes=4)
    return collect(cfg, env_factory=fakes.fake_env_factory, policy_factory=mixture_factory,
                   progress=False)


def test_collection_stores_each_kept_episodes_behaviour(tmp_path):
    everything = load_dataset(collect_mixture(tmp_path, "all.h5", save_all=True).out)
    names = ["open" if episode_seeds(0, k)[1] % 3 else "wander" for k in range(9)]
    assert everything.behaviour.tolist() == names  # in episode order, across 3 shards
    kept = load_dataset(collect_mixture(tmp_path, "kept.h5").out)
    assert 0 < kept.num_episodes < 9  # failures were dropped: the names must follow the keep
    assert kept.behaviour.tolist() == everything.behaviour[everything.success].tolist()
    assert set(names) == {"open", "wander"}


def test_info_counts_episodes_per_behaviour(tmp_path, capsys):
    ds = load_dataset(collect_mixture(tmp_path, "m.h5").out)
    assert cli_main(["data", "info", str(tmp_path / "m.h5")]) == 0
    out = capsys.readouterr().out
    for name in set(ds.behaviour.tolist()):
        mask = ds.behaviour == name
        assert (f"  {name:20s} {int(mask.sum()):5d} episodes  "
                f"{int(ds.lengths[mask].sum()):7d} transitions") in out


def test_files_without_names_load_and_merges_keep_names_only_when_all_have_them(tmp_path):
    plain = tmp_path / "plain.h5"
    collect(CollectConfig("fake/Drawer-v0", "fake_mix", 5, plain, image_size=8, seed=2,
                          save_all=False),
            env_factory=fakes.fake_env_factory, policy_factory=fakes.fake_policy_factory,
            progress=False)
    assert load_dataset(plain).behaviour is None
    a = collect_mixture(tmp_path, "a.h5", seed=0).out
    b = collect_mixture(tmp_path, "b.h5", seed=1).out
    merge_files([a, b], tmp_path / "ab.h5")
    merged = load_dataset(tmp_path / "ab.h5")
    both = np.concatenate([load_dataset(a).behaviour, load_dataset(b).behaviour])
    assert np.array_equal(merged.behaviour, both)
    merge_files([a, plain], tmp_path / "a_plain.h5")
    assert load_dataset(tmp_path / "a_plain.h5").behaviour is None


def test_a_behaviour_column_of_the_wrong_length_is_reported(tmp_path):
    path = collect_mixture(tmp_path, "m.h5").out
    with h5py.File(path, "a") as h5:
        n = h5["behaviour"].shape[0]
        del h5["behaviour"]
        h5.create_dataset("behaviour", data=np.array([b"open"] * (n + 2)))
    problems = validate_file(path)
    assert problems == [f"{path}: 'behaviour' has {n + 2} rows, other E-sized arrays have {n}"]


def test_the_prior_mixture_names_the_expert_it_chose():
    from policies import make_policy

    mix = make_policy("mix:grasp:0.5", seed=0)
    seen = set()
    for seed in range(40):
        mix.reset(seed)
        assert mix.behaviour == mix.choose(seed)
        seen.add(mix.behaviour)
    assert seen == {"grasp", "grasp_drop", "wander"}
    assert make_policy("grasp", seed=0).behaviour == "grasp"


@pytest.mark.parametrize("names", [["open", "wander"], ["wänder", "open"]])
def test_names_round_trip_and_non_ascii_is_refused(tmp_path, names):
    from data_collection import save_dataset
    from data_collection.episodes import episodes_to_dataset, iter_episodes

    ds = load_dataset(collect_mixture(tmp_path, "m.h5", episodes=12).out)
    episodes = list(iter_episodes(ds))[:2]
    relabelled = [dataclasses.replace(ep, behaviour=n)
                  for ep, n in zip(episodes, names, strict=True)]
    two = episodes_to_dataset(relabelled, ds.attrs)
    if names[0].isascii() and names[1].isascii():
        save_dataset(tmp_path / "two.h5", two)
        assert load_dataset(tmp_path / "two.h5").behaviour.tolist() == names
    else:
        with pytest.raises(ValueError, match="behaviour names must be ASCII"):
            save_dataset(tmp_path / "two.h5", two)


def test_select_keeps_the_chosen_behaviours_episodes_in_order(tmp_path, capsys):
    source = collect_mixture(tmp_path, "m.h5", episodes=12, save_all=True).out
    ds = load_dataset(source)
    out = tmp_path / "open.h5"
    assert cli_main(["data", "select", str(source), "--behaviour", "open",
                     "--out", str(out)]) == 0
    kept = load_dataset(out)
    rows = np.flatnonzero(ds.behaviour == "open")
    assert kept.num_episodes == len(rows) > 0 and set(kept.behaviour.tolist()) == {"open"}
    for k, row in enumerate(rows):
        a = ds.actions[ds.episode_starts[row]:ds.episode_starts[row] + ds.lengths[row]]
        assert np.array_equal(kept.actions[kept.episode_starts[k]:
                                           kept.episode_starts[k] + kept.lengths[k]], a)
    assert np.array_equal(kept.success, ds.success[rows])
    assert kept.attrs["selected_behaviours"] == ["open"]
    assert kept.attrs["num_successes"] == int(ds.success[rows].sum())
    assert "num_attempted_episodes" not in kept.attrs  # counted the source, not this file
    assert f"wrote {out}: {len(rows)} episodes" in capsys.readouterr().out
    assert validate_file(out) == []


@pytest.mark.parametrize("case, message", [
    ("unknown", "has no episode of behaviour 'grasp'; it holds open, wander"),
    ("unnamed", "does not name its episodes' behaviours"),
    ("exists", "already exists; pass --overwrite"),
])
def test_select_refuses_with_one_line(tmp_path, capsys, case, message):
    source = collect_mixture(tmp_path, "m.h5", save_all=True).out
    out = tmp_path / "out.h5"
    if case == "unnamed":
        source = tmp_path / "plain.h5"
        collect(CollectConfig("fake/Drawer-v0", "fake_open", 3, source, image_size=8),
                env_factory=fakes.fake_env_factory, policy_factory=fakes.fake_policy_factory,
                progress=False)
    if case == "exists":
        out.write_bytes(b"")
    name = "grasp" if case == "unknown" else "open"
    assert cli_main(["data", "select", str(source), "--behaviour", name,
                     "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_non_ascii_names_in_a_file_are_one_reported_problem(tmp_path, capsys):
    path = collect_mixture(tmp_path, "m.h5").out
    with h5py.File(path, "a") as h5:
        n = h5["behaviour"].shape[0]
        del h5["behaviour"]
        h5.create_dataset("behaviour", data=np.array(["wänder".encode()] * n))
    assert validate_file(path) == [f"{path}: 'behaviour' holds names that are not ASCII"]
    assert cli_main(["data", "info", str(path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'behaviour' holds names that are not ASCII" in err[0]
