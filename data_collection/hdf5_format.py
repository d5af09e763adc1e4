"""The on-disk HDF5 schema (version 2): writing, reading into RAM, and validation.

Layout (M = N + E observation rows, N transitions, E episodes; see dataset.py):

    /observations/image   uint8   (M, H, W, 3)  chunked, compressed (lzf by default)
    /observations/state   float32 (M, D)
    /observations/object  float32 (M, K)        privileged scene state; K may be 0 (v2 only)
    /actions              float32 (N, A)        in [-1, 1]
    /rewards              float32 (N,)          exactly as the env gave them
    /terminals            bool    (N,)
    /timeouts             bool    (N,)          True on the last step of a truncated episode
    /episode_starts       int64   (E,)          first transition of each episode
    /lengths              int64   (E,)
    /success              bool    (E,)
    /behaviour            bytes   (E,)          optional: the expert behind each episode

File attributes: see REQUIRED_ATTRS. dict/list attributes are stored as JSON strings and
their names listed in the ``_json_attrs`` attribute, so reading needs no pickle.

Version 1 is version 2 without /observations/object; such files still load, with K = 0.
/behaviour (ASCII names, e.g. "grasp" or a distractor's "wander") is optional in both: files
written before it existed, or from sources that do not name their behaviour, lack it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from data_collection.dataset import Dataset
from data_collection.episodes import obs_index_from_lengths, starts_from_lengths
from envs.atomic import atomic_path

SCHEMA_VERSION = 2
KNOWN_SCHEMA_VERSIONS = (1, 2)
FORMAT_NAME = "cog-dataset"
CODECS = ("lzf", "gzip", "none")
# Attributes every file carries. save_dataset fills the bookkeeping ones itself.
REQUIRED_ATTRS = (
    "format",
    "schema_version",
    "env_id",
    "env_config",
    "image_size",
    "policy_name",
    "noise",
    "seed",
    "num_episodes",
    "num_transitions",
    "created_at",
    "package_version",
)
# Attributes the caller must supply; the rest have defaults or are computed.
CALLER_ATTRS = ("env_id", "policy_name")
_JSON_ATTRS_KEY = "_json_attrs"
# (key, ndim, dtype kind, itemsize, row count: "M" observations, "N" transitions, "E" episodes)
ARRAY_SPECS = (
    ("observations/image", 4, "u", 1, "M"),
    ("observations/state", 2, "f", 4, "M"),
    ("actions", 2, "f", 4, "N"),
    ("rewards", 1, "f", 4, "N"),
    ("terminals", 1, "b", 1, "N"),
    ("timeouts", 1, "b", 1, "N"),
    ("episode_starts", 1, "i", 8, "E"),
    ("lengths", 1, "i", 8, "E"),
    ("success", 1, "b", 1, "E"),
)
OBJECT_SPEC = ("observations/object", 2, "f", 4, "M")
BEHAVIOUR_KEY = "behaviour"  # optional per-episode names, fixed-length ASCII bytes
# Row widths the schema fixes (the envs' and the real arm's interface: envs.constants, checked
# by tests/test_data_format.py). Kept here so reading a file never imports the simulator. The
# privileged object state's width is the env's own (8 in the cog/ envs, 0 in a real-robot
# recording): the trainer checks it against the eval env (cog.evaluation.check_env_match).
STATE_WIDTH = 10  # proprioception
ACTION_WIDTH = 8
ROW_WIDTHS = {"observations/state": (STATE_WIDTH,), "actions": (ACTION_WIDTH,)}


def array_specs(schema_version: int) -> tuple[tuple, ...]:
    """The arrays a file of this schema version holds."""
    return ARRAY_SPECS + ((OBJECT_SPEC,) if schema_version >= 2 else ())
# ~1 MiB image chunks: big enough that lzf/gzip see many similar frames, small enough that
# the default HDF5 chunk cache (1 MiB) holds one; 151 rows at 48x48.
_IMAGE_CHUNK_BYTES = 1 << 20
_VECTOR_CHUNK_ROWS = 1 << 16


class DatasetFormatError(ValueError):
    """A file that is not a valid dataset of a known schema; the message lists every problem."""


def _package_version() -> str:
    try:
        from cog import __version__

        return str(__version__)
    except Exception:  # the package may be half-installed; the version is informative only
        return "unknown"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def complete_attrs(
    attrs: dict[str, Any], *, image_size: int, num_episodes: int, num_transitions: int
) -> dict[str, Any]:
    """The attributes that will be written: the caller's plus schema bookkeeping."""
    missing = [k for k in CALLER_ATTRS if k not in attrs]
    if missing:
        raise ValueError(f"dataset attrs are missing {', '.join(missing)}")
    out: dict[str, Any] = {
        "env_config": {},
        "noise": 0.0,
        "seed": -1,  # -1 = unknown (e.g. teleoperated data)
        "created_at": now_iso(),
        "package_version": _package_version(),
    }
    out.update(attrs)
    out.update(
        format=FORMAT_NAME,
        schema_version=SCHEMA_VERSION,
        image_size=int(image_size),
        num_episodes=int(num_episodes),
        num_transitions=int(num_transitions),
    )
    return out


def _encode_attrs(h5: h5py.File, attrs: dict[str, Any]) -> None:
    json_keys = []
    for key, value in attrs.items():
        if isinstance(value, (dict, list, tuple)):
            h5.attrs[key] = json.dumps(value, sort_keys=True)
            json_keys.append(key)
        elif isinstance(value, (str, bool, int, float, np.bool_, np.integer, np.floating)):
            h5.attrs[key] = value
        else:
            raise ValueError(f"attribute {key!r} has unsupported type {type(value).__name__}")
    h5.attrs[_JSON_ATTRS_KEY] = json.dumps(sorted(json_keys))


def _decode_attrs(raw: h5py.AttributeManager) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        elif isinstance(value, np.generic):
            value = value.item()
        attrs[key] = value
    json_keys = attrs.pop(_JSON_ATTRS_KEY, "[]")
    try:
        for key in json.loads(json_keys):
            if key in attrs:
                attrs[key] = json.loads(attrs[key])
    except (TypeError, ValueError) as exc:
        raise DatasetFormatError(f"JSON attributes cannot be decoded: {exc}") from None
    return attrs


def _compression(codec: str, gzip_level: int) -> dict[str, Any]:
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    if codec == "none":
        return {}
    if codec == "gzip":
        if not 0 <= gzip_level <= 9:
            raise ValueError(f"gzip level must be 0..9, got {gzip_level}")
        return {"compression": "gzip", "compression_opts": gzip_level}
    return {"compression": "lzf"}


def save_dataset(
    path: str | os.PathLike,
    dataset: Dataset,
    *,
    codec: str = "lzf",
    gzip_level: int = 4,
) -> None:
    """Validate ``dataset`` and write it atomically (temp file, then rename) to ``path``."""
    problems = validate_dataset(dataset, check_counts=False)
    if problems:
        raise DatasetFormatError("refusing to save an invalid dataset: " + "; ".join(problems))
    attrs = complete_attrs(
        dataset.attrs,
        image_size=dataset.images.shape[1],
        num_episodes=dataset.num_episodes,
        num_transitions=dataset.num_transitions,
    )
    comp = _compression(codec, gzip_level)
    arrays = {
        "observations/image": dataset.images,
        "observations/state": dataset.states,
        "observations/object": dataset.objects,
        "actions": dataset.actions,
        "rewards": dataset.rewards,
        "terminals": dataset.terminals,
        "timeouts": dataset.timeouts,
        "episode_starts": dataset.episode_starts,
        "lengths": dataset.lengths,
        "success": dataset.success,
    }
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as h5:
        for key, array in arrays.items():
            array = np.ascontiguousarray(array)
            h5.create_dataset(key, data=array, **_layout(comp, array.shape, array.dtype))
        if dataset.behaviour is not None:
            h5.create_dataset(BEHAVIOUR_KEY, data=_encode_behaviour(dataset.behaviour))
        _encode_attrs(h5, attrs)


def _encode_behaviour(names: np.ndarray) -> np.ndarray:
    try:
        return np.char.encode(np.asarray(names, dtype=str), "ascii")
    except UnicodeEncodeError:
        raise DatasetFormatError("behaviour names must be ASCII") from None


def _read_behaviour(h5: h5py.File) -> np.ndarray | None:
    node = h5.get(BEHAVIOUR_KEY)
    if node is None:
        return None
    try:
        return np.char.decode(node[()], "ascii")
    except UnicodeDecodeError:
        raise DatasetFormatError(f"'{BEHAVIOUR_KEY}' holds names that are not ASCII") from None


def _layout(comp: dict[str, Any], shape: tuple[int, ...], dtype: Any) -> dict[str, Any]:
    """Chunking + compression keywords for one array (contiguous when uncompressed)."""
    if not comp or 0 in shape:  # empty arrays (e.g. no object state) cannot be chunked
        return {}
    row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize)
    limit = _IMAGE_CHUNK_BYTES // row_bytes if len(shape) > 1 else _VECTOR_CHUNK_ROWS
    rows = int(max(1, min(shape[0], limit)))
    return dict(comp, chunks=(rows, *shape[1:]))


def _episode_table(
    path: Path,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], np.ndarray | None]:
    """(lengths, success, attrs, behaviour) of a file, reading only the small arrays."""
    problem = _open_problem(path)
    if problem:
        raise DatasetFormatError(problem)
    try:
        with h5py.File(path, "r") as h5:
            attrs = _decode_attrs(h5.attrs)
            problems = _check_structure(h5, attrs)
            if problems:
                raise DatasetFormatError("; ".join(f"{path}: {p}" for p in problems))
            return (h5["lengths"][()].astype(np.int64), h5["success"][()].astype(bool), attrs,
                    _read_behaviour(h5))
    except OSError as exc:
        msg = f"{path}: cannot be read (truncated or corrupt HDF5): {exc}"
        raise DatasetFormatError(msg) from None


def save_concatenated(
    path: str | os.PathLike,
    parts: list[Path],
    attrs: dict[str, Any],
    *,
    keep_failed: bool = True,
    codec: str = "lzf",
    gzip_level: int = 4,
) -> tuple[int, int, int]:
    """Concatenate the episodes of several dataset files into one, atomically, streaming one
    part at a time (never the whole result in RAM). Failed episodes are dropped unless
    ``keep_failed``. The caller checks that the parts are compatible.

    Returns (episodes, transitions, successes) written."""
    if not parts:
        raise ValueError("nothing to concatenate: no input files")
    tables = [_episode_table(Path(p)) for p in parts]
    keeps = [np.ones_like(succ) if keep_failed else succ.copy() for _, succ, _, _ in tables]
    lengths = np.concatenate([t[0][k] for t, k in zip(tables, keeps, strict=True)])
    success = np.concatenate([t[1][k] for t, k in zip(tables, keeps, strict=True)])
    # Behaviour names survive a merge only when every part has them: a partial column would
    # claim to know what the unnamed episodes show.
    behaviour = None
    if all(t[3] is not None for t in tables):
        behaviour = np.concatenate([t[3][k] for t, k in zip(tables, keeps, strict=True)])
    n, e = int(lengths.sum()), int(len(lengths))
    if e == 0:
        raise ValueError("no episodes to write (all were filtered out)")
    first = load_dataset(parts[0])
    shapes = {
        "observations/image": (n + e, *first.images.shape[1:]),
        "observations/state": (n + e, first.states.shape[1]),
        "observations/object": (n + e, first.object_dim),
        "actions": (n, first.actions.shape[1]),
    }
    final_attrs = complete_attrs(
        attrs, image_size=first.images.shape[1], num_episodes=e, num_transitions=n
    )
    comp = _compression(codec, gzip_level)
    # A chunk cache larger than one chunk, so part boundaries that split a chunk do not
    # force HDF5 to recompress it twice.
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w", rdcc_nbytes=32 << 20) as h5:
        dsets = {}
        for key, _, kind, _, _ in array_specs(SCHEMA_VERSION):
            if key in ("episode_starts", "lengths", "success"):
                continue
            shape = shapes.get(key, (n,))
            dtype = {"u": np.uint8, "f": np.float32, "b": np.bool_}[kind]
            layout = _layout(comp, shape, dtype)
            dsets[key] = h5.create_dataset(key, shape=shape, dtype=dtype, **layout)
        obs_row, trans_row = 0, 0
        for i, (part, keep) in enumerate(zip(parts, keeps, strict=True)):
            data = first if i == 0 else load_dataset(part)
            if not np.array_equal(data.lengths, tables[i][0]):
                raise DatasetFormatError(f"{part}: changed while being merged")
            if data.images.shape[1:] != first.images.shape[1:] or (
                data.states.shape[1] != first.states.shape[1]
                or data.object_dim != first.object_dim
                or data.actions.shape[1] != first.actions.shape[1]
            ):
                raise ValueError(f"{part}: array shapes differ from {parts[0]}")
            if not keep.any():
                continue
            t_mask = np.repeat(keep, data.lengths)
            o_mask = np.repeat(keep, data.lengths + 1)
            no, nt = int(o_mask.sum()), int(t_mask.sum())
            o, t = slice(obs_row, obs_row + no), slice(trans_row, trans_row + nt)
            dsets["observations/image"][o] = data.images[o_mask]
            dsets["observations/state"][o] = data.states[o_mask]
            dsets["observations/object"][o] = data.objects[o_mask]
            dsets["actions"][t] = data.actions[t_mask]
            dsets["rewards"][t] = data.rewards[t_mask]
            dsets["terminals"][t] = data.terminals[t_mask]
            dsets["timeouts"][t] = data.timeouts[t_mask]
            obs_row, trans_row = obs_row + no, trans_row + nt
            del data
        h5.create_dataset("episode_starts", data=starts_from_lengths(lengths))
        h5.create_dataset("lengths", data=lengths)
        h5.create_dataset("success", data=success)
        if behaviour is not None:
            h5.create_dataset(BEHAVIOUR_KEY, data=_encode_behaviour(behaviour))
        _encode_attrs(h5, final_attrs)
    return e, n, int(success.sum())


def _open_problem(path: Path) -> str | None:
    if not path.exists():
        return None  # reported separately as FileNotFoundError
    if path.is_dir():
        return f"{path}: is a directory, not an HDF5 file"
    try:
        is_h5 = h5py.is_hdf5(path)
    except OSError as exc:
        return f"{path}: cannot be read: {exc}"
    if not is_h5:
        return f"{path}: not an HDF5 file"
    return None


def _check_structure(h5: h5py.File, attrs: dict[str, Any]) -> list[str]:
    """Schema, attributes and array shapes/dtypes, from metadata only (no data read)."""
    problems: list[str] = []
    fmt = attrs.get("format")
    version = attrs.get("schema_version")
    if fmt != FORMAT_NAME:
        problems.append(f"attribute 'format' is {fmt!r}, expected {FORMAT_NAME!r}")
    if version not in KNOWN_SCHEMA_VERSIONS:
        known = ", ".join(str(v) for v in KNOWN_SCHEMA_VERSIONS)
        problems.append(f"schema_version {version!r} is not one this reader knows ({known})")
        return problems  # another schema's layout: checking keys would only add noise
    missing = [k for k in REQUIRED_ATTRS if k not in attrs]
    if missing:
        problems.append(f"missing attribute(s): {', '.join(missing)}")
    counts: dict[str, int] = {}
    for key, ndim, kind, itemsize, rows in array_specs(version):
        node = h5.get(key)
        if node is None:
            problems.append(f"missing key '{key}'")
            continue
        if not isinstance(node, h5py.Dataset):
            problems.append(f"'{key}' is a group, expected an array")
            continue
        if node.ndim != ndim:
            problems.append(f"'{key}' has {node.ndim} dimensions, expected {ndim}")
            continue
        if node.dtype.kind != kind or node.dtype.itemsize != itemsize:
            problems.append(f"'{key}' has dtype {node.dtype}, expected {kind}{itemsize}")
        counts.setdefault(rows, node.shape[0])
        if node.shape[0] != counts[rows]:
            problems.append(
                f"'{key}' has {node.shape[0]} rows, other {rows}-sized arrays have {counts[rows]}"
            )
        problems += _width_problems(key, node.shape)
    node = h5.get(BEHAVIOUR_KEY)
    if node is not None:
        if not isinstance(node, h5py.Dataset) or node.ndim != 1 or node.dtype.kind != "S":
            problems.append(f"'{BEHAVIOUR_KEY}' must be a 1-D array of ASCII names")
        elif "E" in counts and node.shape[0] != counts["E"]:
            problems.append(f"'{BEHAVIOUR_KEY}' has {node.shape[0]} rows, other E-sized "
                            f"arrays have {counts['E']}")
    return problems


def _width_problems(key: str, shape: tuple[int, ...]) -> list[str]:
    """The one place where per-row widths are checked against the schema (metadata only)."""
    if key == "observations/image":
        _, h, w, c = shape
        if h < 1 or w < 1 or h != w or c != 3:
            return [f"'{key}' rows are {h}x{w}x{c}, expected square SxSx3 images with S > 0"]
        return []
    allowed = ROW_WIDTHS.get(key)
    if allowed is not None and shape[1] not in allowed:
        want = " or ".join(str(w) for w in allowed)
        return [f"'{key}' rows have {shape[1]} columns, expected {want}"]
    return []


def read_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """The file attributes only (cheap): for `cog data info` and resume checks."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    problem = _open_problem(path)
    if problem:
        raise DatasetFormatError(problem)
    try:
        with h5py.File(path, "r") as h5:
            return _decode_attrs(h5.attrs)
    except OSError as exc:
        msg = f"{path}: cannot be opened (truncated or corrupt): {exc}"
        raise DatasetFormatError(msg) from None


def _read(path: Path) -> tuple[Dataset | None, list[str]]:
    problem = _open_problem(path)
    if problem:
        return None, [problem]
    try:
        with h5py.File(path, "r") as h5:
            try:
                attrs = _decode_attrs(h5.attrs)
            except DatasetFormatError as exc:
                return None, [f"{path}: {exc}"]
            problems = _check_structure(h5, attrs)
            if problems:
                return None, [f"{path}: {p}" for p in problems]
            # One read per array: the trainer samples from RAM, never from the file.
            specs = array_specs(attrs["schema_version"])
            arrays = {key: h5[key][()] for key, *_ in specs}
            try:
                behaviour = _read_behaviour(h5)
            except DatasetFormatError as exc:
                return None, [f"{path}: {exc}"]
    except OSError as exc:
        return None, [f"{path}: cannot be read (truncated or corrupt HDF5): {exc}"]
    lengths = arrays["lengths"].astype(np.int64)
    n = len(arrays["actions"])
    # Build the index only from lengths that agree with the transition count: a header value
    # of 10**12 must be a reported problem, not a 7 TiB allocation (validate_dataset reports).
    if (lengths < 0).any() or (lengths > n).any() or int(lengths.sum()) != n:
        obs_index = np.zeros(n, dtype=np.int64)
    else:
        obs_index = obs_index_from_lengths(lengths)
    dataset = Dataset(
        images=arrays["observations/image"],
        states=arrays["observations/state"],
        objects=arrays.get("observations/object"),
        actions=arrays["actions"],
        rewards=arrays["rewards"],
        terminals=arrays["terminals"],
        timeouts=arrays["timeouts"],
        obs_index=obs_index,
        episode_starts=arrays["episode_starts"].astype(np.int64),
        lengths=lengths,
        success=arrays["success"],
        attrs=attrs,
        behaviour=behaviour,
    )
    return dataset, [f"{path}: {p}" for p in validate_dataset(dataset)]


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Validate the file and load every array into RAM in one go.

    Raises FileNotFoundError, or DatasetFormatError (a ValueError) listing every problem."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    dataset, problems = _read(path)
    if problems or dataset is None:
        raise DatasetFormatError("; ".join(problems))
    return dataset


def validate_file(path: str | os.PathLike) -> list[str]:
    """Every problem with the file, one line each; an empty list means valid."""
    path = Path(path)
    if not path.exists():
        return [f"{path}: file not found"]
    return _read(path)[1]


def validate_dataset(dataset: Dataset, *, check_counts: bool = True) -> list[str]:
    """Problems with an in-memory dataset: shapes, dtypes, NaN/inf, episode boundaries,
    the action range. ``check_counts`` also compares the num_* attributes."""
    p: list[str] = []
    ds = dataset
    img = ds.images
    if img.dtype != np.uint8 or img.ndim != 4 or img.shape[-1] != 3:
        p.append(f"images must be uint8 (M, H, W, 3), got {img.dtype} {img.shape}")
    elif img.shape[1] != img.shape[2]:
        p.append(f"images must be square, got {img.shape[1]}x{img.shape[2]}")
    for name, arr, ndim, dtype in (
        ("states", ds.states, 2, np.float32),
        ("objects", ds.objects, 2, np.float32),
        ("actions", ds.actions, 2, np.float32),
        ("rewards", ds.rewards, 1, np.float32),
        ("terminals", ds.terminals, 1, np.bool_),
        ("timeouts", ds.timeouts, 1, np.bool_),
        ("success", ds.success, 1, np.bool_),
        ("lengths", ds.lengths, 1, np.int64),
        ("episode_starts", ds.episode_starts, 1, np.int64),
    ):
        if arr.ndim != ndim or arr.dtype != dtype:
            want = f"{np.dtype(dtype)} with {ndim} dims"
            p.append(f"{name} must be {want}, got {arr.dtype} {arr.shape}")
    if p:
        return p  # the checks below assume the right shapes
    n, e, m = ds.actions.shape[0], ds.lengths.shape[0], img.shape[0]
    per_step = (("rewards", ds.rewards), ("terminals", ds.terminals), ("timeouts", ds.timeouts))
    for name, arr in per_step:
        if arr.shape[0] != n:
            p.append(f"{name} has {arr.shape[0]} rows but there are {n} actions")
    if ds.states.shape[0] != m:
        p.append(f"states has {ds.states.shape[0]} rows but images has {m}")
    if ds.objects.shape[0] != m:
        p.append(f"objects has {ds.objects.shape[0]} rows but images has {m}")
    if ds.episode_starts.shape[0] != e or ds.success.shape[0] != e:
        p.append(
            f"episode arrays disagree: {e} lengths, {ds.episode_starts.shape[0]} episode_starts, "
            f"{ds.success.shape[0]} success"
        )
        return p
    if ds.behaviour is not None and ds.behaviour.shape != (e,):
        p.append(f"behaviour has shape {ds.behaviour.shape}, expected one name per episode "
                 f"({e},)")
    if m != n + e:
        p.append(f"expected {n + e} observation rows (transitions + episodes), found {m}")
    if (ds.lengths < 1).any():
        bad = np.flatnonzero(ds.lengths < 1)[:5].tolist()
        p.append(f"episode boundaries: episodes {bad} have length < 1")
    elif (ds.lengths > n).any():  # also keeps the int64 sum below from wrapping around
        k = int(np.flatnonzero(ds.lengths > n)[0])
        p.append(f"episode boundaries: lengths[{k}] = {int(ds.lengths[k])} exceeds the {n} "
                 "transitions")
    elif int(ds.lengths.sum()) != n:
        p.append(f"episode boundaries: lengths sum to {int(ds.lengths.sum())}, not {n}")
    elif not np.array_equal(ds.episode_starts, starts_from_lengths(ds.lengths)):
        k = int(np.flatnonzero(ds.episode_starts != starts_from_lengths(ds.lengths))[0])
        p.append(f"episode boundaries: episode_starts[{k}] = {int(ds.episode_starts[k])} "
                 f"does not follow from the lengths")
    else:
        if ds.obs_index.shape != (n,) or not np.array_equal(
            ds.obs_index, obs_index_from_lengths(ds.lengths)
        ):
            p.append("obs_index does not follow from the lengths")
        ends = np.zeros(n, dtype=bool)
        if n:
            ends[ds.episode_starts + ds.lengths - 1] = True
        mid = np.flatnonzero((ds.terminals | ds.timeouts) & ~ends)
        if mid.size:
            p.append(f"episode boundaries: terminal/timeout inside an episode at transition "
                     f"{int(mid[0])} ({mid.size} in all)")
        open_end = np.flatnonzero(~(ds.terminals | ds.timeouts)[ends])
        if open_end.size:
            p.append(f"episode boundaries: episode {int(open_end[0])} ends with neither a "
                     f"terminal nor a timeout ({open_end.size} in all)")
    for name, arr in (("states", ds.states), ("objects", ds.objects), ("actions", ds.actions),
                      ("rewards", ds.rewards)):
        bad = ~np.isfinite(arr)
        if bad.any():
            p.append(f"{name} contains {int(bad.sum())} NaN/inf value(s)")
    finite = ds.actions[np.isfinite(ds.actions)]
    if finite.size and (np.abs(finite) > 1.0).any():
        p.append(
            f"actions outside [-1, 1]: {int((np.abs(finite) > 1.0).sum())} value(s), "
            f"range [{float(finite.min()):.3g}, {float(finite.max()):.3g}]"
        )
    attrs = ds.attrs
    if check_counts:
        for key, actual in (("num_episodes", e), ("num_transitions", n)):
            if key in attrs and attrs[key] != actual:
                p.append(f"attribute {key} = {attrs[key]} but the arrays hold {actual}")
        size = attrs.get("image_size")
        if size is not None and img.shape[1] != size:
            p.append(f"attribute image_size = {size} but images are {img.shape[1]}x{img.shape[2]}")
    noise = attrs.get("noise")
    if isinstance(noise, float) and math.isnan(noise):
        p.append("attribute noise is NaN")
    return p

