"""Training logs: a CSV per stream (rewritten atomically) and TensorBoard scalars."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from envs.atomic import write_text_atomic


class CsvLog:
    """Rows of scalars with a growing set of columns. The whole file is rewritten
    atomically on each flush (logs are small), so a killed run never leaves half a row."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []
        if self.path.is_file():
            with open(self.path, newline="") as fh:
                self.rows = [{k: _number(k, v) for k, v in r.items() if v != ""}
                             for r in csv.DictReader(fh)]

    def truncate_after(self, step: int) -> None:
        """On resume: forget rows logged after the checkpoint we restart from."""
        self.rows = [r for r in self.rows if r.get("step", 0) <= step]

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))

    def flush(self) -> None:
        columns: list[str] = []
        for r in self.rows:
            columns += [k for k in r if k not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.path, buf.getvalue())


def _number(column: str, text: str) -> float | int:
    # Steps stay integers across a resume (the file is re-read, then rewritten).
    return int(float(text)) if column == "step" else float(text)


def read_csv(path: str | os.PathLike) -> list[dict[str, float]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no log file at {path}")
    return CsvLog(path).rows


def eval_rows(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """A run's evaluations (rows of eval.csv with a success rate), oldest first; [] before
    the first one."""
    path = Path(run_dir) / "eval.csv"
    rows = CsvLog(path).rows if path.is_file() else []
    return [r for r in rows if "eval/success_rate" in r]


class TensorBoard:
    """A thin wrapper so TensorBoard stays optional (and its import lazy)."""

    def __init__(self, log_dir: str | os.PathLike, enabled: bool = True):
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(log_dir))
            except ImportError:  # tensorboard not installed: CSV still has everything
                self.writer = None

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer is None:
            return
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
