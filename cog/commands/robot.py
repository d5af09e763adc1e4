"""`cog robot ...`: serve a robot, stop/re-arm it, make CURVE keys, calibrate the action scale."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    from cog.cli import old_flag

    robot = subparsers.add_parser("robot", help="run or control a robot server (sim or WidowX)")
    sub = robot.add_subparsers(dest="robot_command", metavar="ROBOT_COMMAND")
    robot.set_defaults(func=lambda args: _help(robot))

    serve = sub.add_parser("serve", help="run the robot server next to the arm")
    serve.add_argument("--backend", choices=("sim", "widowx", "fake"), default="sim")
    serve.add_argument("--bind", default="tcp://127.0.0.1:5555", help="ZeroMQ endpoint")
    serve.add_argument("--curve-keys", default=None, help="key directory from `cog robot keygen`")
    serve.add_argument("--rate", type=float, default=5.0, help="control rate in Hz")
    serve.add_argument(
        "--watchdog", type=float, default=None, help="seconds; default 3 control periods"
    )
    serve.add_argument("--env", default="cog/OpenDrawerGrasp-v0",
                       help="sim backend: env id (cog/OpenDrawerGrasp-v0)")
    old_flag(serve, "--task", "--env", "env")
    serve.add_argument("--seed", type=int, default=0, help="sim backend: first reset seed")
    serve.add_argument("--image-size", type=int, default=48)
    serve.add_argument("--port", default="/dev/ttyUSB0", help="widowx backend: U2D2 serial port")
    serve.add_argument("--baud", type=int, default=1_000_000, help="widowx backend: baud rate")
    serve.add_argument(
        "--camera", default="opencv:0", help="widowx: opencv:INDEX, realsense or none"
    )
    serve.add_argument("--horizon", type=int, default=50, help="widowx: steps per episode")
    serve.add_argument("--max-step", type=float, default=None, help="metres per step cap")
    serve.add_argument("--max-frame-age", type=float, default=0.5, help="seconds")
    serve.add_argument("--log", default=None, help="also write the server log to this file")
    serve.add_argument("--no-privileged", action="store_true", help="never send sim info")
    serve.set_defaults(func=cmd_serve)

    for name, helptext in (
        ("stop", "latch a stop on a running server (only `rearm` releases it)"),
        ("rearm", "release a latched stop"),
        ("status", "print the server's status"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--robot", default="tcp://127.0.0.1:5555", help="server endpoint")
        p.add_argument("--curve-keys", default=None)
        p.add_argument("--timeout", type=float, default=2.0)
        p.add_argument("--image-size", type=int, default=48)
        p.add_argument("--reason", default="cog robot stop")
        p.set_defaults(func=cmd_control, action=name)

    keygen = sub.add_parser("keygen", help="make CurveZMQ key pairs for server and client")
    keygen.add_argument("--out", required=True, help="key directory")
    keygen.add_argument("--client-name", default="client")
    keygen.add_argument("--overwrite", action="store_true", help="replace existing keys")
    old_flag(keygen, "--force", "--overwrite", "overwrite", const=True)
    keygen.set_defaults(func=cmd_keygen)

    cal = sub.add_parser("calibrate", help="measure displacement per action unit vs the sim")
    cal.add_argument("--robot", default="tcp://127.0.0.1:5555")
    cal.add_argument("--curve-keys", default=None)
    cal.add_argument("--amplitude", type=float, default=0.25, help="action size of each move")
    cal.add_argument("--repeats", type=int, default=2)
    cal.add_argument("--timeout", type=float, default=5.0)
    cal.add_argument("--image-size", type=int, default=48)
    cal.add_argument("--no-sim", action="store_true", help="skip the simulator reference")
    cal.set_defaults(func=cmd_calibrate)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from robot_interface.backends import make_backend
    from robot_interface.safety import SafetyConfig
    from robot_interface.server import ServerConfig, serve_cli

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = ServerConfig(
        bind=args.bind,
        control_hz=args.rate,
        watchdog_s=args.watchdog,
        curve_keys=args.curve_keys,
        send_privileged=not args.no_privileged,
    )
    safety_kwargs = {"max_frame_age_s": args.max_frame_age}
    if args.max_step is not None:
        safety_kwargs["max_step_m"] = args.max_step
    safety = SafetyConfig(**safety_kwargs)
    if args.backend == "sim":
        robot = make_backend("sim", task=args.env, image_size=args.image_size, seed=args.seed)
    elif args.backend == "fake":
        robot = make_backend("fake", image_size=args.image_size)
    else:
        from robot_interface.backends.widowx import WidowXConfig

        robot = make_backend(
            "widowx",
            config=WidowXConfig(port=args.port, baudrate=args.baud, control_hz=args.rate),
            camera=args.camera,
            image_size=args.image_size,
            horizon=args.horizon,
        )
    from robot_interface.robot import RobotError

    try:
        return serve_cli(robot, config, safety, Path(args.log) if args.log else None)
    except RobotError as exc:  # e.g. a servo that does not answer at connect
        raise ValueError(f"robot: {exc}") from None


def cmd_control(args: argparse.Namespace) -> int:
    from robot_interface.client import RobotClient, RobotLinkError

    client = RobotClient(
        args.robot,
        timeout_s=args.timeout,
        curve_keys=args.curve_keys,
        image_size=args.image_size,
        name=f"cog robot {args.action}",
    )
    try:
        _control(client, args)
    except RobotLinkError as exc:
        raise ValueError(str(exc)) from None
    finally:
        client.close()
    return 0


def _control(client, args: argparse.Namespace) -> None:
    import json

    if args.action == "stop":
        client.stop(args.reason)  # no handshake needed: stopping is always allowed
        print(f"stop latched on {args.robot}")
    elif args.action == "rearm":
        client.connect()
        client.rearm()
        print(f"re-armed {args.robot}")
    else:
        status = client.status()
        status.pop("v", None)
        status.pop("id", None)
        status["ee_pos"] = [round(float(x), 4) for x in status["ee_pos"]]
        print(json.dumps(status, indent=2))


def cmd_keygen(args: argparse.Namespace) -> int:
    from robot_interface.keys import keygen

    made = keygen(args.out, args.client_name, force=args.overwrite)
    for name, (public, secret) in made.items():
        print(f"{name}: public {public}  secret {secret}")
    print(
        f"server: --curve-keys {args.out} (needs server.key_secret and authorized_clients/); "
        f"client machine needs {args.client_name}.key_secret and server.key"
    )
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from robot_interface.calibrate import calibrate, format_report
    from robot_interface.client import RobotLinkError

    if not (0 < args.amplitude <= 1):
        raise ValueError(f"--amplitude must be in (0, 1], got {args.amplitude}")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    try:
        rows = calibrate(
            args.robot,
            amplitude=args.amplitude,
            repeats=args.repeats,
            curve_keys=args.curve_keys,
            timeout_s=args.timeout,
            image_size=args.image_size,
            with_sim=not args.no_sim,
        )
    except RobotLinkError as exc:
        raise ValueError(str(exc)) from None
    print(format_report(rows))
    return 0
