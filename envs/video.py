"""Writing rollouts as GIFs a person can look at, atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np

from envs.atomic import atomic_path


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
    with atomic_path(out, suffix=".gif") as tmp:
        # imageio's GIF writer (pillow) takes the frame duration in milliseconds.
        imageio.mimsave(tmp, images, format="GIF", duration=1000.0 / fps, loop=0)
    return out

