"""Stitching check on state observations (CPU): COG vs task-only CQL vs BC.

    python benchmarks/stitching.py --setup closed-drawer --seeds 0 1 2
    python benchmarks/stitching.py --setup blocked-drawer --seeds 0 1 2 --out runs/stitch_bd
    python benchmarks/stitching.py --net thumb      # proprioception + 8x8 camera, no object state

Collects (or reuses) the setup's prior and task datasets, trains every method on every
seed (runs resume if interrupted), and writes OUT/report.md (the table), OUT/success.png
(success against steps, mean ± std over seeds), OUT/summary.json and one GIF per method.
Target (issue 4): COG >= 0.6 on closed-drawer; task-only CQL and BC <= 0.1. "bc" clones
prior + task data, "bc_task" the task data only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cog.cli import progress_arg, setup_arg, show_progress  # noqa: E402
from cog.sweep import METHODS, SweepConfig, run_sweep  # noqa: E402
from data_collection.presets import SETUPS  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", default="closed-drawer", type=setup_arg,
                   help=f"one of {', '.join(SETUPS)}")
    p.add_argument("--out", default=None)
    p.add_argument("--data-dir", default="")
    p.add_argument("--methods", nargs="+", default=["cog", "task_only", "bc", "bc_task"],
                   choices=METHODS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--net", default="state", choices=["state", "thumb", "fast", "cog"],
                   help="state: proprioception + privileged object state; the others read the "
                        "camera (thumb: an 8x8 thumbnail) and proprioception, no object state")
    p.add_argument("--steps", type=int, default=15000)
    p.add_argument("--bc-warmup-steps", type=int, default=1000)
    p.add_argument("--episodes", type=int, default=300, help="prior and task episodes each")
    p.add_argument("--irrelevant-fraction", type=float, default=0.0,
                   help="fraction of prior episodes replaced by irrelevant behaviour")
    p.add_argument("--save-all", action="store_true",
                   help="keep failed prior attempts too, as COG's released data did")
    p.add_argument("--eval-episodes", type=int, default=20)
    p.add_argument("--eval-every", type=int, default=2500)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--collect-workers", type=int, default=1,
                   help="collection workers (Ray if > 1)")
    p.add_argument("--workers", type=int, default=2,
                   help="runs trained at once (default 2: one per core here)")
    progress_arg(p)
    args = p.parse_args()
    base = SweepConfig()
    cfg = SweepConfig(
        setups=(args.setup,),
        out=args.out or f"runs/stitching_{args.setup}",
        data_dir=args.data_dir,
        methods=tuple(args.methods),
        seeds=tuple(args.seeds),
        prior_episodes=args.episodes,
        task_episodes=args.episodes,
        collect_workers=args.collect_workers,
        irrelevant_fraction=args.irrelevant_fraction,
        prior_save_all=args.save_all,
        workers=args.workers,
        progress=show_progress(args),
        eval_episodes=args.eval_episodes,
        eval_every=args.eval_every,
        train=replace(base.train, obs="state" if args.net == "state" else "image", net=args.net,
                      steps=args.steps, batch_size=args.batch_size,
                      bc_warmup_steps=args.bc_warmup_steps, threads=args.threads,
                      checkpoint_every=args.eval_every),
    )
    run_sweep(cfg)
    print((Path(cfg.out) / "report.md").read_text())


if __name__ == "__main__":
    main()
