"""`cog envs` and `cog rollout`: list the simulated tasks, roll a scripted policy out."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    from cog.cli import progress_arg

    p = subparsers.add_parser("envs", help="list the registered envs with horizon and spaces")
    p.set_defaults(func=_envs)

    p = subparsers.add_parser(
        "rollout", help="roll a policy out in an env: success rate, and a GIF of the first episode"
    )
    p.add_argument("--env", required=True, help="env id, e.g. cog/ClosedDrawerGrasp-v0")
    p.add_argument("--policy", required=True,
                   help="an expert name (see `cog envs`) or an exported policy file")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.1, help="Gaussian action noise std")
    p.add_argument(
        "--success-key",
        default=None,
        help="info flag counted as success (default: the policy's own goal)",
    )
    p.add_argument("--video", default=None, help="write the first episode's 48x48 frames here")
    p.add_argument(
        "--video-size",
        type=int,
        default=0,
        help="also write a GIF rendered at this size (e.g. 256) next to --video",
    )
    p.add_argument("--image-size", type=int, default=48)
    progress_arg(p)
    p.set_defaults(func=_rollout)


def _envs(args: argparse.Namespace) -> int:
    import envs
    from envs.tasks import TASKS
    from policies import DEFAULT_ENV

    print(f"{'env id':30s} {'horizon':>7s}  success flag  description")
    for env_id, spec in TASKS.items():
        print(f"{env_id:30s} {spec.horizon:7d}  {spec.success_key:12s}  {spec.description}")
    print("\nobservation: Dict(image: uint8 48x48x3 (configurable), state: float32 (10,) "
          "proprioception, object: float32 (8,) privileged scene state, simulator only)")
    print("action: Box(-1, 1, (8,)): dx dy dz, droll dpitch dyaw, gripper, neutral")
    print("\nscripted experts (policy -> its natural env):")
    for name, env_id in DEFAULT_ENV.items():
        print(f"  {name:26s} {env_id}")
    del envs
    return 0


def _rollout(args: argparse.Namespace) -> int:
    from pathlib import Path

    import envs
    from cog.cli import show_progress
    from envs.video import save_gif
    from policies import load_policy
    from policies.evaluate import rollout

    envs.horizon(args.env)  # unknown id -> clear error before any work
    policy, _ = load_policy(args.policy, noise=args.noise, seed=args.seed)
    want_video = args.video is not None
    result = rollout(
        args.env,
        policy,
        args.episodes,
        seed=args.seed,
        success_key=args.success_key,
        record=want_video,
        render_size=args.video_size if want_video else 0,
        env_kwargs={"image_size": args.image_size},
        progress=show_progress(args),
    )
    key = args.success_key or getattr(policy, "success_key", "is_success")
    print(
        f"{args.policy} in {args.env}: success ({key}) {result.success_rate:.2f} "
        f"over {args.episodes} episodes (seed {args.seed}, noise {args.noise})"
    )
    if want_video:
        out = save_gif(result.frames, args.video, upscale_to=0)
        print(f"wrote {out} ({len(result.frames)} frames, {args.image_size}x{args.image_size})")
        if args.video_size:
            big = Path(args.video).with_name(Path(args.video).stem + f"_{args.video_size}.gif")
            save_gif(result.big_frames, big)
            print(f"wrote {big} ({args.video_size}x{args.video_size})")
    return 0
