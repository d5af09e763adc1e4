"""Wire format between the robot server and policy clients: msgpack maps, never pickle.

Every message is a msgpack map with at least ``v`` (the schema version) and ``type``.
Arrays travel as ``{"__nd__": 1, "dtype": str, "shape": [..], "data": bytes}`` so a reader
never executes anything: it checks the dtype against an allow-list and the byte count
against the shape before building the array.

Client -> server types: hello, observe, act, reset, home, idle, stop, rearm, status, bye.
Server -> client types: welcome, obs, step, ok, status, error.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import msgpack
import numpy as np

SCHEMA_VERSION = 1

# Incoming messages larger than this are refused. An act message is well under 1 KiB; the
# biggest legitimate reply is an observation with a 48x48 (or raw camera) image.
MAX_REQUEST_BYTES = 64 * 1024
MAX_REPLY_BYTES = 16 * 1024 * 1024

CLIENT_TYPES = frozenset(
    {"hello", "observe", "act", "reset", "home", "idle", "stop", "rearm", "status", "bye"}
)
SERVER_TYPES = frozenset({"welcome", "obs", "step", "ok", "status", "error"})

# Only plain numeric dtypes may travel: object arrays could smuggle code paths.
_ALLOWED_DTYPES = frozenset(
    {"uint8", "int8", "uint16", "int16", "int32", "int64", "float32", "float64", "bool"}
)
_MAX_NDIM = 4


class ProtocolError(ValueError):
    """A message that does not follow the schema. The text names the bad value."""


def encode_array(arr: np.ndarray) -> dict[str, Any]:
    arr = np.ascontiguousarray(arr)
    name = arr.dtype.name
    if name not in _ALLOWED_DTYPES:
        raise ProtocolError(f"array dtype {name!r} cannot be sent (allowed: numeric dtypes)")
    return {"__nd__": 1, "dtype": name, "shape": list(arr.shape), "data": arr.tobytes()}


def decode_array(obj: Any) -> np.ndarray:
    if not isinstance(obj, dict) or obj.get("__nd__") != 1:
        raise ProtocolError(f"expected an encoded array, got {type(obj).__name__}")
    dtype, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("data")
    if dtype not in _ALLOWED_DTYPES:
        raise ProtocolError(f"array dtype {dtype!r} is not allowed")
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_NDIM
        or not all(isinstance(s, int) and 0 <= s <= 1 << 24 for s in shape)
    ):
        raise ProtocolError(f"array shape {shape!r} is not a list of <= {_MAX_NDIM} sizes")
    if not isinstance(data, bytes):
        raise ProtocolError("array data must be raw bytes")
    # Python integers: a product of sizes that overflows int64 cannot wrap round to match.
    expected = math.prod(shape) * np.dtype(dtype).itemsize
    if len(data) != expected:
        raise ProtocolError(
            f"array of dtype {dtype} and shape {shape} needs {expected} bytes, got {len(data)}"
        )
    # frombuffer gives a read-only view; copy so receivers may modify it.
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def float_array(value: Any, name: str) -> np.ndarray:
    """A field that must be a float array, sent in the array encoding.

    Lists (even of numbers, or of numeric strings), integer or bool arrays and scalars are
    refused: only what a client built on purpose as a float array may drive the arm. Its
    shape and values are the safety filter's to judge (a wrong one holds the arm)."""
    if not isinstance(value, np.ndarray):
        raise ProtocolError(
            f"{name} must be an encoded float array (float32 or float64), got "
            f"{type(value).__name__}"
        )
    if value.dtype.kind != "f":
        raise ProtocolError(f"{name} must have a float dtype, got {value.dtype.name}")
    return value


def _to_wire(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return encode_array(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): _to_wire(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_wire(v) for v in obj]
    return obj


def _from_wire(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__nd__" in obj:
            return decode_array(obj)
        return {k: _from_wire(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_wire(v) for v in obj]
    return obj


def pack(msg_type: str, **fields: Any) -> bytes:
    """Serialise one message. numpy arrays anywhere inside ``fields`` are encoded."""
    body = {"v": SCHEMA_VERSION, "type": msg_type}
    body.update(_to_wire(fields))
    return msgpack.packb(body, use_bin_type=True)


def unpack(
    raw: bytes, *, allowed_types: frozenset[str], max_bytes: int = MAX_REQUEST_BYTES
) -> dict[str, Any]:
    """Parse and validate one message; raises ProtocolError naming what is wrong."""
    if len(raw) > max_bytes:
        raise ProtocolError(f"message of {len(raw)} bytes exceeds the {max_bytes}-byte limit")
    try:
        body = msgpack.unpackb(
            raw,
            raw=False,
            strict_map_key=True,
            max_bin_len=max_bytes,
            max_str_len=max_bytes,
            max_array_len=4096,
            max_map_len=4096,
        )
    except Exception as exc:  # msgpack raises several unrelated exception types
        raise ProtocolError(f"malformed msgpack: {type(exc).__name__}: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"message must be a msgpack map, got {type(body).__name__}")
    version = body.get("v")
    if version != SCHEMA_VERSION:
        raise ProtocolError(f"schema version {version!r} is not supported (want {SCHEMA_VERSION})")
    msg_type = body.get("type")
    # A list or map here is unhashable: test the type first, so it is a ProtocolError too.
    if not isinstance(msg_type, str) or msg_type not in allowed_types:
        raise ProtocolError(f"unknown message type {msg_type!r}")
    return _from_wire(body)


# --- Specs and the handshake --------------------------------------------------------------------


def observation_spec(image_size: int) -> dict[str, Any]:
    return {
        "image": {"shape": [image_size, image_size, 3], "dtype": "uint8"},
        "state": {"shape": [10], "dtype": "float32"},
    }


def action_spec() -> dict[str, Any]:
    return {"shape": [8], "dtype": "float32", "low": -1.0, "high": 1.0}


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of everything that changes what an observation or action means
    (image size, camera crop, action scales). Sorted JSON so key order never matters."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def semantics_config(image_size: int, camera: str = "sim-default") -> dict[str, Any]:
    """The settings both ends must agree on, with the env constants as the source of truth."""
    from envs import constants as c

    return {
        "image_size": int(image_size),
        "camera": camera,
        "pos_step_m": float(c.POS_STEP_M),
        "rot_step_deg": float(c.ROT_STEP_DEG),
        "gripper_thresholds": [float(c.GRIPPER_CLOSE_THRESHOLD), float(c.GRIPPER_OPEN_THRESHOLD)],
        "neutral_threshold": float(c.NEUTRAL_THRESHOLD),
    }


def check_handshake(hello: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Compare a client's hello with the server's expectations; return the refusal reason."""
    for key in ("observation_spec", "action_spec"):
        if hello.get(key) != expected[key]:
            return f"{key} mismatch: client has {hello.get(key)!r}, server has {expected[key]!r}"
    if hello.get("config_hash") != expected["config_hash"]:
        return (
            f"camera/config hash mismatch: client {hello.get('config_hash')!r}, server "
            f"{expected['config_hash']!r} (image size, camera or action scales differ)"
        )
    return None
