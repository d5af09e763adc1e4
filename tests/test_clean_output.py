"""`cog envs` and `cog rollout` print only their results on stdout: pybullet's C-level
chatter ("pybullet build time", "argv[0]=") is silenced at the file-descriptor level."""

from __future__ import annotations

import subprocess
import sys


def _cog(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cog", *args], capture_output=True, text=True,
                          timeout=120, check=True)


def test_cog_envs_prints_only_its_table():
    out = _cog("envs")
    lines = out.stdout.splitlines()
    assert lines[0].startswith("env id") and any("cog/ClosedDrawerGrasp-v0" in x for x in lines)
    assert "argv[0]" not in out.stdout + out.stderr
    assert "build time" not in out.stdout + out.stderr


def test_cog_rollout_prints_only_its_result():
    out = _cog("rollout", "--env", "cog/ClosedDrawerGrasp-v0", "--policy", "drawer_open",
               "--episodes", "1")
    assert out.stdout.splitlines() == [
        "drawer_open in cog/ClosedDrawerGrasp-v0: success (drawer_open) 1.00 over 1 episodes "
        "(seed 0, noise 0.1)"]
    assert "argv[0]" not in out.stderr and "build time" not in out.stderr
