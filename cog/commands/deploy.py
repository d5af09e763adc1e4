"""`cog deploy`: run a policy on a robot server at a fixed rate and record the rollouts."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "deploy", help="run a policy on a robot server (`cog robot serve`) and record rollouts"
    )
    p.add_argument(
        "--policy", required=True,
        help="an exported policy file (cog export), or an expert name (sim servers only)"
    )
    p.add_argument("--robot", default="tcp://127.0.0.1:5555", help="robot server endpoint")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--rate", type=float, default=5.0, help="control rate in Hz")
    p.add_argument("--out", default="runs/real", help="output directory")
    p.add_argument("--dry-run", action="store_true", help="compute and log actions, send none")
    p.add_argument("--horizon", type=int, default=None, help="steps per episode")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.1, help="scripted experts' action noise")
    p.add_argument("--curve-keys", default=None, help="key directory from `cog robot keygen`")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    p.add_argument("--image-size", type=int, default=48)
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="OUT",
                   help="continue an interrupted run (in OUT, else in --out)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT/rollouts.h5")
    p.set_defaults(func=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    from robot_interface.client import RobotLinkError
    from robot_interface.deploy import DeployConfig, run_deploy

    cfg = DeployConfig(
        policy=args.policy,
        robot=args.robot,
        episodes=args.episodes,
        rate_hz=args.rate,
        out=args.resume or args.out,
        dry_run=args.dry_run,
        horizon=args.horizon,
        seed=args.seed,
        noise=args.noise,
        curve_keys=args.curve_keys,
        timeout_s=args.timeout,
        image_size=args.image_size,
        resume=args.resume is not None,
        overwrite=args.overwrite,
    )
    try:
        summary = run_deploy(cfg)
    except RobotLinkError as exc:
        raise ValueError(str(exc)) from None
    lat = summary["act_latency"]
    if summary["episodes"]:
        print(
            f"success rate {summary['success_rate']:.2f} "
            f"({summary['successes']}/{summary['episodes']}); act latency "
            f"p50 {lat['p50_ms']:.2f} ms p99 {lat['p99_ms']:.2f} ms; "
            f"overruns {summary['loop_overruns']}; dataset {summary['dataset']}"
        )
    else:
        print("dry run finished: actions logged, nothing sent")
    if summary["interventions"]:
        print(f"safety interventions: {summary['interventions']}")
    return 0
