"""Running one scripted episode: seeding, the step loop, and the policy's own success test."""

from __future__ import annotations

from typing import Any

import numpy as np

from data_collection.episodes import Episode

DEFAULT_SUCCESS_KEY = "is_success"
# Safety net for an env that never truncates; COG horizons are 30-80 steps.
MAX_EPISODE_STEPS = 10_000


def episode_seeds(seed: int, episode_index: int) -> tuple[int, int]:
    """(env seed, policy seed) for episode ``episode_index`` of a run seeded ``seed``.

    Derived from (seed, index) alone, never from worker or shard, so every episode is the
    same whichever worker runs it: the final file does not depend on --workers."""
    if seed < 0 or episode_index < 0:
        raise ValueError(f"seed and episode index must be >= 0, got {seed}, {episode_index}")
    state = np.random.SeedSequence(entropy=seed, spawn_key=(episode_index,)).generate_state(2)
    return int(state[0]), int(state[1])


def success_key_of(policy: Any) -> str:
    return str(getattr(policy, "success_key", DEFAULT_SUCCESS_KEY))


def _obs_parts(obs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, state, object) of one observation; ``object`` is empty when the env has none."""
    if not isinstance(obs, dict) or "image" not in obs or "state" not in obs:
        got = sorted(obs) if isinstance(obs, dict) else type(obs).__name__
        raise ValueError(f"observation must be a dict with 'image' and 'state', got {got}")
    objects = np.asarray(obs.get("object", np.zeros(0)), dtype=np.float32)
    return (np.asarray(obs["image"], dtype=np.uint8), np.asarray(obs["state"], dtype=np.float32),
            objects)


def run_episode(env: Any, policy: Any, env_seed: int, policy_seed: int,
                end_on_done: bool = False) -> Episode:
    """Reset env and policy with the given seeds and step until the env ends the episode.

    ``end_on_done`` also ends it as soon as the policy reports ``done`` (a scripted expert
    that has finished its sub-task), before it would idle; the last transition is then
    marked as a timeout, as at the horizon, so learners bootstrap from the final state.

    Rewards are stored exactly as the env gave them (relabelling is the trainer's job).
    ``success`` is the policy's own criterion (``policy.succeeded(info)``, by default
    ``info[policy.success_key]``) at the last step,
    so prior data (whose env reward is ~always 0) can still be filtered for success."""
    obs, info = env.reset(seed=env_seed)
    policy.reset(seed=policy_seed)
    key = success_key_of(policy)  # after reset: a prior mixture picks its expert there
    images, states, objects = [], [], []
    actions, rewards, terminals, timeouts = [], [], [], []
    image, state, obj = _obs_parts(obs)
    images.append(image)
    states.append(state)
    objects.append(obj)
    for _ in range(MAX_EPISODE_STEPS):
        action = np.asarray(policy.act(obs, info), dtype=np.float32)
        if end_on_done and actions and getattr(policy, "done", False):
            timeouts[-1] = True
            break
        if action.ndim != 1:
            raise ValueError(f"policy returned an action of shape {action.shape}")
        # The env clips finite out-of-range actions; store what it actually executed.
        action = np.clip(action, -1.0, 1.0)
        obs, reward, terminated, truncated, info = env.step(action)
        image, state, obj = _obs_parts(obs)
        images.append(image)
        states.append(state)
        objects.append(obj)
        actions.append(action)
        rewards.append(float(reward))
        terminals.append(bool(terminated))
        timeouts.append(bool(truncated) and not bool(terminated))
        if terminated or truncated:
            break
    else:
        raise ValueError(f"the env did not end an episode within {MAX_EPISODE_STEPS} steps")
    if key not in info:
        raise ValueError(
            f"the policy's success key {key!r} is not in the env's info "
            f"(keys: {', '.join(sorted(info))})"
        )
    return Episode(
        images=np.stack(images),
        states=np.stack(states),
        objects=np.stack(objects),
        actions=np.stack(actions),
        rewards=np.asarray(rewards, dtype=np.float32),
        terminals=np.asarray(terminals, dtype=bool),
        timeouts=np.asarray(timeouts, dtype=bool),
        success=bool(policy.succeeded(info)) if hasattr(policy, "succeeded")
        else bool(info[key]),
    )
