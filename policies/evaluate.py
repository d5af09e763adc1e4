"""Rolls a policy out in an env for N seeded episodes: the success rate, and frames if asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import envs
from policies.base import Policy

# Safety net for an env that never truncates; COG horizons are 30-80 steps.
MAX_EPISODE_STEPS = 10_000

# on_step(obs, action, reward, terminated, truncated): called with the first observation
# (action None) and after every env step; data collection records transitions with it.
StepHook = Callable[[Any, "np.ndarray | None", float, bool, bool], None]


@dataclass
class EpisodeOutcome:
    success: bool  # successful at the final step
    any_success: bool  # successful at some step
    total_reward: float
    frames: list[np.ndarray] = field(default_factory=list)  # policy images, if recorded
    big_frames: list[np.ndarray] = field(default_factory=list)  # env.render(), if it renders
    steps: int = 0
    ended_by_policy: bool = False  # end_on_done: the expert finished before the horizon
    info: dict[str, Any] = field(default_factory=dict)  # the env's info after the last step


def play_episode(env, policy: Policy, seed: int, *, policy_seed: int | None = None,
                 success_key: str = "is_success", record: bool = False,
                 end_on_done: bool = False, on_step: StepHook | None = None) -> EpisodeOutcome:
    """The project's one episode loop (rollout, evaluation, data collection).

    The env is reset with ``seed`` and the policy with ``policy_seed`` (default: the same), so
    an episode is reproducible. Actions are clipped to [-1, 1], as the env would, so that what
    ``on_step`` sees is what the env executed. ``end_on_done`` ends the episode as soon as the
    policy reports ``done`` (a scripted expert that has finished its sub-task) after at least
    one step, instead of letting it idle to the horizon.

    Success is ``info[success_key]``; an env that does not report ``is_success`` (a non-cog
    gymnasium env) counts a positive reward as success.  With ``record``, the observation
    images are kept and, when the env was made with ``render_mode="rgb_array"``, its renders
    as well.
    """
    obs, info = env.reset(seed=seed)
    policy.reset(seed=seed if policy_seed is None else policy_seed)
    out = EpisodeOutcome(False, False, 0.0)
    renders = record and getattr(env, "render_mode", None) == "rgb_array"

    def keep(obs: dict[str, Any]) -> None:
        if "image" in obs:
            out.frames.append(np.asarray(obs["image"], dtype=np.uint8))
        if renders:
            out.big_frames.append(np.asarray(env.render(), dtype=np.uint8))

    if on_step is not None:
        on_step(obs, None, 0.0, False, False)
    for _ in range(MAX_EPISODE_STEPS):
        if record:
            keep(obs)
        action = np.asarray(policy.act(obs, info), dtype=np.float32)
        if end_on_done and out.steps and getattr(policy, "done", False):
            out.ended_by_policy = True
            break
        if action.ndim != 1:
            raise ValueError(f"policy returned an action of shape {action.shape}")
        action = np.clip(action, -1.0, 1.0)
        obs, reward, terminated, truncated, info = env.step(action)
        out.steps += 1
        out.total_reward += float(reward)
        if on_step is not None:
            on_step(obs, action, float(reward), bool(terminated), bool(truncated))
        out.success = _success(info, reward, success_key)
        out.any_success = out.any_success or out.success
        if terminated or truncated:
            break
    else:
        raise ValueError(f"the env did not end an episode within {MAX_EPISODE_STEPS} steps")
    out.info = info
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
