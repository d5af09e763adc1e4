"""The one way to run a grid of experiments: setups x methods x seeds, on Ray.

`cog sweep`, `cog demo` and `benchmarks/stitching.py` all come here. For every setup the
datasets are collected once (``cog collect``'s resumable shards, on the same Ray), then every
(setup, method, seed) trains as a Ray task with its own resource request (CPUs, and a GPU
share with ``gpus_per_run``), evaluates in the setup's env and logs into its own folder.
A local Ray is started by default; ``address`` joins an existing cluster, whose nodes must
then all see the output directory (checked before any work starts).

Re-running the same sweep skips finished runs, resumes interrupted ones from their
checkpoints and rewrites the report. A run that fails is reported with its error and the
others go on.

Layout: with one setup, run folders are OUT/<method>_seed<seed>; with several,
OUT/<setup>/<method>_seed<seed>. Each holds the run (config.json, checkpoint.pt, CSVs,
snapshots, GIFs) and ``log.txt`` (everything the run printed). OUT/report.md,
OUT/summary.json ({setup: {method: {mean, std, per_seed, best_per_seed, ...}}}) and a
success.png per setup are written at the end, or at any time by ``report_sweep`` (`cog sweep
--report-only`), which marks unfinished runs with the step they reached.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cog.config import TrainConfig
from data_collection.collect import APPROACH_GRIPPER
from data_collection.local_ray import start_or_join_ray
from data_collection.presets import SETUPS, setup_name
from envs.atomic import write_bytes_atomic, write_text_atomic

METHODS = ("cog", "task_only", "bc", "bc_task", "sac")
log = logging.getLogger(__name__)


@dataclass
class SweepConfig:
    setups: tuple[str, ...] = ("closed-drawer",)
    methods: tuple[str, ...] = ("cog", "task_only", "bc")
    seeds: tuple[int, ...] = (0, 1, 2)
    out: str = "runs/sweep"
    data_dir: str = ""  # where the datasets live/are collected; default OUT/data
    prior_episodes: int = 300
    task_episodes: int = 300
    collect_workers: int = 1
    prior_save_all: bool = False  # keep failed prior attempts (COG's released data did)
    irrelevant_fraction: float = 0.0  # prior episodes replaced by irrelevant behaviour
    prior_idle_tail: bool = False  # prior episodes idle on to the horizon once done
    approach_gripper: str = "open"  # "hold": grasps approach with gripper 0, as COG's did
    eval_episodes: int = 20
    eval_every: int = 2500
    workers: int = 2  # runs at once on a local Ray (its CPUs); ignored with an address
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0  # e.g. 0.25: four runs share one GPU
    address: str = ""  # join an existing Ray cluster (OUT must be on shared storage)
    progress: bool = True
    # Named variants usable as methods: COG (prior + task CQL) with these TrainConfig
    # overrides, e.g. {"cog-b64": {"batch_size": 64}} (the image time-to-success benchmark).
    variants: dict[str, dict] = field(default_factory=dict)
    # The training config every method starts from: state observations (proprioception plus
    # the privileged object state, see cog.config.state_keys), which CPU trains in minutes.
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        obs="state", net="state", steps=15000, batch_size=256, bc_warmup_steps=1000,
        checkpoint_every=2500, log_every=250, eval_gif=True, progress=False, threads=1,
        eval_deterministic=True))

    def validate(self) -> SweepConfig:
        self.setups = tuple(setup_name(s) for s in self.setups)
        unknown = [m for m in self.methods if m not in METHODS and m not in self.variants]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from "
                             f"{', '.join([*METHODS, *self.variants])}")
        if not self.setups or not self.methods or not self.seeds:
            raise ValueError("a sweep needs at least one setup, one method and one seed")
        if self.approach_gripper not in APPROACH_GRIPPER:
            raise ValueError(f"approach_gripper {self.approach_gripper!r} must be "
                             f"{' or '.join(APPROACH_GRIPPER)}")
        if self.workers < 1 or self.cpus_per_run <= 0 or self.gpus_per_run < 0:
            raise ValueError("workers must be >= 1, cpus_per_run > 0 and gpus_per_run >= 0")
        self.train.validate()
        return self


@dataclass
class Run:
    setup: str
    method: str
    seed: int
    run_dir: Path
    cfg: TrainConfig
    success: float | None = None
    error: str = ""


def run_dir_for(cfg: SweepConfig, setup: str, method: str, seed: int) -> Path:
    base = Path(cfg.out) if len(cfg.setups) == 1 else Path(cfg.out) / setup
    return base / f"{method}_seed{seed}"


def data_dir_for(cfg: SweepConfig) -> Path:
    return Path(cfg.data_dir or Path(cfg.out) / "data")


def method_config(cfg: SweepConfig, setup: str, method: str, seed: int, prior: Path,
                  task: Path) -> TrainConfig:
    if method not in METHODS and method not in cfg.variants:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    base = replace(cfg.train, seed=seed, task=str(task), prior=str(prior),
                   eval_env=SETUPS[setup].eval_env, eval_every=cfg.eval_every,
                   eval_episodes=cfg.eval_episodes)
    if cfg.gpus_per_run > 0:
        base = replace(base, device="cuda")
    if method == "task_only":
        return replace(base, prior="")
    if method == "bc":
        return replace(base, algo="bc", bc_data="all")
    if method == "bc_task":
        return replace(base, algo="bc", bc_data="task")
    if method == "sac":
        return replace(base, algo="sac")
    if method in cfg.variants:
        return replace(base, **cfg.variants[method])
    return base


# --- data ---------------------------------------------------------------------------------
def collect_setup(cfg: SweepConfig, setup: str) -> tuple[Path, Path]:
    """The setup's prior and task files, collected once (resumable shards; on Ray when
    ``collect_workers`` > 1)."""
    from data_collection.collect import collect
    from data_collection.presets import preset_configs

    jobs = preset_configs(setup, data_dir_for(cfg), prior_episodes=cfg.prior_episodes,
                          task_episodes=cfg.task_episodes, workers=cfg.collect_workers,
                          prior_save_all=cfg.prior_save_all,
                          irrelevant_fraction=cfg.irrelevant_fraction,
                          prior_idle_tail=cfg.prior_idle_tail,
                          approach_gripper=cfg.approach_gripper,
                          address=cfg.address or None)
    paths = []
    for label, job in jobs:
        t0 = time.perf_counter()
        res = collect(job, progress=cfg.progress)
        log.info("%s: %s (%.0fs)", label, res.out, time.perf_counter() - t0)
        paths.append(Path(job.out))
    return paths[0], paths[1]


# --- one run --------------------------------------------------------------------------------
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
    from cog.logger import eval_rows

    rows = eval_rows(run_dir)
    if not rows:
        raise ValueError(f"{run_dir} has no evaluation")
    return float(rows[-1]["eval/success_rate"])


def finished(run: Run) -> bool:
    """Trained to its last step and evaluated there: nothing left to do."""
    from cog.checkpoint import checkpoint_path, load_checkpoint
    from cog.logger import eval_rows

    path = checkpoint_path(run.run_dir)
    if not path.exists():
        return False
    try:
        step = int(load_checkpoint(path, mmap=True)["step"])  # reads no weights
    except ValueError:
        return False
    evals = eval_rows(run.run_dir)
    return step >= run.cfg.steps and bool(evals) and int(evals[-1]["step"]) == step


def _run_task(cfg_dict: dict, run_dir: str) -> float:
    """What a Ray worker runs: one training run, its output in RUN/log.txt."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    (Path(run_dir) / "worker.pid").write_text(f"{os.getpid()}\n")
    with open(Path(run_dir) / "log.txt", "a", buffering=1) as out:
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out
        handler = logging.StreamHandler(out)
        logging.getLogger().addHandler(handler)
        try:
            out.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()} "
                      f"host {os.uname().nodename} ray node {_node_id()}\n")
            return train_one(cfg_dict, run_dir)
        finally:
            logging.getLogger().removeHandler(handler)
            sys.stdout, sys.stderr = old


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # not inside Ray (tests call _run_task directly)
        return "-"


# --- Ray ------------------------------------------------------------------------------------
def start_ray(cfg: SweepConfig) -> bool:
    """Join ``cfg.address``, or start a private local Ray with ``workers`` CPUs (and the GPUs
    torch sees). True when this call started it."""
    gpus = 0
    if not cfg.address and cfg.gpus_per_run > 0:
        import torch

        gpus = torch.cuda.device_count()
    return start_or_join_ray(cfg.address, int(cfg.workers * cfg.cpus_per_run), gpus)


def check_shared_storage(out: Path) -> None:
    """On a cluster every node must see OUT: write a token here, read it on each node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    out.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    probe = out / ".sweep_storage_probe"
    write_text_atomic(probe, token)

    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    remote = ray.remote(num_cpus=0)(read)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    seen = ray.get([remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(str(probe.resolve())) for n in nodes])
    blind = [n["NodeManagerAddress"] for n, s in zip(nodes, seen, strict=True) if s != token]
    probe.unlink(missing_ok=True)
    if blind:
        raise ValueError(f"the output directory {out} is not visible from node(s) "
                         f"{', '.join(blind)}: on a cluster, --out must be on storage every "
                         "node shares (NFS, a mounted bucket)")


def run_sweep(cfg: SweepConfig) -> dict:
    """Collect, train every (setup, method, seed) on Ray, evaluate, report. Returns the
    summary {setup: {method: {mean, std, per_seed}}}; failed runs are listed in the report
    and raise no exception here (``failures(summary)`` lists them)."""
    import ray

    cfg.validate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    started = start_ray(cfg)
    try:
        if cfg.address:
            check_shared_storage(out)
        runs = []
        for setup in cfg.setups:
            runs += setup_runs(cfg, setup, *collect_setup(cfg, setup))
        _train_all(cfg, runs, ray)
    finally:
        if started:
            ray.shutdown()
    return write_report(cfg, runs + folder_neighbours(cfg, runs))


def setup_runs(cfg: SweepConfig, setup: str, prior: Path, task: Path) -> list[Run]:
    return [Run(setup, m, s, run_dir_for(cfg, setup, m, s),
                method_config(cfg, setup, m, s, prior, task))
            for m in cfg.methods for s in cfg.seeds]


def folder_neighbours(cfg: SweepConfig, runs: list[Run]) -> list[Run]:
    """Runs already in the output folders that this command did not ask for: the other
    methods and seeds of a grid resumed one method at a time (``--methods task_only``).
    They join the report with their own saved config, so a table built over several
    commands never loses a row; they are not trained."""
    known = {r.run_dir.resolve() for r in runs}
    methods = (*METHODS, *cfg.variants)
    out = []
    for setup in cfg.setups:
        folder = run_dir_for(cfg, setup, "x", 0).parent
        for path in sorted(folder.glob("*_seed*")) if folder.is_dir() else []:
            method, _, seed = path.name.rpartition("_seed")
            if (method not in methods or not seed.isdigit() or path.resolve() in known
                    or not (path / "config.json").is_file()):
                continue
            try:
                saved = TrainConfig.load(path / "config.json")
            except (OSError, ValueError, TypeError) as exc:
                # One damaged neighbour must not stop the report of the runs asked for.
                log.warning("left out of the report: %s", exc)
                continue
            run = Run(setup, method, int(seed), path, saved)
            if finished(run):
                run.success = final_success(path)
            out.append(run)
    return out


def _train_all(cfg: SweepConfig, runs: list[Run], ray) -> None:
    from tqdm import tqdm

    todo = []
    for run in runs:
        if finished(run):
            run.success = final_success(run.run_dir)
        else:
            todo.append(run)
    remote = ray.remote(_run_task).options(num_cpus=cfg.cpus_per_run,
                                           num_gpus=cfg.gpus_per_run, max_retries=0)
    started_at = time.time()  # a worker.pid older than this is an earlier sweep's
    pending = {remote.remote(r.cfg.to_dict(), str(r.run_dir)): r for r in todo}
    total = sum(_size(r) for r in runs)
    done = sum(_size(r) for r in runs if r.success is not None)
    unit = "training min" if cfg.train.time_limit_minutes > 0 else "step"
    with tqdm(total=total, initial=done, desc=f"sweep: {len(runs)} runs", unit=unit,
              disable=not cfg.progress, dynamic_ncols=True) as bar:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=2.0)
            for ref in ready:
                run = pending.pop(ref)
                try:
                    run.success = float(ray.get(ref))
                except Exception as exc:  # a failed run is reported; the others go on
                    run.error = _one_line(exc)
            bar.n = sum(_size(r) if r.success is not None else _progress(r) for r in runs)
            n_done = sum(r.success is not None for r in runs)
            n_failed = sum(bool(r.error) for r in runs)
            n_running = sum(has_started(r, started_at) for r in pending.values())
            bar.set_postfix(done=n_done, running=n_running, queued=len(pending) - n_running,
                            failed=n_failed, refresh=False)
            bar.refresh()
    for run in runs:
        state = f"failed: {run.error}" if run.error else f"success {run.success:.2f}"
        log.info("== %s %s seed %d: %s (%s)", run.setup, run.method, run.seed, state,
                 run.run_dir)


def has_started(run: Run, since: float) -> bool:
    """Whether a submitted run's worker has started (in this sweep, not an earlier one): Ray
    holds the rest in its queue until a worker is free."""
    try:
        return (run.run_dir / "worker.pid").stat().st_mtime >= since
    except OSError:
        return False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # Ray wraps the worker's exception; its last non-empty line is the original message.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"


def _size(run: Run) -> float:
    """A run's length for the progress bar: its training minutes when time-limited (the
    image benchmarks), else its steps."""
    limit = run.cfg.time_limit_minutes
    return round(limit, 1) if limit > 0 else run.cfg.steps


def _progress(run: Run) -> float:
    """How far a run has got, in the units of ``_size`` (0 before its first log line)."""
    try:
        lines = (run.run_dir / "train.csv").read_text().strip().splitlines()
        if len(lines) < 2:
            return 0
        fields = lines[-1].split(",")
        if run.cfg.time_limit_minutes > 0:
            column = lines[0].split(",").index("time/train_seconds")
            return min(_size(run), round(float(fields[column]) / 60.0, 1))
        return int(float(fields[0]))
    except (OSError, ValueError):
        return 0


# --- the report -----------------------------------------------------------------------------
def failures(runs: list[Run]) -> list[Run]:
    return [r for r in runs if r.error]


@dataclass
class Outcome:
    """What a run's logs show so far: its last evaluation (the final checkpoint's once the
    run is finished), its best one, and its last logged Q diagnostics (None for BC)."""

    final: float
    step: int
    best: float
    best_step: int
    q_data: float | None
    q_policy: float | None
    curve: dict[int, float]  # success rate at every evaluated step


def run_outcome(run_dir: Path) -> Outcome | None:
    """The run's outcome from eval.csv and train.csv; None before its first evaluation."""
    from cog.logger import CsvLog, eval_rows

    rows = eval_rows(run_dir)
    if not rows:
        return None
    best = max(rows, key=lambda r: r["eval/success_rate"])  # the earliest of equal bests
    train = [r for r in CsvLog(run_dir / "train.csv").rows if "q/data" in r] \
        if (run_dir / "train.csv").is_file() else []
    return Outcome(final=float(rows[-1]["eval/success_rate"]), step=int(rows[-1]["step"]),
                   best=float(best["eval/success_rate"]), best_step=int(best["step"]),
                   q_data=float(train[-1]["q/data"]) if train else None,
                   q_policy=float(train[-1]["q/policy"]) if train else None,
                   curve={int(r["step"]): float(r["eval/success_rate"]) for r in rows})


def _steps(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 and n else str(n)


def _reached(run: Run, outcome: Outcome) -> str:
    """'' for a finished run; else how far its last evaluation got."""
    if run.success is not None:
        return ""
    if run.cfg.time_limit_minutes > 0:
        return f" (at {_progress(run):.0f} of {_size(run):.0f} training min)"
    return f" (at {_steps(outcome.step)} of {_steps(run.cfg.steps)})"


def _started(run: Run) -> bool:
    return (run.run_dir / "train.csv").is_file() or (run.run_dir / "config.json").is_file()


def _unevaluated(run: Run) -> str:
    """What a run with no evaluation to show is doing, for the report's per-seed cell."""
    if run.error:
        return "failed"
    return "started, not yet evaluated" if _started(run) else "not started"


def _mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}" if values else "-"


def write_report(cfg: SweepConfig, runs: list[Run]) -> dict:
    """OUT/report.md, OUT/summary.json and a success.png per setup, from the run folders.

    Every run with an evaluation counts with its last one; a run that has not finished (no
    ``success`` yet: an interrupted sweep, or ``report_sweep`` while it trains) is marked with
    the step it reached, so a table built over several days is never blank. Failed runs are
    listed and left out of the means."""
    out = Path(cfg.out)
    obs = "state" if cfg.train.obs == "state" else f"{cfg.train.obs}, net {cfg.train.net}"
    lines = [f"# Sweep: {', '.join(cfg.setups)} ({obs})", "",
             f"{cfg.train.steps} gradient steps, batch {cfg.train.batch_size}, "
             f"{cfg.eval_episodes} evaluation episodes per seed in each setup's env; "
             f"{cfg.prior_episodes} prior and {cfg.task_episodes} task episodes collected. "
             "Final: the last evaluation (marked with its step where the run has not reached "
             f"{_steps(cfg.train.steps)} yet); best: each seed's best evaluation; Q: the last "
             "logged average Q on dataset actions / on the policy's actions."]
    summary: dict = {}
    # The grid's methods first, then any other method found in the folders.
    methods = list(dict.fromkeys([*cfg.methods, *(r.method for r in runs)]))
    for setup in cfg.setups:
        ours = [r for r in runs if r.setup == setup]
        lines += ["", f"## {setup} (evaluated in `{SETUPS[setup].eval_env}`)", "",
                  "| method | final (mean ± std over seeds) | per seed | best (mean ± std) "
                  "| Q data / policy (per seed) |", "|---|---|---|---|---|"]
        summary[setup] = {}
        outcomes: dict[str, list[tuple[Run, Outcome]]] = {}
        for method in methods:
            mine = [r for r in ours if r.method == method]
            got = [(r, o) for r in mine if not r.error
                   for o in [run_outcome(r.run_dir)] if o is not None]
            outcomes[method] = got
            cells = [f"{o.final:.2f}" + _reached(r, o) for r, o in got]
            # Seeds with nothing to show are named, unless none of the method's seeds is.
            waiting = [r for r in mine if all(r is not g for g, _ in got)]
            if got or any(r.error or _started(r) for r in waiting):
                cells += [f"seed {r.seed} {_unevaluated(r)}" for r in waiting]
            qs = [f"{o.q_data:.1f} / {o.q_policy:.1f}" for _, o in got if o.q_data is not None]
            if got:
                finals, bests = [o.final for _, o in got], [o.best for _, o in got]
                summary[setup][method] = {
                    "mean": float(np.mean(finals)), "std": float(np.std(finals)),
                    "per_seed": {str(r.seed): o.final for r, o in got},
                    "best_mean": float(np.mean(bests)),
                    "best_per_seed": {str(r.seed): o.best for r, o in got},
                    "step_per_seed": {str(r.seed): o.step for r, o in got},
                    "unfinished": [r.seed for r, _ in got if r.success is None],
                    "q_data_per_seed": {str(r.seed): o.q_data for r, o in got},
                }
            lines.append(f"| {method} | {_mean_std([o.final for _, o in got])} | "
                         f"{', '.join(cells) or 'not started'} | "
                         f"{_mean_std([o.best for _, o in got])} | {', '.join(qs) or '-'} |")
        if not any(outcomes.values()):
            continue  # nothing evaluated yet: no empty plot, no links to missing GIFs
        folder = run_dir_for(cfg, setup, "x", 0).parent
        curves = {m: [o.curve for _, o in got] for m, got in outcomes.items()}
        png = plot_mean_curves(cfg, setup, curves, folder / "success.png")
        lines += ["", f"![success against steps]({png.relative_to(out)})", ""]
        gifs = []
        for method in methods:
            videos = sorted((outcomes[method][0][0].run_dir / "videos").glob("*.gif")) \
                if outcomes[method] else []
            if videos:
                dest = folder / f"{method}.gif"
                write_bytes_atomic(dest, videos[-1].read_bytes())
                gifs.append(f"{method}: ![{method}]({dest.relative_to(out)})")
        if gifs:
            lines += ["Last evaluation episode of the first seed:", ""] + gifs + [""]
    failed = failures(runs)
    if failed:
        lines += ["## Failed runs", "", "Re-run the same command to resume them.", ""]
        lines += [f"- {r.setup} {r.method} seed {r.seed} ({r.run_dir}): {r.error}"
                  for r in failed]
    write_text_atomic(out / "report.md", "\n".join(lines) + "\n")
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def report_sweep(cfg: SweepConfig) -> dict:
    """Rewrite the report from the run folders as they stand: no collection, no Ray, no
    training. For a grid that trains over several days, or is training right now."""
    cfg.validate()
    # The datasets' paths do not matter here; the planned steps (or minutes) do.
    runs = [r for setup in cfg.setups for r in setup_runs(cfg, setup, Path(""), Path(""))]
    for run in runs:
        if finished(run) or (run.cfg.time_limit_minutes > 0 and _progress(run) >= _size(run)):
            run.success = final_success(run.run_dir)
    return write_report(cfg, runs + folder_neighbours(cfg, runs))


def missing_runs(cfg: SweepConfig, summary: dict) -> int:
    """Runs of the grid without a finished evaluation in ``summary`` (failed, not started
    or unfinished); runs of the folder outside the grid do not count either way."""
    missing = 0
    for setup in cfg.setups:
        for method in cfg.methods:
            got = summary.get(setup, {}).get(method, {})
            done = set(got.get("per_seed", {})) - {str(s) for s in got.get("unfinished", ())}
            missing += sum(str(seed) not in done for seed in cfg.seeds)
    return missing


def plot_mean_curves(cfg: SweepConfig, setup: str, curves_by_method: dict[str, list[dict]],
                     path: Path) -> Path:
    """Success against steps, mean ± std over seeds, one line per method; each curve maps
    an evaluated step to its success rate."""
    from cog.plotting import new_figure, save_png

    fig, ax = new_figure(figsize=(5.5, 3.6))
    for method, curves in curves_by_method.items():
        # Every evaluated step, over the seeds that reached it: a run still training (or
        # stopped early) shortens no other seed's curve.
        steps = sorted(set().union(*curves))
        if not steps:
            continue
        vals = [[c[s] for c in curves if s in c] for s in steps]
        mean, std = np.array([np.mean(v) for v in vals]), np.array([np.std(v) for v in vals])
        ax.plot(steps, mean, marker="o", markersize=3, label=method)
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("gradient steps")
    ax.set_ylabel("success rate")
    seeds = max((len(c) for c in curves_by_method.values()), default=0)
    ax.set_title(f"{setup}, {cfg.train.obs}, {seeds} seed(s)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return save_png(fig, path)
