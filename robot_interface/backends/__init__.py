"""Robot backends behind the one ``Robot`` interface: ``fake`` (in-memory, for tests),
``sim`` (the PyBullet envs as a stand-in robot) and ``widowx`` (Dynamixel servos)."""

from __future__ import annotations

from typing import Any

BACKENDS = ("fake", "sim", "widowx")


def make_backend(name: str, **kwargs: Any):
    """Build a backend by name; kwargs go to its constructor."""
    if name == "fake":
        from robot_interface.backends.fake import FakeRobot

        return FakeRobot(**kwargs)
    if name == "sim":
        from robot_interface.backends.sim import SimRobot

        return SimRobot(**kwargs)
    if name == "widowx":
        from robot_interface.backends.widowx import WidowXRobot

        return WidowXRobot(**kwargs)
    raise ValueError(f"unknown robot backend {name!r}; choose one of {', '.join(BACKENDS)}")
