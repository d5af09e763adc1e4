"""The WidowX 250s-class arm: its URDF, joints, neutral pose, and IK/FK.

The same model drives the simulator and, through ``ArmKinematics``, the real arm's IK in
``robot_interface``: one arm model, so an action means the same thing in both places.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pybullet
from pybullet_utils import bullet_client

from envs.quiet import silenced_output

ARM_JOINT_NAMES = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
ARM_JOINTS = (0, 1, 2, 3, 4, 5)
FINGER_JOINTS = (6, 7)
EE_LINK = 8
JOINT_LOWER = np.array([-3.1416, -1.8850, -2.1468, -3.1416, -1.7453, -3.1416])
JOINT_UPPER = np.array([3.1416, 1.9897, 1.6057, 3.1416, 2.1468, 3.1416])
FINGER_OPEN = 0.037
FINGER_CLOSED = 0.010

# Per-joint torque limits for position control (N m): large enough to hold the arm, small
# enough that a collision stalls a joint rather than launching objects.
JOINT_FORCES = (25.0, 40.0, 30.0, 10.0, 10.0, 10.0)
JOINT_MAX_VELOCITY = 3.0  # rad/s
FINGER_FORCE = 30.0  # N

# End effector pointing straight down, fingers closing along world x:
# extrinsic roll 0, pitch 90 deg (tool x-axis to -z), yaw 90 deg.
DOWN_EULER = (0.0, math.pi / 2, math.pi / 2)
DOWN_QUAT = tuple(pybullet.getQuaternionFromEuler(DOWN_EULER))

# Neutral pose: gripper above the workspace, out of the camera's way of the drawer.
NEUTRAL_EE_POS = (0.22, 0.0, 0.20)
# An elbow-up seed so IK for the neutral pose (and every later IK) stays on the same branch.
IK_REST = np.array([0.0, -0.4, 0.6, 0.0, 1.3, 0.0])


def arm_urdf_path() -> Path:
    return Path(str(resources.files("envs") / "assets" / "widowx250s.urdf"))


class Arm:
    """An arm body inside a given pybullet client (the env's or a kinematics-only one)."""

    def __init__(self, client: bullet_client.BulletClient, base_pos=(0.0, 0.0, 0.0)):
        self.client = client
        self.body = client.loadURDF(
            str(arm_urdf_path()),
            base_pos,
            useFixedBase=True,
            flags=pybullet.URDF_USE_INERTIA_FROM_FILE,
        )
        for j in range(client.getNumJoints(self.body)):
            # Let only our position motors move joints: disable the default velocity motors.
            client.setJointMotorControl2(self.body, j, pybullet.VELOCITY_CONTROL, force=0.0)

    # --- reading -----------------------------------------------------------------------------
    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        state = self.client.getLinkState(self.body, EE_LINK, computeForwardKinematics=True)
        quat = np.asarray(state[5], dtype=np.float64)
        # q and -q are the same rotation; pybullet returns either. A learner should not see the
        # same pose as two different states, so the sign is made canonical (w >= 0).
        if quat[3] < 0:
            quat = -quat
        return np.asarray(state[4], dtype=np.float64), quat

    def joint_positions(self) -> np.ndarray:
        states = self.client.getJointStates(self.body, ARM_JOINTS)
        return np.array([s[0] for s in states])

    def finger_positions(self) -> np.ndarray:
        states = self.client.getJointStates(self.body, FINGER_JOINTS)
        return np.array([s[0] for s in states])

    # --- kinematics ----------------------------------------------------------------------------
    def ik(self, pos, quat, iterations: int = 50) -> np.ndarray:
        """Joint angles that put the tip at ``pos`` with orientation ``quat``.

        Plain damped least squares, started from the current joint state so the solution stays
        on the current (elbow-up) branch. pybullet's null-space variant is not used: with six
        joints and a full pose target there is no null space, and it biases the answer by cm.
        """
        q = self.client.calculateInverseKinematics(
            self.body,
            EE_LINK,
            list(pos),
            list(quat),
            maxNumIterations=iterations,
            residualThreshold=1e-5,
        )
        return np.clip(np.asarray(q[:6]), JOINT_LOWER, JOINT_UPPER)

    # --- commanding ----------------------------------------------------------------------------
    def command_joints(self, q: np.ndarray) -> None:
        self.client.setJointMotorControlArray(
            self.body,
            ARM_JOINTS,
            pybullet.POSITION_CONTROL,
            targetPositions=list(q),
            forces=list(JOINT_FORCES),
            positionGains=[0.3] * 6,
        )

    def command_gripper(self, open_: bool) -> None:
        target = FINGER_OPEN if open_ else FINGER_CLOSED
        self.client.setJointMotorControlArray(
            self.body,
            FINGER_JOINTS,
            pybullet.POSITION_CONTROL,
            targetPositions=[target, target],
            forces=[FINGER_FORCE, FINGER_FORCE],
        )

    def reset_to(self, q: np.ndarray, fingers: float) -> None:
        """Teleport (no dynamics) and hold there: used on env reset only."""
        for j, angle in zip(ARM_JOINTS, q, strict=False):
            self.client.resetJointState(self.body, j, float(angle))
        for j in FINGER_JOINTS:
            self.client.resetJointState(self.body, j, float(fingers))
        self.command_joints(q)


class ArmKinematics:
    """IK and FK for the arm in a private, physics-free pybullet client: for the real robot."""

    def __init__(self) -> None:
        with silenced_output():  # connecting prints "argv[0]=" on stdout
            self._client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
        self._arm = Arm(self._client)
        self.neutral_joints = neutral_joints(self._arm)

    def fk(self, q) -> tuple[np.ndarray, np.ndarray]:
        for j, angle in zip(ARM_JOINTS, q, strict=False):
            self._client.resetJointState(self._arm.body, j, float(angle))
        return self._arm.ee_pose()

    def ik(self, pos, quat, seed_joints=None, rounds: int = 3) -> tuple[np.ndarray, float]:
        """Returns (joints, position error in metres of the solution's FK).

        The seed's forearm roll is zeroed: forearm_roll and wrist_rotate share an axis when the
        wrist is straight, and a seed twisted between them converges to tilted, twisted
        solutions after contacts. ``rounds`` restarts refine the answer.
        """
        seed = IK_REST if seed_joints is None else np.array(seed_joints, dtype=np.float64)
        seed = seed.copy()
        seed[3] = 0.0
        self.fk(seed)
        q = seed
        for _ in range(rounds):
            q = self._arm.ik(pos, quat, iterations=50)
            self.fk(q)
        err = float(np.linalg.norm(self._arm.ee_pose()[0] - np.asarray(pos)))
        return q, err

    def close(self) -> None:
        self._client.disconnect()


def neutral_joints(arm: Arm) -> np.ndarray:
    """The neutral pose's joints, solved once from the elbow-up seed (deterministic)."""
    for j, angle in zip(ARM_JOINTS, IK_REST, strict=False):
        arm.client.resetJointState(arm.body, j, float(angle))
    q = IK_REST
    for _ in range(5):
        q = arm.ik(NEUTRAL_EE_POS, DOWN_QUAT, iterations=100)
        for j, angle in zip(ARM_JOINTS, q, strict=False):
            arm.client.resetJointState(arm.body, j, float(angle))
    return q
