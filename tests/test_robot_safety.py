"""Property tests of the safety filter, the latched stop and the watchdog (pure numpy)."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_interface import messages as M
from robot_interface.safety import (
    CAPPED_STEP,
    CLIPPED_BOX,
    REJECT_NONFINITE,
    REJECT_SHAPE,
    REJECT_STALE_FRAME,
    REJECT_STOPPED,
    SafetyConfig,
    SafetyFilter,
    Watchdog,
    check_joint_limits,
)

CFG = SafetyConfig(max_step_m=0.03, max_rot_deg=10.0)
LOW, HIGH = np.asarray(CFG.workspace_low), np.asarray(CFG.workspace_high)

any_float = st.floats(allow_nan=True, allow_infinity=True, width=32)
actions = st.lists(any_float, min_size=8, max_size=8)
box_points = st.tuples(
    *(st.floats(float(lo), float(hi)) for lo, hi in zip(LOW, HIGH, strict=True))
).map(np.array)


def _apply(pos: np.ndarray, action: np.ndarray) -> np.ndarray:
    """What a backend does with a filtered action: the env's target rule."""
    return np.clip(pos + action[:3].astype(np.float64) * CFG.pos_step_m, LOW, HIGH)


@settings(max_examples=150, deadline=None)
@given(start=box_points, seq=st.lists(actions, min_size=1, max_size=30))
def test_never_leaves_box_never_exceeds_step_cap(start, seq):
    filt = SafetyFilter(CFG)
    pos = start
    for raw in seq:
        res = filt.filter(np.asarray(raw, dtype=np.float32), pos)
        assert filt.in_box(res.target_pos)
        assert np.linalg.norm(res.target_pos - pos) <= CFG.max_step_m + 1e-9
        assert res.action.shape == (8,) and np.all(np.isfinite(res.action))
        assert np.all(np.abs(res.action) <= 1.0)
        rot = np.linalg.norm(res.action[3:6].astype(np.float64) * CFG.rot_step_deg)
        assert rot <= CFG.max_rot_deg + 1e-4
        if not np.all(np.isfinite(np.asarray(raw, dtype=np.float32))):
            assert res.hold and res.interventions == [REJECT_NONFINITE]
        new = _apply(pos, res.action)
        assert np.linalg.norm(new - pos) <= CFG.max_step_m + 1e-6
        assert filt.in_box(new)
        pos = new


@settings(max_examples=100, deadline=None)
@given(
    start=st.tuples(*(st.floats(-2.0, 2.0) for _ in range(3))).map(np.array),
    raw=st.lists(st.floats(-5, 5), min_size=8, max_size=8),
)
def test_step_cap_holds_even_when_starting_outside_the_box(start, raw):
    filt = SafetyFilter(CFG)
    res = filt.filter(np.asarray(raw), start)
    assert np.linalg.norm(res.target_pos - start) <= CFG.max_step_m + 1e-9


@settings(max_examples=100, deadline=None)
@given(start=box_points, before=st.lists(actions, max_size=5), after=st.lists(actions, max_size=20))
def test_after_latched_stop_nothing_moves_until_rearm(start, before, after):
    filt = SafetyFilter(CFG)
    pos = start
    for raw in before:
        pos = _apply(pos, filt.filter(np.asarray(raw, np.float32), pos).action)
    filt.latch.stop("test")
    frozen = pos.copy()
    for raw in after:
        res = filt.filter(np.asarray(raw, np.float32), pos)
        assert res.hold and res.interventions == [REJECT_STOPPED]
        assert not np.any(res.action)
        pos = _apply(pos, res.action) if not res.hold else pos
        np.testing.assert_array_equal(pos, frozen)
    filt.latch.stop("a second stop does not overwrite the first reason")
    assert filt.latch.reason == "test"
    filt.latch.rearm()
    res = filt.filter(np.array([0, 0, 0.1, 0, 0, 0, 0, 0], np.float32), frozen)
    assert not res.hold


def test_untouched_action_passes_bit_for_bit():
    filt = SafetyFilter()
    a = np.array([0.3, -0.2, 0.1, 0.0, 0.0, 0.0, 1.0, 0.0], np.float32)
    res = filt.filter(a, np.array([0.3, 0.0, 0.2]))
    assert res.interventions == [] and res.action.tobytes() == a.tobytes()


def test_box_clip_and_step_cap_are_reported():
    filt = SafetyFilter(CFG)
    res = filt.filter(np.array([0, 0, 1, 0, 0, 0, 0, 0], np.float32), np.array([0.3, 0, 0.349]))
    assert CLIPPED_BOX in res.interventions
    assert res.target_pos[2] == pytest.approx(HIGH[2])
    res = filt.filter(np.array([1, 1, 0, 0, 0, 0, 0, 0], np.float32), np.array([0.3, 0, 0.2]))
    assert CAPPED_STEP in res.interventions
    assert np.linalg.norm(res.target_pos - [0.3, 0, 0.2]) == pytest.approx(0.03)


@pytest.mark.parametrize("bad", [np.zeros(7), np.zeros((2, 8)), "left", None, [1, "x"]])
def test_wrong_shape_or_type_is_rejected(bad):
    res = SafetyFilter().filter(bad, np.array([0.3, 0, 0.2]))
    assert res.hold and res.interventions == [REJECT_SHAPE]


def test_stale_frame_is_rejected():
    filt = SafetyFilter(SafetyConfig(max_frame_age_s=0.2))
    a = np.zeros(8, np.float32)
    assert not filt.filter(a, np.array([0.3, 0, 0.2]), frame_time=10.0, now=10.1).hold
    res = filt.filter(a, np.array([0.3, 0, 0.2]), frame_time=10.0, now=10.3)
    assert res.hold and res.interventions == [REJECT_STALE_FRAME]


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="workspace box"):
        SafetyConfig(workspace_low=(0, 0, 0), workspace_high=(1, -1, 1))
    with pytest.raises(ValueError, match="max_step_m"):
        SafetyConfig(max_step_m=math.nan)


def test_watchdog_trips_once_after_silence():
    now = [0.0]
    wd = Watchdog(0.6, clock=lambda: now[0])
    assert not wd.poll()  # not armed before the first command
    wd.kick()
    now[0] = 0.5
    assert not wd.poll()
    now[0] = 0.7
    assert wd.poll() and wd.tripped
    now[0] = 5.0
    assert not wd.poll()  # reported once
    wd.kick()
    assert not wd.tripped


def test_joint_limit_check():
    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    assert check_joint_limits(np.array([0.5, -0.5]), lo, hi) is None
    assert "joint 1" in check_joint_limits(np.array([0.5, 1.5]), lo, hi)
    assert "NaN" in check_joint_limits(np.array([np.nan, 0.0]), lo, hi)


# --- the wire codec: any bytes give a message or a ProtocolError, nothing else ------------------

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text()
    | st.binary(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=256))
def test_unpack_random_bytes_only_ever_raises_protocol_error(raw):
    with contextlib.suppress(M.ProtocolError):
        M.unpack(raw, allowed_types=M.CLIENT_TYPES)


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.text(max_size=8), msgpack_values, max_size=5))
def test_unpack_random_maps_only_ever_raises_protocol_error(body):
    import msgpack

    body = {"v": M.SCHEMA_VERSION, "type": "act", **body}
    try:
        msg = M.unpack(msgpack.packb(body), allowed_types=M.CLIENT_TYPES)
    except M.ProtocolError:
        return
    assert msg["type"] in M.CLIENT_TYPES


@pytest.mark.parametrize("bad_type", [[], {}, 3, None, b"act"])
def test_unpack_refuses_a_non_string_message_type(bad_type):
    import msgpack

    raw = msgpack.packb({"v": M.SCHEMA_VERSION, "type": bad_type})
    with pytest.raises(M.ProtocolError, match="unknown message type"):
        M.unpack(raw, allowed_types=M.CLIENT_TYPES)


def test_array_roundtrip_and_rejections():
    arr = np.arange(48 * 48 * 3, dtype=np.uint8).reshape(48, 48, 3)
    msg = M.unpack(M.pack("obs", image=arr), allowed_types=M.SERVER_TYPES)
    np.testing.assert_array_equal(msg["image"], arr)
    with pytest.raises(M.ProtocolError, match="needs 32 bytes"):
        M.decode_array({"__nd__": 1, "dtype": "float32", "shape": [8], "data": b"\0" * 31})
    with pytest.raises(M.ProtocolError, match="dtype 'object'"):
        M.decode_array({"__nd__": 1, "dtype": "object", "shape": [1], "data": b"\0"})
    with pytest.raises(M.ProtocolError, match="exceeds"):
        M.unpack(b"\x00" * (M.MAX_REQUEST_BYTES + 1), allowed_types=M.CLIENT_TYPES)
