"""The drawer scene: table, arm, two-drawer cabinet, tray, graspable objects and a blocker.

Built once per env inside the env's own pybullet client; episodes then restore a saved state
and move bodies, which is ~100x cheaper than rebuilding the scene.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data

from envs.arm import Arm, neutral_joints

# Everything in metres, robot base frame, table top at z = 0.
CABINET_POS = (0.38, 0.13, 0.0)  # bottom centre of the cabinet's front face; drawers pull to -y
DRAWER_TRAVEL = 0.12
BOTTOM, TOP = 0, 1  # drawer joint indices in the cabinet URDF
DRAWER_FLOOR_TOP = (0.018, 0.081)  # z of each drawer's floor surface
DRAWER_RIM_Z = 0.067  # top of the bottom drawer's walls
HANDLE_OFFSET = (
    (-0.055, -0.044, 0.0395),
    (0.055, -0.026, 0.1025),
)  # in cabinet frame, drawer closed
TRAY_POS = (0.30, -0.19, 0.0)
TRAY_SCALE = 0.3
TRAY_INNER_HALF = 0.07  # half-size of the tray's flat floor
DRAWER_FRICTION_N = 3.0  # drawers stay where they are left unless pushed

# Objects to grasp: (shape, half extents or (radius, half height)). All fit the 6.4 cm jaw.
OBJECT_SHAPES = (
    ("box", (0.015, 0.015, 0.015)),
    ("cylinder", (0.016, 0.018)),
    ("box", (0.012, 0.018, 0.016)),
)
OBJECT_COLORS = (
    (0.85, 0.15, 0.15, 1),
    (0.15, 0.65, 0.2, 1),
    (0.15, 0.35, 0.9, 1),
    (0.95, 0.8, 0.1, 1),
    (0.6, 0.2, 0.75, 1),
)
OBJECT_MASS = 0.05
BLOCKER_HALF = (0.0175, 0.0175, 0.03)
BLOCKER_MASS = 0.25
BLOCKER_COLOR = (0.95, 0.45, 0.05, 1)
# Out-of-view resting places for bodies a task does not use.
PARK_POSITIONS = ((-0.12, 0.32), (-0.12, 0.40), (-0.2, 0.32), (-0.2, 0.40))


def cabinet_urdf_path() -> Path:
    return Path(str(resources.files("envs") / "assets" / "cabinet.urdf"))


@dataclass
class SceneBodies:
    table: int
    cabinet: int
    tray: int
    objects: list[int]
    blocker: int


class Scene:
    def __init__(self, client):
        self.client = client
        c = client
        c.setGravity(0, 0, -9.81)
        c.setTimeStep(1.0 / 240.0)
        c.setPhysicsEngineParameter(numSolverIterations=50, deterministicOverlappingPairs=1)

        table = self._box_body((0.55, 0.6, 0.02), (0.25, 0.0, -0.02), (0.78, 0.68, 0.52, 1), mass=0)
        self.arm = Arm(c)
        cabinet = c.loadURDF(str(cabinet_urdf_path()), CABINET_POS, useFixedBase=True)
        for j in (BOTTOM, TOP):
            c.setJointMotorControl2(
                cabinet, j, pybullet.VELOCITY_CONTROL, targetVelocity=0, force=DRAWER_FRICTION_N
            )
        tray = c.loadURDF(
            str(Path(pybullet_data.getDataPath()) / "tray" / "traybox.urdf"),
            TRAY_POS,
            useFixedBase=True,
            globalScaling=TRAY_SCALE,
        )
        objects = []
        for i, (shape, dims) in enumerate(OBJECT_SHAPES):
            px, py = PARK_POSITIONS[i]
            objects.append(self._object_body(shape, dims, (px, py, self.half_height(i) + 0.001)))
        px, py = PARK_POSITIONS[3]
        blocker = self._box_body(
            BLOCKER_HALF, (px, py, BLOCKER_HALF[2] + 0.001), BLOCKER_COLOR, mass=BLOCKER_MASS
        )
        for body in objects + [blocker]:
            c.changeDynamics(
                body, -1, lateralFriction=1.0, spinningFriction=0.002, rollingFriction=0.0001
            )
        for link in (BOTTOM, TOP):
            # Grippy drawer floors: an object rides along when the drawer is pulled briskly
            # instead of sliding to the back, where the top handle overhangs it.
            c.changeDynamics(cabinet, link, lateralFriction=1.5)
        for finger in (6, 7):
            c.changeDynamics(self.arm.body, finger, lateralFriction=2.0, spinningFriction=0.02)
        self.bodies = SceneBodies(table, cabinet, tray, objects, blocker)
        self.neutral_q = neutral_joints(self.arm)
        self.arm.reset_to(self.neutral_q, 0.037)
        self.cabinet_pos = np.array(CABINET_POS, dtype=np.float64)

    # --- construction helpers --------------------------------------------------------------------
    def _box_body(self, half, pos, color, mass):
        c = self.client
        col = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half)
        vis = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=half, rgbaColor=color)
        return c.createMultiBody(mass, col, vis, pos)

    def _object_body(self, shape, dims, pos):
        c = self.client
        if shape == "box":
            col = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=dims)
            vis = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=dims, rgbaColor=(1, 1, 1, 1))
        else:
            radius, half_h = dims
            col = c.createCollisionShape(pybullet.GEOM_CYLINDER, radius=radius, height=2 * half_h)
            vis = c.createVisualShape(
                pybullet.GEOM_CYLINDER, radius=radius, length=2 * half_h, rgbaColor=(1, 1, 1, 1)
            )
        return c.createMultiBody(OBJECT_MASS, col, vis, pos)

    @staticmethod
    def half_height(index: int) -> float:
        shape, dims = OBJECT_SHAPES[index]
        return dims[2] if shape == "box" else dims[1]

    @staticmethod
    def half_width(index: int) -> float:
        """Half the object's extent along world x, the direction the fingers close in."""
        shape, dims = OBJECT_SHAPES[index]
        return dims[0]

    # --- state ----------------------------------------------------------------------------------
    def drawer_q(self, which: int) -> float:
        return float(self.client.getJointState(self.bodies.cabinet, which)[0])

    def set_drawer(self, which: int, q: float) -> None:
        self.client.resetJointState(self.bodies.cabinet, which, float(q))

    def handle_pos(self, which: int, q: float | None = None) -> np.ndarray:
        q = self.drawer_q(which) if q is None else q
        return self.cabinet_pos + np.array(HANDLE_OFFSET[which]) + np.array([0.0, -q, 0.0])

    def move_cabinet(self, pos) -> None:
        self.cabinet_pos = np.asarray(pos, dtype=np.float64)
        self.client.resetBasePositionAndOrientation(self.bodies.cabinet, list(pos), (0, 0, 0, 1))

    def body_pose(self, body: int) -> tuple[np.ndarray, np.ndarray]:
        pos, quat = self.client.getBasePositionAndOrientation(body)
        return np.asarray(pos, dtype=np.float64), np.asarray(quat, dtype=np.float64)

    def place_body(self, body: int, pos, yaw: float = 0.0) -> None:
        quat = self.client.getQuaternionFromEuler((0.0, 0.0, yaw))
        self.client.resetBasePositionAndOrientation(body, list(pos), quat)
        self.client.resetBaseVelocity(body, (0, 0, 0), (0, 0, 0))

    def park(self, body: int, slot: int, half_h: float) -> None:
        px, py = PARK_POSITIONS[slot]
        self.place_body(body, (px, py, half_h + 0.001))

    def isolate_free_bodies(self) -> None:
        """Moves objects and blocker far apart in mid-air and the arm to neutral, so that no
        pair of bodies overlaps and bullet forgets every contact between them."""
        for i, body in enumerate([*self.bodies.objects, self.bodies.blocker]):
            self.place_body(body, (5.0 + i, 5.0, 5.0))
        for j, angle in zip(range(6), self.neutral_q, strict=False):
            self.client.resetJointState(self.arm.body, j, float(angle))

    def set_color(self, body: int, rgba, link: int = -1) -> None:
        self.client.changeVisualShape(body, link, rgbaColor=list(rgba))
