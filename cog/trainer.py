"""The training run: data, networks, algorithm, checkpoints, evaluation, logging.

Run directory layout:
    config.json          the TrainConfig (written once, at the start)
    checkpoint.pt        the latest checkpoint (atomic; every checkpoint_every steps + at the end)
    train.csv, eval.csv  scalars per log / eval step (rewritten atomically)
    tb/                  TensorBoard events
    videos/eval_<step>.gif
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from cog.algos.bc import BC, BCConfig
from cog.algos.cql import CQL, CQLConfig
from cog.augment import random_crop
from cog.checkpoint import (
    checkpoint_path,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from cog.config import TrainConfig, state_keys
from cog.evaluation import TorchPolicy, check_image_size, evaluate, make_env
from cog.logger import CsvLog, TensorBoard
from cog.networks import ActorCritic, NetSpec
from cog.replay import Batch, ReplayBuffer
from data_collection.dataset import Dataset


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} requested but CUDA is not available")
    return torch.device(name)


def load_datasets(cfg: TrainConfig) -> tuple[Dataset, Dataset | None]:
    """The task and (optional) prior datasets through the project's reader."""
    from data_collection import load_dataset

    if not cfg.task:
        raise ValueError("no task dataset given (--task PATH)")
    for path in (cfg.task, cfg.prior):
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"dataset file not found: {path}")
    task = load_dataset(cfg.task)
    prior = load_dataset(cfg.prior) if cfg.prior else None
    return task, prior


def build_nets(cfg: TrainConfig, image_size: int, state_dim: int = 10,
               action_dim: int = 8) -> ActorCritic:
    spec = NetSpec(cfg.resolved_net(), cfg.obs, image_size=image_size, state_dim=state_dim,
                   action_dim=action_dim, use_state=cfg.image_use_state)
    return ActorCritic(spec)


def build_algo(cfg: TrainConfig, nets: ActorCritic, device: torch.device):
    if cfg.algo == "bc":
        return BC(nets, BCConfig.from_train_config(cfg), seed=cfg.seed, device=device)
    return CQL(nets, CQLConfig.from_train_config(cfg), seed=cfg.seed, device=device)


def build_buffer(cfg: TrainConfig, task: Dataset, prior: Dataset | None,
                 device: torch.device) -> ReplayBuffer:
    include_prior = prior is not None and not (cfg.algo == "bc" and cfg.bc_data == "task")
    return ReplayBuffer(
        task, prior,
        use_images=cfg.obs == "image",
        state_keys=state_keys(cfg.obs),
        relabel_prior=cfg.relabel_prior_rewards,
        prior_reward_value=cfg.prior_reward_value,
        mixing=cfg.mixing,
        task_fraction=cfg.task_fraction,
        only_successful=cfg.algo == "bc" and cfg.bc_data == "success",
        include_prior=include_prior,
        device=device,
    )


class Trainer:
    """One run. ``Trainer(cfg, run_dir).run()``; ``Trainer.resume(run_dir).run()``.

    ``task``/``prior`` may be given as in-memory Datasets (tests, the demo); otherwise they
    are loaded from ``cfg.task``/``cfg.prior``.
    """

    def __init__(self, cfg: TrainConfig, run_dir: str | os.PathLike, *,
                 task: Dataset | None = None, prior: Dataset | None = None,
                 _resuming: bool = False):
        cfg.validate()
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        if not _resuming and checkpoint_path(self.run_dir).exists():
            raise ValueError(f"{self.run_dir} already holds a run; use --resume {self.run_dir} "
                             "or a new --out")
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True)
        torch.manual_seed(cfg.seed)
        self.device = resolve_device(cfg.device)

        if task is None:
            task, prior = load_datasets(cfg)
        self.image_size = task.image_size
        if cfg.eval_env and cfg.obs == "image":
            env = make_env(cfg.eval_env, cfg.obs)
            try:
                check_image_size(task.image_size, env, "task dataset")
                if prior is not None:
                    check_image_size(prior.image_size, env, "prior dataset")
            finally:
                env.close()
        self.buffer = build_buffer(cfg, task, prior, self.device)
        self.nets = build_nets(cfg, task.image_size, self.buffer.states.shape[1],
                               task.actions.shape[1]).to(self.device)
        if cfg.normalize_state and not _resuming:  # a resumed run restores them with the nets
            self.nets.set_state_normalizer(*self.buffer.state_statistics())
        self.algo = build_algo(cfg, self.nets, self.device)
        # The trainer's own generator: batch sampling and augmentation.
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.seed + 1)
        self.step = 0
        self.last_success: float | None = None
        self.train_log = CsvLog(self.run_dir / "train.csv")
        self.eval_log = CsvLog(self.run_dir / "eval.csv")
        if not _resuming:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(self.run_dir / "config.json")
            self.train_log.rows, self.eval_log.rows = [], []

    # --------------------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | os.PathLike, *, steps: int | None = None,
               task: Dataset | None = None, prior: Dataset | None = None,
               **overrides) -> Trainer:
        """Continue from the last checkpoint (``steps`` may extend the run)."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"no run directory at {run_dir}")
        cfg = TrainConfig.load(run_dir / "config.json")
        if steps is not None:
            cfg.steps = steps
        for k, v in overrides.items():
            setattr(cfg, k, v)
        state = load_checkpoint(checkpoint_path(run_dir))
        trainer = cls(cfg, run_dir, task=task, prior=prior, _resuming=True)
        trainer.load_state(state)
        if steps is not None or overrides:
            cfg.save(run_dir / "config.json")
        return trainer

    def state(self) -> dict:
        return {
            "algo": self.algo.state_dict(),
            "step": self.step,
            "last_success": -1.0 if self.last_success is None else self.last_success,
            "rng": rng_state({"trainer": self.generator}),
            "config": self.cfg.to_dict(),
            "spec": {"image_size": self.nets.spec.image_size,
                     "state_dim": self.nets.spec.state_dim,
                     "action_dim": self.nets.spec.action_dim},
        }

    def load_state(self, state: dict) -> None:
        try:
            self.algo.load_state_dict(state["algo"])
        except (KeyError, RuntimeError) as exc:
            raise ValueError(f"checkpoint does not match this run's networks ({exc})") from None
        self.step = int(state["step"])
        self.last_success = None if state["last_success"] < 0 else float(state["last_success"])
        restore_rng_state(state["rng"], {"trainer": self.generator})
        self.train_log.truncate_after(self.step)
        self.eval_log.truncate_after(self.step)

    def save(self) -> Path:
        return save_checkpoint(self.run_dir, self.state())

    # --------------------------------------------------------------------------------------
    def sample(self) -> Batch:
        batch = self.buffer.sample(self.cfg.batch_size, self.generator)
        if self.cfg.obs == "image" and self.cfg.augment:
            pad = self.cfg.augment_pad
            batch.obs["image"] = random_crop(batch.obs["image"], pad, self.generator)
            batch.next_obs["image"] = random_crop(batch.next_obs["image"], pad, self.generator)
        return batch

    def policy(self) -> TorchPolicy:
        return TorchPolicy(self.algo, self.cfg.obs, self.device,
                           deterministic=self.cfg.eval_deterministic)

    def evaluate(self) -> dict[str, float]:
        cfg = self.cfg
        gif = self.run_dir / "videos" / f"eval_{self.step:08d}.gif" if cfg.eval_gif else None
        policy_bytes = None
        if cfg.eval_ray:
            from cog.export import export_bytes

            policy_bytes = export_bytes(self.nets, cfg, self.step)
        t0 = time.perf_counter()
        self.nets.eval()
        try:
            res = evaluate(self.policy(), cfg.eval_env, cfg.eval_episodes, obs_kind=cfg.obs,
                           gif_path=gif, use_ray=cfg.eval_ray, policy_bytes=policy_bytes)
        finally:
            self.nets.train()
        self.last_success = res.success_rate
        row = {"step": self.step, "eval/success_rate": res.success_rate,
               "eval/any_success_rate": res.any_success_rate, "eval/return": res.mean_return,
               "eval/seconds": time.perf_counter() - t0}
        self.eval_log.append(row)
        self.eval_log.flush()
        return row

    def run(self) -> dict[str, float]:
        """Train up to cfg.steps; returns the last logged scalars."""
        cfg = self.cfg
        tb = TensorBoard(self.run_dir / "tb")
        bar = None
        if cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc="train", unit="step",
                       dynamic_ncols=True)
        last: dict[str, float] = {}
        sums: dict[str, torch.Tensor] = {}
        count, t_last = 0, time.perf_counter()
        try:
            while self.step < cfg.steps:
                metrics = self.algo.update(self.sample())
                self.step += 1
                for k, v in metrics.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                count += 1
                if bar is not None:
                    bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    now = time.perf_counter()
                    last = {k: float(v) / count for k, v in sums.items()}
                    last["perf/updates_per_s"] = count / max(now - t_last, 1e-9)
                    row = {"step": self.step, **last}
                    self.train_log.append(row)
                    self.train_log.flush()
                    tb.scalars(self.step, last)
                    sums, count, t_last = {}, 0, time.perf_counter()
                if cfg.eval_env and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                    row = self.evaluate()
                    tb.scalars(self.step, {k: v for k, v in row.items() if k != "step"})
                    last.update(row)
                    t_last = time.perf_counter()  # keep eval time out of updates/s
                if bar is not None and self.last_success is not None:
                    bar.set_postfix(success=f"{self.last_success:.2f}", refresh=False)
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.save()
        finally:
            if bar is not None:
                bar.close()
            tb.close()
        return last
