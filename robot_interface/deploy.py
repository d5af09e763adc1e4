"""The deployment loop: a policy drives a robot server at a fixed rate, and every rollout is
recorded in the project's HDF5 dataset format so real data can later join a prior dataset."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.atomic import write_text_atomic
from policies import load_policy
from robot_interface.client import RobotClient


@dataclass(frozen=True)
class DeployConfig:
    policy: str  # an expert name (sim only) or a path to an exported policy file (.pt)
    robot: str = "tcp://127.0.0.1:5555"
    episodes: int = 1
    rate_hz: float = 5.0
    out: str = "runs/real"
    dry_run: bool = False
    horizon: int | None = None  # default: the server's (the sim task's horizon)
    seed: int = 0
    noise: float = 0.1  # scripted experts only
    curve_keys: str | None = None
    timeout_s: float = 5.0
    image_size: int = 48
    resume: bool = False  # continue an interrupted run: keep OUT/rollouts.h5, run the rest
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"--episodes must be at least 1, got {self.episodes}")
        if not (self.rate_hz > 0):
            raise ValueError(f"--rate must be positive, got {self.rate_hz}")
        if self.horizon is not None and self.horizon < 1:
            raise ValueError(f"--horizon must be at least 1, got {self.horizon}")


def latency_summary(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1000.0
    return {
        "n": int(ms.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
    }


def _build_dataset(episodes: list[dict[str, Any]], attrs: dict[str, Any]):
    from data_collection.dataset import Dataset

    lengths = np.array([len(ep["actions"]) for ep in episodes], dtype=np.int64)
    starts = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths):
        starts[1:] = np.cumsum(lengths)[:-1]
    # transition i of episode e uses observation row start + e + i (T+1 rows per episode)
    obs_index = np.concatenate(
        [
            np.arange(n, dtype=np.int64) + s + e
            for e, (s, n) in enumerate(zip(starts, lengths, strict=True))
        ]
    )
    timeouts = np.concatenate([np.arange(n) == n - 1 for n in lengths])
    return Dataset(
        images=np.concatenate([np.stack(ep["images"]) for ep in episodes]).astype(np.uint8),
        states=np.concatenate([np.stack(ep["states"]) for ep in episodes]).astype(np.float32),
        actions=np.concatenate([np.stack(ep["actions"]) for ep in episodes]).astype(np.float32),
        rewards=np.concatenate([np.asarray(ep["rewards"]) for ep in episodes]).astype(np.float32),
        terminals=np.zeros(int(lengths.sum()), dtype=bool),
        timeouts=timeouts.astype(bool),
        obs_index=obs_index,
        episode_starts=starts,
        lengths=lengths,
        success=np.array([ep["success"] for ep in episodes], dtype=bool),
        attrs=attrs,
    )


def _save(path: Path, episodes: list[dict[str, Any]], attrs: dict[str, Any]) -> None:
    try:
        from data_collection import save_dataset
    except ImportError:  # the package root may not re-export it yet
        from data_collection.hdf5_format import save_dataset
    save_dataset(path, _build_dataset(episodes, attrs))


def _load_previous(path: Path, policy: str) -> list[dict[str, Any]]:
    """Episodes already recorded in ``path`` (for --resume), as per-episode records."""
    try:
        from data_collection import load_dataset
    except ImportError:
        from data_collection.hdf5_format import load_dataset
    ds = load_dataset(path)
    if ds.attrs.get("policy_name") != policy:
        raise ValueError(
            f"{path} was recorded with policy {ds.attrs.get('policy_name')!r}, not {policy!r}"
        )
    records = []
    for e in range(ds.num_episodes):
        start, n = int(ds.episode_starts[e]), int(ds.lengths[e])
        rows = slice(start + e, start + e + n + 1)  # T+1 observations per episode
        records.append({
            "images": list(ds.images[rows]),
            "states": list(ds.states[rows]),
            "actions": list(ds.actions[start : start + n]),
            "rewards": [float(r) for r in ds.rewards[start : start + n]],
            "success": bool(ds.success[e]),
        })
    return records


def run_deploy(cfg: DeployConfig, log=print) -> dict[str, Any]:
    """Run ``cfg.episodes`` rollouts; returns the summary that is also written to summary.json."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    policy, scripted = load_policy(cfg.policy, noise=cfg.noise, seed=cfg.seed)
    client = RobotClient(
        cfg.robot,
        timeout_s=cfg.timeout_s,
        curve_keys=cfg.curve_keys,
        image_size=cfg.image_size,
        name=f"cog deploy {cfg.policy}",
    )
    rollouts = out / "rollouts.h5"
    episodes: list[dict[str, Any]] = []
    if rollouts.exists() and not cfg.dry_run:
        if cfg.resume:
            episodes = _load_previous(rollouts, cfg.policy)
        elif not cfg.overwrite:
            raise ValueError(
                f"{rollouts} exists: pass --resume to continue that run or --overwrite"
            )
    first_episode = len(episodes)
    act_latency: list[float] = []
    overruns = 0
    interventions: dict[str, int] = {}
    dry_log = out / "dry_run_actions.jsonl"
    try:
        welcome = client.connect()
        horizon = cfg.horizon or welcome.get("horizon")
        if not horizon:
            raise ValueError("the server reports no horizon: pass --horizon")
        if welcome.get("stopped"):
            raise ValueError("the robot is stopped (latched); run `cog robot rearm` first")
        backend = welcome.get("backend", "?")
        period = 1.0 / cfg.rate_hz
        log(
            f"deploy: {cfg.policy} on {backend} at {cfg.rate_hz} Hz, {cfg.episodes} episodes "
            f"x {horizon} steps{' (dry run)' if cfg.dry_run else ''}"
        )
        dry_lines: list[str] = []
        if first_episode:
            log(f"resuming: {first_episode} episodes already in {rollouts}")
        for ep in range(first_episode, cfg.episodes):
            seed = cfg.seed + ep
            obs = client.reset(seed=seed)
            if scripted and "privileged" not in obs:
                raise ValueError(
                    "scripted experts need the sim's privileged info, which this server does "
                    "not send (a real robot has none): deploy an exported policy instead"
                )
            policy.reset(seed=seed)
            record = {"images": [obs["image"]], "states": [obs["state"]], "actions": [],
                      "rewards": [], "success": False}
            next_tick = time.monotonic()
            for t in range(int(horizon)):
                action = np.asarray(
                    policy.act({"image": obs["image"], "state": obs["state"]},
                               obs.get("privileged") or {}),
                    dtype=np.float32,
                )
                if cfg.dry_run:
                    dry_lines.append(json.dumps({"episode": ep, "t": t,
                                                 "action": [round(float(a), 5) for a in action]}))
                    obs = client.observe()
                else:
                    t0 = time.perf_counter()
                    step = client.act(action, frame_time=obs["frame_time"])
                    act_latency.append(time.perf_counter() - t0)
                    for note in step["interventions"]:
                        interventions[note] = interventions.get(note, 0) + 1
                    if step.get("stopped"):
                        raise ValueError(f"robot stopped mid-episode: {step.get('reason')}")
                    obs = step
                    record["actions"].append(step["applied_action"])
                    record["rewards"].append(float(step.get("reward", 0.0)))
                    record["images"].append(step["image"])
                    record["states"].append(step["state"])
                next_tick += period
                delay = next_tick - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    overruns += 1
                    next_tick = time.monotonic()  # do not try to catch up with a burst
            client.idle()  # saving and resetting take a while: not a lost client
            if cfg.dry_run:
                log(f"episode {ep}: dry run, {horizon} actions computed")
                continue
            # COG counts an episode as solved when the task holds at its last step.
            record["success"] = bool(record["rewards"] and record["rewards"][-1] > 0)
            episodes.append(record)
            log(f"episode {ep}: {'success' if record['success'] else 'failure'}")
            attrs = {
                "env_id": welcome.get("env_id") or f"robot:{backend}",
                "policy_name": cfg.policy,
                "seed": cfg.seed,
                "noise": cfg.noise if scripted else 0.0,
                "source": "cog deploy",
                "rate_hz": cfg.rate_hz,
            }
            _save(rollouts, episodes, attrs)  # after every episode: a crash keeps the rest
        if cfg.dry_run:
            write_text_atomic(dry_log, "\n".join(dry_lines) + "\n")
    finally:
        client.close()
    n = len(episodes)
    summary = {
        "policy": cfg.policy,
        "robot": cfg.robot,
        "episodes": n,
        "successes": int(sum(ep["success"] for ep in episodes)),
        "success_rate": float(np.mean([ep["success"] for ep in episodes])) if n else None,
        "act_latency": latency_summary(act_latency),
        "loop_overruns": overruns,
        "interventions": interventions,
        "dry_run": cfg.dry_run,
        "dataset": str(rollouts) if n else None,
    }
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2))
    return summary
