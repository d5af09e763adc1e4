"""The robot server: owns the hardware, answers clients, and filters every command.

One thread, one ZeroMQ ROUTER socket. Each request is handled to completion before the next,
so there is no race between a stop and a move. Every motion command goes through
``SafetyFilter.filter`` in ``_handle_act``; nothing else moves the arm except ``home``/``reset``
(server-defined poses) which are refused while stopped.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import zmq

from robot_interface import messages as M
from robot_interface.robot import Observation, Robot, RobotError
from robot_interface.safety import WATCHDOG_HOLD, SafetyConfig, SafetyFilter, Watchdog

log = logging.getLogger("robot_interface.server")
MAX_SESSIONS = 64
# A session silent for this long may be forgotten to make room for a new client (clients
# killed without `bye` leave sessions behind). An active session is never evicted: when all
# MAX_SESSIONS are active, a newcomer's hello is refused instead.
SESSION_IDLE_S = 30.0


@dataclass(frozen=True)
class ServerConfig:
    bind: str = "tcp://127.0.0.1:5555"
    control_hz: float = 5.0
    # Hold the arm when no valid command arrives for this long; default 3 control periods.
    watchdog_s: float | None = None
    curve_keys: str | None = None  # key directory from `cog robot keygen`; None = no CURVE
    max_request_bytes: int = M.MAX_REQUEST_BYTES
    # Send the sim env's info dict in observation replies (scripted experts need it).
    send_privileged: bool = True
    allow_insecure_remote: bool = False  # only for isolated lab networks; never the default

    def __post_init__(self) -> None:
        if not (self.control_hz > 0):
            raise ValueError(f"control rate must be positive, got {self.control_hz!r}")
        if self.watchdog_s is not None and not (self.watchdog_s > 0):
            raise ValueError(f"watchdog time must be positive, got {self.watchdog_s!r}")

    @property
    def watchdog_timeout(self) -> float:
        return self.watchdog_s if self.watchdog_s is not None else 3.0 / self.control_hz


def is_loopback_endpoint(endpoint: str) -> bool:
    parsed = urlparse(endpoint)
    if parsed.scheme == "ipc" or parsed.scheme == "inproc":
        return True
    if parsed.scheme != "tcp" or not parsed.hostname:
        raise ValueError(f"endpoint {endpoint!r} must look like tcp://HOST:PORT")
    host = parsed.hostname
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an interface name or hostname: treat as exposed


class RobotServer:
    def __init__(
        self,
        robot: Robot,
        config: ServerConfig | None = None,
        safety: SafetyConfig | None = None,
    ) -> None:
        self.robot = robot
        self.config = config or ServerConfig()
        self.safety = SafetyFilter(safety)
        self.watchdog = Watchdog(self.config.watchdog_timeout)
        # ident -> {"name", "since", "seen" (monotonic time of its last message), "notes"
        # (interventions not yet reported to it, e.g. a watchdog trip it caused)}
        self.sessions: dict[bytes, dict[str, Any]] = {}
        self.driver: bytes | None = None  # the session whose last act armed the watchdog
        self.counters = {"requests": 0, "errors": 0, "steps": 0, "holds": 0, "watchdog_trips": 0}
        self.last_trip: dict[str, float] | None = None
        self._last_ee = np.full(3, np.nan)
        self._last_obs: Observation | None = None
        self.shutdown_requested = False
        # Set from signal handlers; acted on by the loop, so a signal never interrupts a bus
        # transaction halfway to start another one.
        self.stop_requested: str | None = None
        self.endpoint: str | None = None
        self._ctx: zmq.Context | None = None
        self._sock: zmq.Socket | None = None
        self._auth = None
        self._expected = {
            "observation_spec": M.observation_spec(robot.image_size),
            "action_spec": M.action_spec(),
            "config_hash": M.config_hash(M.semantics_config(robot.image_size, robot.camera)),
        }

    # --- socket set-up -------------------------------------------------------------------------

    def bind(self) -> str:
        cfg = self.config
        loopback = is_loopback_endpoint(cfg.bind)
        if not loopback and cfg.curve_keys is None and not cfg.allow_insecure_remote:
            raise ValueError(
                f"refusing to expose the robot on {cfg.bind} without authentication: "
                "pass --curve-keys DIR (make keys with `cog robot keygen`)"
            )
        self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        # libzmq drops a peer that sends more than this: an oversized message never reaches us.
        sock.setsockopt(zmq.MAXMSGSIZE, cfg.max_request_bytes)
        sock.setsockopt(zmq.SNDTIMEO, 1000)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        if cfg.curve_keys is not None:
            from zmq.auth.thread import ThreadAuthenticator

            from robot_interface.keys import server_keys

            public, secret, authorized = server_keys(cfg.curve_keys)
            self._auth = ThreadAuthenticator(self._ctx)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(authorized))
            sock.curve_server = True
            sock.curve_publickey = public
            sock.curve_secretkey = secret
        self._sock = sock
        try:
            sock.bind(cfg.bind)
        except zmq.ZMQError as exc:
            self.close()
            raise ValueError(f"cannot listen on {cfg.bind!r}: {exc}") from None
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        log.info(
            "serving %s backend on %s (curve=%s, watchdog=%.3fs)",
            self.robot.name,
            self.endpoint,
            cfg.curve_keys is not None,
            self.watchdog.timeout_s,
        )
        return self.endpoint

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    # --- main loop -------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Latch a stop from outside the loop (SIGINT handler, `cog robot stop`)."""
        self.safety.latch.stop(reason)
        self.watchdog.disarm()
        try:
            self.robot.stop()
        except Exception as exc:  # the latch holds even if the hardware call fails
            log.error("robot.stop() failed: %s", exc)
        log.warning("STOP latched: %s", reason)

    def serve(self, duration_s: float | None = None) -> None:
        """Serve until ``shutdown_requested`` (or ``duration_s`` elapses)."""
        if self._sock is None:
            self.bind()
        assert self._sock is not None
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        period = 1.0 / self.config.control_hz
        poll_ms = max(1, int(min(period / 4.0, self.watchdog.timeout_s / 4.0, 0.05) * 1000))
        deadline = None if duration_s is None else time.monotonic() + duration_s
        next_health = time.monotonic()
        while not self.shutdown_requested:
            if deadline is not None and time.monotonic() > deadline:
                break
            self._take_stop_request()
            events = dict(poller.poll(poll_ms))
            self._take_stop_request()
            if self._sock in events:
                self._receive_one()
            if self.watchdog.poll():
                self._watchdog_trip()
            if time.monotonic() >= next_health:
                # at least every 0.1 s: this read also feeds the servos' Bus Watchdog
                next_health = time.monotonic() + min(period, 0.1)
                self._check_health()

    def _take_stop_request(self) -> None:
        if self.stop_requested is not None:
            reason, self.stop_requested = self.stop_requested, None
            self.request_stop(reason)

    def _watchdog_trip(self) -> None:
        self.counters["watchdog_trips"] += 1
        trip = float(self.watchdog.trip_time or time.monotonic())
        last = float(self.watchdog.last_command_time or trip)
        try:
            self.robot.hold()
        except Exception as exc:
            log.error("robot.hold() failed after watchdog: %s", exc)
            self.request_stop(f"hold failed after watchdog: {exc}")
        held = time.monotonic()
        self.last_trip = {"last_command": last, "trip": trip, "held": held}
        # Reported to the client whose silence caused it, not to whoever speaks next.
        if self.driver in self.sessions:
            self.sessions[self.driver]["notes"].append(WATCHDOG_HOLD)
        log.warning(
            "%s: no valid command for %.3fs; holding position", WATCHDOG_HOLD, held - last
        )

    def _check_health(self) -> None:
        try:
            problem = self.robot.health()
        except Exception as exc:
            problem = f"health check failed: {exc}"
        if problem and not self.safety.latch.stopped:
            self.request_stop(problem)

    def _receive_one(self) -> None:
        assert self._sock is not None
        frames = self._sock.recv_multipart(copy=True)
        reply = self.handle_frames(frames)
        if reply is None:
            return
        try:
            self._sock.send_multipart(reply)
        except zmq.ZMQError as exc:
            log.warning("could not reply to a client: %s", exc)

    def handle_frames(self, frames: list[bytes]) -> list[bytes] | None:
        """One request's frames (as the ROUTER socket gives them) -> the reply's frames, or
        None for garbage that gets no answer. Never raises: every failure is a reply."""
        self.counters["requests"] += 1
        # A DEALER sends [payload] and a REQ socket [b"", payload]; ROUTER prepends the
        # identity. Both are answered with the same envelope. Anything else is garbage.
        if len(frames) == 2:
            envelope, payload = frames[:1], frames[1]
        elif len(frames) == 3 and frames[1] == b"":
            envelope, payload = frames[:2], frames[2]
        else:
            log.warning("dropped a message with %d frames", len(frames))
            self.counters["errors"] += 1
            return None
        ident = envelope[0]
        req_id = None
        try:
            msg = M.unpack(
                payload, allowed_types=M.CLIENT_TYPES, max_bytes=self.config.max_request_bytes
            )
            req_id = msg.get("id")
            reply = self._dispatch(ident, msg)
        except M.ProtocolError as exc:
            self.counters["errors"] += 1
            log.warning("bad message: %s", exc)
            reply = {"type": "error", "reason": str(exc)}
        except RobotError as exc:
            self.request_stop(f"robot error: {exc}")
            reply = {"type": "error", "reason": f"robot error, stop latched: {exc}"}
        except Exception as exc:  # a bug or backend surprise: never die, never keep moving
            log.exception("internal error while handling a request")
            if ident in self.sessions:
                self.request_stop(f"internal error: {type(exc).__name__}: {exc}")
                reply = {"type": "error", "reason": f"internal error, stop latched: {exc}"}
            else:  # an unauthenticated message moves nothing, so it must not stop the arm
                self.counters["errors"] += 1
                reply = {"type": "error", "reason": f"internal error: {exc}"}
        if req_id is not None and isinstance(req_id, int):
            reply["id"] = req_id
        msg_type = reply.pop("type")
        return [*envelope, M.pack(msg_type, **reply)]

    # --- handlers ---------------------------------------------------------------------------------

    def _obs_fields(self, obs: Observation) -> dict[str, Any]:
        out: dict[str, Any] = {
            "image": obs.image,
            "state": obs.state.astype(np.float32),
            "frame_time": float(obs.frame_time),
        }
        if obs.reward is not None:
            out["reward"] = float(obs.reward)
        if obs.privileged is not None and self.config.send_privileged:
            out["privileged"] = obs.privileged  # sim-only ground truth for scripted experts
        return out

    def _ee(self) -> np.ndarray:
        """The end-effector position; if the robot cannot be read, latch a stop and return
        the last known one (a stopped server must still answer status and step requests)."""
        try:
            self._last_ee = np.asarray(self.robot.ee_pos(), dtype=np.float64)
        except RobotError as exc:
            if not self.safety.latch.stopped:
                self.request_stop(f"robot error: {exc}")
        return self._last_ee.copy()

    def _observe(self) -> tuple[Observation, bool]:
        """(observation, fresh). A failed read latches a stop and reuses the last one."""
        try:
            self._last_obs = self.robot.observe()
            return self._last_obs, True
        except RobotError as exc:
            if not self.safety.latch.stopped:
                self.request_stop(f"robot error: {exc}")
            if self._last_obs is None:
                raise
            return self._last_obs, False

    def _status(self) -> dict[str, Any]:
        return {
            "type": "status",
            "stopped": self.safety.latch.stopped,
            "stop_reason": self.safety.latch.reason,
            "counters": dict(self.counters),
            "last_trip": self.last_trip,
            "ee_pos": self._ee(),
            "clients": len(self.sessions),
            "now": time.monotonic(),
        }

    def _dispatch(self, ident: bytes, msg: dict[str, Any]) -> dict[str, Any]:
        kind = msg["type"]
        session = self.sessions.get(ident)
        if kind == "hello":
            return self._handle_hello(ident, msg)
        if kind == "stop":
            # Any authorised peer may stop the arm, handshake or not: stopping is always safe.
            who = session["name"] if session else "unnamed client"
            self.request_stop(f"stop from {who}: {msg.get('reason', '')}".strip())
            return {"type": "ok", "stopped": True}
        if kind == "status":
            return self._status()
        if session is None:
            raise M.ProtocolError(f"{kind!r} before a successful hello handshake")
        session["seen"] = time.monotonic()
        if kind == "bye":
            self.sessions.pop(ident, None)
            self.watchdog.disarm()
            return {"type": "ok"}
        if kind == "idle":
            # The client pauses on purpose (between episodes): hold, and do not count the
            # silence as a lost client.
            self.watchdog.disarm()
            self.robot.hold()
            return {"type": "ok"}
        if kind == "rearm":
            self.robot.rearm()  # may raise RobotError: then the stop stays latched
            self.safety.latch.rearm()
            log.warning("re-armed by %s", session["name"])
            return {"type": "ok", "stopped": False}
        if kind == "observe":
            obs, fresh = self._observe()
            return {"type": "obs", "obs_fresh": fresh, **self._obs_fields(obs)}
        if kind in ("reset", "home"):
            if self.safety.latch.stopped:
                return {"type": "error", "reason": f"stopped ({self.safety.latch.reason}); re-arm"}
            self.watchdog.disarm()  # a new episode starts; the first act arms the watchdog
            if kind == "home":
                self.robot.home()
                obs, _ = self._observe()
            else:
                seed = msg.get("seed")
                if seed is not None and (
                    not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32
                ):
                    raise M.ProtocolError(
                        f"reset seed must be an integer in [0, 2**32), got {seed!r}"
                    )
                obs = self.robot.reset(seed)
            return {"type": "obs", **self._obs_fields(obs)}
        if kind == "act":
            return self._handle_act(ident, msg)
        raise M.ProtocolError(f"unhandled message type {kind!r}")

    def _handle_hello(self, ident: bytes, msg: dict[str, Any]) -> dict[str, Any]:
        reason = M.check_handshake(msg, self._expected)
        if reason is not None:
            log.warning("handshake refused: %s", reason)
            return {"type": "error", "reason": f"handshake refused: {reason}"}
        name = str(msg.get("name", "client"))[:64]
        now = time.monotonic()
        if len(self.sessions) >= MAX_SESSIONS and ident not in self.sessions:
            # Forget the longest-silent session, if it has been silent long enough.
            quiet = min(self.sessions, key=lambda k: self.sessions[k]["seen"])
            if now - self.sessions[quiet]["seen"] < SESSION_IDLE_S or quiet == self.driver:
                log.warning("hello from %r refused: %d active sessions", name, MAX_SESSIONS)
                return {"type": "error", "reason": f"too many active clients ({MAX_SESSIONS}); "
                        "try again later"}
            self.sessions.pop(quiet)
        self.sessions[ident] = {"name": name, "since": now, "seen": now, "notes": []}
        log.info("client %r connected", name)
        return {
            "type": "welcome",
            "backend": self.robot.name,
            "env_id": self.robot.env_id,
            "image_size": self.robot.image_size,
            "horizon": self.robot.horizon,
            "control_hz": self.config.control_hz,
            "watchdog_s": self.watchdog.timeout_s,
            "max_frame_age_s": self.safety.config.max_frame_age_s,
            "stopped": self.safety.latch.stopped,
            "privileged": self.config.send_privileged,
        }

    def _handle_act(self, ident: bytes, msg: dict[str, Any]) -> dict[str, Any]:
        frame_time = msg.get("frame_time")
        if frame_time is not None and (
            isinstance(frame_time, bool) or not isinstance(frame_time, (int, float))
        ):
            raise M.ProtocolError(f"frame_time must be a number, got {frame_time!r}")
        action = M.float_array(msg.get("action"), "action")
        ee = self._ee()
        # THE choke point: nothing below moves the arm except the filter's output.
        result = self.safety.filter(action, ee, frame_time=frame_time)
        session = self.sessions[ident]
        notes = session["notes"] + list(result.interventions)
        session["notes"] = []
        if result.hold:
            try:
                self.robot.hold()
            except RobotError as exc:
                self.request_stop(f"hold failed: {exc}")
            self.counters["holds"] += 1
            applied = np.zeros(8, dtype=np.float32)
            # a rejected command is not a valid command: it does not feed the watchdog
        else:
            self.robot.last_interventions = []
            applied = np.asarray(self.robot.act(result.action), dtype=np.float32)
            notes += self.robot.last_interventions
            self.counters["steps"] += 1
            self.watchdog.kick()
            self.driver = ident
        if notes:
            log.warning("interventions: %s %s", ",".join(notes), result.reason)
        obs, fresh = self._observe()
        return {
            "type": "step",
            "obs_fresh": fresh,
            "applied_action": applied,
            "hold": bool(result.hold),
            "interventions": notes,
            "reason": result.reason,
            "stopped": self.safety.latch.stopped,
            **self._obs_fields(obs),
        }


def serve_cli(
    robot: Robot, config: ServerConfig, safety: SafetyConfig, log_file: Path | None = None
) -> int:
    """Run a server in the foreground with the documented signal behaviour.

    First SIGINT (Ctrl-C) latches a stop and holds the arm; the server keeps running so the
    stop stays visible to clients until a re-arm. A second SIGINT, or SIGTERM, shuts down
    (torque off on real hardware via ``disconnect``).
    """
    import signal

    if log_file is not None:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("robot_interface").addHandler(handler)
    server = RobotServer(robot, config, safety)
    interrupts = {"n": 0}

    def on_sigint(signum, frame):  # noqa: ARG001
        interrupts["n"] += 1
        if interrupts["n"] == 1:
            server.stop_requested = "SIGINT on the server (Ctrl-C); press again to shut down"
        else:
            server.shutdown_requested = True

    def on_sigterm(signum, frame):  # noqa: ARG001
        server.stop_requested = "SIGTERM"
        server.shutdown_requested = True

    with robot:
        server.bind()
        print(f"robot server ready on {server.endpoint}", flush=True)
        old_int = signal.signal(signal.SIGINT, on_sigint)
        old_term = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            server.serve()
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
            server._take_stop_request()
            try:
                robot.stop()
            finally:
                server.close()
                log.info("server shut down")
    return 0
