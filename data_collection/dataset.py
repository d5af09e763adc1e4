"""The in-memory dataset every consumer (trainer, tools, exporters) works with.

On disk this is the HDF5 schema described in the README. In memory it is flat numpy
arrays with T+1 observations per episode, so no image is stored twice:

    episode e has lengths[e] transitions, starting at transition episode_starts[e];
    its observations occupy rows episode_starts[e] + e ... episode_starts[e] + e + lengths[e].
    transition i uses observation row obs_index[i] for s_t and obs_index[i] + 1 for s_{t+1}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # uint8 (M, H, W, 3), M = N + E
    states: np.ndarray  # float32 (M, 10)
    actions: np.ndarray  # float32 (N, 8), in [-1, 1]
    rewards: np.ndarray  # float32 (N,)
    terminals: np.ndarray  # bool (N,); COG tasks never terminate, kept for generality
    timeouts: np.ndarray  # bool (N,); True on the last transition of a truncated episode
    obs_index: np.ndarray  # int64 (N,): observation row of s_t; s_{t+1} is row obs_index + 1
    episode_starts: np.ndarray  # int64 (E,): index of each episode's first transition
    lengths: np.ndarray  # int64 (E,)
    success: np.ndarray  # bool (E,)
    attrs: dict[str, Any] = field(default_factory=dict)
    # float32 (M, K): the env's privileged "object" observation (schema v2). K = 0 when the
    # source has none: schema-v1 files, real-robot recordings.
    objects: np.ndarray | None = None
    # str (E,): which behaviour each episode shows (the scripted expert, or the distractor in a
    # prior with irrelevant behaviour); None when the source did not record it.
    behaviour: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.objects is None:
            rows = self.states.shape[0] if self.states.ndim else 0
            object.__setattr__(self, "objects", np.zeros((rows, 0), np.float32))

    @property
    def object_dim(self) -> int:
        return int(self.objects.shape[1]) if self.objects.ndim == 2 else 0

    @property
    def num_transitions(self) -> int:
        return int(self.actions.shape[0])

    @property
    def num_episodes(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    @property
    def next_obs_index(self) -> np.ndarray:
        return self.obs_index + 1
