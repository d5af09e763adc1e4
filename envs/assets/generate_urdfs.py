"""Writes the arm and cabinet URDFs in this folder from primitive boxes.

Run ``python -m envs.assets.generate_urdfs`` after changing a dimension; the generated files
are committed so that a reader can inspect them and pybullet can load them directly.

Only boxes are used: at 48x48 the TinyRenderer's cost follows triangle count, and a box is 12
triangles, so the whole arm renders several times faster than detailed meshes would.

Arm kinematics follow the WidowX 250s screw axes (space frame, base at the origin, z up):
waist z through (0,0,0); shoulder y through (0,0,0.11065); elbow y through (0.04975,0,0.36065);
forearm_roll x, wrist_angle y through (0.29975,0,0.36065), wrist_rotate x; at zero angles the
gripper tip ``ee_gripper_link`` is at (0.458325, 0, 0.36065) pointing along +x.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

ARM_COLOR = "0.22 0.22 0.25 1"
ACCENT_COLOR = "0.55 0.55 0.6 1"
FINGER_COLOR = "0.85 0.85 0.85 1"


@dataclass
class Box:
    size: tuple[float, float, float]
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    color: str = ARM_COLOR


def _fmt(v: tuple[float, ...]) -> str:
    return " ".join(f"{x:.6g}" for x in v)


def _box_inertia(mass: float, size: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z = size
    return (mass * (y * y + z * z) / 12, mass * (x * x + z * z) / 12, mass * (x * x + y * y) / 12)


def _link(name: str, mass: float, boxes: list[Box], collide: bool = True) -> str:
    # Inertial frame at the link frame: pybullet treats a body's inertial frame as its base frame,
    # and an offset COM there shifts the collision shapes of a fixed base away from its visuals.
    # The first (dominant) box's inertia is close enough for position-controlled links.
    com = (0.0, 0.0, 0.0)
    ixx, iyy, izz = _box_inertia(mass, boxes[0].size) if boxes else (1e-6, 1e-6, 1e-6)
    parts = [f'  <link name="{name}">']
    parts.append(
        f'    <inertial><origin xyz="{_fmt(com)}" rpy="0 0 0"/><mass value="{mass:.6g}"/>'
        f'<inertia ixx="{max(ixx, 1e-7):.3e}" ixy="0" ixz="0" iyy="{max(iyy, 1e-7):.3e}" iyz="0" '
        f'izz="{max(izz, 1e-7):.3e}"/></inertial>'
    )
    for i, b in enumerate(boxes):
        origin = f'<origin xyz="{_fmt(b.xyz)}" rpy="{_fmt(b.rpy)}"/>'
        geom = f'<geometry><box size="{_fmt(b.size)}"/></geometry>'
        parts.append(
            f'    <visual name="{name}_v{i}">{origin}{geom}'
            f'<material name="{name}_m{i}"><color rgba="{b.color}"/></material></visual>'
        )
        if collide:
            parts.append(f"    <collision>{origin}{geom}</collision>")
    parts.append("  </link>")
    return "\n".join(parts)


def _joint(
    name: str,
    kind: str,
    parent: str,
    child: str,
    xyz: tuple[float, float, float],
    axis: tuple[float, float, float] = (0, 0, 1),
    limits: tuple[float, float] | None = None,
    effort: float = 10.0,
    velocity: float = 3.0,
) -> str:
    s = f'  <joint name="{name}" type="{kind}">\n'
    s += f'    <parent link="{parent}"/><child link="{child}"/>\n'
    s += f'    <origin xyz="{_fmt(xyz)}" rpy="0 0 0"/>\n'
    if kind != "fixed":
        s += f'    <axis xyz="{_fmt(axis)}"/>\n'
        lo, hi = limits if limits else (-math.pi, math.pi)
        s += f'    <limit lower="{lo:.5f}" upper="{hi:.5f}" effort="{effort}" velocity="{velocity}"/>\n'
        s += '    <dynamics damping="0.1" friction="0.0"/>\n'
    s += "  </joint>"
    return s


# Absolute positions (space frame) of the joint axes we anchor each link frame on.
BASE_HEIGHT = 0.072
SHOULDER = (0.0, 0.0, 0.11065)
ELBOW = (0.04975, 0.0, 0.36065)
FOREARM_ROLL_X = 0.10975  # any point on the x line through (0, 0, 0.36065)
WRIST_ANGLE = (0.29975, 0.0, 0.36065)
WRIST_ROTATE_X = 0.36475
EE_X = 0.458325

# Parallel-jaw gripper: each finger slides along the gripper's local y on a prismatic joint.
FINGER_OPEN = 0.037  # finger centre offset from the gripper axis when open (m)
FINGER_CLOSED = 0.010
FINGER_THICKNESS = 0.010
FINGER_LENGTH = 0.052
PALM_LENGTH = 0.045


def arm_urdf() -> str:
    ox = WRIST_ROTATE_X
    links = [
        _link("base_link", 1.5, [Box((0.12, 0.12, BASE_HEIGHT), (0, 0, BASE_HEIGHT / 2))]),
        _link(
            "shoulder_link", 0.5, [Box((0.07, 0.07, 0.035), (0, 0, 0.0175), color=ACCENT_COLOR)]
        ),
    ]
    # Upper arm: from the shoulder axis to the elbow axis, a tilted bar.
    dx, dz = ELBOW[0] - SHOULDER[0], ELBOW[2] - SHOULDER[2]
    length = math.hypot(dx, dz)
    tilt = math.atan2(dx, dz)
    links.append(
        _link("upper_arm_link", 0.4, [Box((0.04, 0.045, length), (dx / 2, 0, dz / 2), (0, tilt, 0))])
    )
    fa = FOREARM_ROLL_X - ELBOW[0]
    links.append(_link("upper_forearm_link", 0.2, [Box((fa + 0.02, 0.045, 0.04), (fa / 2, 0, 0))]))
    wa = WRIST_ANGLE[0] - FOREARM_ROLL_X
    links.append(_link("lower_forearm_link", 0.3, [Box((wa, 0.035, 0.035), (wa / 2, 0, 0))]))
    wr = WRIST_ROTATE_X - WRIST_ANGLE[0]
    # The wrist box stops 2 cm short of the wrist_rotate axis: with the tool pointing down it then
    # clears a drawer front while the fingertips are down at the handle below it.
    links.append(
        _link("wrist_link", 0.1, [Box((wr - 0.02, 0.04, 0.03), ((wr - 0.02) / 2, 0, 0), color=ACCENT_COLOR)])
    )
    links.append(
        _link("gripper_link", 0.12, [Box((PALM_LENGTH, 0.085, 0.02), (PALM_LENGTH / 2, 0, 0))])
    )
    finger_x = PALM_LENGTH + FINGER_LENGTH / 2
    for side in ("left", "right"):
        links.append(
            _link(
                f"{side}_finger_link",
                0.02,
                [Box((FINGER_LENGTH, FINGER_THICKNESS, 0.016), (finger_x, 0, 0), color=FINGER_COLOR)],
            )
        )
    links.append(_link("ee_gripper_link", 0.001, [], collide=False))

    joints = [
        _joint("waist", "revolute", "base_link", "shoulder_link", (0, 0, BASE_HEIGHT),
               (0, 0, 1), (-3.1416, 3.1416), effort=20),
        _joint("shoulder", "revolute", "shoulder_link", "upper_arm_link",
               (0, 0, SHOULDER[2] - BASE_HEIGHT), (0, 1, 0), (-1.8850, 1.9897), effort=40),
        _joint("elbow", "revolute", "upper_arm_link", "upper_forearm_link", (dx, 0, dz),
               (0, 1, 0), (-2.1468, 1.6057), effort=30),
        _joint("forearm_roll", "revolute", "upper_forearm_link", "lower_forearm_link",
               (fa, 0, 0), (1, 0, 0), (-3.1416, 3.1416)),
        _joint("wrist_angle", "revolute", "lower_forearm_link", "wrist_link", (wa, 0, 0),
               (0, 1, 0), (-1.7453, 2.1468)),
        _joint("wrist_rotate", "revolute", "wrist_link", "gripper_link", (wr, 0, 0),
               (1, 0, 0), (-3.1416, 3.1416)),
        _joint("left_finger", "prismatic", "gripper_link", "left_finger_link", (0, 0, 0),
               (0, 1, 0), (FINGER_CLOSED, FINGER_OPEN), effort=20, velocity=0.5),
        _joint("right_finger", "prismatic", "gripper_link", "right_finger_link", (0, 0, 0),
               (0, -1, 0), (FINGER_CLOSED, FINGER_OPEN), effort=20, velocity=0.5),
        _joint("ee_gripper", "fixed", "gripper_link", "ee_gripper_link", (EE_X - ox, 0, 0)),
    ]
    return (
        '<?xml version="1.0"?>\n<!-- Generated by envs/assets/generate_urdfs.py: edit that, not this. -->\n'
        '<robot name="widowx250s_lowpoly">\n' + "\n".join(links) + "\n" + "\n".join(joints)
        + "\n</robot>\n"
    )


# ---- Cabinet with two drawers -------------------------------------------------------------------
# Cabinet frame: origin at the bottom centre of its front face; the front faces -y; drawers slide
# along -y. All sizes in metres.
CAB_W, CAB_D, CAB_H = 0.20, 0.16, 0.14
WALL = 0.01
DRAWER_TRAVEL = 0.12
DRAWER_H = 0.055  # drawer wall height above its floor
BOTTOM_FLOOR_Z = 0.012
TOP_FLOOR_Z = 0.075
HANDLE_GAP = 0.03  # clearance between handle bar and drawer face, room for a fingertip
HANDLE_LEN = 0.07
HANDLE_X = (-0.055, 0.055)  # bottom, top drawer handle centre along the face
CABINET_COLOR = "0.45 0.30 0.18 1"
DRAWER_COLOR = "0.70 0.55 0.35 1"
HANDLE_COLOR = "0.10 0.10 0.10 1"


def _drawer_boxes(floor_z: float, handle_x: float) -> list[Box]:
    w = CAB_W - 2 * WALL - 0.008  # side clearance
    d = CAB_D - WALL - 0.01
    h = DRAWER_H
    y0 = 0.0  # drawer frame: front face of the cabinet, bottom of drawer floor
    boxes = [
        Box((w, d, 0.006), (0, y0 + d / 2, floor_z + 0.003), color=DRAWER_COLOR),  # floor
        Box((0.006, d, h), (-w / 2 + 0.003, d / 2, floor_z + h / 2), color=DRAWER_COLOR),
        Box((0.006, d, h), (w / 2 - 0.003, d / 2, floor_z + h / 2), color=DRAWER_COLOR),
        Box((w, 0.006, h), (0, d - 0.003, floor_z + h / 2), color=DRAWER_COLOR),  # back
        # Front panel, a little larger than the opening, just outside the cabinet face.
        Box((CAB_W - 0.004, 0.01, h + 0.006), (0, -0.005, floor_z + h / 2), color=DRAWER_COLOR),
        # Handle: a bar parallel to the face, on two standoffs. The two drawers' handles sit on
        # opposite sides, so a gripper can reach down past the top handle to the bottom one.
        Box((HANDLE_LEN, 0.008, 0.01), (handle_x, -0.01 - HANDLE_GAP - 0.004, floor_z + h / 2),
            color=HANDLE_COLOR),
    ]
    for sx in (-HANDLE_LEN / 2 + 0.004, HANDLE_LEN / 2 - 0.004):
        boxes.append(
            Box((0.008, HANDLE_GAP + 0.004, 0.01),
                (handle_x + sx, -0.01 - HANDLE_GAP / 2, floor_z + h / 2), color=HANDLE_COLOR)
        )
    return boxes


def cabinet_urdf() -> str:
    c = CABINET_COLOR
    shell = [
        Box((CAB_W, CAB_D, WALL), (0, CAB_D / 2, WALL / 2), color=c),  # bottom
        Box((CAB_W, CAB_D, WALL), (0, CAB_D / 2, CAB_H - WALL / 2), color=c),  # top
        Box((WALL, CAB_D, CAB_H), (-CAB_W / 2 + WALL / 2, CAB_D / 2, CAB_H / 2), color=c),
        Box((WALL, CAB_D, CAB_H), (CAB_W / 2 - WALL / 2, CAB_D / 2, CAB_H / 2), color=c),
        Box((CAB_W, WALL, CAB_H), (0, CAB_D - WALL / 2, CAB_H / 2), color=c),  # back
        Box((CAB_W, CAB_D, 0.006), (0, CAB_D / 2, TOP_FLOOR_Z - 0.004), color=c),  # divider
    ]
    links = [
        _link("cabinet", 0.0, shell),
        _link("bottom_drawer", 0.3, _drawer_boxes(BOTTOM_FLOOR_Z, HANDLE_X[0])),
        _link("top_drawer", 0.3, _drawer_boxes(TOP_FLOOR_Z, HANDLE_X[1])),
    ]
    joints = [
        _joint("bottom_drawer_slide", "prismatic", "cabinet", "bottom_drawer", (0, 0, 0),
               (0, -1, 0), (0.0, DRAWER_TRAVEL), effort=100, velocity=1.0),
        _joint("top_drawer_slide", "prismatic", "cabinet", "top_drawer", (0, 0, 0),
               (0, -1, 0), (0.0, DRAWER_TRAVEL), effort=100, velocity=1.0),
    ]
    return (
        '<?xml version="1.0"?>\n<!-- Generated by envs/assets/generate_urdfs.py: edit that, not this. -->\n'
        '<robot name="two_drawer_cabinet">\n' + "\n".join(links) + "\n" + "\n".join(joints)
        + "\n</robot>\n"
    )


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> None:
    _write(HERE / "widowx250s.urdf", arm_urdf())
    _write(HERE / "cabinet.urdf", cabinet_urdf())
    print(f"wrote {HERE / 'widowx250s.urdf'} and {HERE / 'cabinet.urdf'}")


if __name__ == "__main__":
    main()
