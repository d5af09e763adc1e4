"""The stitching experiment's bookkeeping: per-method configs and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cog.experiments import ExperimentConfig, method_config, write_report
from cog.logger import CsvLog


def test_method_configs_differ_only_where_they_should():
    cfg = ExperimentConfig(out="x")
    p, t = Path("p.h5"), Path("t.h5")
    cog = method_config(cfg, "cog", 1, p, t)
    assert cog.prior == "p.h5" and cog.task == "t.h5" and cog.algo == "cql" and cog.seed == 1
    assert cog.eval_env == "cog/ClosedDrawerGrasp-v0"
    assert method_config(cfg, "task_only", 1, p, t).prior == ""
    bc = method_config(cfg, "bc", 1, p, t)
    assert bc.algo == "bc" and bc.bc_data == "all"
    bc_task = method_config(cfg, "bc_task", 1, p, t)
    assert bc_task.algo == "bc" and bc_task.bc_data == "task"
    assert method_config(cfg, "sac", 1, p, t).algo == "sac"
    with pytest.raises(ValueError, match="unknown method"):
        method_config(cfg, "dqn", 1, p, t)


def test_report_table_plot_and_summary(tmp_path):
    cfg = ExperimentConfig(out=str(tmp_path), methods=("cog", "task_only"), seeds=(0, 1))
    finals = {"cog": {0: 0.8, 1: 0.6}, "task_only": {0: 0.0, 1: 0.1}}
    for method, per_seed in finals.items():
        for seed, final in per_seed.items():
            log = CsvLog(tmp_path / f"{method}_seed{seed}" / "eval.csv")
            log.append({"step": 100, "eval/success_rate": 0.0})
            log.append({"step": 200, "eval/success_rate": final})
            log.flush()
    summary = write_report(cfg, finals)
    assert summary["cog"]["mean"] == pytest.approx(0.7)
    report = (tmp_path / "report.md").read_text()
    assert "| cog | 0.70 ± 0.10 | 0.80, 0.60 |" in report
    assert "| task_only | 0.05 ± 0.05 |" in report
    assert (tmp_path / "success.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "summary.json").read_text())["task_only"]["mean"] == 0.05
