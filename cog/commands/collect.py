"""`cog collect`: scripted prior/task datasets into HDF5 (one dataset, or a COG preset)."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    from cog.cli import old_flag, progress_arg, setup_or_all_arg
    from data_collection.collect import APPROACH_GRIPPER
    from data_collection.presets import SETUPS

    p = subparsers.add_parser(
        "collect",
        help="collect scripted datasets into HDF5 (in parallel on Ray, resumable)",
        description=(
            "Run a scripted expert in an env and save the episodes as an HDF5 dataset. "
            "Either --env/--policy/--out for one dataset, or --preset/--out-dir for a COG "
            "setup's prior and task datasets. Re-running the same command after a crash "
            "resumes from the finished shards."
        ),
    )
    one = p.add_argument_group("one dataset")
    one.add_argument("--env", help="env id, e.g. cog/ClosedDrawerGrasp-v0")
    one.add_argument("--policy", help="an expert name, e.g. drawer_open (see `cog envs`)")
    one.add_argument("--episodes", type=int, default=100, help="episodes to attempt (100)")
    one.add_argument("--out", help="output file, FILE.h5")
    p.add_argument(
        "--save-all", action="store_true",
        help="keep failed episodes (default: successes only); with --preset, keep failed "
             "prior attempts too, as COG's released data did (task data always keeps them)",
    )
    one.add_argument(
        "--end-on-done", action="store_true",
        help="end each episode when the expert has finished, instead of idling to the horizon "
             "(presets do this for prior data)"
    )
    pre = p.add_argument_group("preset")
    pre.add_argument(
        "--setup", dest="preset", type=setup_or_all_arg, metavar="SETUP",
        help=f"one of the COG setups ({', '.join(SETUPS)}) or all",
    )
    old_flag(pre, "--preset", "--setup", "preset", type=setup_or_all_arg)
    pre.add_argument("--out-dir", help="directory for the setup's datasets, e.g. "
                                       "closed_drawer_prior.h5 and closed_drawer_task.h5")
    pre.add_argument(
        "--scale", default="quick", choices=["quick", "paper"],
        help="dataset sizes: quick (100+100 episodes, minutes) or paper (5000+5000)",
    )
    pre.add_argument("--prior-episodes", type=int, help="override the scale's prior size")
    pre.add_argument(
        "--irrelevant-fraction", type=float, default=0.0, metavar="F",
        help="replace a fraction F of prior episodes by irrelevant behaviour in the same scene "
             "(written to <preset>_prior_irrNN.h5); 0 = none (default)",
    )
    pre.add_argument("--task-episodes", type=int, help="override the scale's task size")
    p.add_argument("--noise", type=float, default=0.1, help="expert action noise std (0.1)")
    p.add_argument(
        "--approach-gripper", choices=list(APPROACH_GRIPPER), default="open",
        help="what grasps command on the (open) gripper while approaching: open (default) or "
             "hold = 0, no change, as COG's scripted grasp did; with --setup the files end "
             "in _hold",
    )
    p.add_argument("--seed", type=int, default=0, help="run seed (0)")
    p.add_argument("--workers", type=int, default=1, help="parallel workers; >1 uses Ray (1)")
    p.add_argument("--address", help="join an existing Ray cluster (needs a shared filesystem)")
    p.add_argument("--image-size", type=int, default=48, help="camera image size (48)")
    p.add_argument(
        "--shard-episodes", type=int, default=20,
        help="episodes per shard, the unit of resume and of work per worker (20)",
    )
    p.add_argument("--codec", default="lzf", choices=["lzf", "gzip", "none"], help="(lzf)")
    p.add_argument("--keep-shards", action="store_true", help="keep OUT.shards/ after merging")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    progress_arg(p)
    p.set_defaults(func=run_collect)


def _describe(result) -> str:
    if result.already_complete:
        return f"{result.out}: already complete ({result.kept} episodes); nothing to do"
    size_mb = result.out.stat().st_size / 1e6
    reused = f", reused {result.reused_shards} shard(s)" if result.reused_shards else ""
    return (
        f"wrote {result.out}: kept {result.kept} of {result.attempted} episodes "
        f"(success {result.success_rate:.0%}), {result.transitions} transitions, "
        f"{size_mb:.1f} MB in {result.seconds:.1f} s{reused}"
    )


def run_collect(args: argparse.Namespace) -> int:
    from cog.cli import CliError, show_progress
    from data_collection.collect import CollectConfig, CollectionError, collect

    common = dict(
        noise=args.noise,
        approach_gripper=args.approach_gripper,
        seed=args.seed,
        workers=args.workers,
        image_size=args.image_size,
        address=args.address,
        overwrite=args.overwrite,
    )
    if args.preset:
        if args.env or args.policy or args.out:
            raise CliError("--preset cannot be combined with --env/--policy/--out")
        if not args.out_dir:
            raise CliError("--preset needs --out-dir DIR")
        from data_collection.presets import preset_configs

        jobs = preset_configs(
            args.preset,
            args.out_dir,
            scale=args.scale,
            prior_episodes=args.prior_episodes,
            task_episodes=args.task_episodes,
            prior_save_all=args.save_all,
            irrelevant_fraction=args.irrelevant_fraction,
            **common,
        )
    else:
        missing = [f"--{n}" for n in ("env", "policy", "out") if not getattr(args, n)]
        if missing:
            raise CliError(f"missing {', '.join(missing)} (or use --preset NAME --out-dir DIR)")
        jobs = [("", CollectConfig(args.env, args.policy, args.episodes, args.out, **common,
                                   save_all=args.save_all, end_on_done=args.end_on_done))]
    import dataclasses

    from envs.atomic import atomic_path

    done: dict[str, object] = {}
    for label, cfg in jobs:
        cfg = dataclasses.replace(
            cfg, shard_episodes=args.shard_episodes, codec=args.codec, keep_shards=args.keep_shards
        )
        # The drawer presets share their task data: collect it once, copy it afterwards.
        key = repr((cfg.fingerprint(), cfg.episodes, cfg.save_all, cfg.codec))
        if key in done and (cfg.overwrite or not cfg.out.exists()):
            import shutil

            with atomic_path(cfg.out, suffix=".h5") as tmp:
                shutil.copyfile(done[key], tmp)
            print(f"{label}: copied {done[key]} -> {cfg.out} (same data)")
            continue
        if label:
            print(f"{label}: {cfg.policy_name} in {cfg.env_id}, {cfg.episodes} episodes")
        try:
            result = collect(cfg, progress=show_progress(args))
        except CollectionError as exc:
            raise CliError(str(exc)) from None
        done[key] = cfg.out
        print(f"{label + ': ' if label else ''}{_describe(result)}")
    return 0
