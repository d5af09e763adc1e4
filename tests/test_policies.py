"""Scripted experts: sub-goals they achieve, seeding, noise, and the stitching overlap."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from cog.cli import main
from policies import POLICY_NAMES, Policy, make_policy


def _run(env_id, name, seed, noise=0.0):
    env = envs.make(env_id)
    policy = make_policy(name, noise=noise, seed=seed)
    obs, info = env.reset(seed=seed)
    policy.reset(seed=seed)
    first = dict(info)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        done = terminated or truncated
    env.close()
    return first, info, obs


@pytest.mark.parametrize(
    "env_id, expert, flag",
    [
        ("cog/ClosedDrawerGrasp-v0", "drawer_open", "drawer_open"),
        ("cog/BlockedByDrawerGrasp-v0", "close_top_open_bottom", "top_drawer_closed"),
        ("cog/BlockedByObjectGrasp-v0", "blocker_removal_open", "blocker_removed"),
        ("cog/OpenDrawerGrasp-v0", "grasp", "grasped"),
        ("cog/Place-v0", "place", "placed"),
        ("cog/PickPlace-v0", "pick_place", "placed"),
        ("cog/ClosedDrawerGrasp-v0", "closed_drawer_oracle", "is_success"),
    ],
)
def test_expert_flips_its_subgoal_flag(env_id, expert, flag):
    first, last, _ = _run(env_id, expert, seed=1)
    assert first[flag] is False
    assert last[flag] is True


def test_grasp_only_expert_cannot_succeed_from_a_closed_drawer():
    _, last, _ = _run("cog/ClosedDrawerGrasp-v0", "grasp", seed=1)
    assert not last["is_success"] and not last["drawer_open"]


def test_drawer_expert_ends_where_the_grasp_task_starts():
    """The stitching overlap: the prior expert's end state is the task env's initial state."""
    _, last, obs = _run("cog/ClosedDrawerGrasp-v0", "drawer_open", seed=2, noise=0.1)
    task = envs.make("cog/OpenDrawerGrasp-v0")
    task_obs, task_info = task.reset(seed=2)
    task.close()
    assert last["drawer_open"] and task_info["drawer_open"]
    assert obs["state"][9] == task_obs["state"][9] == 1.0  # gripper open in both
    assert np.linalg.norm(last["ee_pos"] - task_info["ee_pos"]) < 0.03  # arm back at neutral


def test_experts_are_seeded_and_noise_is_clipped():
    info = {"ee_pos": np.zeros(3), "object_pos": np.array([0.3, 0.0, 0.02]),
            "ee_quat": np.array([-0.5, 0.5, 0.5, 0.5])}
    a = make_policy("grasp", noise=0.5, seed=3)
    b = make_policy("grasp", noise=0.5, seed=3)
    acts_a = np.stack([a.act({}, info) for _ in range(50)])
    acts_b = np.stack([b.act({}, info) for _ in range(50)])
    np.testing.assert_array_equal(acts_a, acts_b)
    assert np.abs(acts_a).max() <= 0.9 + 1e-6
    assert acts_a.dtype == np.float32 and acts_a.shape == (50, 8)
    a.reset(seed=3)
    np.testing.assert_array_equal(a.act({}, info), acts_b[0])
    assert isinstance(a, Policy)


def test_unknown_policy_and_bad_noise_are_clear_errors():
    with pytest.raises(ValueError, match="unknown policy 'nope'"):
        make_policy("nope")
    with pytest.raises(ValueError, match="noise"):
        make_policy("grasp", noise=float("nan"))
    assert "drawer_open" in POLICY_NAMES


def test_readme_rollout_command_writes_gifs(tmp_path, capsys):
    gif = tmp_path / "ep.gif"
    code = main(["rollout", "--env", "cog/OpenDrawerGrasp-v0", "--policy", "grasp",
                 "--episodes", "2", "--seed", "0", "--video", str(gif), "--video-size", "96"])
    assert code == 0
    out = capsys.readouterr().out
    assert "success (grasped)" in out
    import imageio.v2 as imageio

    frames = imageio.mimread(gif)
    assert len(frames) == 31 and frames[0].shape[:2] == (48, 48)
    big = imageio.mimread(tmp_path / "ep_96.gif")
    assert big[0].shape[:2] == (96, 96)
    from PIL import Image

    # A real frame delay is stored (8 fps = 125 ms), so viewers play the rollout at its speed.
    # GIF stores delays in 10 ms units.
    assert Image.open(gif).info["duration"] == pytest.approx(125, abs=10)


def test_cli_unknown_env_is_one_line_error(capsys):
    assert main(["rollout", "--env", "cog/Nope-v0", "--policy", "grasp"]) == 2
    err = capsys.readouterr().err
    assert "unknown env id 'cog/Nope-v0'" in err and "Traceback" not in err


def test_cog_envs_lists_every_env(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for env_id in envs.ENV_IDS:
        assert env_id in out


def test_approach_gripper_hold_changes_the_gripper_labels_and_nothing_else():
    """COG's scripted grasp approaches with gripper command 0 (no change) where ours sends
    "open"; the arm moves the same either way, so only the recorded labels differ."""
    runs = {}
    for approach in ("open", "hold"):
        env = envs.make("cog/PickPlace-v0")
        policy = make_policy("pick_place", noise=0.1, seed=3, approach_gripper=approach)
        obs, info = env.reset(seed=3)
        policy.reset(seed=3)
        actions, ee, done = [], [], False
        while not done:
            actions.append(policy.act(obs, info))
            obs, _, terminated, truncated, info = env.step(actions[-1])
            ee.append(np.array(info["ee_pos"]))
            done = terminated or truncated
        env.close()
        runs[approach] = np.array(actions), np.array(ee), info["placed"]
    (a_open, ee_open, placed_open), (a_hold, ee_hold, placed_hold) = runs["open"], runs["hold"]
    assert placed_open and placed_hold
    np.testing.assert_allclose(ee_open, ee_hold, atol=1e-9)  # the same motion
    np.testing.assert_array_equal(np.delete(a_open, 6, axis=1), np.delete(a_hold, 6, axis=1))
    close = int(np.argmax(a_open[:, 6] < -0.5))  # the grasp's one close step, in both
    assert close > 0 and a_hold[close, 6] < -0.5
    assert (a_open[:close, 6] > 0.5).mean() > 0.5  # ours: "open" while approaching
    assert (np.abs(a_hold[:close, 6]) < 0.5).all()  # COG's: no command while approaching
    with pytest.raises(ValueError, match="approach_gripper 'shut'"):
        make_policy("grasp", approach_gripper="shut")
