"""Silencing pybullet's C-level chatter ("pybullet build time: ...", "argv[0]=") at the file
descriptor level, where Python's own redirection cannot reach, so that commands print only
their results."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator

_LIBC = ctypes.CDLL(None)


@contextlib.contextmanager
def silenced_output() -> Iterator[None]:
    """Point file descriptors 1 and 2 at /dev/null for the ``with`` body (C's buffered
    output is flushed inside, so none of it leaks out afterwards)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        _LIBC.fflush(None)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
