"""One episode as separate arrays, and conversions to and from the flat `Dataset` layout.

Collection produces episodes one at a time; merging, filtering, export and video work on
episodes too. Keeping the (T+1)-observation convention in one place avoids off-by-one bugs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from data_collection.dataset import Dataset


@dataclass(frozen=True)
class Episode:
    images: np.ndarray  # uint8 (T+1, H, W, 3): s_0 ... s_T
    states: np.ndarray  # float32 (T+1, D)
    actions: np.ndarray  # float32 (T, A)
    rewards: np.ndarray  # float32 (T,)
    terminals: np.ndarray  # bool (T,)
    timeouts: np.ndarray  # bool (T,)
    success: bool
    objects: np.ndarray | None = None  # float32 (T+1, K), K = 0 without object state
    behaviour: str = ""  # the expert that produced it (e.g. a distractor's name); "" unknown

    def __post_init__(self) -> None:
        if self.objects is None:
            object.__setattr__(self, "objects", np.zeros((len(self.states), 0), np.float32))

    @property
    def length(self) -> int:
        return int(self.actions.shape[0])


def obs_index_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """Observation row of s_t for every transition: episode e's rows are shifted by e,
    because each earlier episode stored one extra (final) observation."""
    lengths = np.asarray(lengths, dtype=np.int64)
    n = int(lengths.sum())
    return np.arange(n, dtype=np.int64) + np.repeat(
        np.arange(len(lengths), dtype=np.int64), lengths
    )


def starts_from_lengths(lengths: np.ndarray) -> np.ndarray:
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths):
        starts[1:] = np.cumsum(lengths)[:-1]
    return starts


def episodes_to_dataset(
    episodes: Sequence[Episode],
    attrs: dict[str, Any],
    *,
    image_shape: tuple[int, ...] | None = None,
    state_dim: int | None = None,
    action_dim: int | None = None,
) -> Dataset:
    """Concatenate episodes into the flat layout. The shapes are only needed when
    ``episodes`` is empty (an empty dataset still has well-defined array shapes)."""
    object_dim = 0
    if episodes:
        image_shape = tuple(episodes[0].images.shape[1:])
        state_dim = int(episodes[0].states.shape[1])
        action_dim = int(episodes[0].actions.shape[1])
        object_dim = int(episodes[0].objects.shape[1])
        if any(ep.objects.shape[1] != object_dim for ep in episodes):
            raise ValueError("episodes disagree on the object-state size")
    elif image_shape is None or state_dim is None or action_dim is None:
        raise ValueError("an empty episode list needs image_shape, state_dim and action_dim")
    lengths = np.array([ep.length for ep in episodes], dtype=np.int64)

    def cat(name: str, dtype: Any, empty_shape: tuple[int, ...]) -> np.ndarray:
        if not episodes:
            return np.zeros(empty_shape, dtype=dtype)
        return np.concatenate([np.asarray(getattr(ep, name), dtype=dtype) for ep in episodes])

    return Dataset(
        images=cat("images", np.uint8, (0, *image_shape)),
        states=cat("states", np.float32, (0, state_dim)),
        objects=cat("objects", np.float32, (0, object_dim)),
        actions=cat("actions", np.float32, (0, action_dim)),
        rewards=cat("rewards", np.float32, (0,)),
        terminals=cat("terminals", bool, (0,)),
        timeouts=cat("timeouts", bool, (0,)),
        obs_index=obs_index_from_lengths(lengths),
        episode_starts=starts_from_lengths(lengths),
        lengths=lengths,
        success=np.array([ep.success for ep in episodes], dtype=bool),
        attrs=dict(attrs),
        behaviour=_behaviours([ep.behaviour for ep in episodes]),
    )


def _behaviours(names: list[str]) -> np.ndarray | None:
    """The per-episode behaviour array, or None unless every episode names its behaviour."""
    if not names or not all(names):
        return None
    return np.array(names, dtype=str)


def get_episode(dataset: Dataset, k: int) -> Episode:
    if not 0 <= k < dataset.num_episodes:
        raise ValueError(
            f"episode {k} does not exist: the dataset has {dataset.num_episodes} episodes "
            f"(0..{dataset.num_episodes - 1})"
        )
    start = int(dataset.episode_starts[k])
    length = int(dataset.lengths[k])
    obs_start = start + k
    t = slice(start, start + length)
    o = slice(obs_start, obs_start + length + 1)
    return Episode(
        images=dataset.images[o],
        states=dataset.states[o],
        objects=dataset.objects[o],
        actions=dataset.actions[t],
        rewards=dataset.rewards[t],
        terminals=dataset.terminals[t],
        timeouts=dataset.timeouts[t],
        success=bool(dataset.success[k]),
        behaviour="" if dataset.behaviour is None else str(dataset.behaviour[k]),
    )


def iter_episodes(dataset: Dataset) -> Iterable[Episode]:
    for k in range(dataset.num_episodes):
        yield get_episode(dataset, k)
