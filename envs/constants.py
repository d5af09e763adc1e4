"""Numbers that define the env's interface: shared by the envs, the scripted experts and
the real-robot layer, so that sim and hardware agree on what an action means."""

from __future__ import annotations

# --- Action: Box(-1, 1, (8,)) -------------------------------------------------------------
ACTION_DIM = 8
# 1.0 on dx/dy/dz moves the end-effector target this many metres in one env step.
POS_STEP_M = 0.04
# 1.0 on droll/dpitch/dyaw rotates the end-effector target this many degrees in one step.
ROT_STEP_DEG = 20.0
GRIPPER_OPEN_THRESHOLD = 0.5  # action[6] > 0.5 opens
GRIPPER_CLOSE_THRESHOLD = -0.5  # action[6] < -0.5 closes
NEUTRAL_THRESHOLD = 0.5  # action[7] > 0.5 drives the arm back to its neutral pose

# --- Observation ---------------------------------------------------------------------------
DEFAULT_IMAGE_SIZE = 48
STATE_DIM = 10  # ee xyz (3), ee quaternion xyzw (4), two finger positions (2), gripper-open flag
# Privileged scene state, simulation only (a real arm has no sensor for it): bottom and top
# drawer opening as fractions of travel (2), the task object's centre xyz (3) and the blocker's
# centre xyz (3). Proprioception alone cannot tell a closed drawer from an open one, so
# state-based learning needs these; image policies see them through the camera instead.
OBJECT_STATE_DIM = 8

# --- Physics timing --------------------------------------------------------------------------
PHYSICS_HZ = 240
SUBSTEPS_PER_STEP = 10
SUBSTEPS_GRIPPER = 75  # opening/closing the gripper or going to neutral runs longer

# --- Workspace box the end-effector target is clipped to (metres, robot base frame) -------------
WORKSPACE_LOW = (0.15, -0.30, 0.015)
WORKSPACE_HIGH = (0.60, 0.35, 0.35)
