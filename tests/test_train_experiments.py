"""The sweep's bookkeeping: per-method configs, run folders and the report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cog.logger import CsvLog
from cog.sweep import (
    Run,
    SweepConfig,
    finished,
    has_started,
    method_config,
    run_dir_for,
    write_report,
)


def test_method_configs_differ_only_where_they_should():
    cfg = SweepConfig(out="x")
    p, t = Path("p.h5"), Path("t.h5")
    cog = method_config(cfg, "closed-drawer", "cog", 1, p, t)
    assert cog.prior == "p.h5" and cog.task == "t.h5" and cog.algo == "cql" and cog.seed == 1
    assert cog.eval_env == "cog/ClosedDrawerGrasp-v0"
    assert method_config(cfg, "pick-place", "cog", 1, p, t).eval_env == "cog/PickPlace-v0"
    assert method_config(cfg, "closed-drawer", "task_only", 1, p, t).prior == ""
    bc = method_config(cfg, "closed-drawer", "bc", 1, p, t)
    assert bc.algo == "bc" and bc.bc_data == "all"
    bc_task = method_config(cfg, "closed-drawer", "bc_task", 1, p, t)
    assert bc_task.algo == "bc" and bc_task.bc_data == "task"
    assert method_config(cfg, "closed-drawer", "sac", 1, p, t).algo == "sac"
    assert method_config(SweepConfig(gpus_per_run=0.25), "closed-drawer", "cog", 0, p,
                         t).device == "cuda"
    with pytest.raises(ValueError, match="unknown method"):
        method_config(cfg, "closed-drawer", "dqn", 1, p, t)
    with pytest.raises(ValueError, match="unknown method"):
        SweepConfig(methods=("dqn",)).validate()
    with pytest.raises(ValueError, match="unknown setup 'nope'"):
        SweepConfig(setups=("nope",)).validate()


def test_run_folders_nest_by_setup_only_when_there_are_several():
    one = SweepConfig(out="o", setups=("closed-drawer",))
    two = SweepConfig(out="o", setups=("closed-drawer", "pick-place"))
    assert run_dir_for(one, "closed-drawer", "cog", 2) == Path("o/cog_seed2")
    assert run_dir_for(two, "pick-place", "bc", 0) == Path("o/pick-place/bc_seed0")


def test_progress_counts_a_run_as_running_only_once_its_worker_started_in_this_sweep(
        tmp_path):
    import os
    import time

    run = Run("closed-drawer", "cog", 0, tmp_path / "cog_seed0", SweepConfig().train)
    since = time.time()
    assert not has_started(run, since)  # queued: no worker yet
    run.run_dir.mkdir()
    (run.run_dir / "worker.pid").write_text("1\n")
    os.utime(run.run_dir / "worker.pid", (since - 60, since - 60))
    assert not has_started(run, since)  # an interrupted earlier sweep's worker
    (run.run_dir / "worker.pid").write_text("2\n")
    assert has_started(run, since)


def test_a_run_is_finished_when_checkpointed_and_evaluated_at_its_last_step(tmp_path):
    import torch

    from cog.checkpoint import save_checkpoint

    run = Run("closed-drawer", "cog", 0, tmp_path, replace(SweepConfig().train, steps=200))
    assert not finished(run)  # nothing yet
    weights = {"w": torch.zeros(1000)}
    save_checkpoint(tmp_path, {"algo": "cql", "step": 200, "rng": {}, "nets": weights})
    assert not finished(run)  # trained, not yet evaluated
    log = CsvLog(tmp_path / "eval.csv")
    log.append({"step": 100, "eval/success_rate": 0.5})
    log.flush()
    assert not finished(run)  # the last evaluation is not the last step's
    log.append({"step": 200, "eval/success_rate": 0.5})
    log.flush()
    assert finished(run)
    assert not finished(Run("closed-drawer", "cog", 0, tmp_path,
                            replace(SweepConfig().train, steps=300)))  # asked for more
    (tmp_path / "checkpoint.pt").write_bytes(b"damaged")
    assert not finished(run)


def test_report_table_plot_summary_and_failures(tmp_path):
    cfg = SweepConfig(out=str(tmp_path), methods=("cog", "task_only"), seeds=(0, 1))
    finals = {"cog": {0: 0.8, 1: 0.6}, "task_only": {0: 0.0, 1: 0.1}}
    runs = []
    for method, per_seed in finals.items():
        for seed, final in per_seed.items():
            run_dir = run_dir_for(cfg, "closed-drawer", method, seed)
            log = CsvLog(run_dir / "eval.csv")
            log.append({"step": 100, "eval/success_rate": 0.0})
            log.append({"step": 200, "eval/success_rate": final})
            log.flush()
            runs.append(Run("closed-drawer", method, seed, run_dir, cfg.train, success=final))
    runs[1].success, runs[1].error = None, "WorkerCrashedError: the worker died"
    summary = write_report(cfg, runs)["closed-drawer"]
    assert summary["cog"]["mean"] == pytest.approx(0.8)  # the failed seed is not averaged
    report = (tmp_path / "report.md").read_text()
    assert "| cog | 0.80 ± 0.00 | 0.80, seed 1 failed |" in report
    assert "| task_only | 0.05 ± 0.05 |" in report
    assert "closed-drawer cog seed 1" in report and "WorkerCrashedError" in report
    assert (tmp_path / "success.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["closed-drawer"]["task_only"]["mean"] == 0.05


def test_sweep_settings_from_a_file_and_flags(tmp_path):
    from cog.cli import build_parser
    from cog.commands.sweep import sweep_config

    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"setups": ["closed_drawer", "pick-place"], "seeds": [3],
                                "obs": "image", "train": {"batch_size": 64}, "workers": 1}))
    args = build_parser().parse_args(["sweep", "--config", str(grid), "--seeds", "0", "1",
                                      "--set", "precision=bf16", "augment=false",
                                      "--irrelevant-fraction", "0.5", "--idle-tail"])
    cfg = sweep_config(args)
    assert cfg.setups == ("closed-drawer", "pick-place") and cfg.seeds == (0, 1)  # flags win
    assert (cfg.train.obs, cfg.train.net, cfg.train.batch_size) == ("image", "fast", 64)
    assert cfg.train.precision == "bf16" and cfg.train.augment is False
    assert cfg.irrelevant_fraction == 0.5 and cfg.workers == 1 and cfg.prior_idle_tail
    bad = build_parser().parse_args(["sweep", "--set", "batch_size=many"])
    with pytest.raises(ValueError, match="'many' is not a int"):
        sweep_config(bad)
    grid.write_text(json.dumps({"colour": "red"}))
    with pytest.raises(ValueError, match="unknown sweep setting"):
        sweep_config(build_parser().parse_args(["sweep", "--config", str(grid)]))


@pytest.mark.parametrize("grid", sorted((Path(__file__).resolve().parents[1] / "benchmarks"
                                         / "grids").glob("*.json")), ids=lambda p: p.name)
def test_the_result_table_grids_are_valid_sweeps(grid):
    from cog.cli import build_parser
    from cog.commands.sweep import sweep_config

    cfg = sweep_config(build_parser().parse_args(["sweep", "--config", str(grid)]))
    assert cfg.seeds and cfg.methods
    if grid.stem.endswith("table") or grid.stem.startswith("irrelevant"):
        assert len(cfg.setups) == 4  # the result tables cover all four setups
