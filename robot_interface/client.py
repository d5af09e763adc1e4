"""The policy client: talks to a robot server over ZeroMQ with timeouts on every call.

A DEALER socket with a request id per call: a reply that arrives after its timeout is
recognised by its id and dropped, so one slow reply never desynchronises the link.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import Any

import numpy as np
import zmq

from envs import constants as C
from robot_interface import messages as M


class RobotLinkError(ConnectionError):
    """No (valid) reply from the server in time, or the server refused the request."""


class RobotClient:
    def __init__(
        self,
        address: str,
        *,
        timeout_s: float = 2.0,
        curve_keys: str | None = None,
        curve_client_name: str = "client",
        image_size: int = C.DEFAULT_IMAGE_SIZE,
        camera: str = "sim-default",
        name: str = "policy-client",
    ) -> None:
        if not (timeout_s > 0):
            raise ValueError(f"timeout must be positive, got {timeout_s!r}")
        self.address = address
        self.timeout_s = float(timeout_s)
        self.name = name
        self.image_size = int(image_size)
        self.camera = camera
        self.welcome: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SNDTIMEO, int(self.timeout_s * 1000))
        self._sock.setsockopt(zmq.MAXMSGSIZE, M.MAX_REPLY_BYTES)
        if curve_keys is not None:
            from robot_interface.keys import client_keys

            public, secret, server_public = client_keys(curve_keys, curve_client_name)
            self._sock.curve_publickey = public
            self._sock.curve_secretkey = secret
            self._sock.curve_serverkey = server_public
        self._sock.connect(address)

    # --- plumbing ---------------------------------------------------------------------------------

    def request(self, msg_type: str, **fields: Any) -> dict[str, Any]:
        req_id = next(self._ids)
        try:
            self._sock.send(M.pack(msg_type, id=req_id, **fields))
        except zmq.Again:
            raise RobotLinkError(f"could not send {msg_type!r} to {self.address}") from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sock.poll(int(left * 1000) + 1, zmq.POLLIN):
                raise RobotLinkError(
                    f"no reply to {msg_type!r} from {self.address} within {self.timeout_s}s"
                )
            reply = M.unpack(
                self._sock.recv(), allowed_types=M.SERVER_TYPES, max_bytes=M.MAX_REPLY_BYTES
            )
            if reply.get("id") == req_id:
                return reply
            # a late reply to an earlier, timed-out request: drop it

    def _expect(self, reply: dict[str, Any], *types: str) -> dict[str, Any]:
        if reply["type"] == "error":
            raise RobotLinkError(f"server refused: {reply.get('reason')}")
        if reply["type"] not in types:
            raise RobotLinkError(f"unexpected reply {reply['type']!r}, wanted {types}")
        return reply

    # --- API --------------------------------------------------------------------------------------

    def connect(self) -> dict[str, Any]:
        """Handshake: schema version, observation/action specs and the camera/config hash."""
        reply = self.request(
            "hello",
            name=self.name,
            observation_spec=M.observation_spec(self.image_size),
            action_spec=M.action_spec(),
            config_hash=M.config_hash(M.semantics_config(self.image_size, self.camera)),
        )
        self.welcome = self._expect(reply, "welcome")
        return self.welcome

    def observe(self) -> dict[str, Any]:
        return self._expect(self.request("observe"), "obs")

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        return self._expect(self.request("reset", seed=seed), "obs")

    def home(self) -> dict[str, Any]:
        return self._expect(self.request("home"), "obs")

    def act(self, action: np.ndarray, frame_time: float | None = None) -> dict[str, Any]:
        action = np.asarray(action, dtype=np.float32)
        return self._expect(self.request("act", action=action, frame_time=frame_time), "step")

    def idle(self) -> dict[str, Any]:
        """Pause on purpose (e.g. between episodes): the arm holds, the watchdog disarms."""
        return self._expect(self.request("idle"), "ok")

    def stop(self, reason: str = "") -> dict[str, Any]:
        return self._expect(self.request("stop", reason=reason), "ok")

    def rearm(self) -> dict[str, Any]:
        return self._expect(self.request("rearm"), "ok")

    def status(self) -> dict[str, Any]:
        return self._expect(self.request("status"), "status")

    def close(self) -> None:
        if self._sock is not None:
            if self.welcome is not None:
                with contextlib.suppress(RobotLinkError, M.ProtocolError):
                    self.request("bye")
            self._sock.close(0)
            self._ctx.term()
            self._sock = None

    def __enter__(self) -> RobotClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
