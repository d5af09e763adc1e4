"""Evaluation: success rate over K seeded episodes, a GIF of one, optionally on Ray.

The policy is anything with the ``policies.base.Policy`` protocol (``reset``, ``act``):
the in-memory learned policy (``TorchPolicy``), an exported TorchScript one, or a scripted
expert.  Episode k always uses seed ``base_seed + k``, so every evaluation of a run sees
the same initial conditions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from cog.config import state_keys

# envs and policies (hence pybullet) are imported where an episode is run, not here: training
# without evaluation, e.g. on a GPU machine without pybullet, must not need the simulator.

EVAL_BASE_SEED = 100_000


@dataclass
class EvalResult:
    success_rate: float  # fraction of episodes successful at their final step
    any_success_rate: float  # fraction successful at some step
    mean_return: float
    episodes: int
    successes: list[bool] = field(default_factory=list)


class TorchPolicy:
    """Wraps a trained algorithm (CQL/BC) as a Policy: numpy obs in, (8,) float32 action out."""

    def __init__(self, algo, obs_kind: str, device: str | torch.device = "cpu",
                 deterministic: bool = True):
        self.algo, self.obs_kind = algo, obs_kind
        self.device = torch.device(device)
        self.deterministic = deterministic
        # Stochastic evaluation samples from its own generator, re-seeded per episode, so it
        # is reproducible and never touches the training RNG streams.
        self.generator = torch.Generator(device=self.device)

    def reset(self, seed: int | None = None) -> None:
        self.generator.manual_seed(0 if seed is None else int(seed))

    def act(self, obs: dict[str, np.ndarray], info: dict[str, Any] | None = None) -> np.ndarray:
        state = low_dim_obs(obs, state_keys(self.obs_kind))
        batch = {"state": torch.as_tensor(state, device=self.device)[None]}
        if self.obs_kind == "image":
            batch["image"] = torch.as_tensor(np.asarray(obs["image"], dtype=np.uint8),
                                             device=self.device)[None]
        with torch.inference_mode():
            action = self.algo.act(batch, deterministic=self.deterministic,
                                   generator=self.generator)
        return action[0].cpu().numpy().astype(np.float32)


def low_dim_obs(obs: dict[str, Any], keys: tuple[str, ...]) -> np.ndarray:
    """The networks' "state" input from one env observation (see ``cog.config.state_keys``)."""
    missing = [k for k in keys if k not in obs]
    if missing:
        raise ValueError(f"the policy reads observation key(s) {missing}, which this env does "
                         f"not give (it gives {sorted(obs)})")
    return np.concatenate([np.asarray(obs[k], dtype=np.float32).reshape(-1) for k in keys])


def make_env(env_id: str, obs_kind: str = "image", record: bool = False,
             image_size: int | None = None):
    """gymnasium.make with the project's envs registered. Extra kwargs only for cog/ ids."""
    import gymnasium

    kwargs: dict[str, Any] = {}
    if env_id.startswith("cog/"):
        try:
            import envs  # noqa: F401  (registers the cog/ ids)
        except ImportError as exc:
            raise ValueError(f"cannot evaluate on {env_id!r}: the envs package failed to "
                             f"import ({exc})") from None
        kwargs["render_images"] = obs_kind == "image" or record
        if image_size is not None:
            kwargs["image_size"] = image_size
        if record:
            kwargs.update(render_mode="rgb_array", render_size=128)
    try:
        return gymnasium.make(env_id, **kwargs)
    except gymnasium.error.Error as exc:
        raise ValueError(f"unknown or broken eval env {env_id!r}: {exc}") from None


def check_env_match(dataset, env, obs_kind: str, what: str = "dataset") -> None:
    """Refuse training data that the eval env cannot be compared with: another image size
    (image observations) or another width of the privileged object state (state
    observations), which would otherwise fail at the first evaluation, deep inside torch."""
    if obs_kind == "image":
        check_image_size(dataset.image_size, env, what)
        return
    space = getattr(env, "observation_space", None)
    try:
        env_dim = int(space["object"].shape[0])
    except (KeyError, TypeError, IndexError):
        return  # the env has no object observation: nothing to compare
    if dataset.object_dim != env_dim:
        raise ValueError(f"{what} has {dataset.object_dim} object-state columns but the eval "
                         f"env's obs['object'] has {env_dim}")


def check_image_size(dataset_image_size: int, env, what: str = "dataset") -> None:
    """Refuse a dataset whose images do not match the env's camera."""
    space = getattr(env, "observation_space", None)
    try:
        env_size = int(space["image"].shape[0])
    except (KeyError, TypeError, IndexError):
        return  # the env has no image observation: nothing to compare
    if env_size != dataset_image_size:
        raise ValueError(
            f"{what} images are {dataset_image_size}x{dataset_image_size} but the eval env "
            f"renders {env_size}x{env_size}; collect data at the env's size or pass image_size"
        )


def evaluate(policy, env_id: str, episodes: int, *, obs_kind: str = "image",
             gif_path: str | os.PathLike | None = None, base_seed: int = EVAL_BASE_SEED,
             workers: int = 1, policy_bytes: bytes | None = None) -> EvalResult:
    """Run ``episodes`` seeded episodes; record the first one to ``gif_path``.

    ``workers`` 1 runs in this process; N > 1 runs on N Ray workers (0: one per CPU), to which
    ``policy_bytes`` (a TorchScript export, see ``cog.export``) is shipped
    to Ray workers, which rebuild the policy with ``torch.jit.load``: no pickled objects.
    """
    from policies.evaluate import play_episode

    if episodes <= 0:
        raise ValueError(f"episodes={episodes!r} must be > 0")
    results = []
    start = 0
    if gif_path is not None:
        env = make_env(env_id, obs_kind, record=True)
        try:
            ep = play_episode(env, policy, base_seed, record=True)
        finally:
            env.close()
        from envs.video import save_gif

        # the env's renders when it renders, else the policy's own images
        save_gif(ep.big_frames or ep.frames, gif_path, fps=10)
        results.append(_summary(ep))
        start = 1
    seeds = [base_seed + k for k in range(start, episodes)]
    if workers < 0:
        raise ValueError(f"workers={workers!r} must be >= 0")
    if seeds and workers != 1:
        if policy_bytes is None:
            raise ValueError("evaluation on Ray needs the exported policy bytes")
        results += _evaluate_on_ray(policy_bytes, env_id, obs_kind, seeds, workers)
    elif seeds:
        env = make_env(env_id, obs_kind)
        try:
            for seed in seeds:
                results.append(_summary(play_episode(env, policy, seed)))
        finally:
            env.close()
    succ = [r[0] for r in results]
    return EvalResult(
        success_rate=float(np.mean(succ)),
        any_success_rate=float(np.mean([r[1] for r in results])),
        mean_return=float(np.mean([r[2] for r in results])),
        episodes=len(results),
        successes=succ,
    )


def _summary(ep) -> tuple[bool, bool, float]:
    """(success, success at any step, return): what evaluation keeps of an episode."""
    return ep.success, ep.any_success, ep.total_reward


def _ray_episodes(policy_bytes: bytes, env_id: str, obs_kind: str, seeds: list[int]):
    from cog.export import ExportedPolicy
    from policies.evaluate import play_episode

    torch.set_num_threads(1)
    policy = ExportedPolicy.from_bytes(policy_bytes)
    env = make_env(env_id, obs_kind)
    try:
        return [_summary(play_episode(env, policy, seed)) for seed in seeds]
    finally:
        env.close()


def _evaluate_on_ray(policy_bytes: bytes, env_id: str, obs_kind: str, seeds: list[int],
                     workers: int):
    import ray

    from data_collection.local_ray import start_or_join_ray

    start_or_join_ray(None, os.cpu_count() or 1)  # stays up for this process's later calls
    cpus = int(ray.available_resources().get("CPU", 1))
    workers = max(1, min(len(seeds), cpus if workers == 0 else workers))
    chunks = [seeds[i::workers] for i in range(workers)]
    remote = ray.remote(num_cpus=1)(_ray_episodes)
    ref = ray.put(policy_bytes)
    out = ray.get([remote.remote(ref, env_id, obs_kind, c) for c in chunks if c])
    return [r for chunk in out for r in chunk]
