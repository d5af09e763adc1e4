"""`cog data video`: one episode's camera frames as an animated GIF."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data_collection.episodes import get_episode
from data_collection.hdf5_format import load_dataset


def episode_frames(path: str | os.PathLike, episode: int, scale: int = 4) -> np.ndarray:
    """(T+1, H*scale, W*scale, 3) uint8; nearest-neighbour upscaling keeps 48x48 pixels
    crisp and visible."""
    if scale < 1 or scale > 32:
        raise ValueError(f"--scale must be 1..32, got {scale}")
    frames = get_episode(load_dataset(path), episode).images
    return frames.repeat(scale, axis=1).repeat(scale, axis=2)


def write_episode_gif(
    path: str | os.PathLike, episode: int, out: str | os.PathLike, *, fps: float = 10.0,
    scale: int = 4,
) -> int:
    """Write the GIF atomically; returns the number of frames."""
    from envs.video import save_gif

    if Path(out).suffix.lower() != ".gif":
        raise ValueError(f"--out must end in .gif, got {out}")
    if fps <= 0:
        raise ValueError(f"--fps must be > 0, got {fps}")
    frames = episode_frames(path, episode, scale)
    save_gif(list(frames), out, fps=fps)
    return len(frames)
