"""The seed's first figure, from images: offline SAC's Q on its own actions climbs far above
what 0/1 rewards allow, while COG's (CQL) stays below the bound.

    python benchmarks/sac_vs_cog_q.py --cog RUN_DIR --sac RUN_DIR \\
        --out benchmarks/results/sac_vs_cog_q.png

Both runs are ordinary `cog train` runs on the same data and settings, one with --algo cql
(COG) and one with --algo sac (CQL weight 0). With rewards in {0, 1} and discount gamma, no
return exceeds 1/(1-gamma) (100 at 0.99): a Q above it is overestimation, not value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cog.config import TrainConfig  # noqa: E402
from cog.logger import CsvLog  # noqa: E402
from cog.plotting import new_figure, save_png  # noqa: E402


def curve(run: Path, key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in CsvLog(run / "train.csv").rows if key in r]
    if not rows:
        raise ValueError(f"{run}/train.csv has no {key!r} column")
    return [int(r["step"]) for r in rows], [r[key] for r in rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cog", type=Path, required=True)
    p.add_argument("--sac", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sac_vs_cog_q.png"))
    args = p.parse_args()
    gamma = TrainConfig.load(args.cog / "config.json").discount
    bound = 1.0 / (1.0 - gamma)
    fig, axes = new_figure(1, 2, figsize=(10, 3.6))
    for ax, key, title in ((axes[0], "q/policy", "Q on the policy's actions"),
                           (axes[1], "q/data", "Q on dataset actions")):
        for label, run in (("COG (CQL)", args.cog), ("offline SAC", args.sac)):
            steps, q = curve(run, key)
            ax.plot(steps, q, label=label)
            print(f"{label} {key}: max {max(q):.1f}, last {q[-1]:.1f} at step {steps[-1]}")
        ax.axhline(bound, color="grey", linestyle="--", linewidth=1,
                   label=f"1/(1-gamma) = {bound:.0f}")
        ax.set_yscale("symlog", linthresh=10)
        ax.set_xlabel("gradient steps")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    print(f"wrote {save_png(fig, args.out)}")


if __name__ == "__main__":
    main()
