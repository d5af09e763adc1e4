"""How to spend two cores: one run on two threads, or two runs on one thread each?

    python benchmarks/core_split.py --preset fast --batch 64 128 --precision bf16

For each batch size it times CQL updates (benchmarks/train_speed.py, median of repeats) in
three arrangements, in this order: one process with one thread, one process with two
threads, and two one-thread processes at once (their rates added). One run finishes soonest
on two threads; a sweep of many runs finishes soonest at the highest total rate. Prints a
markdown table; writes nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SPEED = Path(__file__).resolve().parent / "train_speed.py"


def command(args, batch: int, threads: int) -> list[str]:
    return [sys.executable, str(SPEED), "--presets", args.preset, "--batch", str(batch),
            "--precisions", args.precision, "--no-reference", "--threads", str(threads),
            "--repeats", str(args.repeats), "--updates", str(args.updates)]


def rate(output: str, preset: str) -> float:
    """The updates/s cell of the preset's row in train_speed's table."""
    for line in output.splitlines():
        if line.startswith(f"| {preset} |"):
            return float(line.split("|")[3])
    raise ValueError(f"no {preset} row in:\n{output}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="fast", choices=["cog", "fast", "thumb"])
    p.add_argument("--batch", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--precision", default="bf16", choices=["float32", "bf16"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--updates", type=int, default=30)
    args = p.parse_args()
    print(f"{args.preset} preset, {args.precision}, median of {args.repeats} x {args.updates} "
          "updates")
    print("| batch | 1 run, 1 thread | 1 run, 2 threads | 2 runs, 1 thread each (total) | "
          "2 threads vs 1 | 2 runs vs 1 run on 2 threads |")
    print("|---|---|---|---|---|---|")
    for batch in args.batch:
        one = rate(subprocess.run(command(args, batch, 1), capture_output=True, text=True,
                                  check=True).stdout, args.preset)
        two = rate(subprocess.run(command(args, batch, 2), capture_output=True, text=True,
                                  check=True).stdout, args.preset)
        procs = [subprocess.Popen(command(args, batch, 1), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
        pair = sum(rate(proc.communicate()[0], args.preset) for proc in procs)
        print(f"| {batch} | {one:.1f} | {two:.1f} | {pair:.1f} | {two / one:.2f}x | "
              f"{pair / two:.2f}x |")


if __name__ == "__main__":
    main()
