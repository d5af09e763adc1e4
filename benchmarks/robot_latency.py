"""Loopback latency of the robot link: observe + act round trips with a 48x48 image.

Spawns `cog robot serve` (fake backend by default, so the figure is the transport, the
msgpack codec, the safety filter and the server loop, not physics) on 127.0.0.1, with and
without CURVE, and prints p50/p99 in milliseconds. Target: p99 under 10 ms in both.

    python benchmarks/robot_latency.py --steps 2000
    python benchmarks/robot_latency.py --backend sim --steps 300   # includes env.step + render
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from robot_interface.client import RobotClient
from robot_interface.keys import keygen
from robot_interface.testing import spawn_server


def measure(endpoint: str, steps: int, curve_keys: str | None) -> dict[str, np.ndarray]:
    pair, act_only = [], []
    rng = np.random.default_rng(0)
    with RobotClient(endpoint, timeout_s=5.0, curve_keys=curve_keys) as client:
        client.reset(seed=0)
        for i in range(steps + 20):
            action = np.zeros(8, np.float32)
            action[:3] = rng.uniform(-0.3, 0.3, 3)
            t0 = time.perf_counter()
            obs = client.observe()
            t1 = time.perf_counter()
            reply = client.act(action, obs["frame_time"])
            t2 = time.perf_counter()
            assert reply["image"].shape == (48, 48, 3)
            if i >= 20:  # warm-up: first connections, allocator, caches
                pair.append(t2 - t0)
                act_only.append(t2 - t1)
            if i % 200 == 199:
                client.reset(seed=i)  # keep the fake arm away from the box walls
    return {
        "observe+act": np.array(pair) * 1e3,
        "act (reply carries obs)": np.array(act_only) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--backend", choices=("fake", "sim"), default="fake")
    args = parser.parse_args()
    server_args = ["--backend", args.backend, "--rate", "100", "--watchdog", "10"]
    with tempfile.TemporaryDirectory() as keys:
        keygen(keys)
        for label, extra, client_keys in (
            ("plain", [], None),
            ("CURVE", ["--curve-keys", keys], keys),
        ):
            with spawn_server(*server_args, *extra) as srv:
                results = measure(srv.endpoint, args.steps, client_keys)
            for name, ms in results.items():
                print(
                    f"{args.backend:>4} {label:>5} {name:<24} n={ms.size} "
                    f"p50={np.percentile(ms, 50):.3f} ms p99={np.percentile(ms, 99):.3f} ms "
                    f"max={ms.max():.3f} ms"
                )


if __name__ == "__main__":
    main()
