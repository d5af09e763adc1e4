"""`cog export`: a trained run's policy as a self-contained TorchScript file."""

from __future__ import annotations


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a trained policy to TorchScript")
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("--out", required=True, help="output file, e.g. policy.pt")
    p.add_argument("--step", type=int, default=None,
                   help="export the policy snapshot taken at this step (see `cog select`); "
                        "default: the last checkpoint")
    p.set_defaults(func=run)


def run(args) -> int:
    from cog.export import export_policy
    from cog.runs import load_run

    nets, cfg, step = load_run(args.run, args.step)
    path = export_policy(nets, cfg, step, args.out)
    print(f"exported step {step} policy to {path}")
    return 0
