"""Cameras: real frames go through the envs' own preprocessing and keep their timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from envs.camera import preprocess_image
from robot_interface.cameras import BlankCamera, Camera, Frame, make_camera


class _PatternCamera(Camera):
    def __init__(self):
        rng = np.random.default_rng(0)
        self.rgb = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)

    def read(self) -> Frame:
        return Frame(self.rgb, 123.5)


def test_policy_image_uses_the_envs_preprocessing_and_keeps_the_capture_time():
    cam = _PatternCamera()
    image, stamp = cam.policy_image(48)
    assert stamp == 123.5
    assert image.shape == (48, 48, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, preprocess_image(cam.rgb, 48))


def test_make_camera_specs():
    assert isinstance(make_camera("none"), BlankCamera)
    cam = _PatternCamera()
    assert make_camera(cam) is cam
    with pytest.raises(ValueError, match="opencv:INDEX"):
        make_camera("opencv:front")
    with pytest.raises(ValueError, match="unknown camera"):
        make_camera("webcam")
