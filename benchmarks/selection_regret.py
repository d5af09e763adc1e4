"""The regret table of issue 14: how much simulator success each checkpoint selector loses.

    python benchmarks/selection_regret.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/selection_regret.json

For every run (with policy snapshots and, at the same steps, simulator evaluations: the
stitching benchmark's runs have both) it takes each snapshot's true success from eval.csv,
lets every selector (``cog.selection``) pick a snapshot *without* looking at it, and reports
regret = best success in hindsight - success of the pick. The FQE values of a run's
RUN/selection.json (from `cog select` or an earlier pass) are reused when they were computed
on the same snapshots with the same settings; the free selectors are always run afresh.
The JSON is shaped {selector: {"mean_regret": x, "runs": n}}; the per-run rows go to OUT
with ``_runs`` added. With ``--merge`` the rows already in that file are kept for every run
not scored now (a table built over sessions whose earlier run folders are gone), and the
means cover them all. Each row keeps the snapshots' training statistics (``statistics``), so
that a selector written later can be scored on runs whose folders are gone: with ``--merge``
every kept row that lacks one of the free selectors asked for is scored from them.

The table also gives each selector's **noise floor** on the runs it scored: the regret that a
perfect selector, one that knew every snapshot's true success, would still show here, because
"best in hindsight" is the highest of several noisy simulator estimates (a run's 16
snapshots, at 50 episodes each, have a best that is partly luck). It is estimated by a
parametric bootstrap: each snapshot's measured success is taken as its truth, every snapshot
is measured again (binomial over the run's evaluation episodes), and the perfect selector's
regret is the highest re-measurement minus its own pick's. Taking the measurements as the
truth spreads the truths a little wider than they are, so the floor is approximate.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cog.config import TrainConfig  # noqa: E402
from cog.selection import (  # noqa: E402
    FREE_SELECTORS,
    SELECTORS,
    FQEConfig,
    saved_selection,
    select_run,
    selector_rows,
    true_success,
    write_selection,
)
from envs.atomic import write_text_atomic  # noqa: E402

# The training statistics the free selectors read, kept with every row: a selector written
# later can be scored on runs whose folders are gone (machines are replaced between sessions).
KEPT_STATISTICS = ("q/data", "q/bound", "heldout/td_error", "heldout/q_data", "loss/bellman")


def noise_floor(success: dict[str, float], episodes: int, draws: int = 4000,
                seed: int = 0) -> float:
    """Expected regret of a perfect selector from evaluation noise alone (module docstring):
    each snapshot measured again over ``episodes`` episodes, with its measured success as
    its truth."""
    truth = np.array(list(success.values()), dtype=float)
    rng = np.random.default_rng(seed)
    again = rng.binomial(episodes, truth, size=(draws, truth.size)) / episodes
    oracle = int(np.argmax(truth))  # every snapshot tied at the top has the same truth
    return float(np.mean(again.max(axis=1) - again[:, oracle]))


def evaluation_episodes(row: dict) -> int:
    """The episodes behind each success figure of a row. Rows from before the count was kept
    have it read from their figures: the fewest of 20, 50 or 100 episodes (the counts the
    benchmarks used) that every figure is a whole number of, 20 when all would do."""
    if "episodes" in row:
        return int(row["episodes"])
    values = list(row["success"].values())
    for n in (20, 50, 100):
        if all(abs(v * n - round(v * n)) < 1e-6 for v in values):
            return n
    raise ValueError(f"row {row['run']}: success figures {values} fit no episode count "
                     "of 20, 50 or 100")


def kept_statistics(selected: list[dict], cfg: TrainConfig) -> dict:
    """The snapshot statistics and the config values the free selectors need: the rows they
    read (``selector_rows``, value bound included), so the stored copy gives the same picks."""
    rows = [{"step": int(r["step"]), **{k: r[k] for k in KEPT_STATISTICS
                                        if k in r and math.isfinite(r[k])}}
            for r in selected]
    return {"bc_warmup_steps": cfg.bc_warmup_steps, "bellman_weight": cfg.bellman_weight,
            "snapshots": rows}


def regret_rows(runs: list[Path], fqe: FQEConfig,
                selectors: tuple[str, ...] = SELECTORS,
                fqe_where_saved: bool = False) -> list[dict]:
    """With ``fqe_where_saved``, FQE is scored only on runs whose selection.json already
    holds it (with these settings); the other runs get the free selectors alone."""
    rows = []
    for run in runs:
        success = true_success(run)
        try:
            # Read once: for runs older than ``q/bound`` this loads the run's datasets.
            statistics = selector_rows(run)
            sel = saved_selection(run, selectors, fqe, statistics)
            if sel is None and fqe_where_saved:  # the free selectors alone
                sel = saved_selection(run, tuple(s for s in selectors if s != "fqe"), fqe,
                                      statistics)
            if sel is None:  # only new FQE work is written: a saved FQE is never dropped
                sel = select_run(run, selectors, fqe, statistics=statistics)
                write_selection(sel, run / "selection.json")
        except (ValueError, FileNotFoundError) as exc:
            print(f"skipped {run}: {exc}")
            continue
        scored = {s: success[s] for s in sel.steps if s in success}
        if not scored:
            print(f"skipped {run}: no evaluation at any snapshot step")
            continue
        best = max(scored.values())
        cfg = statistics[1]
        row = {"run": str(run), "best": best, "snapshots": len(scored),
               "episodes": cfg.eval_episodes,
               "success": {str(s): v for s, v in scored.items()},
               "statistics": kept_statistics(*statistics)}
        for name, step in sel.picks.items():
            picked = scored.get(step)
            row[name] = {"step": step, "success": picked,
                         "regret": None if picked is None else best - picked}
        rows.append(row)
        print(f"{run}: best {best:.2f}; " + ", ".join(
            f"{n} step {row[n]['step']} -> {row[n]['success']:.2f}" for n in sel.picks))
    return rows


def score_from_statistics(row: dict, selectors: tuple[str, ...]) -> dict:
    """``row`` with every free selector in ``selectors`` that it lacks picked from its stored
    statistics (a row from before they were kept has none, and stays as it is)."""
    stats = row.get("statistics")
    if not stats:
        return row
    cfg = TrainConfig(bc_warmup_steps=stats["bc_warmup_steps"],
                      bellman_weight=stats["bellman_weight"])
    out = dict(row)
    for name in selectors:
        if name in FREE_SELECTORS and name not in row:
            step = FREE_SELECTORS[name](stats["snapshots"], cfg)[0]
            picked = row["success"].get(str(step))
            out[name] = {"step": step, "success": picked,
                         "regret": None if picked is None else row["best"] - picked}
    return out


def summarise(rows: list[dict], selectors: tuple[str, ...] = SELECTORS) -> dict:
    """Each selector's mean regret over the runs it scored, "last"'s over the same runs
    (selectors scored on different runs, FQE not on images or a selector added later, are
    compared with the baseline on equal terms), and the noise floor on those runs."""
    out = {}
    floors = {r["run"]: noise_floor(r["success"], evaluation_episodes(r)) for r in rows}
    for name in selectors:
        scored = [r for r in rows if r.get(name, {}).get("regret") is not None]
        regrets = [r[name]["regret"] for r in scored]
        out[name] = {"mean_regret": (sum(regrets) / len(regrets)) if regrets else None,
                     "runs": len(regrets)}
        if scored:
            out[name]["noise_floor"] = sum(floors[r["run"]] for r in scored) / len(scored)
        last = [r["last"]["regret"] for r in scored
                if r.get("last", {}).get("regret") is not None]
        if name != "last" and last and len(last) == len(scored):
            out[name]["last_on_same_runs"] = sum(last) / len(last)
    return out


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """The earlier rows of runs not scored now, then the new rows: a run scored again
    replaces its earlier row."""
    scored = {r["run"] for r in new}
    return [r for r in old if r["run"] not in scored] + new


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--selectors", nargs="+", choices=SELECTORS, default=list(SELECTORS),
                   help="FQE costs minutes per run; workflow and last are free")
    p.add_argument("--fqe-steps", type=int, default=3000)
    p.add_argument("--fqe-where-saved", action="store_true",
                   help="score FQE only on runs whose selection.json already has it (FQE "
                        "on an image run costs tens of minutes per run on a CPU)")
    p.add_argument("--merge", action="store_true",
                   help="keep OUT's earlier per-run rows for runs not given now")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/selection_regret.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    selectors = tuple(args.selectors)
    rows = regret_rows(args.runs, FQEConfig(steps=args.fqe_steps), selectors,
                       args.fqe_where_saved)
    runs_json = args.out.with_name(args.out.stem + "_runs.json")
    if args.merge and runs_json.is_file():
        rows = [score_from_statistics(r, selectors)
                for r in merge_rows(json.loads(runs_json.read_text()), rows)]
    summary = summarise(rows, selectors)
    print("\n| run | snapshots | best in hindsight | " + " | ".join(selectors) + " |")
    print("|---|---|---|" + "---|" * len(selectors))
    for r in rows:
        best_steps = [s for s, v in r["success"].items() if v == r["best"]]
        cells = [f"{int(r[n]['step']) / 1000:g}k: {r[n]['success']:.2f}" if n in r else "-"
                 for n in selectors]
        print(f"| {r['run']} | {r['snapshots']} | {r['best']:.2f} "
              f"({', '.join(f'{int(s) / 1000:g}k' for s in best_steps)}) | "
              + " | ".join(cells) + " |")
    print("\n| selector | mean regret | runs | last on the same runs | a perfect selector's "
          "(evaluation noise alone) |\n|---|---|---|---|---|")
    for name, s in summary.items():
        mean = "-" if s["mean_regret"] is None else f"{s['mean_regret']:.3f}"
        same = f"{s['last_on_same_runs']:.3f}" if "last_on_same_runs" in s else "-"
        floor = f"{s['noise_floor']:.3f}" if "noise_floor" in s else "-"
        print(f"| {name} | {mean} | {s['runs']} | {same} | {floor} |")
    write_text_atomic(args.out, json.dumps(summary, indent=2) + "\n")
    write_text_atomic(runs_json, json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
