"""The stitching experiment behind `cog demo` and `benchmarks/stitching.py`.

For one COG setup: collect (or reuse) the prior and task datasets, train each method on
each seed, evaluate in the setup's env (whose initial conditions the task data never
shows), and write a markdown table, a PNG of success against steps, and the GIFs.

Methods:
    cog        CQL on prior (rewards relabelled to 0) + task data        -- COG
    task_only  CQL on task data only                                      -- baseline
    bc         behaviour cloning on all data (prior + task)               -- baseline
    bc_task    behaviour cloning on task data only                        -- baseline
    sac        offline SAC (CQL with alpha 0) on prior + task             -- baseline
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cog.config import TrainConfig
from data_collection.presets import SETUPS, setup_name
from envs.atomic import write_text_atomic

METHODS = ("cog", "task_only", "bc", "bc_task", "sac")


@dataclass
class ExperimentConfig:
    setup: str = "closed-drawer"
    out: str = "runs/stitching"
    data_dir: str = ""  # where the datasets live/are collected; default OUT/data
    methods: tuple[str, ...] = ("cog", "task_only", "bc")
    seeds: tuple[int, ...] = (0, 1, 2)
    prior_episodes: int = 300
    task_episodes: int = 300
    collect_workers: int = 1
    prior_save_all: bool = False  # keep failed prior attempts (COG's released data did)
    irrelevant_fraction: float = 0.0  # prior episodes replaced by irrelevant behaviour
    eval_episodes: int = 20
    eval_every: int = 2500
    jobs: int = 1  # runs trained at once, each in its own process
    # The training config every method starts from: state observations (proprioception plus
    # the privileged object state, see cog.config.state_keys), which CPU trains in minutes.
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        obs="state", net="state", steps=15000, batch_size=256, bc_warmup_steps=1000,
        checkpoint_every=2500, log_every=250, eval_gif=True, progress=True, threads=1,
        eval_deterministic=True))


def collect_data(cfg: ExperimentConfig) -> tuple[Path, Path]:
    from data_collection.collect import collect
    from data_collection.presets import preset_configs

    cfg.setup = setup_name(cfg.setup)
    data_dir = Path(cfg.data_dir or Path(cfg.out) / "data")
    jobs = preset_configs(cfg.setup, data_dir, prior_episodes=cfg.prior_episodes,
                          task_episodes=cfg.task_episodes, workers=cfg.collect_workers,
                          prior_save_all=cfg.prior_save_all,
                          irrelevant_fraction=cfg.irrelevant_fraction)
    paths = []
    for label, job in jobs:
        t0 = time.perf_counter()
        res = collect(job, progress=True)
        print(f"{label}: {res.out} ({time.perf_counter() - t0:.0f}s)")
        paths.append(Path(job.out))
    return paths[0], paths[1]


def method_config(cfg: ExperimentConfig, method: str, seed: int, prior: Path,
                  task: Path) -> TrainConfig:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    base = replace(cfg.train, seed=seed, task=str(task), prior=str(prior),
                   eval_env=SETUPS[cfg.setup].eval_env, eval_every=cfg.eval_every,
                   eval_episodes=cfg.eval_episodes)
    if method == "task_only":
        return replace(base, prior="")
    if method == "bc":
        return replace(base, algo="bc", bc_data="all")
    if method == "bc_task":
        return replace(base, algo="bc", bc_data="task")
    if method == "sac":
        return replace(base, algo="sac")
    return base


def run_experiment(cfg: ExperimentConfig) -> dict:
    """Train every (method, seed), resuming finished or interrupted runs; write the report.

    With ``cfg.jobs > 1`` that many runs train at once, each in its own process (one torch
    thread each is fastest for the small state networks)."""
    out = Path(cfg.out)
    prior, task = collect_data(cfg)
    runs = [(method, seed, out / f"{method}_seed{seed}",
             method_config(cfg, method, seed, prior, task))
            for method in cfg.methods for seed in cfg.seeds]
    results: dict[str, dict[int, float]] = {m: {} for m in cfg.methods}
    if cfg.jobs <= 1:
        for method, seed, run_dir, tcfg in runs:
            print(f"== {method} seed {seed}: {tcfg.steps} steps -> {run_dir}")
            results[method][seed] = train_one(tcfg.to_dict(), str(run_dir))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # no forked torch/pybullet state
        with ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=ctx) as pool:
            futures = {}
            for method, seed, run_dir, tcfg in runs:
                quiet = replace(tcfg, progress=False)  # parallel progress bars would interleave
                futures[(method, seed)] = pool.submit(train_one, quiet.to_dict(), str(run_dir))
            _follow(futures, runs, enabled=cfg.train.progress)
            for (method, seed), future in futures.items():
                results[method][seed] = future.result()
                print(f"== {method} seed {seed}: final success {results[method][seed]:.2f}")
    return write_report(cfg, results)


def _follow(futures: dict, runs: list, enabled: bool = True) -> None:
    """One progress bar over all parallel runs, from the steps their train.csv files report."""
    from concurrent.futures import wait

    from tqdm import tqdm

    total = sum(tcfg.steps for *_, tcfg in runs)
    with tqdm(total=total, desc=f"training {len(runs)} runs", unit="step",
              disable=not enabled, dynamic_ncols=True) as bar:
        while wait(list(futures.values()), timeout=2.0).not_done:
            bar.n = sum(_last_step(run_dir) for _, _, run_dir, _ in runs)
            bar.refresh()
        bar.n = total
        bar.refresh()


def _last_step(run_dir: Path) -> int:
    """The latest logged step of a run (0 before its first log line)."""
    try:
        lines = (run_dir / "train.csv").read_text().strip().splitlines()
        return int(float(lines[-1].split(",")[0])) if len(lines) > 1 else 0
    except (OSError, ValueError):
        return 0


def train_one(cfg_dict: dict, run_dir: str) -> float:
    """Train (or resume) one run and return its last evaluation's success rate."""
    from cog.checkpoint import checkpoint_path
    from cog.trainer import Trainer

    tcfg = TrainConfig.from_dict(cfg_dict)
    if checkpoint_path(Path(run_dir)).exists():
        # A longer time limit extends a run stopped by the shorter one (like --steps).
        trainer = Trainer.resume(run_dir, steps=tcfg.steps,
                                 time_limit_minutes=tcfg.time_limit_minutes)
    else:
        trainer = Trainer(tcfg, run_dir)
    trainer.run()
    return final_success(Path(run_dir))


def final_success(run_dir: Path) -> float:
    from cog.logger import CsvLog

    rows = [r for r in CsvLog(run_dir / "eval.csv").rows if "eval/success_rate" in r]
    if not rows:
        raise ValueError(f"{run_dir} has no evaluation")
    return float(rows[-1]["eval/success_rate"])


def write_report(cfg: ExperimentConfig, results: dict[str, dict[int, float]]) -> dict:
    out = Path(cfg.out)
    obs = "state" if cfg.train.obs == "state" else f"{cfg.train.obs}, net {cfg.train.net}"
    lines = [f"# Stitching: {cfg.setup} ({obs})", "",
             f"{cfg.train.steps} gradient steps, batch {cfg.train.batch_size}, "
             f"{cfg.eval_episodes} evaluation episodes per seed in "
             f"`{SETUPS[cfg.setup].eval_env}`; {cfg.prior_episodes} prior and "
             f"{cfg.task_episodes} task episodes collected.", "",
             "| method | success (mean ± std over seeds) | per seed |", "|---|---|---|"]
    summary = {}
    for method, per_seed in results.items():
        vals = np.array(list(per_seed.values()))
        summary[method] = {"mean": float(vals.mean()), "std": float(vals.std()),
                           "per_seed": {str(k): v for k, v in per_seed.items()}}
        seeds = ", ".join(f"{v:.2f}" for v in per_seed.values())
        lines.append(f"| {method} | {vals.mean():.2f} ± {vals.std():.2f} | {seeds} |")
    png = plot_mean_curves(cfg, results, out / "success.png")
    lines += ["", f"![success against steps]({png.name})", ""]
    gifs = []
    for method, per_seed in results.items():
        seed = next(iter(per_seed))
        videos = sorted((out / f"{method}_seed{seed}" / "videos").glob("*.gif"))
        if videos:
            dest = out / f"{method}.gif"
            shutil.copyfile(videos[-1], dest)
            gifs.append(f"{method}: ![{method}]({dest.name})")
    if gifs:
        lines += ["Last evaluation episode of the first seed:", ""] + gifs + [""]
    write_text_atomic(out / "report.md", "\n".join(lines) + "\n")
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))
    return summary


def plot_mean_curves(cfg: ExperimentConfig, results: dict[str, dict[int, float]],
                     path: Path) -> Path:
    from cog.logger import CsvLog
    from cog.plotting import new_figure, save_png

    fig, ax = new_figure(figsize=(5.5, 3.6))
    for method, per_seed in results.items():
        curves = []
        for seed in per_seed:
            rows = CsvLog(Path(cfg.out) / f"{method}_seed{seed}" / "eval.csv").rows
            curves.append({int(r["step"]): r["eval/success_rate"] for r in rows})
        steps = sorted(set.intersection(*[set(c) for c in curves]))
        if not steps:
            continue
        vals = np.array([[c[s] for s in steps] for c in curves])
        mean, std = vals.mean(0), vals.std(0)
        ax.plot(steps, mean, marker="o", markersize=3, label=method)
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("gradient steps")
    ax.set_ylabel("success rate")
    ax.set_title(f"{cfg.setup}, {cfg.train.obs}, {len(cfg.seeds)} seed(s)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_png(fig, path)
