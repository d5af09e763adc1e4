"""A real WidowX 250s over ``dynamixel-sdk`` (Protocol 2.0, U2D2 adapter).

- Joint state comes from ONE sync read of present current/velocity/position for all nine
  servos; the error byte of every status packet is checked for the hardware-error alert.
- An action becomes an end-effector target (same rule as the env), IK runs on the SAME arm
  model as the simulator (``envs.arm.ArmKinematics``), the solution is checked against the
  joint limits, and goals go out in ONE bulk write (arm goal positions + gripper goal PWM).
- Shadow servos (3 on 2, 4 on 5) are never commanded directly: they follow their master via
  Secondary ID. We verify that wiring at connect and that they agree with their master.
- Profile velocity/acceleration bound joint motion; the gripper runs in PWM mode with a PWM
  limit so it cannot crush; the servo Bus Watchdog is the hardware backstop if this process
  dies; torque goes off on disconnect; any hardware error stops the arm.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from envs import constants as C
from robot_interface import dxl_table as X
from robot_interface.cameras import Camera, make_camera
from robot_interface.robot import Observation, Robot, RobotError
from robot_interface.safety import IK_FAILED_HOLD, JOINT_LIMIT_HOLD, check_joint_limits

ARM_IDS = (1, 2, 4, 6, 7, 8)  # waist, shoulder, elbow, forearm_roll, wrist_angle, wrist_rotate
GRIPPER_ID = 9
SHADOWS = {3: 2, 5: 4}  # shadow id -> master id
ALL_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
READ_START = X.ADDR_PRESENT_CURRENT  # 126: current(2) velocity(4) position(4) in one read
READ_LEN = X.ADDR_PRESENT_POSITION + 4 - READ_START
TICKS_PER_RAD = X.TICKS_PER_REV / (2.0 * math.pi)
HW_ERROR_BITS = {
    0x01: "input voltage",
    0x04: "overheating",
    0x08: "motor encoder",
    0x10: "electrical shock",
    0x20: "overload",
}


def rad_to_ticks(q: np.ndarray) -> np.ndarray:
    return np.round(2048.0 + np.asarray(q) * TICKS_PER_RAD).astype(np.int64)


def ticks_to_rad(t: np.ndarray) -> np.ndarray:
    return (np.asarray(t, dtype=np.float64) - 2048.0) / TICKS_PER_RAD


def _default_lower() -> tuple[float, ...]:
    from envs.arm import JOINT_LOWER

    return tuple(float(v) for v in JOINT_LOWER)


def _default_upper() -> tuple[float, ...]:
    from envs.arm import JOINT_UPPER

    return tuple(float(v) for v in JOINT_UPPER)


@dataclass(frozen=True)
class WidowXConfig:
    port: str = "/dev/ttyUSB0"
    baudrate: int = 1_000_000
    control_hz: float = 5.0
    # Profile velocity in 0.229 rpm units (131 ~ 30 rpm ~ 3.1 rad/s) and acceleration in
    # 214.6 rev/min^2 units: gentle enough for first runs, fast enough for 4 cm per 0.2 s.
    profile_velocity: int = 131
    profile_acceleration: int = 15
    gripper_pwm: int = 350  # of 885: caps the squeeze force; also written as the PWM Limit
    gripper_open_ticks: int = 2900  # gripper servo position with fingers fully open (calibrate)
    gripper_closed_ticks: int = 2048
    bus_watchdog_20ms: int = 25  # 0.5 s: servos stop by themselves if this process goes quiet
    joint_lower: tuple[float, ...] = field(default_factory=_default_lower)
    joint_upper: tuple[float, ...] = field(default_factory=_default_upper)
    joint_margin_rad: float = 0.05
    ik_tolerance_m: float = 0.01
    shadow_tolerance_ticks: int = 60
    settle_s: float | None = None  # wait after a move; default half a control period
    comm_retries: int = 2

    def __post_init__(self) -> None:
        if len(self.joint_lower) != 6 or len(self.joint_upper) != 6:
            raise ValueError("joint_lower/joint_upper need 6 values (arm joints)")
        if not 1 <= self.bus_watchdog_20ms <= 127:
            raise ValueError(f"bus_watchdog_20ms must be 1..127, got {self.bus_watchdog_20ms}")
        if not 0 < self.gripper_pwm <= X.PWM_MAX:
            raise ValueError(f"gripper_pwm must be 1..{X.PWM_MAX}, got {self.gripper_pwm}")


class WidowXRobot(Robot):
    name = "widowx"
    env_id = "real/widowx250s"

    def __init__(
        self,
        config: WidowXConfig | None = None,
        camera: str | Camera | None = "opencv:0",
        image_size: int = C.DEFAULT_IMAGE_SIZE,
        horizon: int = 50,
    ) -> None:
        super().__init__()
        self.config = config or WidowXConfig()
        self.image_size = int(image_size)
        self.horizon = int(horizon)
        self._camera_spec = camera
        self.camera_device: Camera | None = None
        self.port = None
        self.ph = None
        self.kin = None
        self.q = np.zeros(6)
        self.gripper_ticks = self.config.gripper_open_ticks
        self.gripper_open = True
        self._target_quat: np.ndarray | None = None
        self._lower = np.asarray(self.config.joint_lower)
        self._upper = np.asarray(self.config.joint_upper)
        self.connected = False
        self._last_bus = time.monotonic()

    # --- low-level bus ----------------------------------------------------------------------------
    def _check(self, result: int, error: int, what: str) -> None:
        from dynamixel_sdk import COMM_SUCCESS

        if result != COMM_SUCCESS:
            raise RobotError(f"{what}: {self.ph.getTxRxResult(result)}")
        if error & X.ALERT:
            raise RobotError(f"{what}: hardware error alert; {self._describe_hw_errors()}")
        if error:
            raise RobotError(f"{what}: {self.ph.getRxPacketError(error)}")

    def _retried(self, call: Callable[[], tuple]) -> tuple:
        """``call()`` (an SDK transaction, its communication result second to last) again
        while it fails, at most ``comm_retries`` more times; the last answer."""
        for _attempt in range(self.config.comm_retries):
            out = call()
            if out[-2] == 0:
                return out
        return call()

    def _write(self, dxl_id: int, addr: int, size: int, value: int) -> None:
        fn = {1: self.ph.write1ByteTxRx, 2: self.ph.write2ByteTxRx, 4: self.ph.write4ByteTxRx}
        raw = int(value) & ((1 << (8 * size)) - 1)  # two's complement for negative PWM
        result, error = self._retried(lambda: fn[size](self.port, dxl_id, addr, raw))
        self._check(result, error, f"write {addr} on servo {dxl_id}")

    def _read(self, dxl_id: int, addr: int, size: int) -> int:
        fn = {1: self.ph.read1ByteTxRx, 2: self.ph.read2ByteTxRx, 4: self.ph.read4ByteTxRx}
        value, result, error = self._retried(lambda: fn[size](self.port, dxl_id, addr))
        self._check(result, error & ~X.ALERT, f"read {addr} on servo {dxl_id}")
        return int(value)

    def _describe_hw_errors(self) -> str:
        parts = []
        for i in ALL_IDS:
            try:
                value, result, _ = self.ph.read1ByteTxRx(self.port, i, X.ADDR_HARDWARE_ERROR)
            except Exception:  # describing must never raise over the original error
                continue
            if result == 0 and value:
                names = [n for bit, n in HW_ERROR_BITS.items() if value & bit] or [hex(value)]
                parts.append(f"servo {i}: {', '.join(names)}")
        return "; ".join(parts) or "hardware error status unreadable"

    def read_state(self) -> dict[int, tuple[int, int, int]]:
        """One sync read of (current, velocity, position) for all nine servos."""
        from dynamixel_sdk import COMM_SUCCESS

        for _attempt in range(self.config.comm_retries + 1):
            result = self.ph.syncReadTx(
                self.port, READ_START, READ_LEN, list(ALL_IDS), len(ALL_IDS), False
            )
            out, alerts, failed = {}, [], None
            if result == COMM_SUCCESS:
                for i in ALL_IDS:
                    data, result, error = self.ph.readRx(self.port, i, READ_LEN)
                    if result != COMM_SUCCESS:
                        failed = f"servo {i}: {self.ph.getTxRxResult(result)}"
                        break
                    if error & X.ALERT:
                        alerts.append(i)
                    raw = bytes(data)
                    out[i] = (
                        int.from_bytes(raw[0:2], "little", signed=True),
                        int.from_bytes(raw[2:6], "little", signed=True),
                        int.from_bytes(raw[6:10], "little", signed=True),
                    )
            else:
                failed = self.ph.getTxRxResult(result)
            if failed is None:
                break
        if failed is not None:
            raise RobotError(f"sync read failed: {failed}")
        if alerts:
            raise RobotError(f"hardware error: {self._describe_hw_errors()}")
        return out

    def _check_bus_watchdog(self) -> None:
        """If we were silent longer than the servos' Bus Watchdog, they have stopped and now
        refuse goals (silently: goal writes are broadcast). Find out and say so."""
        window = self.config.bus_watchdog_20ms * 0.020
        if time.monotonic() - self._last_bus <= window:
            return
        tripped = [i for i in ALL_IDS if self._read(i, X.ADDR_BUS_WATCHDOG, 1) == 0xFF]
        if tripped:
            raise RobotError(
                f"bus watchdog tripped on servos {tripped}: the host was silent for "
                f"{time.monotonic() - self._last_bus:.2f}s; re-arm to clear"
            )

    def clear_bus_watchdog(self) -> None:
        for i in ALL_IDS:
            self._write(i, X.ADDR_BUS_WATCHDOG, 1, 0)
        state = self.read_state()
        for i in ARM_IDS:  # hold where they stopped
            self._write(i, X.ADDR_GOAL_POSITION, 4, state[i][2])
        for i in ALL_IDS:
            self._write(i, X.ADDR_BUS_WATCHDOG, 1, self.config.bus_watchdog_20ms)

    def rearm(self) -> None:
        self.clear_bus_watchdog()
        self._last_bus = time.monotonic()

    def _refresh(self) -> dict[int, tuple[int, int, int]]:
        self._check_bus_watchdog()
        state = self.read_state()
        self._last_bus = time.monotonic()
        self.q = ticks_to_rad([state[i][2] for i in ARM_IDS])
        self.gripper_ticks = state[GRIPPER_ID][2]
        for shadow, master in SHADOWS.items():
            gap = abs(state[shadow][2] - state[master][2])
            if gap > self.config.shadow_tolerance_ticks:
                raise RobotError(
                    f"shadow servo {shadow} is {gap} ticks away from master {master}: "
                    "check its Secondary ID / horn"
                )
        return state

    def bulk_write_goals(self, q: np.ndarray | None, gripper_pwm: int | None) -> None:
        """ONE bulk write: arm goal positions (masters only) and the gripper's goal PWM."""
        from dynamixel_sdk import COMM_SUCCESS, GroupBulkWrite

        group = GroupBulkWrite(self.port, self.ph)
        if q is not None:
            for dxl_id, tick in zip(ARM_IDS, rad_to_ticks(q), strict=True):
                raw = list(int(tick).to_bytes(4, "little"))
                group.addParam(dxl_id, X.ADDR_GOAL_POSITION, 4, raw)
        if gripper_pwm is not None:
            raw = int(gripper_pwm).to_bytes(2, "little", signed=True)
            group.addParam(GRIPPER_ID, X.ADDR_GOAL_PWM, 2, list(raw))
        result = group.txPacket()
        self._last_bus = time.monotonic()
        if result != COMM_SUCCESS:
            raise RobotError(f"bulk write failed: {self.ph.getTxRxResult(result)}")

    # --- Robot interface ---------------------------------------------------------------------
    def connect(self) -> None:
        from dynamixel_sdk import PacketHandler, PortHandler

        from envs.arm import ArmKinematics

        cfg = self.config
        self.port = PortHandler(cfg.port)
        try:
            opened = self.port.openPort()
        except Exception as exc:  # pyserial raises SerialException for a missing device
            raise FileNotFoundError(f"cannot open servo port {cfg.port}: {exc}") from None
        if not opened or not self.port.setBaudRate(cfg.baudrate):
            raise ValueError(f"cannot open {cfg.port} at {cfg.baudrate} baud")
        self.ph = PacketHandler(2.0)
        try:
            self._configure()
        except Exception:
            self.port.closePort()
            raise
        self.kin = ArmKinematics()
        self.camera_device = make_camera(self._camera_spec)
        self._last_bus = time.monotonic()
        self._refresh()
        _, quat = self.kin.fk(self.q)
        self._target_quat = np.asarray(quat)
        self.connected = True

    def _configure(self) -> None:
        cfg = self.config
        for i in ALL_IDS:
            # Retried like every read and write: one lost status packet (a busy host, USB
            # latency) is not a missing servo.
            _, result, error = self._retried(lambda i=i: self.ph.ping(self.port, i))
            if result != 0:
                raise RobotError(f"servo {i} does not answer ping: {self.ph.getTxRxResult(result)}")
            if error & X.ALERT:
                raise RobotError(
                    f"servo {i} reports a hardware error: {self._describe_hw_errors()}"
                )
        for shadow, master in SHADOWS.items():
            secondary = self._read(shadow, X.ADDR_SECONDARY_ID, 1)
            if secondary != master:
                raise RobotError(
                    f"shadow servo {shadow} has Secondary ID {secondary}, expected {master}"
                )
        for i in ALL_IDS:
            self._write(i, X.ADDR_TORQUE_ENABLE, 1, 0)  # EEPROM writes need torque off
        for k, i in enumerate(ARM_IDS):
            self._write(i, X.ADDR_OPERATING_MODE, 1, X.MODE_POSITION)
            lo, hi = rad_to_ticks([cfg.joint_lower[k], cfg.joint_upper[k]])
            self._write(i, X.ADDR_MIN_POSITION, 4, max(0, int(lo)))
            self._write(i, X.ADDR_MAX_POSITION, 4, min(X.TICKS_PER_REV - 1, int(hi)))
            self._write(i, X.ADDR_PROFILE_ACCELERATION, 4, cfg.profile_acceleration)
            self._write(i, X.ADDR_PROFILE_VELOCITY, 4, cfg.profile_velocity)
        self._write(GRIPPER_ID, X.ADDR_OPERATING_MODE, 1, X.MODE_PWM)
        self._write(GRIPPER_ID, X.ADDR_PWM_LIMIT, 2, cfg.gripper_pwm)
        self._write(GRIPPER_ID, X.ADDR_GOAL_PWM, 2, 0)
        # Hold the current pose when torque comes on, rather than a stale goal.
        state = self.read_state()
        for i in ARM_IDS:
            self._write(i, X.ADDR_GOAL_POSITION, 4, state[i][2])
        for i in ALL_IDS:
            self._write(i, X.ADDR_BUS_WATCHDOG, 1, 0)  # clear a previous trip
            self._write(i, X.ADDR_BUS_WATCHDOG, 1, cfg.bus_watchdog_20ms)
        for i in ALL_IDS:
            self._write(i, X.ADDR_TORQUE_ENABLE, 1, 1)

    def disconnect(self) -> None:
        if self.port is None:
            return
        try:
            for i in ALL_IDS:
                try:
                    self._write(i, X.ADDR_TORQUE_ENABLE, 1, 0)
                except RobotError:
                    # keep going: every other servo must still lose torque
                    self.ph.write1ByteTxRx(self.port, i, X.ADDR_TORQUE_ENABLE, 0)
        finally:
            self.port.closePort()
            self.port = None
            if self.kin is not None:
                self.kin.close()
                self.kin = None
            if self.camera_device is not None:
                self.camera_device.close()
            self.connected = False

    def _gripper_fraction(self) -> float:
        cfg = self.config
        span = cfg.gripper_open_ticks - cfg.gripper_closed_ticks
        return float(np.clip((self.gripper_ticks - cfg.gripper_closed_ticks) / span, 0.0, 1.0))

    def observe(self) -> Observation:
        from envs.arm import FINGER_CLOSED, FINGER_OPEN

        self._refresh()
        pos, quat = self.kin.fk(self.q)
        image, stamp = self.camera_device.policy_image(self.image_size)
        finger = FINGER_CLOSED + self._gripper_fraction() * (FINGER_OPEN - FINGER_CLOSED)
        state = np.concatenate([pos, quat, [finger, finger], [float(self.gripper_open)]])
        return Observation(image=image, state=state.astype(np.float32), frame_time=stamp)

    def ee_pos(self) -> np.ndarray:
        self._refresh()
        pos, _ = self.kin.fk(self.q)
        return np.asarray(pos, dtype=np.float64)

    def _settle(self) -> None:
        wait = self.config.settle_s
        if wait is None:
            wait = 0.5 / self.config.control_hz
        if wait > 0:
            time.sleep(wait)

    def solve(
        self, target_pos: np.ndarray, target_quat: np.ndarray
    ) -> tuple[np.ndarray, str | None]:
        """IK on the sim's arm model, then the joint-limit check. Returns (q, hold reason)."""
        q, err = self.kin.ik(target_pos, target_quat, seed_joints=self.q)
        if not np.isfinite(err) or err > self.config.ik_tolerance_m:
            return q, f"{IK_FAILED_HOLD}: IK error {err:.4f} m"
        reason = check_joint_limits(q, self._lower, self._upper, self.config.joint_margin_rad)
        if reason:
            return q, f"{JOINT_LIMIT_HOLD}: {reason}"
        return q, None

    def act(self, action: np.ndarray) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        self.last_interventions = []
        if a[7] > C.NEUTRAL_THRESHOLD:
            self.home()
            return np.asarray(action, dtype=np.float32)
        self._refresh()
        pos, _ = self.kin.fk(self.q)
        target = np.clip(pos + a[:3] * C.POS_STEP_M, C.WORKSPACE_LOW, C.WORKSPACE_HIGH)
        quat = self._target_quat
        if np.any(a[3:6] != 0.0):
            import pybullet

            euler = (a[3:6] * math.radians(C.ROT_STEP_DEG)).tolist()
            delta = pybullet.getQuaternionFromEuler(euler)
            _, quat = pybullet.multiplyTransforms((0, 0, 0), delta, (0, 0, 0), list(quat))
            quat = np.asarray(quat)
        pwm = None
        if a[6] > C.GRIPPER_OPEN_THRESHOLD:
            self.gripper_open, pwm = True, self.config.gripper_pwm
        elif a[6] < C.GRIPPER_CLOSE_THRESHOLD:
            self.gripper_open, pwm = False, -self.config.gripper_pwm
        q, reason = self.solve(target, quat)
        if reason is not None:
            # Hold position: keep the arm where it is; the gripper command is still honoured
            # (opening or closing cannot drive the arm into anything).
            self.last_interventions = [reason.split(":", 1)[0]]
            self.bulk_write_goals(self.q, pwm)
            applied = np.zeros(C.ACTION_DIM, dtype=np.float32)
            applied[6] = a[6] if pwm is not None else 0.0
            return applied
        self._target_quat = quat
        self.bulk_write_goals(q, pwm)
        self._settle()
        return np.asarray(action, dtype=np.float32)

    def home(self) -> None:
        q = np.asarray(self.kin.neutral_joints)
        self.bulk_write_goals(q, self.config.gripper_pwm)
        self.gripper_open = True
        from envs.arm import DOWN_QUAT

        self._target_quat = np.asarray(DOWN_QUAT)
        self._settle()

    def stop(self) -> None:
        """Hold: goal := present position for every arm joint, one bulk write."""
        if self.port is None:
            return
        with contextlib.suppress(RobotError):  # still hold, with the last known joints
            self._refresh()
        self.bulk_write_goals(self.q, None)

    def health(self) -> str | None:
        # Also the heartbeat that keeps the servos' Bus Watchdog fed while idle.
        try:
            self._refresh()
        except RobotError as exc:
            return str(exc)
        return None
