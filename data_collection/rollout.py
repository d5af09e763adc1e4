"""Recording one scripted episode: its seeds, its transitions and the policy's own success test."""

from __future__ import annotations

from typing import Any

import numpy as np

from data_collection.episodes import Episode

DEFAULT_SUCCESS_KEY = "is_success"


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


def record_episode(env: Any, policy: Any, env_seed: int, policy_seed: int,
                   end_on_done: bool = False) -> Episode:
    """One episode of ``policies.evaluate.play_episode`` (the project's one loop), recorded
    as an Episode: every observation, the executed action, reward and end flags.

    ``end_on_done`` ends the episode when the expert has finished its sub-task, before it
    would idle; the last transition is then marked as a timeout, as at the horizon, so
    learners bootstrap from the final state.

    Rewards are stored exactly as the env gave them (relabelling is the trainer's job).
    ``success`` is the policy's own criterion (``policy.succeeded(info)``, by default
    ``info[policy.success_key]``) at the last step,
    so prior data (whose env reward is ~always 0) can still be filtered for success."""
    from policies.evaluate import play_episode

    images, states, objects = [], [], []
    actions, rewards, terminals, timeouts = [], [], [], []

    def on_step(obs, action, reward, terminated, truncated) -> None:
        image, state, obj = _obs_parts(obs)
        images.append(image)
        states.append(state)
        objects.append(obj)
        if action is not None:
            actions.append(action)
            rewards.append(reward)
            terminals.append(terminated)
            timeouts.append(truncated and not terminated)

    outcome = play_episode(env, policy, env_seed, policy_seed=policy_seed,
                           end_on_done=end_on_done, on_step=on_step)
    if outcome.ended_by_policy:
        timeouts[-1] = True
    key = success_key_of(policy)  # after reset: a prior mixture picks its expert there
    info = outcome.info
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
        behaviour=str(getattr(policy, "behaviour", "")),  # after reset, as the key above
    )
