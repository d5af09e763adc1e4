"""The fixed scene camera, and the one image preprocessing function shared by sim and robot.

A policy must see the same kind of 48x48 picture in simulation and on the real arm, so both
go through ``preprocess_image``: centre-crop to a square, then area-resize.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pybullet


def preprocess_image(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an HxWx3 uint8 image to a square and resize it to ``size`` x ``size``.

    Already-square images of the right size pass through unchanged (a cheap copy), which is
    the case for the simulator's own renders.
    """
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxWx3 (or HxWx4) image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {arr.dtype}")
    if size <= 0:
        raise ValueError(f"image size must be positive, got {size}")
    arr = arr[:, :, :3]
    h, w = arr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    arr = arr[top : top + side, left : left + side]
    if side != size:
        # INTER_AREA averages source pixels: the right filter for shrinking camera frames.
        arr = cv2.resize(arr, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr)


@dataclass(frozen=True)
class CameraPose:
    """Looks down at the drawers at about 40 degrees, from the front-right of the drawers."""

    target: tuple[float, float, float] = (0.30, 0.02, 0.06)
    distance: float = 0.68
    yaw: float = -30.0
    pitch: float = -40.0
    fov: float = 55.0

    def jittered(self, rng: np.random.Generator, scale: float = 1.0) -> CameraPose:
        t = np.asarray(self.target) + rng.uniform(-0.015, 0.015, 3) * scale
        return CameraPose(
            target=tuple(float(v) for v in t),
            distance=self.distance + float(rng.uniform(-0.03, 0.03)) * scale,
            yaw=self.yaw + float(rng.uniform(-3.0, 3.0)) * scale,
            pitch=self.pitch + float(rng.uniform(-3.0, 3.0)) * scale,
            fov=self.fov,
        )


class Camera:
    def __init__(self, client, pose: CameraPose = CameraPose(), renderer: str = "tiny"):
        self.client = client
        self.renderer = renderer
        self.light_direction = (0.4, -0.6, 1.0)
        self.set_pose(pose)

    def set_pose(self, pose: CameraPose) -> None:
        self.pose = pose
        self._view = self.client.computeViewMatrixFromYawPitchRoll(
            pose.target, pose.distance, pose.yaw, pose.pitch, 0.0, 2
        )
        self._proj = self.client.computeProjectionMatrixFOV(pose.fov, 1.0, 0.05, 3.0)

    def render(self, size: int) -> np.ndarray:
        flag = (
            pybullet.ER_BULLET_HARDWARE_OPENGL
            if self.renderer == "egl"
            else pybullet.ER_TINY_RENDERER
        )
        _, _, rgba, _, _ = self.client.getCameraImage(
            size,
            size,
            self._view,
            self._proj,
            renderer=flag,
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
            shadow=0,
            lightDirection=self.light_direction,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)
        return preprocess_image(rgb, size)
