"""`cog sweep`: setups x methods x seeds, collected, trained and evaluated on Ray, one report."""

from __future__ import annotations


def add_parsers(subparsers) -> None:
    from cog.cli import progress_arg, setup_arg
    from cog.config import RECIPES
    from cog.sweep import METHODS
    from data_collection.collect import APPROACH_GRIPPER

    p = subparsers.add_parser(
        "sweep", help="run a grid of setups x methods x seeds on Ray (local or a cluster)",
        description="Collect each setup's datasets once, train every (setup, method, seed) "
        "as a Ray task, evaluate, and write OUT/report.md (mean ± std over seeds), "
        "OUT/summary.json and a success.png per setup. Re-running the same command skips "
        "finished runs and resumes interrupted ones; a failed run is reported and the rest "
        "go on. Settings can also come from a JSON file (--config), flags overriding it.")
    p.add_argument("--config", metavar="FILE",
                   help="JSON with any of: setups, methods, seeds, obs, net, out, recipe, "
                        "train (TrainConfig overrides), and the flags below by their long "
                        "names")
    p.add_argument("--setups", nargs="+", type=setup_arg, metavar="SETUP")
    p.add_argument("--methods", nargs="+", choices=METHODS)
    p.add_argument("--seeds", nargs="+", type=int)
    p.add_argument("--obs", choices=["state", "image"], help="observation kind (state)")
    p.add_argument("--net", help="network preset (state obs: state; image obs: fast)")
    p.add_argument("--steps", type=int, help="gradient steps per run (15000)")
    p.add_argument("--out", help="output folder (runs/sweep); on a cluster, shared storage")
    p.add_argument("--data-dir", help="dataset folder (default OUT/data)")
    p.add_argument("--episodes", type=int, help="prior and task episodes each (300)")
    p.add_argument("--irrelevant-fraction", type=float, metavar="F",
                   help="replace a fraction F of prior episodes by irrelevant behaviour (0)")
    p.add_argument("--save-all", action="store_true", default=None,
                   help="keep failed prior attempts too, as COG's released data did")
    p.add_argument("--idle-tail", action="store_true", default=None,
                   help="prior episodes idle on to the horizon once the expert is done, "
                        "instead of ending there")
    p.add_argument("--approach-gripper", choices=list(APPROACH_GRIPPER),
                   help="what grasps command while approaching: open (default) or hold = 0, "
                        "as COG's scripted grasp did (see cog collect --help)")
    p.add_argument("--eval-episodes", type=int, help="episodes per evaluation (20)")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (2500)")
    p.add_argument("--workers", type=int, help="runs at once on a local Ray (2)")
    p.add_argument("--cpus-per-run", type=float, help="Ray CPUs per run (1)")
    p.add_argument("--gpus-per-run", type=float,
                   help="Ray GPUs per run, e.g. 0.25: four runs share a GPU (0)")
    p.add_argument("--address", help="join an existing Ray cluster (ray start --head ...)")
    p.add_argument("--recipe", choices=sorted(RECIPES),
                   help="a named set of TrainConfig values (see `cog train --help`); --set "
                        "and the config file's train values win over it")
    p.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                   help="TrainConfig overrides, e.g. --set batch_size=64 precision=bf16")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the report from the run folders as they are (no collection, "
                        "no Ray, no training): unfinished runs show what they reached, and "
                        "at which step")
    progress_arg(p)
    p.set_defaults(func=run)


def sweep_config(args):
    """The SweepConfig from --config FILE (if any) and the flags, flags winning."""
    import dataclasses
    import typing

    from cog.config import TrainConfig, read_json_object, recipe
    from cog.sweep import SweepConfig

    values = read_json_object(args.config, "sweep config") if args.config else {}
    flags = {"setups": args.setups, "methods": args.methods, "seeds": args.seeds,
             "obs": args.obs, "net": args.net, "steps": args.steps, "out": args.out,
             "data_dir": args.data_dir, "episodes": args.episodes,
             "irrelevant_fraction": args.irrelevant_fraction, "prior_save_all": args.save_all,
             "prior_idle_tail": args.idle_tail, "approach_gripper": args.approach_gripper,
             "eval_episodes": args.eval_episodes, "eval_every": args.eval_every,
             "workers": args.workers, "cpus_per_run": args.cpus_per_run,
             "gpus_per_run": args.gpus_per_run, "address": args.address}
    values.update({k: v for k, v in flags.items() if v is not None})
    file_recipe = values.pop("recipe", None)
    name = args.recipe or file_recipe  # under the file's train values and --set
    train = {**(recipe(name) if name else {}), **(values.pop("train", {}) or {})}
    hints = typing.get_type_hints(TrainConfig)
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep or key not in hints:
            raise ValueError(f"--set {item!r} must look like FIELD=VALUE with FIELD a "
                             "TrainConfig field (see `cog train --help`)")
        train[key] = _parse(hints[key], text, item)
    for key in ("obs", "net", "steps"):
        if key in values:
            train[key] = values.pop(key)
    if train.get("obs") == "image":
        train.setdefault("net", "fast")
    if "episodes" in values:
        values["prior_episodes"] = values["task_episodes"] = values.pop("episodes")
    known = {f.name for f in dataclasses.fields(SweepConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown sweep setting(s): {', '.join(unknown)}")
    for key in ("setups", "methods", "seeds"):
        if key in values:
            values[key] = tuple(values[key])
    base = SweepConfig()
    cfg = SweepConfig(**{**values, "progress": _progress(args)})
    cfg.train = TrainConfig.from_dict({**base.train.to_dict(), **train})
    return cfg.validate()


def _parse(kind, text: str, item: str):
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"--set {item!r}: expected true or false")
        return text.lower() in ("true", "1")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"--set {item!r}: {text!r} is not a {kind.__name__}") from None


def _progress(args) -> bool:
    from cog.cli import show_progress

    return show_progress(args)


def run(args) -> int:
    from pathlib import Path

    from cog.sweep import missing_runs, report_sweep, run_sweep

    cfg = sweep_config(args)
    summary = report_sweep(cfg) if args.report_only else run_sweep(cfg)
    print((Path(cfg.out) / "report.md").read_text())
    missing = missing_runs(cfg, summary)
    print(f"report: {cfg.out}/report.md" + (f" ({missing} run(s) not finished)" if missing else ""))
    return 1 if missing else 0
