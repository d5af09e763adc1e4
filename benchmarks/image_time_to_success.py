"""Time to a working image policy: COG from the camera on the closed drawer, per configuration.

    python benchmarks/image_time_to_success.py          # the CPU recipe against the old one
    python benchmarks/image_time_to_success.py --configs cpu-b64-oldnum-tau02-ls5 --seeds 0 1 2

Every run trains COG (CQL on prior + task data) from the 48x48 camera image only (no
proprioception, no object state) on the closed-drawer preset data, one torch thread each,
the runs side by side (two at once on two cores). It evaluates on a fixed schedule of
*training* time (``--eval-every-minutes``; evaluation time is not counted), over
``--eval-episodes`` seeded episodes in ``cog/ClosedDrawerGrasp-v0``, whose closed-drawer
start the task data never shows, and stops each run after ``--minutes`` of training time.

It prints, per run, the training time and gradient steps at which success first reached
``--target`` (the figure issue 10 moves), the best and the last evaluation, and writes
OUT/time_to_success.json and OUT/success_vs_minutes.png. Re-running the same command skips finished
runs and resumes interrupted ones (`cog train --resume` underneath).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cog.cli import progress_arg, show_progress  # noqa: E402
from cog.config import TrainConfig, recipe  # noqa: E402
from cog.logger import CsvLog, eval_rows  # noqa: E402
from cog.sweep import SweepConfig, run_sweep  # noqa: E402
from envs.atomic import write_text_atomic  # noqa: E402

# Named configurations (overrides of TrainConfig). "old" is the configuration of the 50k-step
# run in RESULTS.md that reached 0.56 after about 3 hours, including the pre-issue-11
# defaults it ran with (0.5 * MSE, entropy lr 3e-4, log-std floor -20).
CONFIGS: dict[str, dict] = {
    "old": dict(net="fast", batch_size=256, precision="float32", bellman_weight=0.5,
                entropy_lr=3e-4, policy_log_std_min=-20.0),
    "cpu-b256": dict(net="fast", batch_size=256, precision="bf16"),
    "cpu-b128": dict(net="fast", batch_size=128, precision="bf16"),
    "cpu-b64": dict(net="fast", batch_size=64, precision="bf16"),
    # The old numerics (0.5 * MSE, entropy lr 3e-4, log-std floor -20) with the speed levers.
    "cpu-b64-oldnum": dict(net="fast", batch_size=64, precision="bf16", bellman_weight=0.5,
                           entropy_lr=3e-4, policy_log_std_min=-20.0),
    # ... and a 4x faster target network (Polyak 0.02 instead of COG's 0.005).
    "cpu-b64-oldnum-tau02": dict(net="fast", batch_size=64, precision="bf16",
                                 bellman_weight=0.5, entropy_lr=3e-4,
                                 policy_log_std_min=-20.0, polyak_tau=0.02),
    # One of COG's numerics at a time on top of the configuration above, to find which of
    # the three keeps image runs from learning within 40 minutes: COG's plain-MSE Bellman
    # term, COG's entropy learning rate (1e-4), or COG's log-std floor (-5).
    "cpu-b64-oldnum-tau02-mse": dict(net="fast", batch_size=64, precision="bf16",
                                     bellman_weight=1.0, entropy_lr=3e-4,
                                     policy_log_std_min=-20.0, polyak_tau=0.02),
    "cpu-b64-oldnum-tau02-elr1e4": dict(net="fast", batch_size=64, precision="bf16",
                                        bellman_weight=0.5, entropy_lr=1e-4,
                                        policy_log_std_min=-20.0, polyak_tau=0.02),
    # COG's log-std floor (-5) alone: `cog train --recipe cpu-image` (cog/config.py), less
    # the values base_config sets for every configuration here (obs, threads, warm-up).
    "cpu-b64-oldnum-tau02-ls5": {k: v for k, v in recipe("cpu-image").items()
                                 if k not in ("obs", "threads", "bc_warmup_steps")},
    # All three of COG's numerics (today's defaults) with the 4x faster target network.
    "cpu-b64-tau02": dict(net="fast", batch_size=64, precision="bf16", polyak_tau=0.02),
    # 3-step returns (a named option, not COG's algorithm): value crosses the prior data in a
    # third of the target-network updates. With COG's numerics, and with the old ones.
    "cpu-b64-nstep3": dict(net="fast", batch_size=64, precision="bf16", n_step=3),
    "cpu-b64-oldnum-nstep3": dict(net="fast", batch_size=64, precision="bf16",
                                  bellman_weight=0.5, entropy_lr=3e-4,
                                  policy_log_std_min=-20.0, n_step=3),
    "cpu-b64-oldnum-nstep3-tau02": dict(net="fast", batch_size=64, precision="bf16",
                                        bellman_weight=0.5, entropy_lr=3e-4,
                                        policy_log_std_min=-20.0, n_step=3, polyak_tau=0.02),
    # COG's own 10k behaviour-cloning warm-up steps instead of the benchmark's 1k.
    "cpu-b64-bc10k": dict(net="fast", batch_size=64, precision="bf16", bc_warmup_steps=10_000),
    # ... and a 4x faster target network (Polyak 0.02 instead of COG's 0.005).
    "cpu-b64-bc10k-tau02": dict(net="fast", batch_size=64, precision="bf16",
                                bc_warmup_steps=10_000, polyak_tau=0.02),
    "cog-bf16": dict(net="cog", batch_size=256, precision="bf16"),
}


def base_config(args) -> TrainConfig:
    """What every configuration shares; CONFIGS[name] is applied on top (a sweep variant)."""
    # holdout_fraction 0: every configuration trains on all the data, as the runs recorded
    # before the held-out split (issue 14) did, so the figures stay comparable.
    return TrainConfig(
        obs="image", steps=10_000_000, bc_warmup_steps=args.bc_warmup_steps, threads=1,
        eval_every_minutes=args.eval_every_minutes, time_limit_minutes=args.minutes,
        checkpoint_every=2500, log_every=250, progress=False, eval_gif=True,
        holdout_fraction=0.0, net="fast")


def first_reaching(rows: list[dict], target: float) -> dict | None:
    for r in rows:
        if r["eval/success_rate"] >= target:
            return r
    return None


def summarise(runs: dict[str, Path], target: float) -> dict:
    out = {}
    for key, run_dir in runs.items():
        rows = eval_rows(run_dir)
        train = CsvLog(run_dir / "train.csv").rows
        if not rows:
            out[key] = {"evaluations": 0}
            continue
        hit = first_reaching(rows, target)
        best = max(rows, key=lambda r: r["eval/success_rate"])
        ups = [r["perf/updates_per_s"] for r in train if "perf/updates_per_s" in r]
        out[key] = {
            "evaluations": len(rows),
            "reached_minutes": None if hit is None else hit["time/train_seconds"] / 60.0,
            "reached_step": None if hit is None else int(hit["step"]),
            "best": best["eval/success_rate"], "best_step": int(best["step"]),
            "last": rows[-1]["eval/success_rate"], "last_step": int(rows[-1]["step"]),
            "last_minutes": rows[-1]["time/train_seconds"] / 60.0,
            "median_updates_per_s": sorted(ups)[len(ups) // 2] if ups else None,
            "curve": [[r["time/train_seconds"] / 60.0, int(r["step"]), r["eval/success_rate"]]
                      for r in rows],
            "q_data": [[r["time/train_seconds"] / 60.0, int(r["step"]), r["q/data"]]
                       for r in train if "q/data" in r],
        }
    return out


def plot(summary: dict, path: Path, target: float) -> None:
    from cog.plotting import new_figure, save_png

    fig, (ax, qax) = new_figure(1, 2, figsize=(11, 3.8))
    for key, s in summary.items():
        if s.get("curve"):
            minutes, _, success = zip(*s["curve"], strict=True)
            ax.plot(minutes, success, marker="o", markersize=3, label=key)
        if s.get("q_data"):
            _, steps, q = zip(*s["q_data"], strict=True)
            qax.plot(steps, q, label=key)
    ax.axhline(target, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("training minutes (evaluation excluded)")
    ax.set_ylabel("success rate")
    ax.set_title("COG from the camera, closed drawer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    qax.set_xlabel("gradient steps")
    qax.set_ylabel("mean Q on dataset actions")
    qax.set_title("value propagation (at most 100 with 0/1 rewards)")
    qax.grid(alpha=0.3)
    save_png(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=["cpu-b64-oldnum-tau02-ls5", "old"],
                   choices=sorted(CONFIGS),
                   help="the README's CPU flags (cpu-b64-oldnum-tau02-ls5) and the configuration "
                        "before issue 10 (old) by default")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--setup", default="closed-drawer", choices=["closed-drawer"])
    p.add_argument("--minutes", type=float, default=40.0, help="training minutes per run")
    p.add_argument("--eval-every-minutes", type=float, default=4.0)
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--target", type=float, default=0.6)
    p.add_argument("--bc-warmup-steps", type=int, default=1000)
    p.add_argument("--episodes", type=int, default=300, help="prior and task episodes each")
    p.add_argument("--data-dir", default="", help="default OUT/data")
    p.add_argument("--out", default="runs/image_time_to_success")
    p.add_argument("--workers", "--jobs", type=int, default=2,
                   help="runs at once, one thread each (2)")
    progress_arg(p)
    args = p.parse_args()

    out = Path(args.out)
    # One way to run a grid: the configurations are variants of a sweep (cog.sweep), which
    # resumes interrupted runs and skips finished ones.
    sweep = SweepConfig(setups=(args.setup,), methods=tuple(args.configs), seeds=tuple(args.seeds),
                        out=str(out), data_dir=args.data_dir, prior_episodes=args.episodes,
                        task_episodes=args.episodes, eval_episodes=args.eval_episodes,
                        workers=args.workers, train=base_config(args),
                        progress=show_progress(args),
                        variants={name: CONFIGS[name] for name in args.configs})
    run_sweep(sweep)
    report({f"{name}_seed{seed}": out / f"{name}_seed{seed}"
            for name in args.configs for seed in args.seeds}, args)


def report(runs: dict[str, Path], args) -> None:
    """Summarise finished runs: OUT/summary.json, the plot and the printed table."""
    out = Path(args.out)
    summary = summarise(runs, args.target)
    meta = {"target": args.target, "minutes": args.minutes, "eval_episodes": args.eval_episodes,
            "eval_every_minutes": args.eval_every_minutes, "workers": args.workers,
            "configs": {name: CONFIGS[name] for name in args.configs}}
    write_text_atomic(out / "time_to_success.json",
                      json.dumps({"meta": meta, "runs": summary}, indent=2) + "\n")
    plot(summary, out / "success_vs_minutes.png", args.target)

    print(f"\nCOG from the camera, {args.setup}: first evaluation at success >= {args.target} "
          f"({args.eval_episodes} episodes, every {args.eval_every_minutes:g} training minutes, "
          f"at most {args.minutes:g} minutes, {args.workers} run(s) at once, one thread each)")
    print("| run | reached at (training min) | at step | best (step) | last (step, min) "
          "| median updates/s |")
    print("|---|---|---|---|---|---|")
    for key, s in summary.items():
        if not s.get("evaluations"):
            print(f"| {key} | no evaluation | | | | |")
            continue
        reached = ("not reached" if s["reached_minutes"] is None
                   else f"{s['reached_minutes']:.1f}")
        step = "" if s["reached_step"] is None else str(s["reached_step"])
        print(f"| {key} | {reached} | {step} | {s['best']:.2f} ({s['best_step']}) | "
              f"{s['last']:.2f} ({s['last_step']}, {s['last_minutes']:.1f}) | "
              f"{s['median_updates_per_s']:.1f} |")
    print(f"\nwrote {out / 'time_to_success.json'} and {out / 'success_vs_minutes.png'}")


if __name__ == "__main__":
    main()
