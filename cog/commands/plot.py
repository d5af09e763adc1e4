"""`cog plot RUN_DIR [RUN_DIR...]`: learning curves (success vs steps, Q diagnostics)."""

from __future__ import annotations


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser("plot", help="PNG learning curves of one or more runs")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", default="learning_curves.png", help="PNG path")
    p.set_defaults(func=run)


def run(args) -> int:
    from cog.plotting import plot_runs

    path = plot_runs(args.runs, args.out)
    print(f"wrote {path}")
    return 0
