"""`cog robot calibrate`: small fixed moves, measured displacement per action unit, next to
the simulator's, so a user can set the action scale before trusting a policy."""

from __future__ import annotations

import numpy as np

from envs import constants as C
from robot_interface.client import RobotClient

AXES = ("x", "y", "z")


def move_sequence(amplitude: float, repeats: int) -> list[tuple[str, np.ndarray]]:
    """Out-and-back moves on each axis: the arm ends where it started."""
    seq = []
    for axis_i, axis in enumerate(AXES):
        for sign in (1.0, -1.0):
            for _ in range(repeats):
                a = np.zeros(C.ACTION_DIM, dtype=np.float32)
                a[axis_i] = sign * amplitude
                seq.append((f"{'+' if sign > 0 else '-'}{axis}", a))
    return seq


def _measure(step_fn, home_fn, seq) -> dict[str, list[float]]:
    per_unit: dict[str, list[float]] = {}
    pos = home_fn()
    for label, action in seq:
        new = step_fn(action)
        axis = AXES.index(label[1])
        moved = (new[axis] - pos[axis]) / float(action[axis])
        per_unit.setdefault(label, []).append(float(moved))
        pos = new
    return per_unit


def sim_reference(seq, task: str = "cog/OpenDrawerGrasp-v0") -> dict[str, list[float]]:
    import envs

    env = envs.make(task, render_images=False)
    try:
        def home():
            obs, _ = env.reset(seed=0)
            return obs["state"][:3].astype(np.float64)

        def step(a):
            obs, *_ = env.step(a)
            return obs["state"][:3].astype(np.float64)

        return _measure(step, home, seq)
    finally:
        env.close()


def calibrate(
    robot: str,
    *,
    amplitude: float = 0.25,
    repeats: int = 2,
    curve_keys: str | None = None,
    timeout_s: float = 5.0,
    image_size: int = 48,
    with_sim: bool = True,
) -> list[dict]:
    seq = move_sequence(amplitude, repeats)
    with RobotClient(
        robot, timeout_s=timeout_s, curve_keys=curve_keys, image_size=image_size,
        name="cog robot calibrate",
    ) as client:
        def home():
            return np.asarray(client.home()["state"][:3], dtype=np.float64)

        def step(a):
            reply = client.act(a)
            if reply["hold"]:
                raise ValueError(f"calibration move refused: {reply['reason']}")
            return np.asarray(reply["state"][:3], dtype=np.float64)

        measured = _measure(step, home, seq)
        client.home()
    reference = sim_reference(seq) if with_sim else {}
    rows = []
    for label, values in measured.items():
        robot_m = float(np.mean(values))
        sim_m = float(np.mean(reference[label])) if label in reference else None
        rows.append(
            {
                "move": label,
                "robot_m_per_unit": robot_m,
                "sim_m_per_unit": sim_m,
                "nominal_m_per_unit": C.POS_STEP_M,
                "ratio_robot_over_sim": (robot_m / sim_m) if sim_m else None,
            }
        )
    return rows


def format_report(rows: list[dict]) -> str:
    lines = [f"{'move':>5} {'robot m/unit':>13} {'sim m/unit':>11} {'ratio':>7}"]
    for r in rows:
        sim = "-" if r["sim_m_per_unit"] is None else f"{r['sim_m_per_unit']:.4f}"
        ratio = "-" if r["ratio_robot_over_sim"] is None else f"{r['ratio_robot_over_sim']:.2f}"
        lines.append(f"{r['move']:>5} {r['robot_m_per_unit']:>13.4f} {sim:>11} {ratio:>7}")
    ratios = [r["ratio_robot_over_sim"] for r in rows if r["ratio_robot_over_sim"]]
    if ratios:
        lines.append(
            f"mean ratio {np.mean(ratios):.2f}: a ratio below 1 means the robot moves less per "
            "action unit than the sim (e.g. profile velocity too low for the control period)."
        )
    return "\n".join(lines)
