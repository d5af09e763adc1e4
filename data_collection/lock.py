"""One process at a time per output: an advisory lock with a clear refusal."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


class LockedError(ValueError):
    """Another process holds the lock; the message names its PID."""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if needed) for the ``with`` body.

    A second process asking for the same lock is refused at once with a LockedError naming
    the holder's PID (written into the file), e.g. two `cog collect` runs with one --out, or
    two `cog train --resume` runs of one run. The kernel drops the lock when its holder dies,
    so a killed run never leaves a stale lock behind."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise LockedError(f"{what} is in use by another process (PID {holder}); "
                              f"wait for it or stop it (lock file {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
