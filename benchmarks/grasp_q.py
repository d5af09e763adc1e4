"""Q along the gripper action at the steps where the data's expert closes the gripper.

    python benchmarks/grasp_q.py RUN_DIR [RUN_DIR ...] --out benchmarks/results/grasp_q.png

The env closes the gripper only on a gripper action below -0.5 (``envs.constants``), and a
grasp expert sends that on a single step per episode. At that step of every prior and task
episode (found from the data's own actions), this asks the run's final critic (no
simulator): how does Q change along the gripper action, the policy's other action dimensions
held at its deterministic action, and where is the policy's own gripper action? A critic that
prefers closing while the actor stays above the threshold is an actor stuck on the wrong side
of the Q landscape; a critic flat across the threshold has not learnt that closing now
matters. Prints one line per run and part, writes a PNG and the numbers as JSON beside it
(same name, .json).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from diagnostics_cli import parser, run_each  # noqa: E402

from cog.plotting import new_figure, save_png  # noqa: E402
from cog.value_profile import PARTS, action_slice  # noqa: E402
from envs.constants import GRIPPER_CLOSE_THRESHOLD  # noqa: E402

GRIPPER = 6  # the action's gripper dimension (envs: dx, dy, dz, droll, dpitch, dyaw, grip, neutral)
GRID = np.linspace(-1.0, 1.0, 9)


def summary_line(r: dict, part: str) -> str:
    p = r[part]
    own = np.asarray(p["policy_value"])
    q = np.asarray(p["q"])
    best = r["grid"][int(np.argmax(q))]
    closes = float(np.mean(own < r["below"]))
    return (f"{r['run']} {part}: {len(own)} close steps (t = {int(np.median(p['steps']))} "
            f"median); the policy's gripper action median {np.median(own):+.2f} (5-95%: "
            f"{np.percentile(own, 5):+.2f} to {np.percentile(own, 95):+.2f}), below the "
            f"threshold at {closes:.0%} of them; mean Q there {p['q_policy']:.1f}; Q along the "
            f"gripper action " + ", ".join(f"{g:+.2f}: {v:.1f}" for g, v in zip(r["grid"], q,
                                                                            strict=True))
            + f"; highest at {best:+.2f}")


def plot(results: list[dict], out: Path) -> Path:
    parts = [part for part in PARTS if any(part in r for r in results)]
    fig, axes = new_figure(1, len(parts), figsize=(6.5 * len(parts), 4))
    for ax, part in zip(np.atleast_1d(axes), parts, strict=True):
        for r in results:
            if part not in r:
                continue
            name = "/".join(Path(r["run"]).parts[-3:])
            line, = ax.plot(r["grid"], r[part]["q"], marker="o", label=name)
            ax.axvline(float(np.median(r[part]["policy_value"])), color=line.get_color(),
                       linestyle=":", linewidth=1)
        ax.axvline(GRIPPER_CLOSE_THRESHOLD, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{part} episodes, at the data's close step: Q along the gripper action\n"
                     "dotted: the policy's own (median); dashed: closes below", fontsize=9)
        ax.set_xlabel("gripper action")
        ax.set_ylabel("Q (mean over those states)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_png(fig, out)


def slice_run(run: Path) -> dict:
    r = action_slice(run, GRIPPER, GRIPPER_CLOSE_THRESHOLD, GRID)
    if not any(part in r for part in PARTS):
        raise ValueError(f"{run}: no episode of its data closes the gripper (no gripper "
                         f"action below {GRIPPER_CLOSE_THRESHOLD})")
    return r


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0], "benchmarks/results/grasp_q.png").parse_args(argv)

    def report(r: dict) -> None:
        for part in PARTS:
            if part in r:
                print(summary_line(r, part))

    return run_each(args, slice_run, report, plot)


if __name__ == "__main__":
    sys.exit(main())
