"""Cameras for the real robot. Every frame carries its capture time (``time.monotonic()``),
and every policy image goes through ``envs.camera.preprocess_image``, the same crop+resize the
simulator uses, so sim and real pictures are made the same way."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    rgb: np.ndarray  # uint8 HxWx3, full camera resolution
    timestamp: float  # time.monotonic() at capture


class Camera:
    def read(self) -> Frame:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def policy_image(self, size: int) -> tuple[np.ndarray, float]:
        from envs.camera import preprocess_image

        frame = self.read()
        return preprocess_image(frame.rgb, size), frame.timestamp


class OpenCVCamera(Camera):
    """A USB camera through ``cv2.VideoCapture`` (BGR converted to RGB)."""

    def __init__(self, index: int = 0, width: int = 640, height: int = 480) -> None:
        import cv2

        self._cv2 = cv2
        self.cap = cv2.VideoCapture(index)
        if not self.cap.isOpened():
            raise ValueError(f"cannot open USB camera {index} (cv2.VideoCapture)")
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # A one-frame buffer, so read() returns a fresh frame rather than a queued old one.
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self) -> Frame:
        ok, bgr = self.cap.read()
        stamp = time.monotonic()
        if not ok or bgr is None:
            raise RuntimeError("USB camera returned no frame")
        return Frame(self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB), stamp)

    def close(self) -> None:
        self.cap.release()


class RealSenseCamera(Camera):
    """An Intel RealSense colour stream; pyrealsense2 is optional and imported only here."""

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30) -> None:
        try:
            import pyrealsense2 as rs
        except ImportError:
            raise ValueError(
                "camera 'realsense' needs pyrealsense2 (pip install pyrealsense2)"
            ) from None
        self.pipeline = rs.pipeline()
        config = rs.config()
        config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
        self.pipeline.start(config)

    def read(self) -> Frame:
        frames = self.pipeline.wait_for_frames(timeout_ms=1000)
        stamp = time.monotonic()
        color = frames.get_color_frame()
        if not color:
            raise RuntimeError("RealSense returned no colour frame")
        return Frame(np.asanyarray(color.get_data()).copy(), stamp)

    def close(self) -> None:
        self.pipeline.stop()


class BlankCamera(Camera):
    """No camera (tests, servo bring-up): a grey frame stamped now."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        self.shape = (height, width, 3)

    def read(self) -> Frame:
        return Frame(np.full(self.shape, 127, dtype=np.uint8), time.monotonic())


def make_camera(spec: str | Camera | None) -> Camera:
    """``opencv:INDEX``, ``realsense``, ``none``, or a ready Camera object."""
    if isinstance(spec, Camera):
        return spec
    if spec in (None, "none"):
        return BlankCamera()
    if spec == "realsense":
        return RealSenseCamera()
    if spec.startswith("opencv:"):
        index = spec.split(":", 1)[1]
        if not index.isdigit():
            raise ValueError(f"camera {spec!r}: expected opencv:INDEX with an integer index")
        return OpenCVCamera(int(index))
    raise ValueError(f"unknown camera {spec!r}; use opencv:INDEX, realsense or none")
