"""Small synthetic problems for tests and benchmarks: no PyBullet needed.

``LineReachEnv`` is a 1-D reaching task with the project's observation/action interface:
state[0] is a position x in [-1, 1], action[0] moves it by 0.25 * a, reward 1 while x > 0.75.
Its image is a flat grey whose brightness encodes x; its privileged ``object`` observation is
the signed distance to the goal, GOAL - x.  ``make_line_dataset`` collects
episodes from it with a noisy scripted mover, giving "prior" data (start at -1, move to 0,
never rewarded) and "task" data (start at 0, move to 1), the COG stitching pattern in
miniature.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

from data_collection.dataset import Dataset

LINE_ENV_ID = "cogtest/LineReach-v0"
# "module:id" makes gymnasium import this module first (e.g. inside Ray workers).
LINE_ENV_SPEC = f"cog.testing:{LINE_ENV_ID}"
STEP = 0.25
GOAL = 0.75


class LineReachEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, image_size: int = 16, horizon: int = 12, start: float = -1.0,
                 render_mode: str | None = None, **_ignored):
        self.image_size, self.horizon, self.start = image_size, horizon, start
        self.render_mode = render_mode
        self.observation_space = spaces.Dict({
            "image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
            "state": spaces.Box(-np.inf, np.inf, (10,), np.float32),
            "object": spaces.Box(-np.inf, np.inf, (1,), np.float32),
        })
        self.action_space = spaces.Box(-1.0, 1.0, (8,), np.float32)
        self.x, self.t = start, 0

    def _obs(self):
        state = np.zeros(10, np.float32)
        state[0] = self.x
        level = np.uint8(round((self.x + 1.0) * 127.5))
        image = np.full((self.image_size, self.image_size, 3), level, np.uint8)
        return {"image": image, "state": state,
                "object": np.array([GOAL - self.x], np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = self.start, 0
        return self._obs(), {"is_success": self.x > GOAL}

    def step(self, action):
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (8,) or not np.all(np.isfinite(action)):
            raise ValueError(f"bad action {action!r}")
        self.x = float(np.clip(self.x + STEP * np.clip(action[0], -1, 1), -1.0, 1.0))
        self.t += 1
        success = self.x > GOAL
        return (self._obs(), float(success), False, self.t >= self.horizon,
                {"is_success": success})

    def render(self):
        return np.repeat(np.repeat(self._obs()["image"], 4, 0), 4, 1)


def register_line_env() -> str:
    if LINE_ENV_ID not in gymnasium.registry:
        gymnasium.register(LINE_ENV_ID, entry_point=LineReachEnv)
    return LINE_ENV_ID


def make_line_dataset(n_episodes: int, start: float, stop_at: float | None = None,
                      horizon: int = 6, seed: int = 0, image_size: int = 16,
                      noise: float = 0.3) -> Dataset:
    """Episodes of a noisy mover that goes right (and stops at ``stop_at`` if given)."""
    rng = np.random.default_rng(seed)
    env = LineReachEnv(image_size=image_size, horizon=horizon, start=start)
    images, states, objects, actions, rewards, lengths, success = [], [], [], [], [], [], []
    for _ in range(n_episodes):
        obs, _ = env.reset()
        images.append(obs["image"])
        states.append(obs["state"])
        objects.append(obs["object"])
        ok = False
        for _t in range(horizon):
            a = np.clip(rng.normal(0.0, noise, 8), -1, 1).astype(np.float32)
            go = 1.0 if stop_at is None or env.x < stop_at - 1e-6 else 0.0
            a[0] = np.clip(0.8 * go + rng.normal(0.0, noise), -1, 1)
            obs, r, _, _, info = env.step(a)
            images.append(obs["image"])
            states.append(obs["state"])
            objects.append(obs["object"])
            actions.append(a)
            rewards.append(r)
            ok = bool(info["is_success"])
        lengths.append(horizon)
        success.append(ok)
    return dataset_from_arrays(np.stack(images), np.stack(states), np.stack(actions),
                               np.asarray(rewards, np.float32), np.asarray(lengths),
                               np.asarray(success), objects=np.stack(objects))


def dataset_from_arrays(images, states, actions, rewards, lengths, success,
                        objects=None) -> Dataset:
    """Build a Dataset from per-episode-concatenated arrays (T+1 observations per episode)."""
    lengths = np.asarray(lengths, np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    obs_index = np.concatenate(
        [np.arange(s + e, s + e + n) for e, (s, n) in enumerate(zip(starts, lengths, strict=True))]
    ).astype(np.int64)
    n = int(lengths.sum())
    timeouts = np.zeros(n, bool)
    timeouts[starts + lengths - 1] = True
    return Dataset(
        images=np.ascontiguousarray(images, dtype=np.uint8),
        states=np.asarray(states, np.float32),
        objects=None if objects is None else np.asarray(objects, np.float32),
        actions=np.asarray(actions, np.float32),
        rewards=np.asarray(rewards, np.float32),
        terminals=np.zeros(n, bool),
        timeouts=timeouts,
        obs_index=obs_index,
        episode_starts=starts,
        lengths=lengths,
        success=np.asarray(success, bool),
        attrs={"env_id": LINE_ENV_ID, "policy_name": "line_mover"},
    )


def random_dataset(n_episodes: int = 4, length: int = 5, image_size: int = 48,
                   seed: int = 0, reward: float = 1.0) -> Dataset:
    """Random images/states/actions, constant reward: for shape and plumbing tests."""
    rng = np.random.default_rng(seed)
    m = n_episodes * (length + 1)
    n = n_episodes * length
    return dataset_from_arrays(
        rng.integers(0, 256, (m, image_size, image_size, 3), dtype=np.uint8),
        rng.normal(size=(m, 10)).astype(np.float32),
        rng.uniform(-1, 1, (n, 8)).astype(np.float32),
        np.full(n, reward, np.float32),
        np.full(n_episodes, length),
        np.zeros(n_episodes, bool),
        objects=rng.normal(size=(m, 8)).astype(np.float32),
    )


register_line_env()


def random_batch(b: int, image_size: int = 48, seed: int = 0):
    """A seeded random training batch (cog.replay.Batch): uint8 images, 10-D states, actions in
    [-1, 1], 0/1 rewards. For loss-equality tests."""
    import torch

    from cog.replay import Batch

    g = torch.Generator().manual_seed(seed)

    def obs():
        return {"image": torch.randint(0, 256, (b, image_size, image_size, 3), generator=g,
                                       dtype=torch.uint8),
                "state": torch.randn(b, 10, generator=g)}

    return Batch(obs(), torch.rand(b, 8, generator=g) * 2 - 1,
                 (torch.rand(b, generator=g) > 0.5).float(), torch.zeros(b), obs(),
                 torch.ones(b, dtype=torch.bool))


def fake_run(run_dir, evals: dict[int, float], q_data: list[float] | None = None,
             config=None) -> None:
    """A run folder as the trainer leaves it, without training: checkpointed at the last of
    ``evals``' steps, with those evaluations in eval.csv, ``q_data`` (one row per 100 steps)
    in train.csv, and ``config`` (a TrainConfig) as config.json when given."""
    from pathlib import Path

    import torch

    from cog.checkpoint import save_checkpoint
    from cog.logger import CsvLog

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config is not None:
        config.save(run_dir / "config.json")
    save_checkpoint(run_dir, {"algo": "cql", "step": max(evals), "rng": {},
                              "nets": {"w": torch.zeros(1)}})
    log = CsvLog(run_dir / "eval.csv")
    for step, success in evals.items():
        log.append({"step": step, "eval/success_rate": success})
    log.flush()
    if q_data is not None:
        train = CsvLog(run_dir / "train.csv")
        for i, q in enumerate(q_data):
            train.append({"step": 100 * (i + 1), "q/data": q, "q/policy": q - 1.0})
        train.flush()


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` as a module: the benchmarks are scripts, not a package, and
    their tests call into them."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
