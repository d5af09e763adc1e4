"""The PyBullet scene from ``envs`` as a stand-in robot: same camera, same action semantics.

Commands that passed the safety filter go to ``env.step`` unchanged, so a run through the
server and a run directly in the env give the same trajectory. The env's ``info`` dict is sent
as *privileged* (sim-only) data so scripted experts can run through the real client.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from envs import constants as C
from robot_interface.robot import Observation, Robot


class SimRobot(Robot):
    name = "sim"

    def __init__(
        self,
        task: str = "cog/OpenDrawerGrasp-v0",
        image_size: int = C.DEFAULT_IMAGE_SIZE,
        seed: int = 0,
        render_images: bool = True,
    ) -> None:
        super().__init__()
        self.task = task
        self.env_id = task
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.render_images = render_images
        self.env = None
        self._obs: dict[str, np.ndarray] | None = None
        self._info: dict[str, Any] | None = None
        self._reward: float | None = None
        self._frame_time = 0.0
        self.holds = 0

    def connect(self) -> None:
        import envs

        self.horizon = envs.horizon(self.task)
        self.env = envs.make(
            self.task, image_size=self.image_size, render_images=self.render_images
        )
        self.reset(self.seed)

    def disconnect(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None

    def _store(self, obs, info, reward) -> Observation:
        self._obs, self._info, self._reward = obs, info, reward
        self._frame_time = time.monotonic()  # the render happened inside reset/step, just now
        return self.observe()

    def observe(self) -> Observation:
        if self._obs is None:
            raise RuntimeError("SimRobot.observe before connect()")
        return Observation(
            image=self._obs["image"],
            state=self._obs["state"],
            frame_time=self._frame_time,
            reward=self._reward,
            privileged=self._info,
        )

    def reset(self, seed: int | None = None) -> Observation:
        obs, info = self.env.reset(seed=seed)
        return self._store(obs, info, 0.0 if not info.get("is_success") else 1.0)

    def act(self, action: np.ndarray) -> np.ndarray:
        obs, reward, _terminated, _truncated, info = self.env.step(action)
        self._store(obs, info, float(reward))
        return np.asarray(action, dtype=np.float32)

    def home(self) -> None:
        neutral = np.zeros(C.ACTION_DIM, dtype=np.float32)
        neutral[7] = 1.0
        self.act(neutral)

    def stop(self) -> None:
        # The sim only moves inside env.step, so not stepping is holding.
        self.holds += 1

    def ee_pos(self) -> np.ndarray:
        pos, _ = self.env.unwrapped.scene.arm.ee_pose()
        return np.asarray(pos, dtype=np.float64)
