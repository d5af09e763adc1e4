"""`cog eval`: success rate of a trained run (or exported policy) in an env, with a GIF."""

from __future__ import annotations


def add_parsers(subparsers) -> None:
    from cog.cli import old_flag

    p = subparsers.add_parser("eval", help="evaluate a trained run in an env")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run directory")
    src.add_argument("--policy", help="an exported policy file (cog export)")
    p.add_argument("--step", type=int, default=None,
                   help="with --run: evaluate the policy snapshot taken at this step")
    p.add_argument("--env", help="gymnasium env id (default: the run's eval env)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--video", help="write a GIF of the first episode here")
    p.add_argument("--workers", type=int, default=1,
                   help="episodes in parallel: 1 = in this process (default), N > 1 = N Ray "
                        "workers, 0 = one per CPU")
    old_flag(p, "--ray", "--workers 0", "workers", const=0)
    p.add_argument("--seed", type=int, default=None,
                   help="first episode seed (default 100000: the seeds training-time "
                        "evaluation uses, so the figures compare)")
    p.add_argument("--stochastic", action="store_true",
                   help="sample actions (seeded per episode) instead of tanh(mean); --run only")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from cog.cli import CliError
    from cog.evaluation import EVAL_BASE_SEED, evaluate
    from cog.export import export_bytes
    from policies.exported import load_exported

    seed = EVAL_BASE_SEED if args.seed is None else args.seed
    if args.stochastic and args.policy:
        raise CliError("--stochastic needs --run: exported policies are deterministic")
    if args.stochastic and args.workers != 1:
        raise CliError(f"--stochastic samples in this process: use --workers 1, not "
                       f"--workers {args.workers}")
    if args.run:
        from cog.evaluation import TorchPolicy
        from cog.runs import GreedyActor, load_run

        nets, cfg, step = load_run(args.run, args.step)
        env_id = args.env or cfg.eval_env
        obs_kind = cfg.obs
        if env_id and obs_kind == "image":  # the clear message the exported path gives too
            from cog.evaluation import check_image_size, make_env

            env = make_env(env_id, obs_kind)
            try:
                check_image_size(nets.spec.image_size, env, f"run {args.run}")
            finally:
                env.close()
        policy = TorchPolicy(GreedyActor(nets), obs_kind, deterministic=not args.stochastic)
        policy_bytes = export_bytes(nets, cfg, step) if args.workers != 1 else None
    else:
        policy = load_exported(args.policy)
        env_id, obs_kind = args.env, policy.obs_kind
        policy_bytes = Path(args.policy).read_bytes() if args.workers != 1 else None
    if not env_id:
        raise CliError("no env: pass --env ID")
    res = evaluate(policy, env_id, args.episodes, obs_kind=obs_kind, gif_path=args.video,
                   base_seed=seed, workers=args.workers, policy_bytes=policy_bytes)
    print(f"{env_id}: success {res.success_rate:.2f} ({sum(res.successes)}/{res.episodes}), "
          f"success at any step {res.any_success_rate:.2f}, mean return {res.mean_return:.2f}")
    if args.video:
        print(f"video: {args.video}")
    return 0
