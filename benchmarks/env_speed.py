"""Env speed per task on one core: steps/s with the 48x48 image, reset time, and the same
without rendering. Median of several repeats.

    python benchmarks/env_speed.py --steps 300 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import envs


def _steps_per_second(env, steps: int, rng: np.random.Generator) -> float:
    env.reset(seed=int(rng.integers(1 << 30)))
    actions = rng.uniform(-1, 1, (steps, 8)).astype(np.float32)
    actions[:, 6:] = 0.0  # gripper and neutral commands run 75 substeps: time plain moves
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    return steps / (time.perf_counter() - t0)


def _reset_ms(env, n: int) -> float:
    t0 = time.perf_counter()
    for s in range(n):
        env.reset(seed=s)
    return 1000 * (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core, as the target says
    rng = np.random.default_rng(0)
    print(f"median of {args.repeats} repeats, {args.steps} steps each, one core, 48x48 images")
    print(
        "| env | steps/s (render) | reset ms (render) | steps/s (no render) "
        "| reset ms (no render) |"
    )
    print("|---|---|---|---|---|")
    for env_id in envs.ENV_IDS:
        row = []
        for render in (True, False):
            env = envs.make(env_id, render_images=render)
            sps = statistics.median(
                _steps_per_second(env, args.steps, rng) for _ in range(args.repeats)
            )
            reset = statistics.median(_reset_ms(env, 50) for _ in range(args.repeats))
            env.close()
            row += [f"{sps:.0f}", f"{reset:.2f}"]
        print(f"| {env_id} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
