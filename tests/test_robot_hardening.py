"""Issue 12's robot-link findings, each a regression test: stale or forged frame times, actions
that are not float arrays, overflowing array headers, session eviction, trip attribution, REQ
clients and a malformed bind address."""

from __future__ import annotations

import contextlib
import math

import msgpack
import numpy as np
import pytest
import zmq

from robot_interface import messages as M
from robot_interface.backends.fake import FakeRobot
from robot_interface.safety import REJECT_STALE_FRAME, WATCHDOG_HOLD, SafetyFilter
from robot_interface.server import MAX_SESSIONS, SESSION_IDLE_S, RobotServer, ServerConfig
from robot_interface.testing import spawn_server

FAST = ("--backend", "fake", "--rate", "20", "--watchdog", "0.3", "--max-frame-age", "2")
MOVE = np.array([1, 0, 0, 0, 0, 0, 0, 0], np.float32)


@pytest.mark.parametrize("frame_time", [math.nan, math.inf, -math.inf, 1e6])
def test_non_finite_or_future_frame_times_hold_the_arm(frame_time):
    result = SafetyFilter().filter(MOVE, np.array([0.3, 0.0, 0.2]), frame_time=frame_time,
                                   now=100.0)
    assert result.hold and result.interventions == [REJECT_STALE_FRAME]
    assert not np.any(result.action)


def test_a_frame_time_within_the_clock_skew_passes():
    ok = SafetyFilter().filter(MOVE, np.array([0.3, 0.0, 0.2]), frame_time=100.01, now=100.0)
    assert not ok.hold


def _hello(name: str = "client") -> dict:
    return {"type": "hello", "name": name, "observation_spec": M.observation_spec(48),
            "action_spec": M.action_spec(),
            "config_hash": M.config_hash(M.semantics_config(48))}


def _server() -> RobotServer:
    robot = FakeRobot()
    robot.connect()
    return RobotServer(robot, ServerConfig(control_hz=20))


@pytest.mark.parametrize("action", [
    ["1", "0", "0", "0", "0", "0", "0", "0"],  # numeric strings: once moved the arm
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # a plain list is not the array encoding
    np.ones(8, np.int32),  # an integer array
    1.0,
])
def test_actions_that_are_not_float_arrays_get_an_error_and_never_move(action):
    server = _server()
    assert server._dispatch(b"a", _hello())["type"] == "welcome"
    # What the wire gives the server for this field (arrays arrive decoded).
    msg = M.unpack(M.pack("act", action=action), allowed_types=M.CLIENT_TYPES)
    with pytest.raises(M.ProtocolError, match="float"):
        server._dispatch(b"a", msg)
    assert server.robot.moves == 0 and not server.safety.latch.stopped


def test_an_array_header_whose_size_overflows_is_a_protocol_error():
    huge = {"__nd__": 1, "dtype": "float64", "shape": [1 << 24] * 4, "data": b""}
    with pytest.raises(M.ProtocolError, match="needs"):
        M.decode_array(huge)
    # 2**24 ** 4 * 8 bytes wraps to 0 in int64: the old check let b"" through.
    assert (np.prod([1 << 24] * 4, dtype=np.int64) * 8) == 0


@contextlib.contextmanager
def _socket(endpoint: str, kind: int):
    ctx = zmq.Context()
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        yield sock
    finally:
        sock.close(0)
        ctx.term()


def _ask(sock, payload: bytes) -> dict:
    sock.send(payload)
    assert sock.poll(3000), "no reply"
    return msgpack.unpackb(sock.recv(), raw=False)


def test_overflowing_header_before_handshake_is_an_error_reply_without_a_latch():
    with spawn_server(*FAST) as srv, _socket(srv.endpoint, zmq.DEALER) as sock:
        payload = msgpack.packb({"v": M.SCHEMA_VERSION, "type": "act", "action": {
            "__nd__": 1, "dtype": "float64", "shape": [1 << 24] * 4, "data": b""}})
        reply = _ask(sock, payload)
        assert reply["type"] == "error" and "latched" not in reply["reason"]
        assert _ask(sock, M.pack("status"))["stopped"] is False


def test_newcomers_never_evict_an_active_session():
    server = _server()
    assert server._dispatch(b"live", _hello("live"))["type"] == "welcome"
    replies = [server._dispatch(f"n{i}".encode(), _hello(f"n{i}"))["type"] for i in range(70)]
    assert replies.count("welcome") == MAX_SESSIONS - 1  # the rest are refused, not evicting
    assert "error" in replies
    step = server._dispatch(b"live", {"type": "act", "action": MOVE})
    assert step["type"] == "step" and not step["hold"]


def test_a_long_silent_session_makes_room_for_a_newcomer():
    server = _server()
    for i in range(MAX_SESSIONS):
        server._dispatch(f"n{i}".encode(), _hello())
    server.sessions[b"n0"]["seen"] -= SESSION_IDLE_S + 1  # silent for longer than the limit
    assert server._dispatch(b"new", _hello())["type"] == "welcome"
    assert b"n0" not in server.sessions and len(server.sessions) == MAX_SESSIONS


def test_a_watchdog_trip_is_reported_to_the_client_that_caused_it_only():
    server = _server()
    for ident in (b"a", b"b"):
        server._dispatch(ident, _hello())
    assert server._dispatch(b"a", {"type": "act", "action": MOVE})["interventions"] == []
    server._watchdog_trip()  # a fell silent
    other = server._dispatch(b"b", {"type": "act", "action": MOVE})
    assert WATCHDOG_HOLD not in other["interventions"]
    mine = server._dispatch(b"a", {"type": "act", "action": MOVE})
    assert WATCHDOG_HOLD in mine["interventions"]


def test_a_req_socket_gets_an_answer():
    with spawn_server(*FAST) as srv, _socket(srv.endpoint, zmq.REQ) as sock:
        assert _ask(sock, M.pack("status"))["type"] == "status"


def test_a_malformed_bind_address_is_one_clear_error():
    server = RobotServer(FakeRobot(), ServerConfig(bind="tcp://0.0.0.0@127.0.0.1:5599"))
    with pytest.raises(ValueError, match="cannot listen on"):
        server.bind()
