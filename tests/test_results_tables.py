"""benchmarks/results_tables.py: the machine-readable result tables have the shapes issue 11
names, and hold only finished runs (an unfinished run is printed with its step instead)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cog.sweep import SweepConfig, report_sweep, run_dir_for
from cog.testing import fake_run, load_benchmark


@pytest.fixture(scope="module")
def tables():
    return load_benchmark("results_tables")


def _run(run_dir: Path, evals: dict[int, float], planned: int) -> None:
    fake_run(run_dir, evals, config=replace(SweepConfig().train, steps=planned))


def _grid(out: Path) -> SweepConfig:
    cfg = SweepConfig(out=str(out), setups=("closed-drawer", "pick-place"),
                      methods=("cog", "bc"), seeds=(0, 1))
    cfg.train = replace(cfg.train, steps=300)
    _run(run_dir_for(cfg, "closed-drawer", "cog", 0), {100: 0.1, 300: 0.6}, 300)
    _run(run_dir_for(cfg, "closed-drawer", "cog", 1), {100: 0.0, 200: 0.9}, 300)  # unfinished
    _run(run_dir_for(cfg, "closed-drawer", "bc", 1), {300: 0.25}, 300)
    _run(run_dir_for(cfg, "pick-place", "bc", 0), {300: 1.0}, 300)
    report_sweep(cfg)
    return cfg


def test_image_table_from_a_sweep_holds_finished_runs_only(tables, tmp_path, capsys):
    _grid(tmp_path / "image")
    tables.main(["--image-sweep", str(tmp_path / "image"), "--results-dir", str(tmp_path)])
    table = json.loads((tmp_path / "image_table.json").read_text())
    assert table == {"closed-drawer": {"cog": {"0": 0.6}, "bc": {"1": 0.25}},
                     "pick-place": {"bc": {"0": 1.0}}}
    out = capsys.readouterr().out
    assert "closed-drawer cog seed 1: 0.90 at step 200 (best 0.90) (unfinished" in out


def test_irrelevant_prior_table_nests_setup_fraction_method_seed(tables, tmp_path):
    _grid(tmp_path / "irr50")
    _grid(tmp_path / "irr80")
    tables.main(["--irrelevant-sweep", f"0.5={tmp_path / 'irr50'}",
                 f"0.8={tmp_path / 'irr80'}", "--results-dir", str(tmp_path)])
    table = json.loads((tmp_path / "irrelevant_prior.json").read_text())
    assert set(table) == {"closed-drawer", "pick-place"}
    assert set(table["closed-drawer"]) == {"0.5", "0.8"}
    assert table["closed-drawer"]["0.8"] == {"cog": {"0": 0.6}, "bc": {"1": 0.25}}
    assert table["pick-place"]["0.5"] == {"bc": {"0": 1.0}}


def test_run_folders_named_one_by_one_leave_an_unfinished_run_out(tables, tmp_path, capsys):
    _run(tmp_path / "done", {100: 0.2, 300: 0.4}, 300)
    _run(tmp_path / "half", {100: 0.7}, 300)
    tables.main(["--image", f"blocked-drawer:cog:0={tmp_path / 'done'}",
                 f"blocked-drawer:cog:1={tmp_path / 'half'}", "--results-dir", str(tmp_path)])
    table = json.loads((tmp_path / "image_table.json").read_text())
    assert table == {"blocked-drawer": {"cog": {"0": 0.4}}}
    assert "seed 1: 0.70 at 100/300 (unfinished: not in the JSON)" in capsys.readouterr().out


def test_a_folder_that_is_not_a_run_is_refused_in_one_line(tables, tmp_path):
    with pytest.raises(SystemExit, match="not a run folder"):
        tables.main(["--image", f"closed-drawer:cog:0={tmp_path}",
                     "--results-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="no summary.json"):
        tables.main(["--image-sweep", str(tmp_path), "--results-dir", str(tmp_path)])


def test_merge_keeps_the_cells_these_runs_do_not_fill(tables, tmp_path):
    earlier = {"closed-drawer": {"cog": {"0": 0.4, "1": 0.26}, "task_only": {"0": 0.0}},
               "blocked-drawer": {"bc": {"0": 0.0}}}
    (tmp_path / "image_table.json").write_text(json.dumps(earlier))
    _run(tmp_path / "new", {300: 0.5}, 300)
    tables.main(["--image", f"closed-drawer:cog:1={tmp_path / 'new'}",
                 f"pick-place:cog:0={tmp_path / 'new'}", "--merge",
                 "--results-dir", str(tmp_path)])
    table = json.loads((tmp_path / "image_table.json").read_text())
    assert table == {"closed-drawer": {"cog": {"0": 0.4, "1": 0.5}, "task_only": {"0": 0.0}},
                     "blocked-drawer": {"bc": {"0": 0.0}},
                     "pick-place": {"cog": {"0": 0.5}}}
    # without --merge the file holds these runs alone
    tables.main(["--image", f"pick-place:cog:0={tmp_path / 'new'}",
                 "--results-dir", str(tmp_path)])
    assert json.loads((tmp_path / "image_table.json").read_text()) == {
        "pick-place": {"cog": {"0": 0.5}}}


def test_merge_into_a_file_that_is_not_a_table_is_refused_in_one_line(tables, tmp_path):
    _run(tmp_path / "new", {300: 0.5}, 300)
    for text, match in (("{oops", "not JSON"), ("[1, 2]", "not a table")):
        (tmp_path / "image_table.json").write_text(text)
        with pytest.raises(SystemExit, match=match):
            tables.main(["--image", f"pick-place:cog:0={tmp_path / 'new'}", "--merge",
                         "--results-dir", str(tmp_path)])
