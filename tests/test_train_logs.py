"""CSV logs survive a resume: rows after the checkpoint are dropped, steps stay integers."""

from __future__ import annotations

from cog.logger import CsvLog, read_csv


def test_csv_log_resume_truncates_and_keeps_integer_steps(tmp_path):
    path = tmp_path / "train.csv"
    log = CsvLog(path)
    for step in (500, 1000, 1500):
        log.append({"step": step, "loss": step / 1000})
    log.flush()

    resumed = CsvLog(path)  # a run killed after 1500, resumed from its 1000 checkpoint
    resumed.truncate_after(1000)
    resumed.append({"step": 1500, "loss": 2.5, "eval/success_rate": 0.25})
    resumed.flush()

    lines = path.read_text().splitlines()
    assert lines[0] == "step,loss,eval/success_rate"  # a new column joins the header
    assert [line.split(",")[0] for line in lines[1:]] == ["500", "1000", "1500"]
    rows = read_csv(path)
    assert [r["loss"] for r in rows] == [0.5, 1.0, 2.5]
    assert "eval/success_rate" not in rows[0] and rows[2]["eval/success_rate"] == 0.25
