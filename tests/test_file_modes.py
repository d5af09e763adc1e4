"""Atomically written files get a normal new file's mode (0666 minus the umask), not
mkstemp's 0600, so datasets, checkpoints and GIFs are readable by colleagues."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from cog.config import write_bytes_atomic
from data_collection.atomic import atomic_path
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
