"""The COG tasks: how each one starts, and which condition it rewards.

Initial states are designed to overlap with where the prior experts end: the drawer-opening
expert finishes with the bottom drawer open and the arm at neutral, which is exactly how
``OpenDrawerGrasp`` starts. That overlap is what offline dynamic programming stitches through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.scene import (
    BLOCKER_HALF,
    BOTTOM,
    CABINET_POS,
    DRAWER_FLOOR_TOP,
    DRAWER_TRAVEL,
    OBJECT_COLORS,
    OBJECT_SHAPES,
    TOP,
    TRAY_INNER_HALF,
    TRAY_POS,
    Scene,
)


@dataclass(frozen=True)
class TaskSpec:
    env_id: str
    horizon: int
    success_key: str  # the info flag that is the task's reward
    description: str
    init: Callable[[Scene, np.random.Generator], dict]


OPEN_RANGE = (0.96, 1.0)  # fraction of travel for a drawer that starts open
CLOSED_RANGE = (0.0, 0.02)
# Where the object sits in the bottom drawer: x from the cabinet centre, y from the drawer front.
# The y range reaches down to the front panel (0.02 is the closest spawn that does not overlap
# it) because that is where the drawer-opening pull leaves objects: the open-drawer task's
# initial states must cover the prior data's end states, or there is nothing to stitch.
OBJECT_IN_DRAWER_X = (-0.03, 0.03)
OBJECT_IN_DRAWER_Y = (0.02, 0.055)
TABLE_OBJECT_X = (0.28, 0.40)
TABLE_OBJECT_Y = (-0.07, 0.0)
CABINET_JITTER_X = 0.015


def _pick_object(scene: Scene, rng: np.random.Generator) -> int:
    """Chooses which object variant is this episode's object, colours it, parks the others."""
    index = int(rng.integers(len(OBJECT_SHAPES)))
    color = OBJECT_COLORS[int(rng.integers(len(OBJECT_COLORS)))]
    for i, body in enumerate(scene.bodies.objects):
        if i != index:
            scene.park(body, i, scene.half_height(i))
    scene.set_color(scene.bodies.objects[index], color)
    return index


def _blocker_in_tray(scene: Scene, rng: np.random.Generator) -> None:
    off = rng.uniform(-0.03, 0.03, 2)
    scene.place_body(
        scene.bodies.blocker,
        (TRAY_POS[0] + off[0], TRAY_POS[1] + off[1], 0.012 + BLOCKER_HALF[2]),
        yaw=float(rng.uniform(-0.3, 0.3)),
    )


def _drawer_scene(
    scene: Scene, rng: np.random.Generator, bottom_open: bool, top_open: bool, blocker_front: bool
) -> dict:
    cab = np.array(CABINET_POS) + np.array([rng.uniform(-1, 1) * CABINET_JITTER_X, 0.0, 0.0])
    scene.move_cabinet(cab)
    q_bottom = DRAWER_TRAVEL * rng.uniform(*(OPEN_RANGE if bottom_open else CLOSED_RANGE))
    q_top = DRAWER_TRAVEL * rng.uniform(*(OPEN_RANGE if top_open else CLOSED_RANGE))
    scene.set_drawer(BOTTOM, q_bottom)
    scene.set_drawer(TOP, q_top)
    index = _pick_object(scene, rng)
    x = cab[0] + rng.uniform(*OBJECT_IN_DRAWER_X)
    y = cab[1] + rng.uniform(*OBJECT_IN_DRAWER_Y) - q_bottom
    z = DRAWER_FLOOR_TOP[BOTTOM] + scene.half_height(index) + 0.0005
    scene.place_body(scene.bodies.objects[index], (x, y, z), yaw=float(rng.uniform(-0.2, 0.2)))
    if blocker_front:
        bx = cab[0] + rng.uniform(-0.03, 0.03)
        by = rng.uniform(0.035, 0.05)
        scene.place_body(
            scene.bodies.blocker,
            (bx, by, BLOCKER_HALF[2] + 0.0005),
            yaw=float(rng.uniform(-0.2, 0.2)),
        )
    else:
        _blocker_in_tray(scene, rng)
    return {"object_index": index}


def _table_scene(scene: Scene, rng: np.random.Generator, in_gripper: bool) -> dict:
    scene.move_cabinet(CABINET_POS)
    scene.set_drawer(BOTTOM, 0.0)
    scene.set_drawer(TOP, 0.0)
    scene.park(scene.bodies.blocker, 3, BLOCKER_HALF[2])
    index = _pick_object(scene, rng)
    x = rng.uniform(*TABLE_OBJECT_X)
    y = rng.uniform(*TABLE_OBJECT_Y)
    if not in_gripper:
        z = scene.half_height(index) + 0.0005
        scene.place_body(scene.bodies.objects[index], (x, y, z), yaw=float(rng.uniform(-0.2, 0.2)))
        return {"object_index": index}
    return {"object_index": index, "hold_at": np.array([x, y, 0.12])}


TASKS: dict[str, TaskSpec] = {
    spec.env_id: spec
    for spec in (
        TaskSpec(
            "cog/OpenDrawerGrasp-v0",
            30,
            "grasped",
            "bottom drawer already open: grasp the object inside",
            lambda s, r: _drawer_scene(s, r, bottom_open=True, top_open=False, blocker_front=False),
        ),
        TaskSpec(
            "cog/ClosedDrawerGrasp-v0",
            50,
            "grasped",
            "open the bottom drawer, then grasp the object inside",
            lambda s, r: _drawer_scene(
                s, r, bottom_open=False, top_open=False, blocker_front=False
            ),
        ),
        TaskSpec(
            "cog/BlockedByDrawerGrasp-v0",
            80,
            "grasped",
            "the open top drawer blocks the bottom one: close it, open the bottom, grasp",
            lambda s, r: _drawer_scene(s, r, bottom_open=False, top_open=True, blocker_front=False),
        ),
        TaskSpec(
            "cog/BlockedByObjectGrasp-v0",
            80,
            "grasped",
            "an object blocks the bottom drawer: put it in the tray, open the drawer, grasp",
            lambda s, r: _drawer_scene(s, r, bottom_open=False, top_open=False, blocker_front=True),
        ),
        TaskSpec(
            "cog/PickPlace-v0",
            40,
            "placed",
            "pick the object from the table and place it in the tray",
            lambda s, r: _table_scene(s, r, in_gripper=False),
        ),
        TaskSpec(
            "cog/Place-v0",
            30,
            "placed",
            "the object starts in the gripper: place it in the tray",
            lambda s, r: _table_scene(s, r, in_gripper=True),
        ),
    )
}

# Success thresholds, from the COG setup.
GRASP_MIN_Z = 0.075  # object centre above the bottom drawer's rim
GRASP_MAX_DIST = 0.10  # object within 10 cm of the gripper tip
PLACE_MAX_Z = 0.06
DRAWER_OPEN_FRAC = 0.95
DRAWER_CLOSED_FRAC = 0.05
BLOCK_ZONE_HALF_X = 0.12  # the strip in front of the bottom drawer that must be clear
BLOCK_ZONE_Y = (-0.06, 0.13)


def subgoals(obj_pos, ee_pos, blocker_pos, bottom_frac, top_frac, cabinet_x) -> dict[str, bool]:
    d = np.asarray(obj_pos) - np.asarray(ee_pos)
    tray_d = np.abs(np.asarray(obj_pos[:2]) - np.asarray(TRAY_POS[:2]))
    in_zone = (
        abs(blocker_pos[0] - cabinet_x) < BLOCK_ZONE_HALF_X
        and BLOCK_ZONE_Y[0] < blocker_pos[1] < BLOCK_ZONE_Y[1]
        and blocker_pos[2] < 0.15
    )
    return {
        "drawer_open": bool(bottom_frac > DRAWER_OPEN_FRAC),
        "top_drawer_closed": bool(top_frac < DRAWER_CLOSED_FRAC),
        "blocker_removed": bool(not in_zone),
        "grasped": bool(obj_pos[2] > GRASP_MIN_Z and np.linalg.norm(d) < GRASP_MAX_DIST),
        "placed": bool(np.all(tray_d < TRAY_INNER_HALF) and obj_pos[2] < PLACE_MAX_Z),
    }


__all__ = ["TASKS", "TaskSpec", "subgoals", "TOP", "BOTTOM"]
