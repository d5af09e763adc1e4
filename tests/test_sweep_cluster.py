"""Issue 15: a sweep across a real two-node Ray cluster on loopback, killed mid-way, resumed.

Both nodes are `ray start` processes on this machine (127.0.0.1), started and stopped here.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str, env: dict, timeout: float = 120) -> None:
    subprocess.run([str(RAY), *args], check=True, env=env, timeout=timeout,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def two_node_cluster(tmp_path):
    if not RAY.exists():
        pytest.skip("the ray command is not installed next to this python")
    port = _free_port()
    # Ray's token authentication: the nodes and the sweep share a secret, so nothing else
    # (Ray's gRPC servers listen on every interface) can join or submit work.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    try:
        _ray("start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
             "--include-dashboard", "false", *common, env=env)
        _ray("start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1",
             *common, env=env)
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _sweep(cluster: tuple[str, dict], out: Path) -> subprocess.Popen:
    address, env = cluster
    cmd = [sys.executable, "-m", "cog", "sweep", "--address", address,
           "--setups", "closed-drawer", "--methods", "cog", "task_only", "--seeds", "0", "1",
           "--steps", "300", "--episodes", "8", "--eval-episodes", "2", "--eval-every", "150",
           "--set", "checkpoint_every=50", "log_every=25", "eval_gif=false", "--out", str(out),
           "--no-progress"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


def _step(run: Path) -> int:
    try:
        lines = (run / "train.csv").read_text().strip().splitlines()
        return int(float(lines[-1].split(",")[0])) if len(lines) > 1 else 0
    except (OSError, ValueError):
        return 0


def test_sweep_on_two_nodes_survives_a_killed_worker(two_node_cluster, tmp_path):
    out = tmp_path / "sweep"
    runs = [out / f"{m}_seed{s}" for m in ("cog", "task_only") for s in (0, 1)]
    proc = _sweep(two_node_cluster, out)
    victim, deadline = None, time.monotonic() + 300
    while victim is None and proc.poll() is None and time.monotonic() < deadline:
        for run in runs:
            if (run / "checkpoint.pt").exists() and 0 < _step(run) < 300 and \
                    (run / "worker.pid").exists():
                victim = run
                os.kill(int((run / "worker.pid").read_text()), signal.SIGKILL)
                break
        time.sleep(0.2)
    first_output = proc.communicate(timeout=600)[0]
    assert victim is not None, "no run was caught mid-way:\n" + first_output[-3000:]
    assert proc.returncode == 1, first_output[-3000:]  # one run failed, the others finished
    report = (out / "report.md").read_text()
    method, seed = victim.name.split("_seed")
    assert "Failed runs" in report and f"closed-drawer {method} seed {seed} (" in report
    killed_at = _step(victim)

    # The same command again: the killed run resumes from its checkpoint and completes.
    proc = _sweep(two_node_cluster, out)
    second_output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, second_output[-3000:]
    summary = json.loads((out / "summary.json").read_text())["closed-drawer"]
    assert {m: len(v["per_seed"]) for m, v in summary.items()} == {"cog": 2, "task_only": 2}
    assert _step(victim) == 300 and killed_at < 300
    log = (victim / "log.txt").read_text()
    assert log.count("== ") == 2  # started twice: killed, then resumed
    # The finished runs were skipped, not retrained: they were started once only.
    for run in runs:
        if run != victim:
            assert (run / "log.txt").read_text().count("== ") == 1
    # Runs were spread over both nodes.
    nodes = {line.rsplit("ray node ", 1)[1] for run in runs
             for line in (run / "log.txt").read_text().splitlines() if "ray node " in line}
    assert len(nodes) == 2, nodes
