"""Sweep scaling: the same small grid with 1 Ray worker and with 2, side by side.

    python benchmarks/sweep_scaling.py --steps 1000 --repeats 1

The grid: closed drawer, COG and task-only CQL, seeds 0 and 1, state observations. The data
is collected once first (not timed); each repeat then runs the grid into a fresh folder with
--workers 1 and with --workers 2, alternating, and the script prints the wall-clock times and
the ratio of their medians (issue 15's target: >= 1.7 on this 2-core machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cog.sweep import SweepConfig, collect_setup, run_sweep  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--episodes", type=int, default=50)
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sweep_scaling_"))
    base = SweepConfig(setups=("closed-drawer",), methods=("cog", "task_only"), seeds=(0, 1),
                       data_dir=str(root / "data"), prior_episodes=args.episodes,
                       task_episodes=args.episodes, eval_episodes=5,
                       eval_every=args.steps, progress=False)
    base.train = replace(base.train, steps=args.steps, checkpoint_every=args.steps,
                         bc_warmup_steps=min(1000, args.steps // 10), eval_gif=False)
    collect_setup(base, "closed-drawer")
    times: dict[int, list[float]] = {1: [], 2: []}
    for r in range(args.repeats):
        for workers in (1, 2):
            cfg = replace(base, workers=workers, out=str(root / f"w{workers}_r{r}"))
            t0 = time.perf_counter()
            run_sweep(cfg)
            times[workers].append(time.perf_counter() - t0)
            print(f"repeat {r}: {workers} worker(s) {times[workers][-1]:.1f}s", flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"\n4 runs x {args.steps} steps: 1 worker {one:.1f}s, 2 workers {two:.1f}s "
          f"(median of {args.repeats}); speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
