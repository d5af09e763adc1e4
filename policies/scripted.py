"""Scripted experts: state machines over the env's privileged ``info``.

Each expert is a list of stages. A stage looks at ``info`` and either returns a clean action or
says it is finished, and the next stage takes over in the same step. Movement is
(target - end effector) x gain, as in COG's experts; Gaussian noise of configurable std is added to
every action dimension, and the result is clipped to +-0.9.

Every expert ends where the next skill's task env begins: drawer-opening finishes with the drawer
open and the arm back at neutral (the grasp task's initial state); grasping finishes holding the
object up high (the place task's initial state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pybullet

from envs.arm import DOWN_QUAT
from envs.constants import POS_STEP_M, ROT_STEP_DEG

Info = dict[str, Any]
Stage = Callable[[Info], "np.ndarray | None"]

GAIN = 1.0 / POS_STEP_M  # 1 action unit per step-length of error
OPEN, CLOSE, HOLD = 1.0, -1.0, 0.0
# What a grasp's approach commands on the gripper, which is already open: "open" (ours, the
# default) repeats the open command; "hold" sends 0, which leaves the gripper as it is, as
# COG's released scripted grasp (roboverse) does. The same motion either way; only the action
# labels differ, and a policy that cannot see whether it has closed yet (a 48x48 camera) reads
# "open" labels as a reason to reopen.
APPROACH_GRIPPER = {"open": OPEN, "hold": HOLD}
HANDLE_GAP_OFFSET = 0.013  # from the handle bar centre into the gap behind it (gap centre is 19 mm)
ABOVE = 0.07  # approach height above a grasp or handle target


def _action(delta_xyz: np.ndarray, gripper: float = HOLD, neutral: bool = False) -> np.ndarray:
    a = np.zeros(8, dtype=np.float64)
    a[:3] = np.clip(delta_xyz * GAIN, -1.0, 1.0)
    a[6] = gripper
    a[7] = 1.0 if neutral else 0.0
    return a


def _orientation_correction(ee_quat) -> np.ndarray:
    _, inv = pybullet.invertTransform((0, 0, 0), list(ee_quat))
    _, err = pybullet.multiplyTransforms((0, 0, 0), DOWN_QUAT, (0, 0, 0), inv)
    euler = np.asarray(pybullet.getEulerFromQuaternion(err))
    return np.clip(euler / np.radians(ROT_STEP_DEG), -1.0, 1.0)


class ScriptedExpert:
    """Base class: runs ``self.stages`` in order and adds seeded Gaussian noise."""

    name = "expert"
    success_key = "is_success"  # the info flag that means this expert did its job

    def __init__(self, noise: float = 0.1, seed: int | None = None,
                 approach_gripper: str = "open"):
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be a finite std >= 0, got {noise!r}")
        if approach_gripper not in APPROACH_GRIPPER:
            raise ValueError(f"approach_gripper {approach_gripper!r} must be one of "
                             f"{', '.join(APPROACH_GRIPPER)}")
        self.noise = float(noise)
        self.approach_gripper = approach_gripper
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self.stages: list[Stage] = self.build_stages()
        self._stage = 0
        self._steps_in_stage = 0
        self.memory: dict[str, Any] = {}

    def build_stages(self) -> list[Stage]:
        raise NotImplementedError

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._seed = seed
        self.stages = self.build_stages()
        self._stage = 0
        self._steps_in_stage = 0
        self.memory = {}

    @property
    def behaviour(self) -> str:
        """What this episode shows (collection stores it per episode)."""
        return self.name

    @property
    def done(self) -> bool:
        return self._stage >= len(self.stages)

    def succeeded(self, info: Info) -> bool:
        """This expert's own criterion, at the end of an episode (what collection's
        successes-only filter keeps)."""
        return bool(info[self.success_key])

    def clean_action(self, info: Info) -> np.ndarray:
        while self._stage < len(self.stages):
            a = self.stages[self._stage](info)
            if a is not None:
                self._steps_in_stage += 1
                return a
            self._stage += 1
            self._steps_in_stage = 0
        return np.zeros(8)  # finished: stay still

    def act(self, obs: dict[str, np.ndarray], info: Info) -> np.ndarray:
        a = self.clean_action(info)
        # Experts mean to keep the gripper pointing down (rotation command 0). Noise on the
        # rotation dims random-walks the env's orientation target, so steer it back: the
        # command is the rotation from the measured orientation to pointing down, which is
        # zero whenever the gripper is already aligned.
        a[3:6] = _orientation_correction(info["ee_quat"])
        if self.noise > 0:
            a = a + self._rng.normal(0.0, self.noise, size=8)
        return np.clip(a, -0.9, 0.9).astype(np.float32)

    # --- stage builders -------------------------------------------------------------------------
    def move(
        self,
        target_fn: Callable[[Info], np.ndarray],
        gripper: float = HOLD,
        tol: float = 0.01,
        max_steps: int = 15,
    ) -> Stage:
        def stage(info: Info):
            err = target_fn(info) - info["ee_pos"]
            if np.linalg.norm(err) < tol or self._steps_in_stage >= max_steps:
                return None
            return _action(err, gripper)

        return stage

    def gripper(self, value: float) -> Stage:
        def stage(info: Info):
            if self._steps_in_stage >= 1:
                return None
            return _action(np.zeros(3), value)

        return stage

    def neutral(self) -> Stage:
        def stage(info: Info):
            if self._steps_in_stage >= 1:
                return None
            return _action(np.zeros(3), HOLD, neutral=True)

        return stage

    def until(
        self,
        cond: Callable[[Info], bool],
        target_fn: Callable[[Info], np.ndarray],
        max_steps: int = 12,
    ) -> Stage:
        """Moves towards a target that keeps ahead of a moving part (a drawer handle) until
        ``cond(info)`` holds: the target follows the handle, so fingers stay in its gap."""

        def stage(info: Info):
            if cond(info) or self._steps_in_stage >= max_steps:
                return None
            return _action(target_fn(info) - info["ee_pos"])

        return stage

    def remember(self, key: str, fn: Callable[[Info], Any]) -> Stage:
        def stage(info: Info):
            self.memory[key] = fn(info)
            return None

        return stage


# --- sub-skills, as lists of stages so they can be chained ---------------------------------
def _gap(handle_key: str) -> Callable[[Info], np.ndarray]:
    return lambda info: info[handle_key] + np.array([0.0, HANDLE_GAP_OFFSET, 0.0])


def open_bottom_drawer_stages(e: ScriptedExpert) -> list[Stage]:
    gap = _gap("handle_pos")
    # Closed fingers fit between the handle's standoffs; the gripper reopens before going back
    # to neutral so the expert ends exactly in the grasp task's initial state.
    return [
        e.move(lambda i: gap(i) + [0, 0, ABOVE], CLOSE, tol=0.012),
        e.move(lambda i: gap(i) - [0, 0, 0.004], tol=0.008, max_steps=6),
        e.until(lambda i: i["drawer_opening"] > 0.99, lambda i: gap(i) + [0, -0.05, -0.006]),
        e.move(
            lambda i: i["ee_pos"] * [1, 1, 0] + [0, 0.002, gap(i)[2] + ABOVE], tol=0.02, max_steps=4
        ),
        e.gripper(OPEN),
        e.neutral(),
    ]


def push_drawer_shut_stages(e: ScriptedExpert, handle_key: str,
                            opening_key: str) -> list[Stage]:
    # Push a drawer shut at its handle bar, from the front (closed fingers, bar height).
    front = lambda i: i[handle_key] + [0.0, -0.022, 0.0]  # noqa: E731
    return [
        e.move(lambda i: front(i) + [0, 0, ABOVE * 0.6], CLOSE, tol=0.012),
        e.move(lambda i: front(i) - [0, 0, 0.004], tol=0.008, max_steps=6),
        e.until(
            lambda i: i[opening_key] < 0.01,
            lambda i: i[handle_key] + [0.0, 0.04, -0.004],
        ),
        e.move(
            lambda i: i["ee_pos"] * [1, 1, 0] + [0, -0.01, i[handle_key][2] + ABOVE],
            tol=0.02,
            max_steps=4,
        ),
    ]


def close_top_drawer_stages(e: ScriptedExpert) -> list[Stage]:
    return push_drawer_shut_stages(e, "top_handle_pos", "top_drawer_opening")


def pick_stages(e: ScriptedExpert, pos_key: str, lift_to: float = 0.16) -> list[Stage]:
    def grasp_point(info: Info) -> np.ndarray:
        # Tip 8 mm below the object's centre: the pads cover its middle, and the fingertips
        # (3.6 mm past the tip) stay clear of the floor under objects of 15-18 mm half height.
        return np.array(info[pos_key], dtype=np.float64) - [0.0, 0.0, 0.008]

    approach = APPROACH_GRIPPER[e.approach_gripper]
    return [
        e.move(lambda i: grasp_point(i) + [0, 0, ABOVE], approach, tol=0.012),
        # Close as soon as the fingers are around the object: hovering open at the bottom for a
        # few steps would make the same observation mean "wait" in some demos, "close" in others.
        e.move(grasp_point, approach, tol=0.012, max_steps=4),
        e.gripper(CLOSE),
        e.move(lambda i: i["ee_pos"] * [1, 1, 0] + [0, 0, lift_to], tol=0.02, max_steps=6),
    ]


def place_in_tray_stages(e: ScriptedExpert) -> list[Stage]:
    above_tray = lambda i: i["tray_pos"] * [1, 1, 0] + [0, 0, 0.14]  # noqa: E731
    return [
        e.move(above_tray, tol=0.015),
        e.move(lambda i: i["tray_pos"] * [1, 1, 0] + [0, 0, 0.06], tol=0.012, max_steps=5),
        e.gripper(OPEN),
        e.move(lambda i: i["ee_pos"] * [1, 1, 0] + [0, 0, 0.16], tol=0.02, max_steps=4),
    ]


# --- the experts --------------------------------------------------------------------------
class DrawerOpenExpert(ScriptedExpert):
    name = "drawer_open"
    success_key = "drawer_open"

    def build_stages(self):
        return open_bottom_drawer_stages(self)


class CloseTopOpenBottomExpert(ScriptedExpert):
    name = "close_top_open_bottom"
    success_key = "drawer_open"

    def build_stages(self):
        return close_top_drawer_stages(self) + open_bottom_drawer_stages(self)


class BlockerRemovalOpenExpert(ScriptedExpert):
    name = "blocker_removal_open"
    success_key = "drawer_open"

    def build_stages(self):
        return (
            pick_stages(self, "blocker_pos", lift_to=0.17)
            + place_in_tray_stages(self)
            + open_bottom_drawer_stages(self)
        )


class GraspExpert(ScriptedExpert):
    """Grasps the object, from an open drawer or from the table, and holds it up."""

    name = "grasp"
    success_key = "grasped"

    def build_stages(self):
        return pick_stages(self, "object_pos")


class PlaceExpert(ScriptedExpert):
    name = "place"
    success_key = "placed"

    def build_stages(self):
        return place_in_tray_stages(self)


class PickPlaceExpert(ScriptedExpert):
    name = "pick_place"
    success_key = "placed"

    def build_stages(self):
        return pick_stages(self, "object_pos") + place_in_tray_stages(self)


class ClosedDrawerOracle(ScriptedExpert):
    name = "closed_drawer_oracle"
    success_key = "grasped"

    def build_stages(self):
        return open_bottom_drawer_stages(self) + pick_stages(self, "object_pos")


class BlockedByDrawerOracle(ScriptedExpert):
    name = "blocked_by_drawer_oracle"
    success_key = "grasped"

    def build_stages(self):
        return (
            close_top_drawer_stages(self)
            + open_bottom_drawer_stages(self)
            + pick_stages(self, "object_pos")
        )


class BlockedByObjectOracle(ScriptedExpert):
    name = "blocked_by_object_oracle"
    success_key = "grasped"

    def build_stages(self):
        return (
            pick_stages(self, "blocker_pos", lift_to=0.17)
            + place_in_tray_stages(self)
            + open_bottom_drawer_stages(self)
            + pick_stages(self, "object_pos")
        )


# --- irrelevant behaviour in the same scenes (COG's figure 8: only part of the prior helps) --
# Drop spots beside the tray, clear of the cabinet front and of the tray itself.
DROP_X, DROP_Y = (0.44, 0.54), (-0.24, -0.12)
WANDER_LOW, WANDER_HIGH = np.array([0.20, -0.20, 0.08]), np.array([0.52, 0.22, 0.30])


class _Distractor(ScriptedExpert):
    """Irrelevant behaviour: its random choices (waypoints, drop spots) come from a generator
    seeded with the episode's policy seed, apart from the action noise's."""

    def build_stages(self):
        self.plan_rng = np.random.default_rng(None if self._seed is None else self._seed + 7)
        return self.plan()

    def plan(self) -> list[Stage]:
        raise NotImplementedError

    def drop_spot(self) -> np.ndarray:
        r = self.plan_rng
        return np.array([r.uniform(*DROP_X), r.uniform(*DROP_Y), 0.0])

    def succeeded(self, info: Info) -> bool:
        return self.done  # the behaviour ran to its end


class WanderExpert(_Distractor):
    """Reach to three random points with random gripper commands, then go to neutral."""

    name = "wander"

    def plan(self):
        stages = []
        for _ in range(3):
            point = self.plan_rng.uniform(WANDER_LOW, WANDER_HIGH)
            grip = OPEN if self.plan_rng.random() < 0.5 else CLOSE
            stages.append(self.move(lambda i, p=point: p, grip, tol=0.02, max_steps=8))
        return stages + [self.neutral()]


class DrawerOpenCloseExpert(_Distractor):
    """Open the bottom drawer, then push it shut again: the drawer ends closed."""

    name = "drawer_open_close"

    def plan(self):
        return open_bottom_drawer_stages(self) + push_drawer_shut_stages(
            self, "handle_pos", "drawer_opening") + [self.neutral()]

    def succeeded(self, info: Info) -> bool:
        return self.done and info["drawer_opening"] < 0.05


class BlockerElsewhereExpert(_Distractor):
    """Pick up the blocker and put it down beside the tray (not in it); the drawer stays
    closed."""

    name = "blocker_elsewhere"

    def plan(self):
        spot = self.drop_spot()
        return pick_stages(self, "blocker_pos", lift_to=0.17) + _put_down_stages(self, spot) + [
            self.neutral()]


class GraspDropExpert(_Distractor):
    """Grasp the object, carry it beside the tray and drop it there (not in the tray)."""

    name = "grasp_drop"

    def plan(self):
        return pick_stages(self, "object_pos") + _put_down_stages(self, self.drop_spot())

    def succeeded(self, info: Info) -> bool:
        return self.done and not info["placed"]


def _put_down_stages(e: ScriptedExpert, spot: np.ndarray) -> list[Stage]:
    return [
        e.move(lambda i: spot + [0, 0, 0.14], tol=0.015),
        e.move(lambda i: spot + [0, 0, 0.06], tol=0.012, max_steps=5),
        e.gripper(OPEN),
        e.move(lambda i: i["ee_pos"] * [1, 1, 0] + [0, 0, 0.16], tol=0.02, max_steps=4),
    ]


# The irrelevant behaviours mixed into each prior expert's data (cog collect --preset NAME
# --irrelevant-fraction F): other things a robot did in the same scene.
DISTRACTORS: dict[str, tuple[str, ...]] = {
    "drawer_open": ("drawer_open_close", "wander"),
    "close_top_open_bottom": ("wander",),
    "blocker_removal_open": ("blocker_elsewhere", "wander"),
    "grasp": ("grasp_drop", "wander"),
}


class PriorMixture:
    """Per episode, with probability ``fraction`` one of ``DISTRACTORS[useful]`` (uniformly),
    else the useful expert; the choice is a function of the episode's policy seed alone, so a
    collection is the same whichever worker runs which episode. Named
    ``mix:USEFUL:FRACTION`` (``policies.make_policy``)."""

    def __init__(self, useful: str, fraction: float, noise: float = 0.1,
                 seed: int | None = None, approach_gripper: str = "open"):
        if useful not in DISTRACTORS:
            raise ValueError(f"no irrelevant behaviours are defined for {useful!r}; "
                             f"choose from {', '.join(DISTRACTORS)}")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"irrelevant fraction {fraction!r} must be in [0, 1]")
        self.useful, self.fraction, self.noise = useful, float(fraction), noise
        self.approach_gripper = approach_gripper
        self.name = f"mix:{useful}:{fraction:g}"
        self.reset(seed)

    def choose(self, seed: int | None) -> str:
        r = np.random.default_rng(None if seed is None else [seed, 1234])
        if r.random() < self.fraction:
            options = DISTRACTORS[self.useful]
            return options[int(r.integers(len(options)))]
        return self.useful

    def reset(self, seed: int | None = None) -> None:
        self.current = EXPERTS[self.choose(seed)](noise=self.noise, seed=seed,
                                                  approach_gripper=self.approach_gripper)

    @property
    def success_key(self) -> str:
        return self.current.success_key

    @property
    def behaviour(self) -> str:
        """The expert chosen for this episode: the useful one or a distractor's name."""
        return self.current.behaviour

    @property
    def done(self) -> bool:
        return self.current.done

    def succeeded(self, info: Info) -> bool:
        return self.current.succeeded(info)

    def act(self, obs, info: Info) -> np.ndarray:
        return self.current.act(obs, info)


EXPERTS: dict[str, type[ScriptedExpert]] = {
    cls.name: cls
    for cls in (
        DrawerOpenExpert,
        CloseTopOpenBottomExpert,
        BlockerRemovalOpenExpert,
        GraspExpert,
        PlaceExpert,
        PickPlaceExpert,
        ClosedDrawerOracle,
        BlockedByDrawerOracle,
        BlockedByObjectOracle,
        WanderExpert,
        DrawerOpenCloseExpert,
        BlockerElsewhereExpert,
        GraspDropExpert,
    )
}

# The env each expert is meant for: its natural starting state.
DEFAULT_ENV = {
    "drawer_open": "cog/ClosedDrawerGrasp-v0",
    "close_top_open_bottom": "cog/BlockedByDrawerGrasp-v0",
    "blocker_removal_open": "cog/BlockedByObjectGrasp-v0",
    "grasp": "cog/OpenDrawerGrasp-v0",
    "place": "cog/Place-v0",
    "pick_place": "cog/PickPlace-v0",
    "closed_drawer_oracle": "cog/ClosedDrawerGrasp-v0",
    "blocked_by_drawer_oracle": "cog/BlockedByDrawerGrasp-v0",
    "blocked_by_object_oracle": "cog/BlockedByObjectGrasp-v0",
    "wander": "cog/ClosedDrawerGrasp-v0",
    "drawer_open_close": "cog/ClosedDrawerGrasp-v0",
    "blocker_elsewhere": "cog/BlockedByObjectGrasp-v0",
    "grasp_drop": "cog/PickPlace-v0",
}
