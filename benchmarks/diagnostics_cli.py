"""The command line shared by the per-run diagnostics (value_profile.py, off_data.py,
grasp_q.py): RUN_DIR [RUN_DIR ...] --out PNG --threads N, one error line on a bad run, and
the numbers written as JSON beside the plot."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from envs.atomic import write_text_atomic


def parser(description: str, default_out: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path(default_out),
                   help="the plot (.png); the numbers go beside it (.json)")
    p.add_argument("--threads", type=int, default=1)
    return p


def run_each(args: argparse.Namespace, compute: Callable[[Path], dict],
             report: Callable[[dict], None], plot: Callable[[list[dict], Path], Path]) -> int:
    """compute(run) for every run, report(result) as each comes, then the plot and the JSON;
    2 with one line on stderr when --out is not a .png or a run is refused."""
    if args.out.suffix != ".png":
        print(f"error: --out {args.out} must end in .png", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    results = []
    for run in args.runs:
        try:
            results.append(compute(run))
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        report(results[-1])
    print(f"wrote {plot(results, args.out)}")
    write_text_atomic(args.out.with_suffix(".json"), json.dumps(results, indent=1) + "\n")
    return 0
