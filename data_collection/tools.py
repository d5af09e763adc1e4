"""Dataset tools behind `cog data`: summary statistics, merging compatible files, and keeping
the episodes of chosen behaviours."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from data_collection.episodes import episodes_to_dataset, get_episode
from data_collection.hdf5_format import (
    array_specs,
    load_dataset,
    read_attrs,
    save_concatenated,
    save_dataset,
)

# Attributes that must agree for two files to be merged: they describe the data's
# distribution, so mixing files that differ would silently mislabel the result.
MERGE_MUST_MATCH = (
    "schema_version",
    "env_id",
    "env_config",
    "image_size",
    "policy_name",
    "noise",
    "save_all",
    "success_key",
)


def summarize(path: str | os.PathLike) -> dict[str, Any]:
    """Everything `cog data info` prints; loading validates the file first."""
    path = Path(path)
    ds = load_dataset(path)
    returns = np.add.reduceat(ds.rewards, ds.episode_starts) if ds.num_episodes else np.zeros(0)
    arrays = {}
    with h5py.File(path, "r") as h5:
        for key, *_ in array_specs(int(ds.attrs.get("schema_version", 1))):
            node = h5[key]
            arrays[key] = {
                "shape": list(node.shape),
                "dtype": str(node.dtype),
                "stored_bytes": int(node.id.get_storage_size()),
                "raw_bytes": int(node.size * node.dtype.itemsize),
                "compression": node.compression or "none",
            }
    n = max(ds.num_transitions, 1)
    return {
        "file": str(path),
        "file_bytes": path.stat().st_size,
        "bytes_per_1000_transitions": path.stat().st_size * 1000 / n,
        "schema_version": ds.attrs.get("schema_version"),
        "env_id": ds.attrs.get("env_id"),
        "policy_name": ds.attrs.get("policy_name"),
        "noise": ds.attrs.get("noise"),
        "seed": ds.attrs.get("seed"),
        "save_all": ds.attrs.get("save_all"),
        "image_size": ds.image_size,
        "episodes": ds.num_episodes,
        "transitions": ds.num_transitions,
        "success_rate": float(ds.success.mean()) if ds.num_episodes else 0.0,
        "episode_length": _stats(ds.lengths),
        "reward": {
            **_stats(ds.rewards),
            "nonzero_fraction": float((ds.rewards != 0).mean()) if ds.num_transitions else 0.0,
        },
        "episode_return": _stats(returns),
        "behaviours": _behaviour_table(ds),
        "arrays": arrays,
        "attrs": ds.attrs,
    }


def _behaviour_table(ds: Any) -> dict[str, dict[str, float]] | None:
    """Per behaviour: episodes, transitions and success rate; None if the file has no names."""
    if ds.behaviour is None:
        return None
    table = {}
    for name in sorted(set(ds.behaviour.tolist())):
        mask = ds.behaviour == name
        table[name] = {"episodes": int(mask.sum()), "transitions": int(ds.lengths[mask].sum()),
                       "success_rate": float(ds.success[mask].mean())}
    return table


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {"mean": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": float(x.mean()), "min": float(x.min()), "max": float(x.max())}


def _check_out(inputs: list[Path], out: Path, overwrite: bool) -> None:
    """Refuse an output that is one of the inputs, or that exists without ``overwrite``."""
    if any(p.exists() and p.resolve() == out.resolve() for p in inputs):
        raise ValueError(f"--out {out} is also an input; write to a new file")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} already exists; pass --overwrite to replace it")


def _seeds(attrs: dict[str, Any]) -> list[int]:
    return [int(s) for s in attrs.get("source_seeds", [attrs.get("seed", -1)])]


def merge_files(
    inputs: list[str | os.PathLike], out: str | os.PathLike, *, overwrite: bool = False
) -> tuple[int, int]:
    """Concatenate compatible dataset files into ``out`` (atomically).

    Refuses, with a message naming the attribute and files, files that differ in what the
    data means (MERGE_MUST_MATCH) or that share a seed (they would duplicate episodes)."""
    paths = [Path(p) for p in inputs]
    out = Path(out)
    if len(paths) < 2:
        raise ValueError("merge needs at least two input files")
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"dataset file not found: {p}")
    _check_out(paths, out, overwrite)
    all_attrs = [read_attrs(p) for p in paths]
    first = all_attrs[0]
    for p, attrs in zip(paths[1:], all_attrs[1:], strict=True):
        for key in MERGE_MUST_MATCH:
            if attrs.get(key) != first.get(key):
                raise ValueError(
                    f"cannot merge: {key} differs ({paths[0]}: {first.get(key)!r}, "
                    f"{p}: {attrs.get(key)!r})"
                )
    seen: dict[int, Path] = {}
    for p, attrs in zip(paths, all_attrs, strict=True):
        for s in _seeds(attrs):
            if s >= 0 and s in seen:
                raise ValueError(
                    f"cannot merge: {seen[s]} and {p} were both collected with seed {s}, "
                    "so they hold the same episodes"
                )
            seen[s] = p
    merged = {k: first[k] for k in MERGE_MUST_MATCH if k in first and k != "schema_version"}
    merged["seed"] = first.get("seed", -1)
    merged["source_seeds"] = [s for a in all_attrs for s in _seeds(a)]
    merged["merged_from"] = [p.name for p in paths]
    if all("num_attempted_episodes" in a for a in all_attrs):
        merged["num_attempted_episodes"] = sum(int(a["num_attempted_episodes"]) for a in all_attrs)
    episodes, transitions, successes = save_concatenated(out, paths, merged, keep_failed=True)
    return episodes, transitions


# Attributes that count the source's episodes; a selection recomputes what it can and drops
# the rest rather than carry figures that no longer describe the file.
_SOURCE_COUNTS = ("num_attempted_episodes", "num_successes", "success_rate")


def select_behaviours(
    path: str | os.PathLike, behaviours: list[str], out: str | os.PathLike, *,
    overwrite: bool = False,
) -> tuple[int, int]:
    """Write the episodes of ``path`` whose behaviour is one of ``behaviours`` to ``out``
    (atomically), in their original order: e.g. a prior with irrelevant behaviour without its
    distractors, to train on the same useful episodes alone. Returns (episodes, transitions)."""
    path, out = Path(path), Path(out)
    _check_out([path], out, overwrite)
    ds = load_dataset(path)
    if ds.behaviour is None:
        raise ValueError(f"{path} does not name its episodes' behaviours (collected before "
                         "the names were stored, or not by scripted experts): re-collect it")
    held = sorted(set(ds.behaviour.tolist()))
    unknown = [b for b in behaviours if b not in held]
    if unknown:
        raise ValueError(f"{path} has no episode of behaviour {', '.join(map(repr, unknown))}; "
                         f"it holds {', '.join(held)}")
    keep = np.flatnonzero(np.isin(ds.behaviour, behaviours))
    attrs = {k: v for k, v in ds.attrs.items() if k not in _SOURCE_COUNTS}
    attrs.update(selected_behaviours=list(behaviours), selected_from=path.name,
                 num_successes=int(ds.success[keep].sum()))
    selected = episodes_to_dataset([get_episode(ds, int(k)) for k in keep], attrs)
    save_dataset(out, selected)
    return selected.num_episodes, selected.num_transitions
