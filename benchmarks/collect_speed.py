"""Collection throughput: episodes/min with 1 worker (in-process) and 2 Ray workers, measured
side by side in one run, repeated; the median rate and the median of the per-repeat ratios.

    python benchmarks/collect_speed.py --episodes 60 --repeats 3

Ray start-up (~3-5 s) is measured once and excluded, as it is paid once per run, not per
episode; starting the actors (each imports pybullet and builds its env) is included. Output
files go to a temporary directory.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="cog/ClosedDrawerGrasp-v0")
    ap.add_argument("--policy", default="drawer_open")
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--shard-episodes", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import ray

    from data_collection.collect import CollectConfig, collect
    from data_collection.local_ray import start_or_join_ray

    tmp = Path(tempfile.mkdtemp(prefix="collect-speed-"))
    t0 = time.perf_counter()
    start_or_join_ray(None, 2)
    print(f"local Ray with 2 CPUs started in: {time.perf_counter() - t0:.1f} s (excluded)")
    rates: dict[int, list[float]] = {1: [], 2: []}
    ratios = []
    try:
        for r in range(args.repeats):
            for workers in (1, 2):
                out = tmp / f"r{r}-w{workers}.h5"
                cfg = CollectConfig(args.env, args.policy, args.episodes, out, workers=workers,
                                    save_all=True, shard_episodes=args.shard_episodes)
                t0 = time.perf_counter()
                result = collect(cfg, progress=False)
                seconds = time.perf_counter() - t0
                rates[workers].append(args.episodes / seconds * 60)
                print(f"repeat {r}: {workers} worker(s): {args.episodes} episodes in "
                      f"{seconds:.1f} s = {rates[workers][-1]:.0f} episodes/min "
                      f"({result.transitions / seconds:.0f} steps/s)", flush=True)
            ratios.append(rates[2][-1] / rates[1][-1])
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"median episodes/min: 1 worker {statistics.median(rates[1]):.0f}, "
          f"2 workers {statistics.median(rates[2]):.0f}")
    print(f"scaling 2 vs 1 workers: median {statistics.median(ratios):.2f}x over "
          f"{args.repeats} repeats (each {', '.join(f'{x:.2f}' for x in ratios)}; target >= 1.7x)")


if __name__ == "__main__":
    main()
