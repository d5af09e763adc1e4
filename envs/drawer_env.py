"""The gymnasium env shared by every COG task: end-effector delta control of the arm."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet
from gymnasium import spaces
from pybullet_utils import bullet_client

from envs import constants as C
from envs.arm import DOWN_QUAT, FINGER_CLOSED, FINGER_OPEN, ArmKinematics
from envs.camera import Camera, CameraPose
from envs.quiet import silenced_output
from envs.scene import BOTTOM, DRAWER_TRAVEL, TOP, Scene
from envs.tasks import TASKS, subgoals

_WS_LOW = np.array(C.WORKSPACE_LOW)
_WS_HIGH = np.array(C.WORKSPACE_HIGH)


def validate_action(action: Any) -> np.ndarray:
    """Returns the action as float32 (8,), clipped to [-1, 1]; raises ValueError naming the
    problem for a wrong shape, a non-numeric dtype or a non-finite value."""
    arr = np.asarray(action)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"action must be numeric (float), got dtype {arr.dtype}")
    if arr.shape != (C.ACTION_DIM,):
        raise ValueError(f"action must have shape ({C.ACTION_DIM},), got {arr.shape}")
    arr = arr.astype(np.float32)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"action has non-finite values at indices {np.flatnonzero(bad).tolist()}: "
            f"{arr.tolist()}"
        )
    return np.clip(arr, -1.0, 1.0)


class CogDrawerEnv(gym.Env):
    """A WidowX 250s-class arm at a two-drawer cabinet, a tray and graspable objects.

    Observation: ``{"image": uint8 HxWx3, "state": float32 (10,), "object": float32 (8,)}``:
    ``state`` is proprioception (what a real arm reports too), ``object`` the privileged scene
    state of ``constants.OBJECT_STATE_DIM`` (simulation only). Action: 8 numbers in
    [-1, 1]: dx dy dz (x ``POS_STEP_M`` m), droll dpitch dyaw (x ``ROT_STEP_DEG`` deg),
    gripper (>0.5 open, <-0.5 close), neutral (>0.5). Reward 1.0 while the task's success holds.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(
        self,
        task: str = "cog/OpenDrawerGrasp-v0",
        image_size: int = C.DEFAULT_IMAGE_SIZE,
        render_images: bool = True,
        visual_randomization: bool = False,
        renderer: str = "tiny",
        render_mode: str | None = None,
        render_size: int = 256,
    ):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; known: {sorted(TASKS)}")
        if not isinstance(image_size, int | np.integer) or not 8 <= image_size <= 512:
            raise ValueError(f"image_size must be an int in [8, 512], got {image_size!r}")
        if renderer not in ("tiny", "egl"):
            raise ValueError(f"renderer must be 'tiny' or 'egl', got {renderer!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.spec_task = TASKS[task]
        self.horizon = self.spec_task.horizon
        self.image_size = int(image_size)
        self.render_images = render_images
        self.visual_randomization = visual_randomization
        self.render_mode = render_mode
        self.render_size = int(render_size)

        # Each env owns a private physics server: envs never share pybullet state.
        with silenced_output():  # connecting prints "argv[0]=" on stdout
            self._client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
        self.renderer = self._setup_renderer(renderer)
        self.scene = Scene(self._client)
        # IK is solved in a private, physics-free client seeded from the current joints, so a
        # contact that knocks the arm around cannot drag the solution onto a twisted branch.
        self._kinematics = ArmKinematics()
        self.camera = Camera(self._client, CameraPose(), self.renderer)
        self._client.stepSimulation()  # let resting contacts form before the state is saved
        self._base_state = self._client.saveState()

        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (self.image_size, self.image_size, 3), np.uint8),
                "state": spaces.Box(-np.inf, np.inf, (C.STATE_DIM,), np.float32),
                "object": spaces.Box(-np.inf, np.inf, (C.OBJECT_STATE_DIM,), np.float32),
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (C.ACTION_DIM,), np.float32)
        self._steps = 0
        self._gripper_open = True
        self._target_quat = np.array(DOWN_QUAT)
        self._object = 0

    # --- set-up -----------------------------------------------------------------------------------
    def _setup_renderer(self, renderer: str) -> str:
        if renderer == "tiny":
            return "tiny"
        # The EGL plugin must be loaded before any body, or every image is plain background.
        egl = importlib.util.find_spec("eglRenderer")
        plugin = -1
        if egl is not None and egl.origin:
            plugin = self._client.loadPlugin(egl.origin, "_eglRendererPlugin")
        if plugin < 0:
            warnings.warn("EGL renderer unavailable; falling back to TinyRenderer", stacklevel=3)
            return "tiny"
        return "egl"

    # --- gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        c = self._client
        scene = self.scene
        # restoreState does not drop contact manifolds created since the save, and their
        # warm-start impulses would leak the last episode into this one. Separating every free
        # body and running one collision pass frees them; then the restore is exact.
        scene.isolate_free_bodies()
        c.performCollisionDetection()
        c.restoreState(self._base_state)
        scene.arm.reset_to(scene.neutral_q, FINGER_OPEN)
        scene.arm.command_gripper(True)
        self._gripper_open = True
        self._target_quat = np.array(DOWN_QUAT)
        setup = self.spec_task.init(scene, rng)
        self._object = setup["object_index"]
        if "hold_at" in setup:
            self._start_in_gripper(setup["hold_at"])
        self._randomize_visuals(rng)
        self._steps = 0
        return self._observation(), self._info()

    def step(self, action):
        a = validate_action(action)
        arm = self.scene.arm
        substeps = C.SUBSTEPS_PER_STEP
        if a[7] > C.NEUTRAL_THRESHOLD:
            arm.command_joints(self.scene.neutral_q)
            self._target_quat = np.array(DOWN_QUAT)
            substeps = C.SUBSTEPS_GRIPPER
        else:
            ee_pos, _ = arm.ee_pose()
            target = np.clip(ee_pos + a[:3] * C.POS_STEP_M, _WS_LOW, _WS_HIGH)
            if np.any(a[3:6] != 0.0):
                delta = pybullet.getQuaternionFromEuler(
                    (a[3:6] * math.radians(C.ROT_STEP_DEG)).tolist()
                )
                _, self._target_quat = pybullet.multiplyTransforms(
                    (0, 0, 0), delta, (0, 0, 0), self._target_quat.tolist()
                )
                self._target_quat = np.asarray(self._target_quat)
            q, _ = self._kinematics.ik(target, self._target_quat, arm.joint_positions(), rounds=1)
            arm.command_joints(q)
        want_open = self._gripper_open
        if a[6] > C.GRIPPER_OPEN_THRESHOLD:
            want_open = True
        elif a[6] < C.GRIPPER_CLOSE_THRESHOLD:
            want_open = False
        if want_open != self._gripper_open:
            self._gripper_open = want_open
            arm.command_gripper(want_open)
            substeps = C.SUBSTEPS_GRIPPER
        for _ in range(substeps):
            self._client.stepSimulation()
        self._steps += 1
        obs, info = self._observation(), self._info()
        reward = 1.0 if info["is_success"] else 0.0
        truncated = self._steps >= self.horizon
        return obs, reward, False, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self.camera.render(self.render_size)

    def close(self):
        if getattr(self, "_client", None) is not None:
            with contextlib.suppress(pybullet.error):
                self._client.disconnect()
            self._client = None
            self._kinematics.close()

    # --- internals ------------------------------------------------------------------------
    def _start_in_gripper(self, hold_at: np.ndarray) -> None:
        """Teleports the arm to hold the object between closed fingers at ``hold_at``."""
        scene, arm = self.scene, self.scene.arm
        q = scene.neutral_q
        for _ in range(3):
            q = arm.ik(hold_at, DOWN_QUAT, iterations=50)
            arm.reset_to(q, FINGER_OPEN)
        half_w = scene.half_width(self._object)
        # The object's centre sits between the finger pads, a little above the tip.
        obj = hold_at + np.array([0.0, 0.0, 0.02])
        scene.place_body(scene.bodies.objects[self._object], obj)
        arm.reset_to(q, float(np.clip(half_w + 0.005, FINGER_CLOSED, FINGER_OPEN)))
        arm.command_gripper(False)
        self._gripper_open = False
        # Let the fingers close on the object (0.1 s) so every episode starts from a settled grasp.
        for _ in range(24):
            self._client.stepSimulation()

    def _randomize_visuals(self, rng: np.random.Generator) -> None:
        if not self.visual_randomization:
            return
        s = self.scene
        s.set_color(s.bodies.table, (*rng.uniform(0.4, 0.9, 3), 1.0))
        for link in (-1, BOTTOM, TOP):
            s.set_color(s.bodies.cabinet, (*rng.uniform(0.2, 0.8, 3), 1.0), link=link)
        self.camera.light_direction = tuple(rng.uniform([-1, -1, 0.5], [1, 1, 1.5]))
        self.camera.set_pose(CameraPose().jittered(rng))

    def _observation(self) -> dict[str, np.ndarray]:
        arm = self.scene.arm
        pos, quat = arm.ee_pose()
        fingers = arm.finger_positions()
        state = np.concatenate([pos, quat, fingers, [1.0 if self._gripper_open else 0.0]])
        if self.render_images:
            image = self.camera.render(self.image_size)
        else:
            image = np.zeros((self.image_size, self.image_size, 3), np.uint8)
        return {"image": image, "state": state.astype(np.float32), "object": self._object_state()}

    def _object_state(self) -> np.ndarray:
        s = self.scene
        obj_pos, _ = s.body_pose(s.bodies.objects[self._object])
        blocker_pos, _ = s.body_pose(s.bodies.blocker)
        fracs = [s.drawer_q(BOTTOM) / DRAWER_TRAVEL, s.drawer_q(TOP) / DRAWER_TRAVEL]
        return np.concatenate([fracs, obj_pos, blocker_pos]).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        s = self.scene
        ee_pos, ee_quat = s.arm.ee_pose()
        obj_pos, obj_quat = s.body_pose(s.bodies.objects[self._object])
        blocker_pos, _ = s.body_pose(s.bodies.blocker)
        q_bottom, q_top = s.drawer_q(BOTTOM), s.drawer_q(TOP)
        bottom_frac, top_frac = q_bottom / DRAWER_TRAVEL, q_top / DRAWER_TRAVEL
        flags = subgoals(obj_pos, ee_pos, blocker_pos, bottom_frac, top_frac, s.cabinet_pos[0])
        tray_pos, _ = s.body_pose(s.bodies.tray)
        return {
            "ee_pos": ee_pos,
            "ee_quat": ee_quat,
            "object_pos": obj_pos,
            "object_quat": obj_quat,
            "handle_pos": s.handle_pos(BOTTOM, q_bottom),
            "top_handle_pos": s.handle_pos(TOP, q_top),
            "blocker_pos": blocker_pos,
            "tray_pos": tray_pos,
            "drawer_opening": float(bottom_frac),
            "top_drawer_opening": float(top_frac),
            "gripper_open": self._gripper_open,
            **flags,
            "is_success": flags[self.spec_task.success_key],
        }
