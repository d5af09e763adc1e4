"""The one interface every backend implements (sim, widowx, and the in-memory fake)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

import numpy as np


class RobotError(RuntimeError):
    """The robot cannot go on (hardware error, lost link). The server latches a stop."""


@dataclass
class Observation:
    image: np.ndarray  # uint8 (S, S, 3), preprocessed exactly as the envs do
    state: np.ndarray  # float32 (10,): ee xyz, ee quat xyzw, two fingers, gripper-open flag
    frame_time: float  # time.monotonic() at capture, on the server's clock
    reward: float | None = None  # sim only: the env's 0/1 success reward
    # sim only: the env's info dict, so scripted experts can run through the real client.
    privileged: dict[str, Any] | None = None

    @property
    def ee_pos(self) -> np.ndarray:
        return self.state[:3].astype(np.float64)


class Robot(abc.ABC):
    """connect/disconnect (also as a context manager), observe, act, home, stop.

    ``act`` receives an action that already passed the safety filter and returns the action
    actually applied (which may differ, e.g. when IK fails the backend holds and returns
    zeros, listing why in ``last_interventions``).
    """

    name = "robot"
    image_size = 48
    camera = "sim-default"
    horizon: int | None = None
    env_id = "robot"  # recorded as the dataset's env_id (sim: the gymnasium task id)

    def __init__(self) -> None:
        self.last_interventions: list[str] = []

    def __enter__(self) -> Robot:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    @abc.abstractmethod
    def connect(self) -> None: ...

    @abc.abstractmethod
    def disconnect(self) -> None: ...

    @abc.abstractmethod
    def observe(self) -> Observation: ...

    @abc.abstractmethod
    def act(self, action: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def home(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop moving now and hold the current pose."""

    def hold(self) -> None:
        """Keep the current pose (watchdog, rejected command). Defaults to ``stop``."""
        self.stop()

    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode: the sim resets its scene; a real arm goes home."""
        self.home()
        return self.observe()

    def ee_pos(self) -> np.ndarray:
        return self.observe().ee_pos

    def rearm(self) -> None:  # noqa: B027 - optional hook, a no-op for most backends
        """Called when a latched stop is released (e.g. clear servo watchdog trips)."""

    def health(self) -> str | None:
        """Polled every control period: a reason string means stop now."""
        return None

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "image_size": self.image_size, "horizon": self.horizon}
