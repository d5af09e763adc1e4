"""Q and the policy's action error along the prior and task episodes, per time step.

    python benchmarks/value_profile.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/value_profile.png

For each (CQL or SAC) run, at its final checkpoint and on the data it trained on
(``cog.value_profile``): does Q on the prior episodes follow the fully propagated chain
(gamma^(steps left) x Q at the task episodes' start), and does the policy take the data's
actions on the data's states? Prints one line per run and part, writes a PNG with a row of
panels per run, and the numbers as JSON beside it (same name, .json). A prior whose file
names each episode's behaviour (collected with --irrelevant-fraction) is also reported per
behaviour: does the critic value the useful expert's episodes above the distractors'?
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diagnostics_cli import parser, run_each  # noqa: E402

from cog.plotting import new_figure, save_png  # noqa: E402
from cog.value_profile import PARTS, value_profile  # noqa: E402


def summary_line(profile: dict, part: str) -> str:
    p = profile[part]
    line = (f"{part}: {p['episodes'][0]} episodes, up to {len(p['q_data'])} steps; Q on data "
            f"{p['q_data'][0]:.1f} at t=0 -> {p['q_data_last']:.1f} at the episodes' last "
            "steps")
    if "chain" in p:
        line += (f" (propagated chain {p['chain'][0]:.1f} -> {p['chain'][-1]:.1f}; Q on data "
                 f"minus chain at t=0: {p['q_data'][0] - p['chain'][0]:+.1f})")
    mean_err = sum(p["action_error"]) / len(p["action_error"])
    return line + (f"; Q on the policy's action {p['q_policy'][0]:.1f} at t=0; |pi(s) - a| "
                   f"{mean_err:.3f} averaged over steps")


def behaviour_line(name: str, p: dict) -> str:
    """One behaviour of the prior: Q on data at t = 0 and over all steps, the action error."""
    n = p["episodes"]
    q_all = sum(q * k for q, k in zip(p["q_data"], n, strict=True)) / sum(n)
    err = sum(e * k for e, k in zip(p["action_error"], n, strict=True)) / sum(n)
    return (f"prior [{name}]: {n[0]} episodes; Q on data {p['q_data'][0]:.1f} at t=0, "
            f"{q_all:.1f} over all steps; Q on the policy's action {p['q_policy'][0]:.1f} at "
            f"t=0; |pi(s) - a| {err:.3f} over all steps")


def thin_tail(episodes: list[int], floor: int = 5, share: float = 0.1) -> int | None:
    """The first time step that fewer than max(``floor``, ``share`` of all) episodes reach,
    or None. Past it a per-step mean stands on a handful of long episodes, so the plot
    shades it rather than let its swings read as the critic's."""
    need = max(floor, share * episodes[0]) if episodes else 0
    return next((t for t, n in enumerate(episodes) if n < need), None)


def _shade_thin_tail(ax, episodes: list[int]) -> None:
    t = thin_tail(episodes)
    if t is not None:
        ax.axvspan(t - 0.5, len(episodes) - 0.5, color="grey", alpha=0.15, linewidth=0,
                   label=f"< {max(5, round(0.1 * episodes[0]))} episodes reach")


def plot(profiles: list[dict], out: Path) -> Path:
    fig, axes = new_figure(len(profiles), 3, figsize=(13, 3.4 * len(profiles)))
    axes = axes.reshape(len(profiles), 3)
    for row, prof in zip(axes, profiles, strict=True):
        name = "/".join(Path(prof["run"]).parts[-3:])  # table/setup/run: the names repeat
        for ax, part in zip(row[:2], PARTS, strict=True):
            if part not in prof:
                ax.set_visible(False)
                continue
            p = prof[part]
            ax.plot(p["q_data"], label="Q(s, a) on data")
            ax.plot(p["q_policy"], label="Q(s, pi(s))", linestyle=":")
            if "chain" in p:
                ax.plot(p["chain"], label="propagated chain", color="grey", linestyle="--")
            _shade_thin_tail(ax, p["episodes"])
            if part == "prior":
                for behaviour, b in prof.get("prior_behaviours", {}).items():
                    ax.plot(b["q_data"], label=f"Q on data: {behaviour}", linewidth=0.8,
                            alpha=0.7)
            ax.set_title(f"{name}: {part} episodes (step {prof['step']})", fontsize=9)
            ax.set_xlabel("time step in episode")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        for part in PARTS:
            if part in prof:
                row[2].plot(prof[part]["action_error"], label=part)
        row[2].set_title(f"{name}: |pi(s) - a| on the data", fontsize=9)
        row[2].set_xlabel("time step in episode")
        row[2].grid(alpha=0.3)
        row[2].legend(fontsize=7)
    return save_png(fig, out)


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0],
                  "benchmarks/results/value_profile.png").parse_args(argv)

    def report(prof: dict) -> None:
        for part in PARTS:
            if part in prof:
                print(f"{prof['run']} {summary_line(prof, part)}")
        for name, p in prof.get("prior_behaviours", {}).items():
            print(f"{prof['run']} {behaviour_line(name, p)}")

    return run_each(args, value_profile, report, plot)


if __name__ == "__main__":
    sys.exit(main())
