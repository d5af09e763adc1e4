"""Machine-readable copies of the result tables (issue 11), built from run folders.

    python benchmarks/results_tables.py \\
        --image closed-drawer:cog:0=RUN_DIR closed-drawer:cog:1=RUN_DIR ... \\
        --irrelevant closed-drawer:0.5:cog:0=RUN_DIR ...
    python benchmarks/results_tables.py --image-sweep runs/image_table \\
        --irrelevant-sweep 0.5=runs/irrelevant_50 0.8=runs/irrelevant_80 [--merge]

(a sweep folder's summary.json, as `cog sweep` or `cog sweep --report-only` wrote it)

writes benchmarks/results/image_table.json, shaped {setup: {method: {seed: success}}}, and
benchmarks/results/irrelevant_prior.json, shaped {setup: {fraction: {method: {seed:
success}}}}. "success" is a finished run's last evaluation (the final checkpoint's). A run
that has not reached its planned steps is printed with the step it reached (which belongs in
the markdown table beside it) and left out of the JSON, as is a cell with no run.

With --merge, the cells already in the JSON file that these runs do not fill are kept: a
table built over several sessions or machines, whose earlier run folders are gone, grows
cell by cell (a cell these runs fill is replaced).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cog.config import TrainConfig  # noqa: E402
from cog.logger import eval_rows  # noqa: E402
from envs.atomic import write_text_atomic  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def last_eval(run: Path, label: str) -> float | None:
    """The run's success at its last evaluation, printed with the step it reached; None
    (printed as unfinished) before the run has reached its planned steps."""
    if not (run / "config.json").is_file():
        raise SystemExit(f"{run}: not a run folder (no config.json)")
    rows = eval_rows(run)
    if not rows:
        raise SystemExit(f"{run}: no evaluation yet")
    planned = TrainConfig.load(run / "config.json").steps
    success, step = float(rows[-1]["eval/success_rate"]), int(rows[-1]["step"])
    note = " (unfinished: not in the JSON)" if step < planned else ""
    print(f"{label}: {success:.2f} at {step}/{planned}{note}")
    return None if note else success


def from_summary(sweep: Path, label: str) -> dict:
    """{setup: {method: {seed: success}}} from a sweep's summary.json, printing each run's
    final and best success and the step it reached. Unfinished runs are printed (their step
    belongs in the markdown table) but left out of the JSON, where a seed's value is always
    its final checkpoint's."""
    path = sweep / "summary.json"
    if not path.is_file():
        raise SystemExit(f"no summary.json in {sweep}: run `cog sweep ... --report-only` first")
    summary = json.loads(path.read_text())
    table: dict = {}
    for setup, methods in summary.items():
        for method, m in methods.items():
            unfinished = {str(seed) for seed in m.get("unfinished", ())}
            for seed, success in m["per_seed"].items():
                step = m.get("step_per_seed", {}).get(seed, "?")
                best = m.get("best_per_seed", {}).get(seed, success)
                note = " (unfinished: not in the JSON)" if seed in unfinished else ""
                print(f"{label} {setup} {method} seed {seed}: {success:.2f} at step {step} "
                      f"(best {best:.2f}){note}")
                if seed not in unfinished:
                    table.setdefault(setup, {}).setdefault(method, {})[seed] = success
    return table


def merged(old: dict, new: dict) -> dict:
    """``old`` with ``new``'s cells written over it, nested dictionaries merged key by key."""
    out = dict(old)
    for key, value in new.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def write_json(folder: Path, name: str, table: dict, merge: bool = False) -> None:
    path = folder / name
    if merge and path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError as exc:
            raise SystemExit(f"{path}: not JSON ({exc}); cannot --merge into it") from None
        if not isinstance(old, dict):
            raise SystemExit(f"{path}: not a table (a JSON object); cannot --merge into it")
        table = merged(old, table)
    write_text_atomic(path, json.dumps(table, indent=2) + "\n")


def parse(items: list[str], parts: int) -> list[tuple[list[str], Path]]:
    out = []
    for item in items:
        key, sep, path = item.partition("=")
        fields = key.split(":")
        if not sep or len(fields) != parts:
            raise SystemExit(f"{item!r}: expected {':'.join(['X'] * parts)}=RUN_DIR")
        out.append((fields, Path(path)))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", nargs="*", default=[], metavar="SETUP:METHOD:SEED=RUN")
    p.add_argument("--irrelevant", nargs="*", default=[],
                   metavar="SETUP:FRACTION:METHOD:SEED=RUN")
    p.add_argument("--image-sweep", metavar="SWEEP_DIR",
                   help="every run of this sweep (its summary.json) into image_table.json")
    p.add_argument("--irrelevant-sweep", nargs="*", default=[], metavar="FRACTION=SWEEP_DIR")
    p.add_argument("--results-dir", type=Path, default=RESULTS,
                   help="where the JSON files go (default: benchmarks/results)")
    p.add_argument("--merge", action="store_true",
                   help="keep the cells of the existing JSON files that these runs do not "
                        "fill (default: write the files from these runs alone)")
    args = p.parse_args(argv)
    if args.image_sweep:
        table = from_summary(Path(args.image_sweep), "image")
        write_json(args.results_dir, "image_table.json", table, args.merge)
    if args.irrelevant_sweep:
        table = {}
        for item in args.irrelevant_sweep:
            fraction, sep, folder = item.partition("=")
            if not sep:
                raise SystemExit(f"{item!r}: expected FRACTION=SWEEP_DIR")
            for setup, methods in from_summary(Path(folder), f"irrelevant {fraction}").items():
                table.setdefault(setup, {})[fraction] = methods
        write_json(args.results_dir, "irrelevant_prior.json", table, args.merge)
    if args.image:
        table: dict = {}
        for (setup, method, seed), run in parse(args.image, 3):
            success = last_eval(run, f"image {setup} {method} seed {seed}")
            if success is not None:
                table.setdefault(setup, {}).setdefault(method, {})[seed] = success
        write_json(args.results_dir, "image_table.json", table, args.merge)
    if args.irrelevant:
        table = {}
        for (setup, fraction, method, seed), run in parse(args.irrelevant, 4):
            success = last_eval(run, f"irrelevant {setup} {fraction} {method} seed {seed}")
            if success is not None:
                table.setdefault(setup, {}).setdefault(fraction, {}).setdefault(
                    method, {})[seed] = success
        write_json(args.results_dir, "irrelevant_prior.json", table, args.merge)


if __name__ == "__main__":
    main()
