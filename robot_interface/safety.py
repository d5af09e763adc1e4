"""The safety filter: the one function every motion command passes through on the server.

Pure numpy and deterministic, so property tests can throw any action sequence at it. It
never trusts the policy: shape, finiteness, the workspace box, the per-step displacement and
rotation caps, stale frames and the latched stop are all checked here. The watchdog and the
post-IK joint-limit check live here too so every intervention has one vocabulary.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from envs import constants as C

# Intervention codes, reported to the client in every step reply and written to the server log.
REJECT_SHAPE = "rejected_bad_shape"
REJECT_NONFINITE = "rejected_nonfinite"
REJECT_STOPPED = "rejected_stopped"
REJECT_STALE_FRAME = "rejected_stale_frame"
CLIPPED_RANGE = "clipped_action_range"
CLIPPED_BOX = "clipped_workspace_box"
CAPPED_STEP = "capped_step"
CAPPED_ROTATION = "capped_rotation"
OUTSIDE_BOX_RECOVERY = "outside_box_recovery"
JOINT_LIMIT_HOLD = "joint_limit_hold"
IK_FAILED_HOLD = "ik_failed_hold"
WATCHDOG_HOLD = "watchdog_hold"


@dataclass(frozen=True)
class SafetyConfig:
    """Limits enforced on the server. Defaults match the simulator, so that a safe policy in
    sim is never altered; tighten them (e.g. max_step_m=0.02) for first runs on hardware."""

    workspace_low: tuple[float, float, float] = tuple(C.WORKSPACE_LOW)  # type: ignore[assignment]
    workspace_high: tuple[float, float, float] = tuple(C.WORKSPACE_HIGH)  # type: ignore[assignment]
    # Euclidean cap on the end-effector move per step. The env allows POS_STEP_M per axis,
    # so the default is the diagonal: a valid sim action is never capped.
    max_step_m: float = C.POS_STEP_M * math.sqrt(3.0)
    # Cap on the norm of the (roll, pitch, yaw) increment per step, degrees.
    max_rot_deg: float = C.ROT_STEP_DEG * math.sqrt(3.0)
    # A command computed from a camera frame older than this is refused.
    max_frame_age_s: float = 0.5
    # ... and so is one whose frame_time lies further than this in the future (frame times
    # are the server's own clock, echoed back, so only a bad or forged value can be ahead).
    max_clock_skew_s: float = 0.05
    pos_step_m: float = C.POS_STEP_M
    rot_step_deg: float = C.ROT_STEP_DEG

    def __post_init__(self) -> None:
        low, high = np.asarray(self.workspace_low), np.asarray(self.workspace_high)
        if low.shape != (3,) or high.shape != (3,) or not np.all(low < high):
            raise ValueError(
                f"workspace box must be 3 lows strictly below 3 highs, got "
                f"low={self.workspace_low} high={self.workspace_high}"
            )
        for name in ("max_step_m", "max_rot_deg", "max_frame_age_s", "pos_step_m", "rot_step_deg",
                     "max_clock_skew_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")


@dataclass
class FilterResult:
    """What the filter lets through. ``hold`` means: do not move, keep the current pose."""

    hold: bool
    action: np.ndarray  # the (possibly modified) 8-D action actually to apply; zeros on hold
    target_pos: np.ndarray  # end-effector target, metres (== current pose on hold)
    interventions: list[str] = field(default_factory=list)
    reason: str = ""


class LatchedStop:
    """Once stopped, stays stopped until an explicit re-arm. Nothing else clears it."""

    def __init__(self) -> None:
        self._stopped = False
        self.reason = ""

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self, reason: str) -> None:
        if not self._stopped:
            self.reason = reason
        self._stopped = True

    def rearm(self) -> None:
        self._stopped = False
        self.reason = ""


class Watchdog:
    """Trips when no valid command arrived for ``timeout_s``. Reports each trip once."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"watchdog timeout must be positive, got {timeout_s!r}")
        self.timeout_s = timeout_s
        self._clock = clock
        self._last = clock()
        self._active = False  # only a moving session can time out
        self.tripped = False
        self.trip_time: float | None = None
        self.last_command_time: float | None = None

    def kick(self) -> None:
        self._last = self._clock()
        self.last_command_time = self._last
        self._active = True
        self.tripped = False

    def disarm(self) -> None:
        self._active = False

    def poll(self) -> bool:
        """True exactly once per silence longer than the timeout."""
        if self._active and not self.tripped and self._clock() - self._last > self.timeout_s:
            self.tripped = True
            self.trip_time = self._clock()
            self._active = False
            return True
        return False


def _cap_norm(vec: np.ndarray, cap: float) -> tuple[np.ndarray, bool]:
    norm = float(np.linalg.norm(vec))
    if norm > cap:
        return vec * (cap / norm), True
    return vec, False


class SafetyFilter:
    """The single choke point. ``filter`` turns a policy action into a safe one or a hold."""

    def __init__(self, config: SafetyConfig | None = None) -> None:
        self.config = config or SafetyConfig()
        self.latch = LatchedStop()
        self._low = np.asarray(self.config.workspace_low, dtype=np.float64)
        self._high = np.asarray(self.config.workspace_high, dtype=np.float64)

    def in_box(self, pos: np.ndarray, tol: float = 1e-9) -> bool:
        return bool(np.all(pos >= self._low - tol) and np.all(pos <= self._high + tol))

    def _hold(self, ee_pos: np.ndarray, code: str, reason: str) -> FilterResult:
        return FilterResult(
            hold=True,
            action=np.zeros(C.ACTION_DIM, dtype=np.float32),
            target_pos=ee_pos.copy(),
            interventions=[code],
            reason=reason,
        )

    def filter(
        self,
        action: object,
        ee_pos: np.ndarray,
        *,
        frame_time: float | None = None,
        now: float | None = None,
    ) -> FilterResult:
        cfg = self.config
        ee_pos = np.asarray(ee_pos, dtype=np.float64).reshape(3)
        if self.latch.stopped:
            return self._hold(ee_pos, REJECT_STOPPED, f"latched stop: {self.latch.reason}")
        try:
            act = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            return self._hold(ee_pos, REJECT_SHAPE, f"action is not numeric: {action!r:.80}")
        if act.shape != (C.ACTION_DIM,):
            return self._hold(
                ee_pos, REJECT_SHAPE, f"action shape {act.shape} != ({C.ACTION_DIM},)"
            )
        if not np.all(np.isfinite(act)):
            return self._hold(ee_pos, REJECT_NONFINITE, f"action has NaN/inf: {act.tolist()}")
        if frame_time is not None:
            age = (time.monotonic() if now is None else now) - float(frame_time)
            if not math.isfinite(age):  # NaN or inf compare False with everything below
                return self._hold(ee_pos, REJECT_STALE_FRAME,
                                  f"frame_time {frame_time!r} is not a finite time")
            if age < -cfg.max_clock_skew_s:
                return self._hold(
                    ee_pos, REJECT_STALE_FRAME,
                    f"frame_time is {-age:.3f}s in the future (skew limit "
                    f"{cfg.max_clock_skew_s}s)",
                )
            if age > cfg.max_frame_age_s:
                return self._hold(
                    ee_pos,
                    REJECT_STALE_FRAME,
                    f"frame is {age:.3f}s old (limit {cfg.max_frame_age_s}s)",
                )

        notes: list[str] = []
        clipped = np.clip(act, -1.0, 1.0)
        if not np.array_equal(clipped, act):
            notes.append(CLIPPED_RANGE)

        step, capped = _cap_norm(clipped[:3] * cfg.pos_step_m, cfg.max_step_m)
        if capped:
            notes.append(CAPPED_STEP)
        target = np.clip(ee_pos + step, self._low, self._high)
        if not np.allclose(target, ee_pos + step, rtol=0.0, atol=1e-12):
            notes.append(CLIPPED_BOX)
        step = target - ee_pos
        # If the arm is already outside the box, the clip can ask for a big jump back in:
        # approach the box at the capped speed instead.
        step, recovering = _cap_norm(step, cfg.max_step_m)
        if recovering:
            notes.append(OUTSIDE_BOX_RECOVERY)
            target = ee_pos + step

        rot, rot_capped = _cap_norm(clipped[3:6] * cfg.rot_step_deg, cfg.max_rot_deg)
        if rot_capped:
            notes.append(CAPPED_ROTATION)

        if not notes:
            # Untouched: pass the action through bit for bit, so sim and server runs agree.
            return FilterResult(
                hold=False, action=act.astype(np.float32), target_pos=target, interventions=[]
            )
        out = np.empty(C.ACTION_DIM, dtype=np.float64)
        out[:3] = step / cfg.pos_step_m
        out[3:6] = rot / cfg.rot_step_deg
        out[6:] = clipped[6:]
        return FilterResult(
            hold=False,
            action=np.clip(out, -1.0, 1.0).astype(np.float32),
            target_pos=target,
            interventions=notes,
        )


def check_joint_limits(
    q: np.ndarray, lower: np.ndarray, upper: np.ndarray, margin: float = 0.0
) -> str | None:
    """Return a reason if any joint of an IK solution is outside its limits (minus a margin)."""
    q = np.asarray(q, dtype=np.float64)
    if not np.all(np.isfinite(q)):
        return f"IK solution has NaN: {q.tolist()}"
    bad = np.nonzero((q < lower + margin) | (q > upper - margin))[0]
    if bad.size:
        j = int(bad[0])
        return f"joint {j} at {q[j]:.4f} rad is outside [{lower[j]:.4f}, {upper[j]:.4f}]"
    return None
