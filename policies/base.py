"""The one interface every policy implements: scripted experts, learned and exported ones."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    """A policy maps the env's observation (and, for scripted experts, its privileged
    ``info``) to an 8-D action in [-1, 1].

    ``reset`` is called at the start of every episode; ``seed`` re-seeds any noise so that
    the same seed gives the same actions.
    """

    def reset(self, seed: int | None = None) -> None: ...

    def act(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray: ...
