"""The training run: data, networks, algorithm, checkpoints, evaluation, logging.

Run directory layout:
    config.json          the TrainConfig (written once, at the start)
    checkpoint.pt        the latest checkpoint (atomic; every checkpoint_every steps + at the end)
    train.csv, eval.csv  scalars per log / eval step (rewritten atomically)
    tb/                  TensorBoard events
    videos/eval_<step>.gif
"""

from __future__ import annotations

import contextlib
import logging
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
from cog.evaluation import TorchPolicy, check_env_match, evaluate, make_env
from cog.logger import CsvLog, TensorBoard
from cog.networks import ActorCritic, NetSpec
from cog.replay import Batch, ReplayBuffer
from cog.selection import diverged
from cog.snapshots import prune_after, save_snapshot, snapshot_dir
from data_collection.dataset import Dataset

log = logging.getLogger("cog.trainer")


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
    # load_dataset names a missing file (FileNotFoundError) and a directory or non-HDF5 path
    # (DatasetFormatError) itself.
    task = load_dataset(cfg.task)
    prior = load_dataset(cfg.prior) if cfg.prior else None
    return task, prior


def check_run_dir(run_dir: Path) -> None:
    """One clear line for a run directory that cannot be one (a file, or under a file)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run directory {run_dir} is a file, not a directory")
    for parent in run_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"run directory {run_dir} lies under {parent}, which is a file")
            break


def dataset_fingerprint(path: str) -> str:
    """sha256 of a dataset file's bytes (about a second per GB)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_nets(cfg: TrainConfig, image_size: int, state_dim: int = 10,
               action_dim: int = 8) -> ActorCritic:
    """The networks a config describes (float32; ``precision`` is applied by the trainer)."""
    spec = NetSpec(cfg.resolved_net(), cfg.obs, image_size=image_size, state_dim=state_dim,
                   action_dim=action_dim, use_state=cfg.image_use_state,
                   log_std_min=cfg.policy_log_std_min,
                   critic_layer_norm=cfg.critic_layer_norm)
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
        n_step=cfg.n_step,
        discount=cfg.discount,
        holdout_fraction=cfg.holdout_fraction,
        holdout_seed=cfg.seed,
        device=device,
    )


@contextlib.contextmanager
def torch_settings(threads: int, deterministic: bool):
    """torch's process-wide thread count and determinism flag for the ``with`` body only
    (a run's settings, not the caller's): restored afterwards."""
    old_threads = torch.get_num_threads()
    old_deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        if threads > 0:
            torch.set_num_threads(threads)
        if deterministic:
            torch.use_deterministic_algorithms(True)
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_deterministic)


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
        check_run_dir(self.run_dir)
        if not _resuming and checkpoint_path(self.run_dir).exists():
            raise ValueError(f"{self.run_dir} already holds a run; use --resume {self.run_dir} "
                             "or a new --out")
        self.device = resolve_device(cfg.device)

        task_from_files = task is None
        if task is None:
            task, prior = load_datasets(cfg)
        self.image_size = task.image_size
        if cfg.eval_env:
            env = make_env(cfg.eval_env, cfg.obs)
            try:
                check_env_match(task, env, cfg.obs, "task dataset")
                if prior is not None:
                    check_env_match(prior, env, cfg.obs, "prior dataset")
            finally:
                env.close()
        self.buffer = build_buffer(cfg, task, prior, self.device)
        if cfg.batch_size > len(self.buffer):
            # Sampling is with replacement, so a batch somewhat larger than a tiny dataset
            # works (tests, the tiny demo); one many times larger is a typo that costs GBs.
            msg = (f"batch_size {cfg.batch_size} exceeds the {len(self.buffer)} transitions "
                   "in the training data")
            if cfg.batch_size > 10 * len(self.buffer):
                raise ValueError(msg + " more than tenfold")
            log.warning("%s (sampled with replacement)", msg)
        # What the run trains on, to refuse a resume on files replaced since (none when the
        # datasets were given in memory, e.g. by tests and the demo).
        self.fingerprints: dict[str, str] = {}
        if task_from_files:
            for key in ("task", "prior"):
                if getattr(cfg, key):
                    self.fingerprints[key] = dataset_fingerprint(getattr(cfg, key))
        # The initial weights come from cfg.seed, drawn from a forked global generator so
        # that building a trainer leaves the process's own torch RNG untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.nets = build_nets(cfg, task.image_size, self.buffer.states.shape[1],
                                   task.actions.shape[1]).to(self.device)
        self.nets.set_precision(cfg.precision)
        if cfg.compile_mode:
            self.nets.compile_modules(cfg.compile_mode)
        if cfg.normalize_state and not _resuming:  # a resumed run restores them with the nets
            self.nets.set_state_normalizer(*self.buffer.state_statistics())
        self.algo = build_algo(cfg, self.nets, self.device)
        # The trainer's own generator: batch sampling and augmentation.
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(cfg.seed + 1)
        self.step = 0
        self.train_seconds = 0.0  # training time so far, evaluation excluded, across resumes
        self.last_success: float | None = None
        self.train_log = CsvLog(self.run_dir / "train.csv")
        self.eval_log = CsvLog(self.run_dir / "eval.csv")
        self.snapshot_log = CsvLog(snapshot_dir(self.run_dir) / "index.csv")
        # A fixed batch of held-out transitions, scored at every snapshot (None: no split).
        self.heldout = self.buffer.heldout_batch(512, seed=cfg.seed)
        self.q_bound = self.buffer.value_bound(cfg.discount)
        self.warned_divergence = False
        if not _resuming:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(self.run_dir / "config.json")
            self.train_log.rows, self.eval_log.rows, self.snapshot_log.rows = [], [], []

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
            "train_seconds": self.train_seconds,
            "datasets": self.fingerprints,
            "rng": rng_state({"trainer": self.generator}),
            "config": self.cfg.to_dict(),
            "spec": {"image_size": self.nets.spec.image_size,
                     "state_dim": self.nets.spec.state_dim,
                     "action_dim": self.nets.spec.action_dim},
        }

    def load_state(self, state: dict) -> None:
        for key, fingerprint in state.get("datasets", {}).items():
            now = self.fingerprints.get(key)
            if now is not None and now != fingerprint:
                path = getattr(self.cfg, key)
                raise ValueError(f"the {key} dataset {path} has changed since this run started "
                                 "(its contents differ); train a new run on the new data")
        saved = state.get("config", {})
        ours = (self.cfg.resolved_net(), self.cfg.obs)
        theirs = (TrainConfig.from_dict(saved).resolved_net(), saved.get("obs")) if saved \
            else ours
        if theirs != ours:
            raise ValueError(f"the checkpoint holds a {theirs[0]!r} network on {theirs[1]} "
                             f"observations; this run builds a {ours[0]!r} one on {ours[1]}")
        try:
            self.algo.load_state_dict(state["algo"])
        except (KeyError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"checkpoint does not match this run's networks ({first})") from None
        self.step = int(state["step"])
        self.last_success = None if state["last_success"] < 0 else float(state["last_success"])
        self.train_seconds = float(state.get("train_seconds", 0.0))  # older checkpoints: 0
        restore_rng_state(state["rng"], {"trainer": self.generator})
        self.train_log.truncate_after(self.step)
        self.eval_log.truncate_after(self.step)
        self.snapshot_log.truncate_after(self.step)
        prune_after(self.run_dir, self.step)

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
        if cfg.eval_workers != 1:
            from cog.export import export_bytes

            policy_bytes = export_bytes(self.nets, cfg, self.step)
        t0 = time.perf_counter()
        self.nets.eval()
        try:
            res = evaluate(self.policy(), cfg.eval_env, cfg.eval_episodes, obs_kind=cfg.obs,
                           gif_path=gif, workers=cfg.eval_workers, policy_bytes=policy_bytes)
        finally:
            self.nets.train()
        self.last_success = res.success_rate
        row = {"step": self.step, "time/train_seconds": round(self.train_seconds, 2),
               "eval/success_rate": res.success_rate,
               "eval/any_success_rate": res.any_success_rate, "eval/return": res.mean_return,
               "eval/seconds": time.perf_counter() - t0}
        self.eval_log.append(row)
        self.eval_log.flush()
        return row

    def snapshot(self, train_stats: dict[str, float]) -> dict[str, float]:
        """Keep this step's policy and its evidence: the last training window's statistics
        and, with a held-out split, the held-out TD error and Q (``cog select`` reads them)."""
        stats = {k: v for k, v in train_stats.items() if not k.startswith("eval/")}
        if "q/data" in stats:
            stats["q/bound"] = self.q_bound
            if diverged(stats["q/data"], self.q_bound) and not self.warned_divergence:
                self.warned_divergence = True
                log.warning("step %d: Q on dataset actions is %.1f, above %.1f, the most any "
                            "return of this data can be: the critic is diverging (snapshots "
                            "from here on are suspect; --critic-layer-norm steadies it)",
                            self.step, stats["q/data"], self.q_bound)
        if self.heldout is not None and hasattr(self.algo, "heldout_stats"):
            self.nets.eval()
            try:
                stats.update(self.algo.heldout_stats(self.heldout))
            finally:
                self.nets.train()
        save_snapshot(self.run_dir, self.step, self.nets, stats)
        self.snapshot_log.append({"step": self.step, **stats})
        self.snapshot_log.flush()
        return {k: v for k, v in stats.items() if k.startswith("heldout/")}

    def _interval_due(self, next_eval_seconds: float) -> bool:
        """An evaluation interval has passed: snapshot, and evaluate if there is an env."""
        cfg = self.cfg
        if cfg.eval_every_minutes > 0:
            return self.train_seconds >= next_eval_seconds
        return self.step % cfg.eval_every == 0

    def _out_of_time(self) -> bool:
        limit = self.cfg.time_limit_minutes
        return limit > 0 and self.train_seconds >= 60.0 * limit

    def run(self) -> dict[str, float]:
        """Train up to cfg.steps (or cfg.time_limit_minutes); returns the last logged scalars.

        Training time (``train_seconds``) counts the updates and logging, not evaluation or
        checkpoints; the wall-clock evaluation schedule and the time limit read it.

        The run directory is locked while it trains: a second process training the same run
        (two `cog train --resume RUN`) is refused with the holder's PID."""
        from data_collection.lock import exclusive_lock

        with exclusive_lock(self.run_dir / ".lock", f"run {self.run_dir}"), \
                torch_settings(self.cfg.threads, self.cfg.deterministic):
            return self._run()

    def _run(self) -> dict[str, float]:
        cfg = self.cfg
        tb = TensorBoard(self.run_dir / "tb")
        bar = None
        if cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc="train", unit="step",
                       dynamic_ncols=True)
        last: dict[str, float] = {}
        sums: dict[str, torch.Tensor] = {}
        period = 60.0 * cfg.eval_every_minutes
        next_eval = (self.train_seconds // period + 1) * period if period > 0 else 0.0
        count, window_start = 0, self.train_seconds  # updates/s over training time only
        t_clock = time.perf_counter()  # start of the current stretch of training time
        try:
            while self.step < cfg.steps and not self._out_of_time():
                metrics = self.algo.update(self.sample())
                self.step += 1
                for k, v in metrics.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                count += 1
                if bar is not None:
                    bar.update(1)
                now = time.perf_counter()
                self.train_seconds += now - t_clock
                t_clock = now
                stopping = self.step == cfg.steps or self._out_of_time()
                if self.step % cfg.log_every == 0 or stopping:
                    last = {k: float(v) / count for k, v in sums.items()}
                    last["perf/updates_per_s"] = count / max(self.train_seconds - window_start,
                                                             1e-9)
                    row = {"step": self.step, "time/train_seconds": round(self.train_seconds, 2),
                           **last}
                    self.train_log.append(row)
                    self.train_log.flush()
                    tb.scalars(self.step, last)
                    sums, count, window_start = {}, 0, self.train_seconds
                due = self._interval_due(next_eval)
                if due or stopping:
                    tb.scalars(self.step, self.snapshot(last))
                if (due or stopping) and cfg.eval_env:
                    row = self.evaluate()
                    tb.scalars(self.step, {k: v for k, v in row.items() if k != "step"})
                    last.update(row)
                while due and period > 0 and next_eval <= self.train_seconds:
                    next_eval += period
                if bar is not None and self.last_success is not None:
                    bar.set_postfix(success=f"{self.last_success:.2f}", refresh=False)
                if self.step % cfg.checkpoint_every == 0 or stopping:
                    self.save()
                t_clock = time.perf_counter()  # keep eval and checkpoint time out of training
        finally:
            if bar is not None:
                bar.close()
            tb.close()
        return last
