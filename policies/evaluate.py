"""Rolls a policy out in an env for N seeded episodes: the success rate, and frames if asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import envs
from policies.base import Policy


@dataclass
class EpisodeOutcome:
    success: bool  # successful at the final step
    any_success: bool  # successful at some step
    total_reward: float
    frames: list[np.ndarray] = field(default_factory=list)  # policy images, if recorded
    big_frames: list[np.ndarray] = field(default_factory=list)  # env.render(), if it renders


def play_episode(env, policy: Policy, seed: int, *, success_key: str = "is_success",
                 record: bool = False) -> EpisodeOutcome:
    """One episode: env and policy are both reset with ``seed``, so it is reproducible.

    Success is ``info[success_key]``; an env that does not report ``is_success`` (a non-cog
    gymnasium env) counts a positive reward as success.  With ``record``, the observation images are
    kept and, when the env was made with ``render_mode="rgb_array"``, its renders as well.
    """
    obs, info = env.reset(seed=seed)
    policy.reset(seed=seed)
    out = EpisodeOutcome(False, False, 0.0)
    renders = record and getattr(env, "render_mode", None) == "rgb_array"

    def keep(obs: dict[str, Any]) -> None:
        if "image" in obs:
            out.frames.append(np.asarray(obs["image"], dtype=np.uint8))
        if renders:
            out.big_frames.append(np.asarray(env.render(), dtype=np.uint8))

    while True:
        if record:
            keep(obs)
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        out.total_reward += float(reward)
        out.success = _success(info, reward, success_key)
        out.any_success = out.any_success or out.success
        if terminated or truncated:
            break
    if record:
        keep(obs)
    return out


def _success(info: dict[str, Any], reward: float, key: str) -> bool:
    if key in info:
        return bool(info[key])
    if key == "is_success":  # a plain gymnasium env: its reward is the only signal
        return float(reward) > 0
    raise KeyError(f"the env's info has no success key {key!r} (it has {sorted(info)})")


@dataclass
class RolloutResult:
    successes: list[bool]
    returns: list[float]
    frames: list[np.ndarray] = field(default_factory=list)  # the first episode's policy images
    big_frames: list[np.ndarray] = field(default_factory=list)  # the same, at render size

    @property
    def success_rate(self) -> float:
        return float(np.mean(self.successes)) if self.successes else 0.0


def rollout(
    env_id: str,
    policy: Policy,
    episodes: int,
    seed: int = 0,
    success_key: str | None = None,
    record: bool = False,
    render_size: int = 0,
    env_kwargs: dict | None = None,
    progress: bool = False,
) -> RolloutResult:
    """Episode k is reset with seed ``seed + k`` and the policy with the same seed, so a run is
    reproducible and episodes are independent of how many there are."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    kwargs = dict(env_kwargs or {})
    if render_size:
        kwargs.update(render_mode="rgb_array", render_size=render_size)
    env = envs.make(env_id, **kwargs)
    key = success_key or getattr(policy, "success_key", "is_success")
    result = RolloutResult([], [])
    iterator = range(episodes)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=f"{env_id}", unit="ep")
    try:
        for k in iterator:
            episode = play_episode(env, policy, seed + k, success_key=key,
                                   record=record and k == 0)
            if record and k == 0:
                result.frames, result.big_frames = episode.frames, episode.big_frames
            result.successes.append(episode.success)
            result.returns.append(episode.total_reward)
            if progress:
                iterator.set_postfix(success=f"{np.mean(result.successes):.2f}")
    finally:
        env.close()
    return result
