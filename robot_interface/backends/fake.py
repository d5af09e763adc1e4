"""An in-memory robot: a point end effector that follows commands exactly.

Used by transport, safety and deployment tests that should not pay for physics, and as a
template for new backends. The image is a deterministic function of the pose.
"""

from __future__ import annotations

import time

import numpy as np

from envs import constants as C
from robot_interface.robot import Observation, Robot

NEUTRAL_POS = (0.30, 0.0, 0.20)


class FakeRobot(Robot):
    name = "fake"
    env_id = "fake"

    def __init__(self, image_size: int = C.DEFAULT_IMAGE_SIZE, horizon: int = 20) -> None:
        super().__init__()
        self.image_size = int(image_size)
        self.horizon = int(horizon)
        self.connected = False
        self.pos = np.array(NEUTRAL_POS, dtype=np.float64)
        self.gripper_open = True
        self.moves = 0  # commands that actually moved the arm; tests assert on it
        self.holds = 0
        self.steps = 0

    def connect(self) -> None:
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def _image(self) -> np.ndarray:
        s = self.image_size
        img = np.zeros((s, s, 3), dtype=np.uint8)
        lo, hi = np.asarray(C.WORKSPACE_LOW), np.asarray(C.WORKSPACE_HIGH)
        u = np.clip((self.pos - lo) / (hi - lo), 0.0, 1.0)
        r, c = int(u[0] * (s - 4)), int(u[1] * (s - 4))
        img[r : r + 4, c : c + 4] = (255, int(u[2] * 255), 64)
        return img

    def observe(self) -> Observation:
        state = np.zeros(C.STATE_DIM, dtype=np.float32)
        state[:3] = self.pos
        state[3:7] = (0.0, 0.0, 0.0, 1.0)
        fingers = 0.02 if self.gripper_open else 0.0
        state[7:9] = fingers
        state[9] = float(self.gripper_open)
        reward = float(self.pos[2] > 0.3)  # "success" = lifted high; lets deploy count successes
        return Observation(
            image=self._image(), state=state, frame_time=time.monotonic(), reward=reward
        )

    def act(self, action: np.ndarray) -> np.ndarray:
        if not self.connected:
            raise RuntimeError("FakeRobot.act before connect()")
        action = np.asarray(action, dtype=np.float32)
        self.steps += 1
        if action[7] > C.NEUTRAL_THRESHOLD:
            self.home()
            return action
        if action[6] > C.GRIPPER_OPEN_THRESHOLD:
            self.gripper_open = True
        elif action[6] < C.GRIPPER_CLOSE_THRESHOLD:
            self.gripper_open = False
        new = np.clip(
            self.pos + action[:3].astype(np.float64) * C.POS_STEP_M,
            C.WORKSPACE_LOW,
            C.WORKSPACE_HIGH,
        )
        if not np.array_equal(new, self.pos):
            self.moves += 1
        self.pos = new
        return action

    def home(self) -> None:
        self.pos = np.array(NEUTRAL_POS, dtype=np.float64)
        self.gripper_open = True

    def stop(self) -> None:
        self.holds += 1

    def reset(self, seed: int | None = None) -> Observation:
        self.home()
        return self.observe()

    def ee_pos(self) -> np.ndarray:
        return self.pos.copy()
