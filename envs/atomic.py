"""The project's one atomic file writer: a reader never sees a half-written file, and a crash
leaves the old file (or none), never a torn one.

It lives in ``envs``, the lowest package, so that every other package (data collection, the
learner, the robot interface) writes files the same way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", mode: int | None = None
                ) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the ``with`` body finishes, flush it to
    disk and rename it over ``path``. On any error the temporary file is removed and ``path``
    is untouched. Same directory, so ``os.replace`` is a rename within one filesystem, which
    POSIX makes atomic. ``mode`` defaults to a new file's usual mode (0666 minus the umask);
    secrets pass 0o600."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".tmp{suffix}",
                                    dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync(tmp, os.O_RDONLY)
        os.chmod(tmp, (0o666 & ~_umask()) if mode is None else mode)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    # Make the rename itself durable: fsync the directory entry.
    with contextlib.suppress(OSError):
        _fsync(final.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def write_bytes_atomic(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    with atomic_path(path, mode=mode) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str, mode: int | None = None) -> None:
    write_bytes_atomic(path, text.encode(), mode=mode)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    # mkstemp creates 0600 files; a renamed-into-place file should get the mode any other new
    # file would (0666 minus the umask), so colleagues on a shared machine can read it.
    mask = os.umask(0)
    os.umask(mask)
    return mask
