"""Loopback tests of the robot server/client: handshake, bad messages, watchdog, stop, CURVE.

The server always runs as a subprocess (`cog robot serve --backend fake`), killed by the
``spawn_server`` context manager; every socket has a timeout, so no test can hang.
"""

from __future__ import annotations

import shutil
import time

import msgpack
import numpy as np
import pytest
import zmq

from robot_interface import messages as M
from robot_interface.client import RobotClient, RobotLinkError
from robot_interface.testing import spawn_python, spawn_server

FAST = ("--backend", "fake", "--rate", "20", "--watchdog", "0.3", "--max-frame-age", "2")


def _raw_request(endpoint: str, payload: bytes, timeout_s: float = 1.0) -> dict | None:
    """Send raw bytes from a bare DEALER; return the decoded reply or None on silence."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(payload)
        if not sock.poll(int(timeout_s * 1000)):
            return None
        return msgpack.unpackb(sock.recv(), raw=False)
    finally:
        sock.close(0)
        ctx.term()


def _ee(endpoint: str) -> np.ndarray:
    with RobotClient(endpoint, timeout_s=2.0) as c:
        return np.asarray(c.status()["ee_pos"])


def test_handshake_observe_act_roundtrip_with_48px_image():
    with spawn_server(*FAST) as srv, RobotClient(srv.endpoint, timeout_s=2.0) as client:
        assert client.welcome["backend"] == "fake"
        obs = client.reset(seed=0)
        assert obs["image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
        assert obs["state"].shape == (10,) and obs["state"].dtype == np.float32
        step = client.act(np.array([1, 0, 0.5, 0, 0, 0, 0, 0], np.float32), obs["frame_time"])
        assert not step["hold"] and step["interventions"] == []
        moved = step["state"][:3] - obs["state"][:3]
        np.testing.assert_allclose(moved, [0.04, 0.0, 0.02], atol=1e-6)


def test_handshake_mismatch_is_refused_with_a_reason():
    with spawn_server(*FAST) as srv:
        client = RobotClient(srv.endpoint, timeout_s=2.0, image_size=64)
        try:
            with pytest.raises(RobotLinkError, match="observation_spec mismatch"):
                client.connect()
        finally:
            client.close()
        client = RobotClient(srv.endpoint, timeout_s=2.0, camera="usb-wrist")
        try:
            with pytest.raises(RobotLinkError, match="camera/config hash mismatch"):
                client.connect()
        finally:
            client.close()


def test_act_without_handshake_is_an_error():
    with spawn_server(*FAST) as srv:
        payload = M.pack("act", action=np.zeros(8, np.float32))
        reply = _raw_request(srv.endpoint, payload)
        assert reply["type"] == "error" and "handshake" in reply["reason"]


def test_bad_messages_get_errors_or_drops_and_the_arm_never_moves():
    with spawn_server(*FAST) as srv:
        before = _ee(srv.endpoint)
        hello = M.pack(
            "hello",
            observation_spec=M.observation_spec(48),
            action_spec=M.action_spec(),
            config_hash=M.config_hash(M.semantics_config(48)),
        )
        bad = {
            "malformed": b"\xc1\xff\x00garbage",
            "not a map": msgpack.packb([1, 2, 3]),
            "wrong version": msgpack.packb({"v": 999, "type": "status"}),
            "unknown type": msgpack.packb({"v": M.SCHEMA_VERSION, "type": "explode"}),
            "bad array": msgpack.packb(
                {"v": M.SCHEMA_VERSION, "type": "act",
                 "action": {"__nd__": 1, "dtype": "object", "shape": [8], "data": b"x"}}
            ),
        }
        for name, payload in bad.items():
            reply = _raw_request(srv.endpoint, payload)
            assert reply is not None and reply["type"] == "error", name
        # NaN and wrong-shape actions from a client that did shake hands: rejected with a hold.
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(srv.endpoint)
        try:
            sock.send(hello)
            assert sock.poll(2000)
            assert msgpack.unpackb(sock.recv())["type"] == "welcome"
            for action in (np.full(8, np.nan, np.float32), np.ones(5, np.float32),
                           np.array([np.inf, 0, 0, 0, 0, 0, 0, 0], np.float32)):
                sock.send(M.pack("act", action=action))
                assert sock.poll(2000)
                reply = M.unpack(sock.recv(), allowed_types=M.SERVER_TYPES)
                assert reply["type"] == "step" and reply["hold"]
                assert reply["interventions"][0] in ("rejected_nonfinite", "rejected_bad_shape")
                assert not np.any(reply["applied_action"])
        finally:
            sock.close(0)
            ctx.term()
        # Oversized: libzmq drops the peer before the bytes reach the server code.
        assert _raw_request(srv.endpoint, b"\x00" * (M.MAX_REQUEST_BYTES + 10), 0.5) is None
        after = _ee(srv.endpoint)  # the server still serves...
        np.testing.assert_array_equal(before, after)  # ...and the arm did not move
        with RobotClient(srv.endpoint, timeout_s=2.0) as c:
            assert c.status()["counters"]["steps"] == 0


CLIENT_LOOP = """
import time, numpy as np
from robot_interface.client import RobotClient
c = RobotClient({endpoint!r}, timeout_s=2.0)
c.connect()
obs = c.reset(seed=0)
for i in range(10_000):
    obs = c.act(np.array([0.2, 0.1, 0.2, 0, 0, 0, 0, 0], np.float32), obs["frame_time"])
    if i == 3:
        print("acting", flush=True)
    time.sleep(0.02)
"""


def test_watchdog_holds_after_client_is_killed_and_server_serves_a_new_client():
    with spawn_server(*FAST) as srv:
        with spawn_python(CLIENT_LOOP.format(endpoint=srv.endpoint)) as child:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = child.stdout.readline()
                if "acting" in line or not line:
                    break
            assert "acting" in line, "client child did not start acting"
            child.kill()
            child.wait(timeout=10)
        time.sleep(0.8)  # > watchdog (0.3 s)
        with RobotClient(srv.endpoint, timeout_s=2.0) as client:
            status = client.status()
            assert status["counters"]["watchdog_trips"] == 1
            trip = status["last_trip"]
            # held within the watchdog time (+ one poll interval and scheduling slack)
            assert trip["held"] - trip["last_command"] <= 0.3 + 0.25
            pos = np.asarray(status["ee_pos"])
            time.sleep(0.3)
            np.testing.assert_array_equal(pos, client.status()["ee_pos"])  # still held
            # a new client is served normally
            obs = client.reset(seed=1)
            step = client.act(np.array([0, 0, -1, 0, 0, 0, 0, 0], np.float32), obs["frame_time"])
            assert not step["hold"]
        assert "watchdog_hold" in srv.read_output()


def test_latched_stop_from_any_client_holds_until_rearm():
    with spawn_server(*FAST) as srv, RobotClient(srv.endpoint, timeout_s=2.0) as driver:
        obs = driver.reset(seed=0)
        # a second, un-handshaken client stops the arm
        stopper = RobotClient(srv.endpoint, timeout_s=2.0)
        try:
            stopper.stop("test")
        finally:
            stopper.close()
        before = driver.status()["ee_pos"]
        for _ in range(3):
            step = driver.act(np.ones(8, np.float32) * 0.5, time.monotonic())
            assert step["hold"] and step["interventions"] == ["rejected_stopped"]
        with pytest.raises(RobotLinkError, match="stopped"):
            driver.reset(seed=0)
        np.testing.assert_array_equal(before, driver.status()["ee_pos"])
        driver.rearm()
        obs = driver.observe()
        step = driver.act(np.array([0, 0, 1, 0, 0, 0, 0, 0], np.float32), obs["frame_time"])
        assert not step["hold"]
        assert step["state"][2] > obs["state"][2]


def test_stale_frame_is_rejected():
    with spawn_server(*FAST[:-2], "--max-frame-age", "0.1") as srv, RobotClient(
        srv.endpoint, timeout_s=2.0
    ) as client:
        obs = client.reset(seed=0)
        time.sleep(0.25)
        step = client.act(np.array([1, 0, 0, 0, 0, 0, 0, 0], np.float32), obs["frame_time"])
        assert step["hold"] and step["interventions"] == ["rejected_stale_frame"]
        np.testing.assert_array_equal(step["state"], obs["state"])


def test_refuses_non_loopback_bind_without_curve(tmp_path):
    from cog.cli import main

    assert main(["robot", "serve", "--backend", "fake", "--bind", "tcp://0.0.0.0:0"]) == 2


def test_curve_unknown_key_gets_nothing_authorized_key_works(tmp_path):
    from robot_interface.keys import keygen

    keys, other = tmp_path / "keys", tmp_path / "other"
    keygen(keys)
    keygen(other)  # a client key pair the server never authorised...
    shutil.copy(keys / "server.key", other / "server.key")  # ...that knows the server's key
    with spawn_server(*FAST, "--curve-keys", str(keys)) as srv:
        with RobotClient(srv.endpoint, timeout_s=2.0, curve_keys=str(keys)) as good:
            assert good.reset(seed=0)["image"].shape == (48, 48, 3)
        intruder = RobotClient(srv.endpoint, timeout_s=0.7, curve_keys=str(other))
        try:
            with pytest.raises(RobotLinkError, match="no reply"):
                intruder.connect()
            with pytest.raises(RobotLinkError, match="no reply|could not send"):
                intruder.stop("intruder")  # cannot even stop it
        finally:
            intruder.close()
        plain = RobotClient(srv.endpoint, timeout_s=0.7)
        try:
            with pytest.raises(RobotLinkError, match="no reply"):
                plain.connect()
        finally:
            plain.close()
        with RobotClient(srv.endpoint, timeout_s=2.0, curve_keys=str(keys)) as good:
            assert good.status()["stopped"] is False


def test_idle_pauses_without_tripping_the_watchdog():
    with spawn_server(*FAST) as srv, RobotClient(srv.endpoint, timeout_s=2.0) as client:
        obs = client.reset(seed=0)
        client.act(np.array([0.5, 0, 0, 0, 0, 0, 0, 0], np.float32), obs["frame_time"])
        client.idle()
        time.sleep(0.6)  # twice the watchdog time
        assert client.status()["counters"]["watchdog_trips"] == 0
        obs = client.observe()
        client.act(np.zeros(8, np.float32), obs["frame_time"])
        time.sleep(0.6)  # silent after acting: this one is a lost client
        assert client.status()["counters"]["watchdog_trips"] == 1


def test_cli_errors_are_one_line_not_tracebacks(tmp_path, capsys):
    from cog.cli import main

    assert main(["robot", "stop", "--robot", "tcp://127.0.0.1:9", "--timeout", "0.3"]) == 2
    assert "no reply" in capsys.readouterr().err
    missing = str(tmp_path / "ttyUSB-missing")
    assert main(["robot", "serve", "--backend", "widowx", "--port", missing,
                 "--camera", "none"]) == 2
    assert "cannot open servo port" in capsys.readouterr().err
    assert main(["robot", "keygen", "--out", str(tmp_path / "k")]) == 0
    assert main(["robot", "keygen", "--out", str(tmp_path / "k")]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    with spawn_server(*FAST) as srv:
        assert main(["robot", "stop", "--robot", srv.endpoint]) == 0
        assert main(["robot", "status", "--robot", srv.endpoint]) == 0
        assert '"stopped": true' in capsys.readouterr().out
        assert main(["robot", "rearm", "--robot", srv.endpoint]) == 0
        with RobotClient(srv.endpoint, timeout_s=2.0) as client:
            assert client.status()["stopped"] is False
