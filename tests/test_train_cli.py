"""The CLI end to end on the toy line task: train (with eval + GIF), plot, export, eval."""

from __future__ import annotations

import json

from cog.cli import main
from cog.testing import LINE_ENV_SPEC, make_line_dataset
from data_collection import save_dataset


def test_train_plot_export_eval(tmp_path, capsys):
    save_dataset(tmp_path / "prior.h5", make_line_dataset(10, -1.0, stop_at=0.0, seed=1))
    save_dataset(tmp_path / "task.h5", make_line_dataset(10, 0.0, seed=2))
    run = tmp_path / "run"
    rc = main(["train", "--prior", str(tmp_path / "prior.h5"), "--task", str(tmp_path / "task.h5"),
               "--eval-env", LINE_ENV_SPEC, "--algo", "cql", "--obs", "state",
               "--steps", "20", "--out", str(run), "--batch-size", "16", "--eval-every", "10",
               "--eval-episodes", "2", "--log-every", "5", "--bc-warmup-steps", "5",
               "--no-progress", "--cql-n-actions", "2"])
    assert rc == 0, capsys.readouterr().err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["batch_size"] == 16 and cfg["cql_n_actions"] == 2 and cfg["progress"] is False
    assert (run / "checkpoint.pt").is_file()
    assert sorted(p.name for p in (run / "videos").iterdir()) == [
        "eval_00000010.gif", "eval_00000020.gif"]
    header = (run / "train.csv").read_text().splitlines()[0].split(",")
    for col in ("step", "loss/critic", "q/data", "q/policy", "q/random", "cql/gap",
                "entropy/alpha", "entropy/entropy", "perf/updates_per_s"):
        assert col in header
    assert "eval/success_rate" in (run / "eval.csv").read_text()

    assert main(["plot", str(run), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["export", "--run", str(run), "--out", str(tmp_path / "policy.pt")]) == 0
    capsys.readouterr()
    assert main(["eval", "--policy", str(tmp_path / "policy.pt"), "--env", LINE_ENV_SPEC,
                 "--episodes", "2", "--video", str(tmp_path / "ep.gif")]) == 0
    assert "success" in capsys.readouterr().out
    assert (tmp_path / "ep.gif").read_bytes()[:3] == b"GIF"

    # Resume extends the run to more steps.
    assert main(["train", "--resume", str(run), "--steps", "25"]) == 0
    assert "step 25" in capsys.readouterr().out
    # A resume may change where it runs (threads), recorded in config.json ...
    assert main(["train", "--resume", str(run), "--steps", "30", "--threads", "1"]) == 0
    assert "step 30" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["threads"] == 1
    # ... but not what it computes: such a flag is refused, never silently ignored.
    assert main(["train", "--resume", str(run), "--steps", "35", "--batch-size", "8"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 8 (the run has 16)" in err and "cannot change when resuming" in err
    assert "--threads" in err
    # The original command's flags, repeated with --resume (as other trainers allow): fine.
    assert main(["train", "--resume", str(run), "--steps", "35", "--batch-size", "16",
                 "--obs", "state", "--task", str(tmp_path / "task.h5")]) == 0
    assert "step 35" in capsys.readouterr().out


def test_bc_and_sac_variants_train(tmp_path):
    save_dataset(tmp_path / "task.h5", make_line_dataset(6, 0.0, seed=2))
    for algo, extra in (("bc", ["--bc-data", "success"]), ("sac", [])):
        rc = main(["train", "--task", str(tmp_path / "task.h5"), "--algo", algo, "--obs",
                   "state", "--steps", "6", "--batch-size", "8", "--no-progress",
                   "--out", str(tmp_path / algo), *extra])
        assert rc == 0
    cfg = json.loads((tmp_path / "sac" / "config.json").read_text())
    assert cfg["algo"] == "sac"


def test_demo_runs_the_whole_pipeline_at_tiny_scale(tmp_path):
    """The README's main job, shrunk: collect, train two methods at once (a sweep on Ray),
    evaluate from the closed-drawer start, write the report."""
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--episodes", "3", "--steps", "12",
               "--eval-episodes", "1", "--workers", "2", "--no-progress"])
    assert rc == 0
    report = (out / "report.md").read_text()
    assert "| cog |" in report and "| task_only |" in report
    summary = json.loads((out / "summary.json").read_text())["closed-drawer"]
    assert set(summary) == {"cog", "task_only"}
    assert all(0.0 <= m["mean"] <= 1.0 for m in summary.values())
    assert (out / "success.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "cog.gif").exists() and (out / "task_only.gif").exists()
    config = json.loads((out / "cog_seed0" / "config.json").read_text())
    assert config["obs"] == "state" and config["prior"] and config["steps"] == 12
    assert json.loads((out / "task_only_seed0" / "config.json").read_text())["prior"] == ""
