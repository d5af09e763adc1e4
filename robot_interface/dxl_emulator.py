"""A Dynamixel Protocol 2.0 servo chain emulator on a pseudo-terminal, for tests.

It answers byte for byte as X-series servos do: packets with the FF FF FD 00 header, byte
stuffing, CRC-16 (polynomial 0x8005), status packets (instruction 0x55) with an error byte
whose bit 7 is the hardware-error alert. Instructions: ping, read, write, reboot, sync
read/write, bulk read/write. The control table follows the X-series layout (addresses from
the facts file, plus the position/PWM limits 36/48/52), EEPROM below address 64 is writable
only with torque off, and the motion model moves the present position toward the goal at the
profile velocity. Shadow servos (Secondary ID) obey writes addressed to their master.

The real ``dynamixel_sdk.PortHandler`` opens ``emulator.port_name`` like any serial port.
"""

from __future__ import annotations

import os
import pty
import select
import struct
import threading
import time
import tty

from robot_interface.dxl_table import (  # noqa: F401  (re-exported for the tests)
    ADDR_BUS_WATCHDOG,
    ADDR_DRIVE_MODE,
    ADDR_FIRMWARE,
    ADDR_GOAL_CURRENT,
    ADDR_GOAL_POSITION,
    ADDR_GOAL_PWM,
    ADDR_HARDWARE_ERROR,
    ADDR_ID,
    ADDR_MAX_POSITION,
    ADDR_MIN_POSITION,
    ADDR_MODEL,
    ADDR_MOVING,
    ADDR_OPERATING_MODE,
    ADDR_PRESENT_CURRENT,
    ADDR_PRESENT_POSITION,
    ADDR_PRESENT_VELOCITY,
    ADDR_PROFILE_ACCELERATION,
    ADDR_PROFILE_VELOCITY,
    ADDR_PWM_LIMIT,
    ADDR_SECONDARY_ID,
    ADDR_TORQUE_ENABLE,
    ALERT,
    EEPROM_END,
    HW_ELECTRICAL_SHOCK,
    HW_OVERHEATING,
    HW_OVERLOAD,
    MODE_POSITION,
    MODE_PWM,
    PWM_MAX,
    READ_ONLY,
    TABLE_SIZE,
    TICKS_PER_REV,
    VELOCITY_UNIT_RPM,
    XM430_MODEL,
)

# --- Protocol constants ---------------------------------------------------------------------------
HEADER = b"\xff\xff\xfd\x00"
BROADCAST = 0xFE
INST_PING, INST_READ, INST_WRITE, INST_REBOOT = 0x01, 0x02, 0x03, 0x08
INST_STATUS, INST_SYNC_READ, INST_SYNC_WRITE = 0x55, 0x82, 0x83
INST_BULK_READ, INST_BULK_WRITE = 0x92, 0x93
ERR_INSTRUCTION, ERR_CRC, ERR_DATA_RANGE, ERR_DATA_LIMIT, ERR_ACCESS = 2, 3, 4, 5, 7
DEFAULT_SPEED_TICKS_S = 4096.0  # with profile velocity 0 ("unlimited"): one turn per second


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC = _crc_table()


def crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) ^ _CRC[((crc >> 8) ^ b) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """Byte stuffing: FF FF FD inside a packet body gets an extra FD."""
    out = bytearray()
    for b in body:
        out.append(b)
        if len(out) >= 3 and out[-3:] == b"\xff\xff\xfd":
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        stuffed = i + 1 < len(body) and body[i + 1] == 0xFD
        if stuffed and len(out) >= 3 and out[-3:] == b"\xff\xff\xfd":
            i += 1  # drop the stuffing byte
        i += 1
    return bytes(out)


def make_packet(dxl_id: int, instruction: int, params: bytes) -> bytes:
    body = stuff(bytes([instruction]) + params)
    length = len(body) + 2
    packet = HEADER + bytes([dxl_id]) + struct.pack("<H", length) + body
    return packet + struct.pack("<H", crc16(packet))


class Servo:
    """One X-series servo: a control table plus a simple motion model."""

    def __init__(self, dxl_id: int, position: int = 2048, secondary_id: int = 255) -> None:
        self.table = bytearray(TABLE_SIZE)
        self._set(ADDR_MODEL, 2, XM430_MODEL)
        self.table[ADDR_FIRMWARE] = 48
        self.table[ADDR_ID] = dxl_id
        self.table[ADDR_OPERATING_MODE] = MODE_POSITION
        self.table[ADDR_SECONDARY_ID] = secondary_id
        self._set(ADDR_PWM_LIMIT, 2, PWM_MAX)
        self._set(ADDR_MAX_POSITION, 4, TICKS_PER_REV - 1)
        self._set(ADDR_MIN_POSITION, 4, 0)
        self._set(ADDR_GOAL_POSITION, 4, position)
        self._set(ADDR_PRESENT_POSITION, 4, position)
        self.position = float(position)
        self.watchdog_tripped = False
        self.last_contact = time.monotonic()
        self.write_log: list[tuple[int, bytes]] = []  # (address, data) of every accepted write

    @property
    def id(self) -> int:
        return self.table[ADDR_ID]

    def get(self, addr: int, size: int, signed: bool = False) -> int:
        return int.from_bytes(self.table[addr : addr + size], "little", signed=signed)

    def _set(self, addr: int, size: int, value: int) -> None:
        self.table[addr : addr + size] = int(value).to_bytes(size, "little", signed=value < 0)

    @property
    def hardware_error(self) -> int:
        return self.table[ADDR_HARDWARE_ERROR]

    def inject_hardware_error(self, bits: int) -> None:
        # A real servo latches the error, sets the alert bit, and drops torque.
        self.table[ADDR_HARDWARE_ERROR] |= bits
        self.table[ADDR_TORQUE_ENABLE] = 0

    def status_error(self, code: int = 0) -> int:
        return code | (ALERT if self.hardware_error else 0)

    def read(self, addr: int, length: int) -> tuple[int, bytes]:
        if addr < 0 or length < 0 or addr + length > TABLE_SIZE:
            return ERR_ACCESS, b""
        return 0, bytes(self.table[addr : addr + length])

    def write(self, addr: int, data: bytes) -> int:
        """Apply a write like the firmware does; returns the status error code."""
        end = addr + len(data)
        if addr < 0 or end > TABLE_SIZE or any(a in READ_ONLY for a in range(addr, end)):
            return ERR_ACCESS
        torque = self.table[ADDR_TORQUE_ENABLE]
        if addr < EEPROM_END and torque:
            return ERR_ACCESS  # EEPROM is locked while torque is on
        if addr <= ADDR_GOAL_POSITION < end:
            if self.watchdog_tripped:
                return ERR_DATA_RANGE  # a tripped bus watchdog refuses goals until cleared
            goal = int.from_bytes(data[ADDR_GOAL_POSITION - addr :][:4], "little", signed=True)
            lo, hi = self.get(ADDR_MIN_POSITION, 4), self.get(ADDR_MAX_POSITION, 4)
            if not lo <= goal <= hi:
                return ERR_DATA_LIMIT
        if addr <= ADDR_GOAL_PWM < end:
            pwm = int.from_bytes(data[ADDR_GOAL_PWM - addr :][:2], "little", signed=True)
            if abs(pwm) > self.get(ADDR_PWM_LIMIT, 2):
                return ERR_DATA_LIMIT
        if addr <= ADDR_BUS_WATCHDOG < end:
            value = data[ADDR_BUS_WATCHDOG - addr]
            if value == 0:
                self.watchdog_tripped = False
            elif value > 127:
                return ERR_DATA_RANGE
        self.table[addr:end] = data
        if self.watchdog_tripped:
            self.table[ADDR_BUS_WATCHDOG] = 0xFF  # reads back as -1 while tripped
        self.write_log.append((addr, bytes(data)))
        return 0

    def step(self, now: float, dt: float) -> None:
        watchdog = self.table[ADDR_BUS_WATCHDOG]
        if 0 < watchdog <= 127 and now - self.last_contact > watchdog * 0.020:
            # Bus watchdog: no packet within the window -> stop where it is.
            self.watchdog_tripped = True
            self.table[ADDR_BUS_WATCHDOG] = 0xFF
            self._set(ADDR_GOAL_POSITION, 4, int(round(self.position)))
            self._set(ADDR_GOAL_PWM, 2, 0)
        moving = False
        if self.table[ADDR_TORQUE_ENABLE] and not self.watchdog_tripped:
            lo, hi = self.get(ADDR_MIN_POSITION, 4), self.get(ADDR_MAX_POSITION, 4)
            mode = self.table[ADDR_OPERATING_MODE]
            if mode == MODE_PWM:
                pwm = self.get(ADDR_GOAL_PWM, 2, signed=True)
                target = hi if pwm > 0 else lo
                speed = DEFAULT_SPEED_TICKS_S * abs(pwm) / PWM_MAX
            else:
                target = self.get(ADDR_GOAL_POSITION, 4, signed=True)
                pv = self.get(ADDR_PROFILE_VELOCITY, 4)
                speed = (
                    pv * VELOCITY_UNIT_RPM / 60.0 * TICKS_PER_REV if pv else DEFAULT_SPEED_TICKS_S
                )
            delta = target - self.position
            move = max(-speed * dt, min(speed * dt, delta))
            self.position += move
            moving = abs(target - self.position) > 0.5
        self.table[ADDR_MOVING] = int(moving)
        self._set(ADDR_PRESENT_POSITION, 4, int(round(self.position)))

    def reboot(self) -> None:
        self.table[ADDR_HARDWARE_ERROR] = 0
        self.table[ADDR_TORQUE_ENABLE] = 0
        self.watchdog_tripped = False
        self.table[ADDR_BUS_WATCHDOG] = 0


class DynamixelEmulator:
    """A chain of servos behind a pty. Use as a context manager; ``port_name`` is the device."""

    def __init__(self, servos: list[Servo]) -> None:
        self.servos = {s.id: s for s in servos}
        self.lock = threading.RLock()
        self.packets_seen = 0
        self.crc_errors = 0
        self.instructions: list[int] = []
        # (instruction, id, address) of every write explicitly addressed to an ID: lets tests
        # check that shadow servos are never commanded directly.
        self.addressed_writes: list[tuple[int, int, int]] = []
        # servo ID -> how many more instructions addressed to it are lost (neither carried
        # out nor answered), as on a noisy bus or behind a busy host (tests of the retries).
        self.unanswered: dict[int, int] = {}
        self._buf = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = self._slave = -1
        self.port_name = ""
        self._last_step = time.monotonic()

    def __enter__(self) -> DynamixelEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> str:
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # no echo, no newline translation: a byte pipe like a U2D2
        self.port_name = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="dxl-emulator", daemon=True)
        self._thread.start()
        return self.port_name

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def servo(self, dxl_id: int) -> Servo:
        return self.servos[dxl_id]

    # --- the serial loop -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.005)
            with self.lock:
                self._advance()
                if ready:
                    try:
                        chunk = os.read(self._master, 4096)
                    except OSError:
                        continue
                    self._buf.extend(chunk)
                    self._parse()

    def _advance(self) -> None:
        now = time.monotonic()
        dt, self._last_step = now - self._last_step, now
        for servo in self.servos.values():
            servo.step(now, dt)

    def _parse(self) -> None:
        buf = self._buf
        while True:
            start = buf.find(HEADER)
            if start < 0:
                del buf[: max(0, len(buf) - 3)]
                return
            del buf[:start]
            if len(buf) < 7:
                return
            length = struct.unpack_from("<H", buf, 5)[0]
            total = 7 + length
            if length < 3 or length > 1024:
                del buf[:1]
                continue
            if len(buf) < total:
                return
            packet = bytes(buf[:total])
            del buf[:total]
            self.packets_seen += 1
            dxl_id = packet[4]
            if crc16(packet[:-2]) != struct.unpack_from("<H", packet, total - 2)[0]:
                self.crc_errors += 1
                if dxl_id in self.servos:
                    self._reply(self.servos[dxl_id], ERR_CRC)
                continue
            body = unstuff(packet[7:-2])
            self._handle(dxl_id, body[0], body[1:])

    def _send(self, data: bytes) -> None:
        os.write(self._master, data)

    def _reply(self, servo: Servo, code: int = 0, params: bytes = b"") -> None:
        self._send(make_packet(servo.id, INST_STATUS, bytes([servo.status_error(code)]) + params))

    def _targets(self, dxl_id: int) -> list[Servo]:
        """The servo with this ID plus shadows listening on it as their Secondary ID."""
        return [
            s for s in self.servos.values()
            if s.id == dxl_id or (s.table[ADDR_SECONDARY_ID] == dxl_id and dxl_id != BROADCAST)
        ]

    def _touch(self, ids) -> None:
        now = time.monotonic()
        for i in ids:
            for s in self._targets(i) if i != BROADCAST else self.servos.values():
                s.last_contact = now

    def _handle(self, dxl_id: int, inst: int, p: bytes) -> None:
        self.instructions.append(inst)
        if self.unanswered.get(dxl_id, 0) > 0:
            self.unanswered[dxl_id] -= 1
            return
        s = self.servos.get(dxl_id)
        if inst == INST_PING:
            self._touch([dxl_id])
            for servo in sorted(self.servos.values(), key=lambda x: x.id):
                if dxl_id in (servo.id, BROADCAST):
                    info = struct.pack("<HB", XM430_MODEL, servo.table[ADDR_FIRMWARE])
                    self._reply(servo, 0, info)
        elif inst == INST_READ and s is not None:
            self._touch([dxl_id])
            addr, length = struct.unpack_from("<HH", p)
            code, data = s.read(addr, length)
            self._reply(s, code, data)
        elif inst == INST_WRITE:
            self._touch([dxl_id])
            addr, data = struct.unpack_from("<H", p)[0], p[2:]
            self.addressed_writes.append((inst, dxl_id, addr))
            codes = [t.write(addr, data) for t in self._targets(dxl_id)]
            if s is not None:
                self._reply(s, codes[[t.id for t in self._targets(dxl_id)].index(dxl_id)])
        elif inst == INST_REBOOT and s is not None:
            s.reboot()
            self._reply(s)
        elif inst == INST_SYNC_READ:
            addr, length = struct.unpack_from("<HH", p)
            ids = list(p[4:])
            self._touch(ids)
            for i in ids:
                if i in self.servos:
                    code, data = self.servos[i].read(addr, length)
                    self._reply(self.servos[i], code, data)
        elif inst == INST_SYNC_WRITE:
            addr, length = struct.unpack_from("<HH", p)
            rows = p[4:]
            ids = []
            for k in range(0, len(rows) - length, length + 1):
                i, data = rows[k], rows[k + 1 : k + 1 + length]
                ids.append(i)
                self.addressed_writes.append((inst, i, addr))
                for t in self._targets(i):
                    t.write(addr, data)
            self._touch(ids)
        elif inst == INST_BULK_READ:
            ids = []
            for k in range(0, len(p), 5):
                i, addr, length = p[k], *struct.unpack_from("<HH", p, k + 1)
                ids.append(i)
                if i in self.servos:
                    code, data = self.servos[i].read(addr, length)
                    self._reply(self.servos[i], code, data)
            self._touch(ids)
        elif inst == INST_BULK_WRITE:
            ids, k = [], 0
            while k + 5 <= len(p):
                i, addr, length = p[k], *struct.unpack_from("<HH", p, k + 1)
                data = p[k + 5 : k + 5 + length]
                ids.append(i)
                self.addressed_writes.append((inst, i, addr))
                for t in self._targets(i):
                    t.write(addr, data)
                k += 5 + length
            self._touch(ids)
        elif s is not None:
            self._reply(s, ERR_INSTRUCTION)


def widowx_chain(positions: dict[int, int] | None = None) -> list[Servo]:
    """Nine servos wired like a WidowX 250s: IDs 1-9, shadows 3 and 5 on masters 2 and 4."""
    positions = positions or {}
    servos = []
    for i in range(1, 10):
        secondary = {3: 2, 5: 4}.get(i, 255)
        servos.append(Servo(i, position=positions.get(i, 2048), secondary_id=secondary))
    return servos
