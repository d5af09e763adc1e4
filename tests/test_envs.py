"""The simulated COG tasks: spaces, determinism, isolation, bad input, rewards, kinematics."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.arm import DOWN_QUAT, ArmKinematics
from envs.camera import preprocess_image
from envs.drawer_env import validate_action


def _rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    images, states = [obs["image"]], [obs["state"]]
    for a in actions:
        obs, *_ = env.step(a)
        images.append(obs["image"])
        states.append(obs["state"])
    return np.stack(images), np.stack(states)


def _random_actions(n, seed=0):
    rng = np.random.default_rng(seed)
    acts = rng.uniform(-1, 1, (n, 8)).astype(np.float32)
    acts[:, 7] = 0.0  # no neutral resets, so the arm actually wanders
    return acts


@pytest.mark.parametrize("env_id", envs.ENV_IDS)
def test_check_env_passes(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_all_six_tasks_registered_with_horizons():
    expected = {
        "cog/OpenDrawerGrasp-v0": 30,
        "cog/ClosedDrawerGrasp-v0": 50,
        "cog/BlockedByDrawerGrasp-v0": 80,
        "cog/BlockedByObjectGrasp-v0": 80,
        "cog/PickPlace-v0": 40,
        "cog/Place-v0": 30,
    }
    assert {k: envs.horizon(k) for k in envs.ENV_IDS} == expected
    for env_id, h in expected.items():
        assert gym.spec(env_id).max_episode_steps == h


def test_spaces_and_info_contract():
    env = gym.make("cog/ClosedDrawerGrasp-v0")
    obs, info = env.reset(seed=3)
    assert obs["image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
    assert obs["state"].shape == (10,) and obs["state"].dtype == np.float32
    assert env.action_space.shape == (8,)
    for key in ("ee_pos", "object_pos", "handle_pos", "top_handle_pos", "blocker_pos", "tray_pos"):
        assert np.asarray(info[key]).shape == (3,), key
    for key in (
        "drawer_open",
        "top_drawer_closed",
        "blocker_removed",
        "grasped",
        "placed",
        "is_success",
    ):
        assert isinstance(info[key], bool), key
    np.testing.assert_allclose(obs["state"][:3], info["ee_pos"], atol=1e-5)
    assert obs["state"][9] == 1.0  # gripper starts open
    assert not info["drawer_open"] and info["top_drawer_closed"]
    assert obs["image"].std() > 10  # a real picture, not a blank frame
    env.close()


@pytest.mark.parametrize("env_id", ["cog/ClosedDrawerGrasp-v0", "cog/BlockedByDrawerGrasp-v0",
                                    "cog/BlockedByObjectGrasp-v0"])
def test_object_observation_is_the_privileged_scene_state(env_id):
    """obs["object"] = bottom/top drawer opening, object xyz, blocker xyz, as info reports
    them; it is what tells a closed-drawer start from an open-drawer one in state space."""
    env = gym.make(env_id)
    obs, info = env.reset(seed=5)
    assert obs["object"].shape == (8,) and obs["object"].dtype == np.float32
    assert env.observation_space["object"].contains(obs["object"])
    want = np.concatenate([[info["drawer_opening"], info["top_drawer_opening"]],
                           info["object_pos"], info["blocker_pos"]])
    np.testing.assert_allclose(obs["object"], want, atol=1e-6)
    obs2, _, _, _, info2 = env.step(np.zeros(8, np.float32))
    np.testing.assert_allclose(obs2["object"][2:5], info2["object_pos"], atol=1e-6)
    open_env = gym.make("cog/OpenDrawerGrasp-v0")
    open_obs, _ = open_env.reset(seed=5)
    # Proprioception is the same at both starts; the object state is not.
    np.testing.assert_allclose(open_obs["state"][:3], obs["state"][:3], atol=1e-4)
    assert open_obs["object"][0] > 0.9 > 0.1 > obs["object"][0]
    env.close()
    open_env.close()


def test_image_size_is_configurable():
    env = gym.make("cog/OpenDrawerGrasp-v0", image_size=64)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (64, 64, 3)
    assert env.observation_space["image"].shape == (64, 64, 3)
    env.close()


def test_same_seed_gives_bit_identical_images_and_states():
    acts = _random_actions(12)
    env = gym.make("cog/BlockedByObjectGrasp-v0")
    img1, st1 = _rollout(env, 11, acts)
    img2, st2 = _rollout(env, 11, acts)
    img3, _ = _rollout(env, 12, acts)
    env.close()
    np.testing.assert_array_equal(img1, img2)
    np.testing.assert_array_equal(st1, st2)
    assert not np.array_equal(img1[0], img3[0])  # another seed: another scene


def test_two_envs_in_one_process_do_not_interfere():
    acts = _random_actions(10, seed=1)
    solo = gym.make("cog/ClosedDrawerGrasp-v0")
    ref_img, ref_state = _rollout(solo, 5, acts)
    solo.close()

    a = gym.make("cog/ClosedDrawerGrasp-v0")
    b = gym.make("cog/PickPlace-v0")
    obs_a, _ = a.reset(seed=5)
    b.reset(seed=99)
    imgs, states = [obs_a["image"]], [obs_a["state"]]
    other = _random_actions(10, seed=2)
    for act, act_b in zip(acts, other, strict=False):
        b.step(act_b)  # interleaved work in the other env
        obs_a, *_ = a.step(act)
        imgs.append(obs_a["image"])
        states.append(obs_a["state"])
    a.close()
    b.close()
    np.testing.assert_array_equal(np.stack(imgs), ref_img)
    np.testing.assert_array_equal(np.stack(states), ref_state)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(7, np.float32), "shape"),
        (np.zeros((2, 8), np.float32), "shape"),
        (np.array([0, 0, np.nan, 0, 0, 0, 0, 0], np.float32), "non-finite"),
        (np.array([np.inf, 0, 0, 0, 0, 0, 0, 0]), "non-finite"),
        (np.array(["a"] * 8), "numeric"),
        (None, "numeric"),
    ],
)
def test_bad_actions_raise_clear_errors(bad, message):
    env = gym.make("cog/OpenDrawerGrasp-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(bad)
    env.close()


def test_nan_error_names_the_index():
    with pytest.raises(ValueError, match=r"indices \[2\]"):
        validate_action([0, 0, float("nan"), 0, 0, 0, 0, 0])


def test_out_of_range_actions_are_clipped():
    big = np.array([5.0, -7.0, 3.0, 0, 0, 0, 0, 0])
    unit = np.clip(big, -1, 1)
    np.testing.assert_array_equal(validate_action(big), unit.astype(np.float32))
    env = gym.make("cog/OpenDrawerGrasp-v0")
    _, s_big = _rollout(env, 0, [big] * 3)
    _, s_unit = _rollout(env, 0, [unit] * 3)
    env.close()
    np.testing.assert_array_equal(s_big, s_unit)


def test_unknown_env_id_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown env id 'cog/Nope-v0'"):
        envs.make("cog/Nope-v0")


def test_truncated_at_horizon_never_terminated_and_reward_is_success():
    env = gym.make("cog/Place-v0")
    env.reset(seed=0)
    zero = np.zeros(8, np.float32)
    for t in range(1, 31):
        _, reward, terminated, truncated, info = env.step(zero)
        assert not terminated
        assert truncated == (t == 30)
        assert reward == (1.0 if info["is_success"] else 0.0)
    env.close()


def test_reset_restores_instead_of_rebuilding():
    env = gym.make("cog/ClosedDrawerGrasp-v0").unwrapped
    env.reset(seed=0)
    bodies = env._client.getNumBodies()
    for s in range(3):
        env.reset(seed=s)
    assert env._client.getNumBodies() == bodies  # nothing was reloaded
    env.close()


def test_visual_randomization_changes_pixels_but_not_physics():
    plain = gym.make("cog/OpenDrawerGrasp-v0")
    rand = gym.make("cog/OpenDrawerGrasp-v0", visual_randomization=True)
    o1, i1 = plain.reset(seed=4)
    o2, i2 = rand.reset(seed=4)
    o3, _ = rand.reset(seed=4)
    np.testing.assert_array_equal(o2["image"], o3["image"])  # still seeded
    assert not np.array_equal(o1["image"], o2["image"])
    np.testing.assert_allclose(i1["object_pos"], i2["object_pos"])
    plain.close()
    rand.close()


def test_render_gives_a_larger_frame():
    env = gym.make("cog/OpenDrawerGrasp-v0", render_mode="rgb_array", render_size=128)
    env.reset(seed=0)
    assert env.render().shape == (128, 128, 3)
    env.close()


def test_render_images_off_gives_blank_images_same_physics():
    on = gym.make("cog/PickPlace-v0")
    off = gym.make("cog/PickPlace-v0", render_images=False)
    acts = _random_actions(5)
    _, s_on = _rollout(on, 1, acts)
    img_off, s_off = _rollout(off, 1, acts)
    assert not img_off.any()
    np.testing.assert_array_equal(s_on, s_off)


def test_preprocess_image_centre_crops_and_resizes():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = 200  # the centre square is bright, the side bands dark
    out = preprocess_image(frame, 48)
    assert out.shape == (48, 48, 3) and out.dtype == np.uint8
    assert (out == 200).all()
    same = np.arange(48 * 48 * 3, dtype=np.uint8).reshape(48, 48, 3)
    np.testing.assert_array_equal(preprocess_image(same, 48), same)
    with pytest.raises(ValueError, match="uint8"):
        preprocess_image(frame.astype(np.float32), 48)


def test_arm_kinematics_match_the_widowx_250s_facts():
    kin = ArmKinematics()
    tip, _ = kin.fk(np.zeros(6))
    np.testing.assert_allclose(tip, [0.458325, 0.0, 0.36065], atol=1e-5)
    for target in ([0.38, 0.05, 0.03], [0.30, -0.19, 0.10], [0.25, 0.1, 0.2]):
        _, err = kin.ik(target, DOWN_QUAT, kin.neutral_joints)
        assert err < 0.003, (target, err)
    kin.close()


def test_egl_renders_a_real_picture_or_falls_back_with_a_warning():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make("cog/OpenDrawerGrasp-v0", renderer="egl")
    obs, _ = env.reset(seed=0)
    renderer = env.unwrapped.renderer
    env.close()
    if renderer == "tiny":
        assert any("EGL renderer unavailable" in str(w.message) for w in caught)
    else:
        assert renderer == "egl"
    # Either way a picture, not the plain background an EGL plugin loaded too late would give.
    assert obs["image"].std() > 10
