"""Atomically written files get a normal new file's mode (0666 minus the umask), not
mkstemp's 0600, so datasets, checkpoints and GIFs are readable by colleagues."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from envs.atomic import atomic_path, write_bytes_atomic
from envs.video import save_gif


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_follow_the_umask(tmp_path, umask_022):
    write_bytes_atomic(tmp_path / "a.json", b"{}")
    with atomic_path(tmp_path / "b.h5") as tmp:
        tmp.write_bytes(b"data")
    save_gif([np.zeros((8, 8, 3), np.uint8)] * 2, tmp_path / "c.gif")
    assert [_mode(tmp_path / n) for n in ("a.json", "b.h5", "c.gif")] == [0o644] * 3


def test_a_stricter_umask_is_respected(tmp_path):
    old = os.umask(0o077)
    try:
        write_bytes_atomic(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_secrets_keep_their_own_mode(tmp_path, umask_022):
    write_bytes_atomic(tmp_path / "client.key_secret", b"secret", mode=0o600)
    assert _mode(tmp_path / "client.key_secret") == 0o600


def test_the_project_has_one_atomic_writer():
    """Every file rename into place goes through envs.atomic (issue 13: there were six)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = []
    for package in ("envs", "policies", "data_collection", "cog", "robot_interface",
                    "benchmarks"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text()
            if path.name == "atomic.py" and package == "envs":
                continue
            # minari_export moves a finished dataset *directory* into place, not a file.
            if re.search(r"os\.replace\(|tempfile\.mkstemp\(", text) and \
                    path.name != "minari_export.py":
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
