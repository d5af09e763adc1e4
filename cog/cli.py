"""The `cog` command-line entry point: discovers sub-command modules and dispatches."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from cog import __version__
from cog import commands as _commands


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2, no traceback."""


def old_flag(parser, old: str, new: str, dest: str, const=None, type=None) -> None:
    """Keep a documented old spelling working: hidden from --help, it stores into ``dest``
    and prints a one-line note naming the new flag. ``const`` makes it a switch (no value)."""

    class _Old(argparse.Action):
        def __call__(self, p, namespace, values, option_string=None):
            print(f"note: {old} is now {new}", file=sys.stderr)
            if const is not None:
                values = const
            elif type is not None:
                try:
                    values = type(values)
                except (argparse.ArgumentTypeError, ValueError) as exc:
                    raise argparse.ArgumentError(self, str(exc)) from None
            setattr(namespace, dest, values)

    parser.add_argument(old, action=_Old, nargs=0 if const is not None else None,
                        help=argparse.SUPPRESS)


def progress_arg(parser) -> None:
    """The one progress flag: bars on stderr when it is a terminal, unless told otherwise."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on stderr (default: only when it is a terminal)")


def show_progress(args) -> bool:
    flag = getattr(args, "progress", None)
    return sys.stderr.isatty() if flag is None else bool(flag)


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (so captured and redirected streams
    see the messages too)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def configure_logging() -> None:
    """The CLI edge decides where library logs go: our packages' messages (INFO and up) on
    stderr, results on stdout; other libraries keep to warnings."""
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    for name in ("cog", "data_collection", "policies", "envs", "robot_interface"):
        logging.getLogger(name).setLevel(logging.INFO)


def setup_arg(name: str) -> str:
    """argparse ``type=`` for every --setup flag: the registry's spelling, one clear error."""
    from data_collection.presets import setup_name

    try:
        return setup_name(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def setup_or_all_arg(name: str) -> str:
    return name if name == "all" else setup_arg(name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cog",
        description="COG: stitch prior robot experience into new skills with offline RL.",
    )
    parser.add_argument("--version", action="version", version=f"cog {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{_commands.__name__}.{info.name}")
        module.add_parsers(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except (CliError, FileNotFoundError, ValueError) as exc:
        # Expected, user-caused failures get one clear line instead of a traceback.
        print(f"cog {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cog {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`cog data info FILE | head`): stop quietly, as shell tools do,
        # and point stdout at /dev/null so that Python's own flush at exit cannot fail again.
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it
    return int(result or 0)


def _silence_stdout() -> None:
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdout (tests, notebooks)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
