"""A tiny fake env + scripted policy with the envs/policies contract (no PyBullet), used by
the data tests. Module-level factories so Ray can ship them to workers."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium
import numpy as np

HORIZON = 6


class FakeDrawerEnv(gymnasium.Env):
    """Like a prior env: the env reward ('is_success') is always 0, while the drawer opens
    (info['drawer_open']) in ~60% of episodes, decided by the reset seed."""

    def __init__(self, image_size: int = 8, horizon: int = HORIZON, fail_after_resets=None,
                 die_after_resets=None, die_once_marker=None, die_on_seed=None) -> None:
        self.image_size = image_size
        self.horizon = horizon
        self.observation_space = gymnasium.spaces.Dict(
            image=gymnasium.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
            state=gymnasium.spaces.Box(-np.inf, np.inf, (10,), np.float32),
        )
        self.action_space = gymnasium.spaces.Box(-1, 1, (8,), np.float32)
        self.fail_after_resets = fail_after_resets
        self.die_after_resets = die_after_resets
        self.die_once_marker = die_once_marker
        self.die_on_seed = die_on_seed
        self.resets = 0

    def _obs(self):
        level = int(np.clip((self.pos[0] + 2) * 60 + 5 * self.t, 0, 255))
        image = np.full((self.image_size, self.image_size, 3), level, np.uint8)
        image[0, 0] = self.noise_pixel
        state = np.concatenate([self.pos, [0, 0, 0, 1], [0.01, 0.01], [1.0]]).astype(np.float32)
        return {"image": image, "state": state}

    def _info(self):
        opened = bool(self.reachable and self.t >= 3)
        return {"drawer_open": opened, "is_success": False, "ee_pos": self.pos.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.resets += 1
        if self.fail_after_resets is not None and self.resets > self.fail_after_resets:
            raise RuntimeError("injected failure")
        if self.die_after_resets is not None and self.resets > self.die_after_resets:
            marker = self.die_once_marker
            if marker is None or not Path(marker).exists():
                if marker is not None:
                    Path(marker).touch()
                os._exit(3)  # a worker process dying mid-shard
        if self.die_on_seed is not None and seed == self.die_on_seed:
            os._exit(4)  # a fault tied to one episode: every retry of its shard dies
        self.t = 0
        self.pos = self.np_random.uniform(-1, 1, 3)
        self.reachable = bool(self.np_random.random() < 0.6)
        self.noise_pixel = self.np_random.integers(0, 256, 3).astype(np.uint8)
        return self._obs(), self._info()

    def step(self, action):
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (8,) or not np.isfinite(action).all():
            raise ValueError(f"bad action {action}")
        self.pos = self.pos + 0.1 * np.clip(action[:3], -1, 1)
        self.t += 1
        info = self._info()
        return self._obs(), float(info["is_success"]), False, self.t >= self.horizon, info


class FakeOpenPolicy:
    success_key = "drawer_open"

    def __init__(self, noise: float = 0.1, seed: int | None = None) -> None:
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def reset(self, seed=None):
        self.rng = np.random.default_rng(seed)

    def act(self, obs, info):
        move = -0.5 * np.asarray(info["ee_pos"]) + self.noise * self.rng.normal(size=3)
        action = np.zeros(8, np.float32)
        action[:3] = np.clip(move, -0.9, 0.9)
        action[6] = 1.0
        return action


def fake_env_factory(env_id, image_size, env_kwargs, **faults):
    return FakeDrawerEnv(image_size=image_size, **env_kwargs, **faults)


def fake_policy_factory(name, noise, seed, approach_gripper="open"):
    return FakeOpenPolicy(noise=noise, seed=seed)


def test_fake_env_follows_the_contract():
    env = fake_env_factory("fake", 8, {})
    obs, info = env.reset(seed=1)
    assert obs["image"].shape == (8, 8, 3) and obs["image"].dtype == np.uint8
    assert obs["state"].shape == (10,) and obs["state"].dtype == np.float32
    steps = 0
    truncated = False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(np.zeros(8, np.float32))
        steps += 1
        assert reward == 0.0 and not terminated
    assert steps == HORIZON
