"""Writing rollouts as GIFs a person can look at, atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np


def save_gif(
    frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 8, upscale_to: int = 0
) -> Path:
    """Saves HxWx3 uint8 frames as a looping GIF. ``upscale_to`` > 0 enlarges each frame with
    nearest-neighbour (48x48 frames are unreadable at their native size)."""
    if len(frames) == 0:
        raise ValueError("no frames to write")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    images = []
    for f in frames:
        f = np.asarray(f, dtype=np.uint8)
        if upscale_to and f.shape[0] != upscale_to:
            f = cv2.resize(f, (upscale_to, upscale_to), interpolation=cv2.INTER_NEAREST)
        images.append(f)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".gif")
    os.close(fd)
    try:
        # imageio's GIF writer (pillow) takes the frame duration in milliseconds.
        imageio.mimsave(tmp, images, format="GIF", duration=1000.0 / fps, loop=0)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _umask() -> int:
    # mkstemp creates 0600 files; a renamed-into-place file should get the mode any other new
    # file would (0666 minus the umask), so colleagues on a shared machine can read it.
    mask = os.umask(0)
    os.umask(mask)
    return mask
