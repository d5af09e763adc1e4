"""Rolls a policy out in an env for N seeded episodes: the success rate, and frames if asked."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import envs
from policies.base import Policy


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
            obs, info = env.reset(seed=seed + k)
            policy.reset(seed=seed + k)
            keep = record and k == 0
            total, done = 0.0, False
            while not done:
                if keep:
                    result.frames.append(obs["image"])
                    if render_size:
                        result.big_frames.append(env.render())
                obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
                total += float(reward)
                done = terminated or truncated
            if keep:
                result.frames.append(obs["image"])
                if render_size:
                    result.big_frames.append(env.render())
            result.successes.append(bool(info[key]))
            result.returns.append(total)
            if progress:
                iterator.set_postfix(success=f"{np.mean(result.successes):.2f}")
    finally:
        env.close()
    return result
