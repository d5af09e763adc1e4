"""`cog demo`: the whole pipeline at small scale on CPU (about 10 minutes).

Collects small closed-drawer prior and task datasets, trains COG (CQL on prior + task) and
the task-only CQL baseline on state observations (proprioception plus the simulator's
privileged object state), two runs at once, evaluates both from the closed-drawer start the
task data never shows, and writes OUT/report.md with a PNG and GIFs.
"""

from __future__ import annotations


def add_parsers(subparsers) -> None:
    from cog.cli import old_flag, progress_arg

    p = subparsers.add_parser("demo", help="collect, train COG and a baseline, evaluate, report")
    p.add_argument("--out", default="runs/demo", help="output folder (report.md, PNG, GIFs)")
    p.add_argument("--steps", type=int, default=12000, help="gradient steps per method")
    p.add_argument("--net", choices=["state", "thumb"], default="state",
                   help="network preset: state reads proprioception + object state (default); "
                        "thumb reads proprioception + an 8x8 camera thumbnail")
    old_flag(p, "--obs", "--net", "net")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--episodes", type=int, default=300, help="prior and task episodes each")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--workers", type=int, default=2, help="runs trained at once (2)")
    old_flag(p, "--jobs", "--workers", "workers", type=int)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per run (1 is fastest for the small state networks)")
    progress_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import time
    from dataclasses import replace
    from pathlib import Path

    from cog.cli import show_progress
    from cog.sweep import SweepConfig, run_sweep

    base = SweepConfig()
    cfg = SweepConfig(
        setups=("closed-drawer",),
        out=args.out,
        methods=("cog", "task_only"),
        seeds=tuple(args.seeds),
        prior_episodes=args.episodes,
        task_episodes=args.episodes,
        eval_episodes=args.eval_episodes,
        eval_every=max(args.steps // 6, 1),
        workers=args.workers,
        progress=show_progress(args),
        train=replace(base.train, steps=args.steps,
                      bc_warmup_steps=min(base.train.bc_warmup_steps, max(args.steps // 10, 1)),
                      checkpoint_every=max(args.steps // 6, 1), threads=args.threads,
                      **({"obs": "image", "net": "thumb"} if args.net == "thumb" else {})),
    )
    t0 = time.perf_counter()
    summary = run_sweep(cfg)["closed-drawer"]
    print((Path(args.out) / "report.md").read_text())
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f}s: "
          + ", ".join(f"{m} {s['mean']:.2f}" for m, s in summary.items())
          + f"; report: {args.out}/report.md")
    return 0
