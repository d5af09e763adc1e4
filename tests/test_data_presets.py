"""COG presets: the (prior, task) pairs, and real-env datasets with COG's reward structure."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data_collection.presets import SCALES, SETUPS, preset_configs


def test_presets_pair_prior_and_task_sources(tmp_path):
    jobs = dict(preset_configs("all", tmp_path))
    assert len(jobs) == 8
    cd_prior, cd_task = jobs["closed_drawer prior"], jobs["closed_drawer task"]
    assert (cd_prior.env_id, cd_prior.policy_name) == ("cog/ClosedDrawerGrasp-v0", "drawer_open")
    assert (cd_task.env_id, cd_task.policy_name) == ("cog/OpenDrawerGrasp-v0", "grasp")
    assert jobs["blocked_by_object task"].fingerprint() == cd_task.fingerprint()
    pp = jobs["pick_place task"]
    assert (pp.env_id, pp.policy_name) == ("cog/Place-v0", "place")
    for label, cfg in jobs.items():
        assert cfg.save_all == label.endswith("task")  # task data keeps failures
        assert cfg.out.name == label.replace(" ", "_") + ".h5"
    assert cd_prior.episodes == SCALES["quick"].prior_episodes
    paper = dict(preset_configs("closed-drawer", tmp_path, scale="paper"))
    assert paper["closed_drawer prior"].episodes == SCALES["paper"].prior_episodes
    assert set(SETUPS) == {"closed-drawer", "blocked-drawer", "blocked-object", "pick-place"}
    with pytest.raises(ValueError, match="unknown setup 'nope'; choose one of closed-drawer"):
        preset_configs("nope", tmp_path)


def test_one_setup_spelling_across_commands(tmp_path, capsys):
    """collect, train and the stitching benchmark take the same names from one registry; the
    old underscore spelling still works, with a note naming the new one."""
    from cog.cli import build_parser, configure_logging
    from cog.config import config_for_setup

    configure_logging()  # as `cog` does: notes go to stderr
    parser = build_parser()
    for setup, preset in SETUPS.items():
        assert parser.parse_args(["collect", "--setup", setup]).preset == setup
        assert parser.parse_args(["train", "--setup", setup]).setup == setup
        assert config_for_setup(setup).eval_env == preset.eval_env == preset.prior.env_id
    assert parser.parse_args(["collect", "--preset", "blocked_by_drawer"]).preset == \
        "blocked-drawer"
    assert "now spelled 'blocked-drawer'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--setup", "closed_drawr"])
    assert "unknown setup 'closed_drawr'; choose one of closed-drawer" in capsys.readouterr().err
    stitching = Path(__file__).resolve().parents[1] / "benchmarks" / "stitching.py"
    res = subprocess.run([sys.executable, str(stitching), "--setup", "closed_drawr"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "unknown setup 'closed_drawr'; choose one of closed-drawer" in res.stderr
    # The old names stay the file stems, so existing data directories keep working.
    assert dict(preset_configs("pick_place", tmp_path))["pick_place task"].out.name == \
        "pick_place_task.h5"


def test_prior_save_all_keeps_failed_prior_attempts_as_cog_released(tmp_path):
    jobs = dict(preset_configs("all", tmp_path, prior_save_all=True))
    assert all(cfg.save_all for cfg in jobs.values())
    # Its own file: a sweep with --save-all beside one without must not meet the other's
    # prior file in a shared data folder.
    plain = dict(preset_configs("all", tmp_path))
    for label, cfg in jobs.items():
        if label.endswith("prior"):
            assert cfg.out.name.endswith("_prior_saveall.h5") and cfg.out != plain[label].out
        else:
            assert cfg.out == plain[label].out


def test_collect_cli_save_all_reaches_the_preset_prior(tmp_path, monkeypatch):
    import data_collection.collect as collect_mod
    from cog.cli import main

    seen = []

    def fake_collect(cfg, progress=True):
        seen.append(cfg)
        raise SystemExit(0)  # stop after the first job: only its config is checked

    monkeypatch.setattr(collect_mod, "collect", fake_collect)
    with pytest.raises(SystemExit):
        main(["collect", "--setup", "closed-drawer", "--out-dir", str(tmp_path), "--save-all",
              "--no-progress"])
    assert seen and seen[0].out.name == "closed_drawer_prior_saveall.h5" and seen[0].save_all


def test_closed_drawer_preset_has_the_reward_structure_cog_needs(tmp_path):
    pytest.importorskip("pybullet")
    envs = pytest.importorskip("envs")
    policies = pytest.importorskip("policies")
    from cog.cli import main as cli_main
    from data_collection import load_dataset, validate_file
    from data_collection.collect import default_env_factory
    from data_collection.rollout import episode_seeds, record_episode

    code = cli_main(["collect", "--setup", "closed-drawer", "--out-dir", str(tmp_path),
                     "--prior-episodes", "3", "--task-episodes", "8", "--no-progress"])
    assert code == 0
    prior = load_dataset(tmp_path / "closed_drawer_prior.h5")
    task = load_dataset(tmp_path / "closed_drawer_task.h5")
    for role, ds in (("prior", prior), ("task", task)):
        assert validate_file(tmp_path / f"closed_drawer_{role}.h5") == []
        assert ds.images.shape[1:] == (48, 48, 3)
        assert not ds.terminals.any()  # COG tasks never terminate
        assert ds.timeouts[ds.episode_starts + ds.lengths - 1].all()
    # Task episodes run to the horizon; prior episodes end when the expert has finished:
    # drawer open, arm back at neutral (the task's initial state), no idle tail.
    assert (task.lengths == envs.horizon("cog/OpenDrawerGrasp-v0")).all()
    assert (prior.lengths < envs.horizon("cog/ClosedDrawerGrasp-v0")).all()
    assert prior.attrs["end_on_done"] is True and task.attrs["end_on_done"] is False
    final_rows = prior.episode_starts + prior.lengths + np.arange(prior.num_episodes)
    assert (prior.objects[final_rows, 0] > 0.95).all()  # bottom drawer open
    task_start = task.states[0, :3]
    np.testing.assert_allclose(prior.states[final_rows, :3],
                               np.tile(task_start, (prior.num_episodes, 1)), atol=0.01)
    # Task data: failures kept, successes present and rewarded 1 by the env.
    assert task.num_episodes == 8 and task.success.any()
    returns = np.add.reduceat(task.rewards, task.episode_starts)
    assert set(np.unique(task.rewards)) <= {0.0, 1.0}
    assert (returns[task.success] > 0).all()
    # Prior data: successful by the expert's own criterion, rewards exactly as the env
    # gives them (no relabelling here): replaying episode 0 reproduces them.
    assert prior.success.all() and prior.attrs["success_key"] == "drawer_open"
    env = default_env_factory("cog/ClosedDrawerGrasp-v0", 48, {})
    policy = policies.make_policy("drawer_open", noise=0.1, seed=0)
    first_kept = int(np.flatnonzero(prior.success)[0])
    assert first_kept == 0
    replay = record_episode(env, policy, *episode_seeds(0, 0), end_on_done=True)
    t = int(prior.lengths[0])
    assert np.array_equal(replay.rewards, prior.rewards[:t])
    assert np.array_equal(replay.images, prior.images[: t + 1])
    # Without end_on_done the same seeds give the same start and then the idle tail.
    full = record_episode(env, policy, *episode_seeds(0, 0))
    assert full.length == envs.horizon("cog/ClosedDrawerGrasp-v0") > t
    assert np.array_equal(full.images[: t + 1], replay.images)


def test_irrelevant_fraction_mixes_distractors_into_the_prior_only(tmp_path):
    jobs = dict(preset_configs("closed-drawer", tmp_path, irrelevant_fraction=0.5))
    prior, task = jobs["closed_drawer prior"], jobs["closed_drawer task"]
    assert prior.policy_name == "mix:drawer_open:0.5"
    assert prior.out.name == "closed_drawer_prior_irr50.h5"
    assert task.policy_name == "grasp" and task.out.name == "closed_drawer_task.h5"
    with pytest.raises(ValueError, match="irrelevant fraction"):
        preset_configs("closed-drawer", tmp_path, irrelevant_fraction=1.5)


def test_prior_idle_tail_runs_prior_episodes_to_the_horizon_in_their_own_file(tmp_path):
    plain = dict(preset_configs("closed-drawer", tmp_path))
    idle = dict(preset_configs("closed-drawer", tmp_path, prior_idle_tail=True))
    assert plain["closed_drawer prior"].end_on_done and not idle["closed_drawer prior"].end_on_done
    assert idle["closed_drawer prior"].out.name == "closed_drawer_prior_idle.h5"
    assert idle["closed_drawer task"] == plain["closed_drawer task"]  # task data unchanged


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_prior_mixture_picks_by_seed_alone_at_the_asked_rate(fraction):
    from policies import make_policy
    from policies.scripted import DISTRACTORS

    mix = make_policy(f"mix:drawer_open:{fraction}", seed=0)
    picks = [mix.choose(seed) for seed in range(400)]
    assert picks == [mix.choose(seed) for seed in range(400)]  # deterministic in the seed
    share = sum(p != "drawer_open" for p in picks) / len(picks)
    assert abs(share - fraction) < 0.08
    assert set(picks) - {"drawer_open"} <= set(DISTRACTORS["drawer_open"])


@pytest.mark.parametrize("name, env_id, check", [
    ("drawer_open_close", "cog/ClosedDrawerGrasp-v0", lambda i: i["drawer_opening"] < 0.05),
    ("wander", "cog/ClosedDrawerGrasp-v0", lambda i: not i["drawer_open"]),
    ("blocker_elsewhere", "cog/BlockedByObjectGrasp-v0",
     lambda i: not i["drawer_open"] and i["blocker_removed"]),
    ("grasp_drop", "cog/PickPlace-v0", lambda i: not i["placed"]),
])
def test_irrelevant_behaviours_run_to_their_end_without_solving_the_task(name, env_id, check):
    import gymnasium

    import envs  # noqa: F401
    from data_collection.rollout import record_episode
    from policies import make_policy

    env = gymnasium.make(env_id)
    try:
        expert = make_policy(name, noise=0.1, seed=0)
        for k in range(2):
            ep = record_episode(env, expert, 50 + k, 60 + k, end_on_done=True)
            info = env.unwrapped._info()
            assert ep.success and expert.done and check(info), (name, k)
            assert not info["is_success"]
    finally:
        env.close()


def test_a_bad_mixture_name_is_refused():
    from policies import make_policy

    for bad in ("mix:drawer_open", "mix:drawer_open:lots", "mix:place:0.5",
                "mix:drawer_open:2"):
        with pytest.raises(ValueError):
            make_policy(bad)


def test_approach_gripper_hold_gets_its_own_files_and_leaves_old_files_matching(tmp_path):
    plain = dict(preset_configs("pick-place", tmp_path))
    hold = dict(preset_configs("pick-place", tmp_path, approach_gripper="hold"))
    for label, cfg in plain.items():
        assert cfg.approach_gripper == "open" and hold[label].approach_gripper == "hold"
        assert hold[label].out.name == cfg.out.name.replace(".h5", "_hold.h5")
        # data collected before the option existed still matches the default's fingerprint
        assert "approach_gripper" not in cfg.fingerprint()
        assert hold[label].fingerprint()["approach_gripper"] == "hold"
    with pytest.raises(ValueError, match="approach-gripper must be open or hold"):
        dataclasses.replace(cfg, approach_gripper="shut")
    from data_collection.collect import APPROACH_GRIPPER
    from policies.scripted import APPROACH_GRIPPER as EXPERT_LABELS

    assert tuple(EXPERT_LABELS) == APPROACH_GRIPPER  # the command line's choices


def test_approach_gripper_reaches_collection_from_both_commands(tmp_path, monkeypatch):
    import data_collection.collect as collect_mod
    from cog.cli import build_parser, main
    from cog.commands.sweep import sweep_config
    from cog.sweep import SweepConfig, collect_setup

    seen = []

    def fake_collect(cfg, progress=True):
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(collect_mod, "collect", fake_collect)
    with pytest.raises(SystemExit):
        main(["collect", "--setup", "pick-place", "--out-dir", str(tmp_path),
              "--approach-gripper", "hold", "--no-progress"])
    args = build_parser().parse_args(["sweep", "--setups", "pick-place", "--data-dir",
                                      str(tmp_path), "--approach-gripper", "hold"])
    with pytest.raises(SystemExit):
        collect_setup(sweep_config(args), "pick-place")
    assert [c.out.name for c in seen] == ["pick_place_prior_hold.h5"] * 2
    assert all(c.approach_gripper == "hold" for c in seen)
    with pytest.raises(ValueError, match="approach_gripper 'shut'"):
        SweepConfig(approach_gripper="shut").validate()
