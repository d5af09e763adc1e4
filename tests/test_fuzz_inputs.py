"""Hypothesis fuzzing of the two doors hostile input comes through (issue 12): every server
message type with random fields, through the server's whole request path, and small HDF5
files with random shapes and attributes, through the dataset reader. No input may raise, latch
a stop from an unauthenticated message, move the arm without a handshake, or make the reader
allocate more than a small bound."""

from __future__ import annotations

import tracemalloc

import h5py
import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_collection.hdf5_format import (
    ARRAY_SPECS,
    OBJECT_SPEC,
    DatasetFormatError,
    load_dataset,
    validate_file,
)
from robot_interface import messages as M
from robot_interface.backends.fake import FakeRobot
from robot_interface.server import RobotServer, ServerConfig

DTYPES = ["uint8", "int8", "int32", "int64", "float32", "float64", "bool", "object", "<f2"]
arrays = st.builds(
    lambda dtype, shape, n: {"__nd__": 1, "dtype": dtype, "shape": shape, "data": b"\0" * n},
    st.sampled_from(DTYPES),
    st.one_of(st.lists(st.integers(-2, 1 << 24), max_size=5), st.just([1 << 24] * 4),
              st.integers(), st.none()),
    st.sampled_from([0, 1, 8, 32, 64, 48 * 48 * 3]),
)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=8)
    | st.binary(max_size=16) | arrays,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
FIELDS = ["action", "frame_time", "seed", "name", "id", "reason", "observation_spec",
          "action_spec", "config_hash"]
messages = st.builds(
    lambda kind, fields: {"v": M.SCHEMA_VERSION, "type": kind, **fields},
    st.sampled_from(sorted(M.CLIENT_TYPES) + ["explode"]),
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=4),
)


def _server() -> RobotServer:
    robot = FakeRobot()
    robot.connect()
    return RobotServer(robot, ServerConfig(control_hz=20))


def _hello() -> bytes:
    return M.pack("hello", observation_spec=M.observation_spec(48),
                  action_spec=M.action_spec(),
                  config_hash=M.config_hash(M.semantics_config(48)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msg=messages, handshake=st.booleans(), req=st.booleans())
def test_any_message_of_any_type_gets_a_reply_and_never_latches_unauthenticated(msg, handshake,
                                                                                   req):
    server = _server()
    envelope = [b"peer", b""] if req else [b"peer"]
    if handshake:
        assert server.handle_frames([*envelope, _hello()]) is not None
    try:
        raw = msgpack.packb(msg)
    except (TypeError, ValueError, OverflowError):
        return  # not expressible on the wire
    reply = server.handle_frames([*envelope, raw])
    assert reply is not None and reply[:-1] == envelope
    answer = M.unpack(reply[-1], allowed_types=M.SERVER_TYPES, max_bytes=M.MAX_REPLY_BYTES)
    assert answer["type"] in M.SERVER_TYPES
    if not handshake:
        assert server.robot.moves == 0
        # Only an explicit stop may latch from an unauthenticated peer (stopping is safe).
        assert not server.safety.latch.stopped or msg["type"] == "stop"
    elif server.safety.latch.stopped:
        assert msg["type"] == "stop", server.safety.latch.reason


@settings(max_examples=200, deadline=None)
@given(frames=st.lists(st.binary(max_size=64), max_size=5))
def test_any_frames_are_answered_or_dropped_never_raised(frames):
    reply = _server().handle_frames(frames)
    assert reply is None or isinstance(reply[-1], bytes)


# --- the dataset reader ----------------------------------------------------------------------

SPECS = {key: (ndim, kind, size) for key, ndim, kind, size, _ in (*ARRAY_SPECS, OBJECT_SPEC)}
DTYPE_OF = {("u", 1): np.uint8, ("f", 4): np.float32, ("b", 1): np.bool_, ("i", 8): np.int64}


@st.composite
def dataset_files(draw):
    """Arrays that are mostly right (so the reader gets past the first check) with random
    row counts, widths, dtypes, missing keys and header values."""
    arrays = {}
    for key, (ndim, kind, size) in SPECS.items():
        if draw(st.integers(0, 19)) == 0:
            continue  # a missing key
        rows = draw(st.integers(0, 6))
        shape = (rows, *draw(st.lists(st.integers(0, 12), min_size=ndim - 1,
                                      max_size=ndim - 1)))
        if draw(st.integers(0, 9)) == 0:
            shape = shape[:-1] if len(shape) > 1 else (rows, 2)  # a wrong number of dimensions
        dtype = DTYPE_OF[(kind, size)] if draw(st.integers(0, 9)) else np.float64
        arrays[key] = np.zeros(shape, dtype=dtype)
    if "lengths" in arrays and arrays["lengths"].size and arrays["lengths"].dtype == np.int64:
        arrays["lengths"].flat[:] = draw(st.lists(
            st.sampled_from([-1, 0, 1, 3, 10**12, 2**62, 2**63 - 1]),
            min_size=arrays["lengths"].size, max_size=arrays["lengths"].size))
    attrs = {"format": draw(st.sampled_from(["cog-dataset", "other"])),
             "schema_version": draw(st.sampled_from([1, 2, 3, -1]))}
    return arrays, attrs


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(content=dataset_files())
def test_any_small_file_gives_problems_or_a_dataset_within_a_memory_bound(tmp_path, content):
    arrays, attrs = content
    path = tmp_path / "fuzz.h5"
    with h5py.File(path, "w") as h5:
        for key, array in arrays.items():
            h5.create_dataset(key, data=array)
        for key, value in attrs.items():
            h5.attrs[key] = value
    tracemalloc.start()
    try:
        problems = validate_file(path)
        try:
            load_dataset(path)
        except DatasetFormatError:
            assert problems
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
    assert peak < 32 * 2**20, f"the reader allocated {peak / 2**20:.0f} MiB for a tiny file"


def test_the_huge_length_header_is_caught_within_the_bound(tmp_path):
    # The case from the issue, pinned (hypothesis may or may not draw it).
    from cog.testing import random_dataset
    from data_collection import save_dataset

    path = tmp_path / "d.h5"
    save_dataset(path, random_dataset(2, 3, image_size=8), codec="none")
    with h5py.File(path, "a") as h5:
        h5["lengths"][-1] = 10**12
    tracemalloc.start()
    try:
        with pytest.raises(DatasetFormatError, match="exceeds"):
            load_dataset(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20
