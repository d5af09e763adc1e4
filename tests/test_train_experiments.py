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
    missing_runs,
    report_sweep,
    run_dir_for,
    write_report,
)
from cog.testing import fake_run


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
            runs.append(Run("closed-drawer", method, seed, run_dir,
                            replace(cfg.train, steps=200), success=final))
    runs[1].success, runs[1].error = None, "WorkerCrashedError: the worker died"
    summary = write_report(cfg, runs)["closed-drawer"]
    assert summary["cog"]["mean"] == pytest.approx(0.8)  # the failed seed is not averaged
    report = (tmp_path / "report.md").read_text()
    assert "| cog | 0.80 ± 0.00 | 0.80, seed 1 failed | 0.80 ± 0.00 | - |" in report
    assert "| task_only | 0.05 ± 0.05 | 0.00, 0.10 |" in report
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


def test_report_only_shows_unfinished_runs_with_their_step_best_and_q(tmp_path, capsys):
    """A table built over days: every started run shows what it reached and where, its best
    evaluation and its last Q, and the command still says the grid is not finished."""
    from cog.cli import main

    grid = {"setups": ["closed-drawer"], "methods": ["cog", "bc"], "seeds": [0, 1],
            "steps": 300, "out": str(tmp_path / "grid")}
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    cfg = SweepConfig(out=grid["out"], methods=("cog", "bc"), seeds=(0, 1))
    cfg.train = replace(cfg.train, steps=300)
    fake_run(run_dir_for(cfg, "closed-drawer", "cog", 0), {100: 0.2, 200: 0.9, 300: 0.5},
             q_data=[-3.0, -5.0, -7.5])  # finished
    fake_run(run_dir_for(cfg, "closed-drawer", "cog", 1), {100: 0.0, 200: 0.3},
             q_data=[-2.0, -4.0])  # interrupted at 200 of 300
    fake_run(run_dir_for(cfg, "closed-drawer", "bc", 0), {100: 0.6})  # no Q for BC
    # bc seed 1 has not started: no folder at all

    code = main(["sweep", "--config", str(tmp_path / "grid.json"), "--report-only"])
    assert code == 1  # three of four runs are not finished
    assert "3 run(s) not finished" in capsys.readouterr().out
    report = (tmp_path / "grid" / "report.md").read_text()
    assert "| cog | 0.40 ± 0.10 | 0.50, 0.30 (at 200 of 300) | 0.60 ± 0.30 | " \
           "-7.5 / -8.5, -4.0 / -5.0 |" in report
    assert "| bc | 0.60 ± 0.00 | 0.60 (at 100 of 300), seed 1 not started | 0.60 ± 0.00 " \
           "| - |" in report
    saved = json.loads((tmp_path / "grid" / "summary.json").read_text())
    assert missing_runs(cfg, saved) == 3
    summary = saved["closed-drawer"]
    assert summary["cog"]["per_seed"] == {"0": 0.5, "1": 0.3}
    assert summary["cog"]["best_per_seed"] == {"0": 0.9, "1": 0.3}
    assert summary["cog"]["step_per_seed"] == {"0": 300, "1": 200}
    assert summary["cog"]["unfinished"] == [1]
    assert summary["cog"]["q_data_per_seed"] == {"0": -7.5, "1": -4.0}
    assert summary["bc"]["q_data_per_seed"] == {"0": None}
    assert not (run_dir_for(cfg, "closed-drawer", "bc", 1)).exists()  # nothing trained

    fake_run(run_dir_for(cfg, "closed-drawer", "cog", 1), {100: 0.0, 200: 0.3, 300: 0.7})
    assert report_sweep(cfg)["closed-drawer"]["cog"]["unfinished"] == []


def test_report_names_a_setup_not_started_and_links_no_missing_files(tmp_path):
    """A grid built over days: a setup with no evaluation yet says so in every cell, and gets
    neither an empty plot nor links to files that do not exist."""
    cfg = SweepConfig(out=str(tmp_path), setups=("closed-drawer", "pick-place"),
                      methods=("cog", "bc"), seeds=(0,))
    cfg.train = replace(cfg.train, steps=300)
    run_dir = run_dir_for(cfg, "closed-drawer", "cog", 0)
    fake_run(run_dir, {100: 0.2})
    (run_dir / "videos").mkdir()
    (run_dir / "videos" / "eval_00000100.gif").write_bytes(b"GIF89a-episode")
    report_sweep(cfg)
    report = (tmp_path / "report.md").read_text()
    pick_place = report[report.index("## pick-place"):]
    assert "| cog | - | not started | - | - |" in pick_place
    assert "| bc | - | not started | - | - |" in pick_place
    assert "![" not in pick_place  # no plot, no GIF: nothing was evaluated
    assert not (tmp_path / "pick-place" / "success.png").exists()
    closed = report[:report.index("## pick-place")]
    assert "| bc | - | not started | - | - |" in closed
    assert "| cog | 0.20 ± 0.00 | 0.20 (at 100 of 300) | " in closed
    assert "](closed-drawer/success.png)" in closed and "](closed-drawer/cog.gif)" in closed
    assert "bc.gif" not in closed
    assert (tmp_path / "closed-drawer" / "cog.gif").read_bytes() == b"GIF89a-episode"
    assert (tmp_path / "closed-drawer" / "success.png").read_bytes()[:4] == b"\x89PNG"


def test_report_tells_a_run_in_training_before_its_first_evaluation_from_one_not_started(
        tmp_path):
    """A run that has started (its config is written) but not yet reached its first
    evaluation is not reported as "not started"; a seed missing beside others is named."""
    cfg = SweepConfig(out=str(tmp_path), methods=("cog", "bc"), seeds=(0, 1))
    cfg.train = replace(cfg.train, steps=300)
    fake_run(run_dir_for(cfg, "closed-drawer", "cog", 1), {100: 0.4})
    started = run_dir_for(cfg, "closed-drawer", "bc", 0)
    started.mkdir(parents=True)
    cfg.train.save(started / "config.json")
    report_sweep(cfg)
    report = (tmp_path / "report.md").read_text()
    assert "| cog | 0.40 ± 0.00 | 0.40 (at 100 of 300), seed 0 not started |" in report
    assert "| bc | - | seed 0 started, not yet evaluated, seed 1 not started | - | - |" \
        in report


def test_report_only_counts_a_time_limited_run_as_finished_once_its_minutes_are_used(tmp_path):
    """The image benchmarks stop runs by training minutes, not steps: such a run is done
    when its minutes are used, and before that it is marked with the minutes it reached."""
    cfg = SweepConfig(out=str(tmp_path), methods=("cog",), seeds=(0,))
    cfg.train = replace(cfg.train, steps=10_000_000, time_limit_minutes=2.0)
    run_dir = run_dir_for(cfg, "closed-drawer", "cog", 0)
    fake_run(run_dir, {100: 0.0, 200: 0.4})
    train = CsvLog(run_dir / "train.csv")
    train.append({"step": 200, "time/train_seconds": 60.0})
    train.flush()
    report_sweep(cfg)
    assert "| cog | 0.40 ± 0.00 | 0.40 (at 1 of 2 training min) |" in \
        (tmp_path / "report.md").read_text()
    train.append({"step": 400, "time/train_seconds": 121.0})
    train.flush()
    assert report_sweep(cfg)["closed-drawer"]["cog"]["unfinished"] == []
    assert "| cog | 0.40 ± 0.00 | 0.40 |" in (tmp_path / "report.md").read_text()


def test_a_grid_resumed_one_method_at_a_time_keeps_every_row_of_its_folder(tmp_path, capsys,
                                                                           caplog):
    """`--methods task_only` on a folder that already holds COG and BC runs: the report and
    summary.json keep their rows (read with their own saved configs), and only the runs the
    command asked for count as missing."""
    from cog.cli import main

    out = tmp_path / "grid"
    cfg = SweepConfig(out=str(out), methods=("cog", "bc"), seeds=(0,))
    cfg.train = replace(cfg.train, steps=300)
    fake_run(run_dir_for(cfg, "closed-drawer", "cog", 0), {300: 0.7}, q_data=[-2.0, -3.0, -4.0],
             config=replace(cfg.train, steps=300))
    fake_run(run_dir_for(cfg, "closed-drawer", "bc", 0), {100: 0.4},
             config=replace(cfg.train, steps=300, algo="bc"))  # stopped at 100 of 300
    (out / "notes_seedx").mkdir()  # not a run folder: ignored
    (out / "task_only_seed5").mkdir()  # no config.json: never started, ignored
    (out / "bc_seed7").mkdir()
    (out / "bc_seed7" / "config.json").write_text('{"steps": 3')  # damaged: left out

    code = main(["sweep", "--out", str(out), "--setups", "closed-drawer", "--methods",
                 "task_only", "--seeds", "0", "--steps", "300", "--report-only"])
    assert code == 1
    assert "1 run(s) not finished" in capsys.readouterr().out  # task_only seed 0 only
    report = (out / "report.md").read_text()
    assert "| task_only | - | not started | - | - |" in report
    assert "bc_seed7" not in report
    assert any("left out of the report" in m and "bc_seed7" in m and "not valid JSON" in m
               for m in caplog.messages)
    assert "| cog | 0.70 ± 0.00 | 0.70 | 0.70 ± 0.00 | -4.0 / -5.0 |" in report
    assert "| bc | 0.40 ± 0.00 | 0.40 (at 100 of 300) |" in report
    summary = json.loads((out / "summary.json").read_text())["closed-drawer"]
    assert set(summary) == {"cog", "bc"}
    assert summary["cog"]["unfinished"] == [] and summary["bc"]["unfinished"] == [0]
