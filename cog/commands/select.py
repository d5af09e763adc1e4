"""`cog select RUN [RUN...]`: choose each run's checkpoint without the simulator."""

from __future__ import annotations


def add_parsers(subparsers) -> None:
    from cog.cli import progress_arg
    from cog.selection import FQE_ENCODERS, SELECTORS

    p = subparsers.add_parser(
        "select", help="pick a checkpoint per run from its statistics alone (no simulator)",
        description="Offline policy selection over a run's snapshots: the workflow rule "
        "(peak of Q on dataset actions, guarded by the held-out TD error), early "
        "stopping at that peak only when overfitting is diagnosed, fitted Q "
        "evaluation at the prior episodes' starts, and the last snapshot as the baseline. "
        "Prints the chosen step and the evidence, and writes RUN/selection.png and "
        "RUN/selection.json. Export the pick with `cog export --run RUN --step N`.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--selectors", nargs="+", default=list(SELECTORS), choices=SELECTORS,
                   help=f"(default: all of {', '.join(SELECTORS)})")
    p.add_argument("--fqe-steps", type=int, default=3000,
                   help="FQE gradient steps per snapshot (3000)")
    p.add_argument("--fqe-encoder", choices=FQE_ENCODERS, default="auto",
                   help="train: FQE fits a whole fresh critic; frozen: only its Q head, on the "
                   "run's last critic's features (minutes instead of hours for an image run "
                   "on a CPU); auto (default): frozen for image runs, train for state runs")
    p.add_argument("--seed", type=int, default=0, help="FQE seed (0)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: FQE's small networks run fastest on one)")
    progress_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from cog.cli import CliError, show_progress
    from cog.selection import (
        FQEConfig,
        plot_selection,
        report,
        select_run,
        true_success,
        write_selection,
    )

    if args.fqe_steps < 1:
        raise CliError(f"--fqe-steps must be >= 1, got {args.fqe_steps}")
    from cog.trainer import torch_settings

    for run_dir in args.runs:
        with torch_settings(args.threads, False):
            sel = select_run(run_dir, tuple(args.selectors),
                             FQEConfig(steps=args.fqe_steps, seed=args.seed,
                                       encoder=args.fqe_encoder),
                             progress=show_progress(args))
        success = true_success(run_dir)
        print(report(sel, success))
        png = plot_selection(sel, success, Path(run_dir) / "selection.png")
        write_selection(sel, Path(run_dir) / "selection.json")
        print(f"wrote {png} and {Path(run_dir) / 'selection.json'}\n")
    return 0
