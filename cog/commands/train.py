"""`cog train`: every TrainConfig field is an option (--batch-size, --lagrange/--no-lagrange)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path


def add_parsers(subparsers) -> None:
    from cog.cli import old_flag, setup_arg
    from cog.config import RECIPES, TrainConfig, field_help
    from data_collection.presets import SETUPS

    p = subparsers.add_parser(
        "train", help="train CQL / offline SAC / BC on prior + task datasets",
        description="Train on a task dataset (and a prior dataset, relabelled to reward 0). "
        "Every config field below is settable; the config is saved as RUN_DIR/config.json.",
    )
    p.add_argument("--out", help="new run directory")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--setup", type=setup_arg, metavar="SETUP",
                   help=f"one of the COG setups: {', '.join(SETUPS)} (fixes --eval-env and "
                        "checks that the data came from the setup's envs)")
    p.add_argument("--recipe", choices=sorted(RECIPES),
                   help="a named set of the options below, for one purpose; options given "
                        "beside it win (cpu-image: image COG on a laptop CPU, see README)")
    hints = typing.get_type_hints(TrainConfig)
    helps = field_help()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        text = f"{helps.get(f.name, '')} (default {f.default!r})".strip()
        if kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            p.add_argument(flag, type=kind, default=None, metavar=f.name.upper(), help=text)
    old_flag(p, "--eval-ray", "--eval-workers 0", "eval_workers", const=0)
    p.set_defaults(func=run)


def given_fields(args) -> dict:
    """The TrainConfig fields set on the command line (unset options are None), over the
    values of --recipe, if one is named: a recipe counts as the flags it stands for."""
    from cog.config import TrainConfig, recipe

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    return {**recipe(args.recipe), **given} if args.recipe else given


def config_from_args(args):
    from cog.config import TrainConfig, config_for_setup

    given = given_fields(args)
    given.setdefault("progress", sys.stderr.isatty())  # bars only on a terminal by default
    if args.setup:
        return config_for_setup(args.setup, **given)
    return TrainConfig.from_dict(given)


# Fields that say where and how a run executes, not what it computes: a resumed run may
# change them (e.g. more threads on a bigger machine). Any other field given with --resume is
# refused rather than silently ignored.
RESUMABLE_OVERRIDES = ("threads", "device", "progress", "eval_workers", "time_limit_minutes")


def resume_overrides(args) -> dict:
    """The flags given with --resume that change the run: where it executes
    (RESUMABLE_OVERRIDES) and may change. Flags equal to the stored config (the original
    command repeated, as other trainers allow) are accepted; any other value is refused,
    naming each flag and both values."""
    from cog.cli import CliError
    from cog.config import TrainConfig, config_for_setup

    run_dir = Path(args.resume)
    stored = TrainConfig.load(run_dir / "config.json") if run_dir.is_dir() else None
    given = {k: v for k, v in given_fields(args).items() if k != "steps"}
    if stored is not None:
        given = {k: v for k, v in given.items() if getattr(stored, k) != v}
        if args.setup and config_for_setup(args.setup).eval_env == stored.eval_env:
            args.setup = None  # the same setup: nothing changes
    fixed = sorted(k for k in given if k not in RESUMABLE_OVERRIDES)
    if fixed or args.setup:
        changes = [f"{_flag(k)} {given[k]!r} (the run has {getattr(stored, k)!r})"
                   if stored is not None else _flag(k) for k in fixed]
        changes += [f"--setup {args.setup}"] if args.setup else []
        allowed = ", ".join(_flag(k) for k in ("steps", *RESUMABLE_OVERRIDES))
        raise CliError(f"{'; '.join(changes)}: cannot change when resuming (the run's "
                       f"config.json fixes it); with --resume only {allowed} may differ")
    return given


def check_setup_data(setup: str, cfg) -> None:
    """The datasets must come from the setup's envs: PickPlace task data given to
    --setup closed-drawer would train without a word and evaluate on the wrong task."""
    from data_collection.hdf5_format import read_attrs
    from data_collection.presets import SETUPS

    preset = SETUPS[setup]
    for role, path, source in (("task", cfg.task, preset.task), ("prior", cfg.prior,
                                                                  preset.prior)):
        if not path:
            continue
        env_id = read_attrs(path).get("env_id")
        if env_id != source.env_id:
            raise ValueError(f"--setup {setup} expects {role} data from {source.env_id}, but "
                             f"{path} was collected in {env_id}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run(args) -> int:
    from cog.cli import CliError
    from cog.trainer import Trainer

    if args.resume:
        if args.out:
            raise CliError("give either --out (a new run) or --resume RUN_DIR, not both")
        trainer = Trainer.resume(args.resume, steps=args.steps, **resume_overrides(args))
    else:
        if not args.out:
            raise CliError("--out RUN_DIR is required for a new run")
        cfg = config_from_args(args)
        if args.setup:
            check_setup_data(args.setup, cfg)
        trainer = Trainer(cfg, args.out)
    final = trainer.run()
    success = final.get("eval/success_rate")
    msg = f"trained to step {trainer.step} in {trainer.run_dir}"
    if success is not None:
        msg += f"; final success rate {success:.2f}"
    print(msg)
    return 0
