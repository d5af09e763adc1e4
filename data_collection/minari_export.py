"""`cog data export-minari`: write a dataset as a local Minari dataset (the Farama format
other offline-RL libraries read).

Minari needs the observation/action spaces; they are built from the arrays so the env
does not have to be importable. The dataset is created in a staging directory under the
Minari root and renamed into place, so a crash never leaves a half-written dataset.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from data_collection.episodes import iter_episodes
from data_collection.hdf5_format import load_dataset

_ID_RE = re.compile(r"^(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*-v\d+$")


def minari_root() -> Path:
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def normalize_dataset_id(name: str) -> str:
    """'closed-drawer-prior' -> 'cog/closed-drawer-prior-v0'; a full id is kept."""
    if not re.search(r"-v\d+$", name):
        name = f"{name}-v0"
    if "/" not in name:
        name = f"cog/{name}"
    if not _ID_RE.match(name):
        raise ValueError(
            f"invalid Minari dataset name {name!r}: use letters, digits, '-', '_' and "
            "an optional namespace, e.g. cog/closed-drawer-prior-v0"
        )
    return name


_ROOT_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _minari_root_env(root: Path):
    # Minari reads its root only from this variable. The swap is scoped to the export call,
    # restored afterwards, and serialised, so no other thread sees a foreign root.
    with _ROOT_ENV_LOCK:
        yield from _swap_root(root)


def _swap_root(root: Path):
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def export_minari(
    path: str | os.PathLike, name: str, *, overwrite: bool = False, jpeg: bool = False
) -> str:
    """Export the HDF5 dataset ``path`` as Minari dataset ``name``; returns its id.

    Images are stored losslessly unless ``jpeg``."""
    import gymnasium
    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer

    dataset_id = normalize_dataset_id(name)
    ds = load_dataset(path)
    if ds.num_episodes == 0:
        raise ValueError(f"{path} has no episodes to export")
    root = minari_root()
    final_dir = root / dataset_id
    if final_dir.exists() and not overwrite:
        raise ValueError(
            f"Minari dataset {dataset_id} already exists at {final_dir}; pass --overwrite"
        )
    h = ds.image_size
    spaces = dict(
        image=gymnasium.spaces.Box(0, 255, (h, h, 3), np.uint8),
        state=gymnasium.spaces.Box(-np.inf, np.inf, (ds.states.shape[1],), np.float32),
    )
    if ds.object_dim:  # the privileged scene state, when the file has one (schema v2)
        spaces["object"] = gymnasium.spaces.Box(-np.inf, np.inf, (ds.object_dim,), np.float32)
    observation_space = gymnasium.spaces.Dict(spaces)
    action_space = gymnasium.spaces.Box(-1.0, 1.0, (ds.actions.shape[1],), np.float32)
    buffers = [
        EpisodeBuffer(
            id=k,
            observations={"image": ep.images, "state": ep.states,
                          **({"object": ep.objects} if ds.object_dim else {})},
            actions=ep.actions,
            rewards=ep.rewards.astype(np.float64),
            terminations=ep.terminals,
            truncations=ep.timeouts,
            infos={"success": np.full(ep.length + 1, ep.success),
                   # The expert behind the episode (a prior with irrelevant behaviour names
                   # its distractors); Minari's infos are per step, so it repeats.
                   **({"behaviour": np.full(ep.length + 1, ep.behaviour.encode("ascii"))}
                      if ds.behaviour is not None else {})},
        )
        for k, ep in enumerate(iter_episodes(ds))
    ]
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".cog-export-", dir=root))
    try:
        with _minari_root_env(staging), warnings.catch_warnings():
            # Minari warns about every optional metadata field (author, e-mail, ...).
            warnings.simplefilter("ignore", UserWarning)
            minari.create_dataset_from_buffers(
                dataset_id,
                buffers,
                observation_space=observation_space,
                action_space=action_space,
                algorithm_name=f"scripted:{ds.attrs.get('policy_name', 'unknown')}",
                description=(
                    f"cog dataset from {Path(path).name}: env {ds.attrs.get('env_id')}, "
                    f"policy {ds.attrs.get('policy_name')}, noise {ds.attrs.get('noise')}, "
                    f"seed {ds.attrs.get('seed')}"
                ),
                jpeg_encoding=jpeg,
            )
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        if final_dir.exists():
            shutil.rmtree(final_dir)
        os.replace(staging / dataset_id, final_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dataset_id
