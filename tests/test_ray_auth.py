"""Issue 12: the local Ray that collection and sweeps start refuses clients without its token.

Ray 2.60's gRPC servers bind every interface and offer no option to bind loopback only, so
we rely on Ray's token authentication (on by default): a process
that does not hold the token (another machine, or another user without ~/.ray/auth_token)
cannot submit work.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_a_client_without_the_token_is_refused(tmp_path):
    ray = pytest.importorskip("ray")
    from cog.sweep import SweepConfig, start_ray

    assert start_ray(SweepConfig(workers=1))
    try:
        address = ray.get_runtime_context().gcs_address
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
        env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token here
        code = (f"import ray; ray.init(address={address!r}, log_to_driver=False); "
                "print(ray.get(ray.remote(lambda: 'ran').remote()))")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=120)
        assert res.returncode != 0 and "ran" not in res.stdout
        assert "auth" in (res.stdout + res.stderr).lower()
    finally:
        ray.shutdown()


def test_sweep_workers_run_at_normal_priority():
    """Ray's default worker niceness (15) would starve training behind any other process."""
    ray = pytest.importorskip("ray")
    from cog.sweep import SweepConfig, start_ray

    assert start_ray(SweepConfig(workers=1))
    try:
        assert ray.get(ray.remote(lambda: os.nice(0)).remote()) == 0
    finally:
        ray.shutdown()


def test_a_sweep_starts_its_own_ray_even_when_another_is_advertised(monkeypatch):
    """ray.init() without an address joins RAY_ADDRESS (or the cluster a `ray start` noted in
    /tmp/ray/ray_current_cluster), and then refuses num_cpus: two CI tests once failed that way
    beside a running demo. A sweep or collection without --address starts a private Ray."""
    ray = pytest.importorskip("ray")
    from cog.sweep import SweepConfig, start_ray

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # advertised, but nothing listens there
    assert start_ray(SweepConfig(workers=1))
    try:
        assert ray.cluster_resources().get("CPU") == 1
        assert not ray.get_runtime_context().gcs_address.endswith(":9")
    finally:
        ray.shutdown()
