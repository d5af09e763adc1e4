"""Collection throughput: episodes/min with 1 worker (in-process) and 2 Ray workers.

    python benchmarks/collect_speed.py [--env cog/ClosedDrawerGrasp-v0 --policy drawer_open
                                        --episodes 40]

Ray start-up (~3-5 s) is measured separately and excluded from the 2-worker rate, as it is
paid once per run, not per episode. Output files go to a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="cog/ClosedDrawerGrasp-v0")
    ap.add_argument("--policy", default="drawer_open")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--shard-episodes", type=int, default=5)
    args = ap.parse_args()

    import ray

    from data_collection.collect import CollectConfig, collect

    tmp = Path(tempfile.mkdtemp(prefix="collect-speed-"))
    rates = {}
    for workers in (1, 2):
        cfg = CollectConfig(args.env, args.policy, args.episodes, tmp / f"w{workers}.h5",
                            workers=workers, save_all=True, shard_episodes=args.shard_episodes)
        if workers > 1:
            t0 = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            print(f"ray.init(num_cpus={workers}): {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        result = collect(cfg, progress=False)
        seconds = time.perf_counter() - t0
        rates[workers] = args.episodes / seconds * 60
        print(f"{workers} worker(s): {args.episodes} episodes in {seconds:.1f} s = "
              f"{rates[workers]:.0f} episodes/min ({result.transitions / seconds:.0f} steps/s, "
              f"success {result.success_rate:.0%})")
        if workers > 1:
            ray.shutdown()
    print(f"scaling 2 vs 1 workers: {rates[2] / rates[1]:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
