"""Learning-curve plots from run directories' CSV logs (one line per run)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from cog.logger import CsvLog
from envs.atomic import write_bytes_atomic

PANELS = [
    ("eval.csv", "eval/success_rate", "success rate"),
    ("train.csv", "q/data", "Q on dataset actions"),
    ("train.csv", "q/policy", "Q on policy actions"),
    ("train.csv", "cql/gap", "CQL gap"),
]


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (5.5, 3.6)):
    """(figure, axes) drawn with Agg, without pyplot: no backend switch, no global figure
    registry, so plotting from library code leaves the process as it found it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols)


def save_png(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    write_bytes_atomic(Path(path), buf.getvalue())
    return Path(path)


def plot_runs(run_dirs: list[str | os.PathLike], out: str | os.PathLike,
              labels: list[str] | None = None, title: str | None = None) -> Path:
    runs = [Path(r) for r in run_dirs]
    for r in runs:
        if not (r / "train.csv").is_file() and not (r / "eval.csv").is_file():
            raise FileNotFoundError(f"{r} has no train.csv or eval.csv: not a run directory")
    labels = labels or [r.name for r in runs]
    fig, axes = new_figure(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.4))
    for ax, (file, key, name) in zip(axes, PANELS, strict=True):
        for run, label in zip(runs, labels, strict=True):
            rows = CsvLog(run / file).rows if (run / file).is_file() else []
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, label=label, marker="o" if key.startswith("eval") else None,
                        markersize=3)
        ax.set_title(name)
        ax.set_xlabel("gradient steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return save_png(fig, out)
