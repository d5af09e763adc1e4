"""Issue 14: snapshots, the held-out split, and choosing a checkpoint without the simulator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cog.cli import main
from cog.config import TrainConfig
from cog.replay import ReplayBuffer
from cog.selection import (
    FQEConfig,
    diagnose,
    saved_selection,
    select_early_stop,
    select_run,
    select_workflow,
    smooth,
    write_selection,
)
from cog.snapshots import snapshot_steps
from cog.testing import load_benchmark, random_dataset
from cog.trainer import torch_settings
from data_collection.hdf5_format import save_dataset


@pytest.fixture(scope="module")
def regret():
    return load_benchmark("selection_regret")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sel")
    save_dataset(root / "task.h5", random_dataset(8, 5, image_size=8, seed=1))
    save_dataset(root / "prior.h5", random_dataset(8, 5, image_size=8, seed=2, reward=0.0))
    run = root / "run"
    assert main(["train", "--task", str(root / "task.h5"), "--prior", str(root / "prior.h5"),
                 "--obs", "state", "--steps", "30", "--batch-size", "16", "--eval-every", "10",
                 "--bc-warmup-steps", "5", "--log-every", "5", "--threads", "1",
                 "--holdout-fraction", "0.25",
                 "--no-progress", "--out", str(run)]) == 0
    return run


def test_a_run_keeps_a_snapshot_per_interval_with_its_statistics(tiny_run):
    assert snapshot_steps(tiny_run) == [10, 20, 30]
    rows = (tiny_run / "snapshots" / "index.csv").read_text().splitlines()
    header = rows[0].split(",")
    for column in ("step", "q/data", "heldout/td_error", "heldout/q_data"):
        assert column in header


def test_export_step_gives_the_snapshots_actions(tiny_run, tmp_path):
    from cog.runs import GreedyActor, load_run
    from policies.exported import load_exported

    assert main(["export", "--run", str(tiny_run), "--step", "20",
                 "--out", str(tmp_path / "p.pt")]) == 0
    exported = load_exported(tmp_path / "p.pt")
    nets, _, step = load_run(tiny_run, 20)
    assert step == 20
    g = torch.Generator().manual_seed(0)
    state = torch.randn(5, 18, generator=g)
    image = torch.zeros(5, 8, 8, 3, dtype=torch.uint8)
    ours = GreedyActor(nets).act({"state": state, "image": image})
    theirs = torch.stack([torch.as_tensor(exported.act(
        {"state": state[i, :10].numpy(), "object": state[i, 10:].numpy(),
         "image": image[i].numpy()}, {})) for i in range(5)])
    torch.testing.assert_close(ours, theirs.float(), rtol=1e-5, atol=1e-6)
    # ... and the snapshot differs from the last checkpoint's policy: it is that step's.
    last, _, _ = load_run(tiny_run)
    assert not torch.equal(GreedyActor(last).act({"state": state, "image": image}), ours)
    with pytest.raises(FileNotFoundError, match="no snapshot at step 15; it has 10, 20, 30"):
        load_run(tiny_run, 15)


def test_selection_is_deterministic_for_the_same_statistics(tiny_run):
    fqe = FQEConfig(steps=30)
    a = select_run(tiny_run, fqe=fqe)
    b = select_run(tiny_run, fqe=fqe)
    assert a.picks == b.picks and a.evidence == b.evidence
    assert set(a.picks) == {"workflow", "early_stop", "fqe", "last"}
    assert a.picks["last"] == 30 and all(p in (10, 20, 30) for p in a.picks.values())


def test_a_saved_selection_is_reused_only_for_the_same_question(tiny_run):
    fqe = FQEConfig(steps=30)
    sel = select_run(tiny_run, ("workflow", "fqe", "last"), fqe)
    write_selection(sel, tiny_run / "selection.json")
    again = saved_selection(tiny_run, ("fqe", "last"), fqe)
    assert again.picks == {"fqe": sel.picks["fqe"], "last": 30}
    assert again.evidence == sel.evidence and again.diagnosis == sel.diagnosis
    assert saved_selection(tiny_run, ("fqe",), FQEConfig(steps=31)) is None  # other FQE
    assert saved_selection(tiny_run, ("fqe",), FQEConfig(steps=30, encoder="frozen")) is None
    # A selection saved before FQE had its encoder setting did what "auto" does now (on this
    # state run: train the encoder), so it is reused; a setting from elsewhere is not.
    old = json.loads((tiny_run / "selection.json").read_text())
    del old["fqe"]["encoder"]
    (tiny_run / "selection.json").write_text(json.dumps(old))
    assert saved_selection(tiny_run, ("fqe",), fqe).picks == {"fqe": sel.picks["fqe"]}
    old["fqe"]["unknown_setting"] = 1
    (tiny_run / "selection.json").write_text(json.dumps(old))
    assert saved_selection(tiny_run, ("fqe",), fqe) is None
    write_selection(sel, tiny_run / "selection.json")
    # Only FQE is reused: a free selector's saved pick (here one its rule would not make)
    # is computed afresh, so a rule changed since the file was written applies.
    stale = select_run(tiny_run, ("workflow", "fqe", "last"), fqe)
    stale.picks["workflow"] = 999
    write_selection(stale, tiny_run / "selection.json")
    again = saved_selection(tiny_run, ("workflow", "fqe", "last"), fqe)
    assert again.picks == sel.picks and list(again.picks) == ["workflow", "fqe", "last"]
    write_selection(select_run(tiny_run, ("last",)), tiny_run / "selection.json")
    assert saved_selection(tiny_run, ("workflow", "fqe"), fqe) is None  # FQE not computed
    assert saved_selection(tiny_run, ("workflow", "last"), fqe).picks["last"] == 30


def test_the_regret_table_scores_fqe_only_where_it_was_saved(regret, tiny_run, tmp_path,
                                                              monkeypatch):
    """`selection_regret.py --fqe-where-saved` adds runs (image runs, say) without paying
    for FQE on them, and counts each selector over the runs it scored."""
    import shutil

    import cog.selection

    fqe = FQEConfig(steps=30)
    with_fqe, without = tmp_path / "with_fqe", tmp_path / "without"
    for run in (with_fqe, without):
        shutil.copytree(tiny_run, run)
        (run / "selection.json").unlink(missing_ok=True)
        (run / "eval.csv").write_text("step,eval/success_rate\n10,0.1\n20,0.5\n30,0.2\n")
    write_selection(select_run(with_fqe, ("workflow", "fqe", "last"), fqe),
                    with_fqe / "selection.json")

    def no_fqe(*args, **kwargs):
        raise AssertionError("FQE computed on a run that had none saved")

    monkeypatch.setattr(cog.selection, "fqe_values", no_fqe)
    reads = []  # each run's statistics are read once (for old runs that loads its datasets)
    read = cog.selection.snapshot_rows
    monkeypatch.setattr(cog.selection, "snapshot_rows",
                        lambda run: reads.append(run) or read(run))
    rows = regret.regret_rows([with_fqe, without], fqe, ("workflow", "fqe", "last"),
                              fqe_where_saved=True)
    assert reads == [with_fqe, without]
    assert "fqe" in rows[0] and "fqe" not in rows[1]
    # Each row keeps what the free selectors read: they give the same pick from it alone.
    kept = rows[1]["statistics"]
    assert [r["step"] for r in kept["snapshots"]] == [10, 20, 30]
    assert select_workflow(kept["snapshots"], TrainConfig(
        bc_warmup_steps=kept["bc_warmup_steps"]))[0] == rows[1]["workflow"]["step"]
    assert rows[1]["last"] == {"step": 30, "success": 0.2, "regret": pytest.approx(0.3)}
    assert rows[1]["episodes"] == 5  # the run's eval_episodes, for the noise floor
    summary = regret.summarise(rows, ("workflow", "fqe", "last"))
    assert summary["fqe"]["runs"] == 1 and summary["last"]["runs"] == 2
    assert summary["last"]["mean_regret"] == pytest.approx(0.3)
    # FQE, scored on one run, is set beside "last" on that run alone.
    assert summary["fqe"]["last_on_same_runs"] == pytest.approx(0.3)
    assert "last_on_same_runs" not in summary["last"]
    # A saved FQE with other settings is neither recomputed nor overwritten.
    saved = (with_fqe / "selection.json").read_text()
    rows = regret.regret_rows([with_fqe], FQEConfig(steps=31), ("workflow", "fqe", "last"),
                              fqe_where_saved=True)
    assert "fqe" not in rows[0] and (with_fqe / "selection.json").read_text() == saved
    with pytest.raises(AssertionError, match="FQE computed"):  # without the flag it would
        regret.regret_rows([without], fqe, ("workflow", "fqe", "last"))


def test_the_regret_table_merges_earlier_rows_and_replaces_rescored_runs(regret):
    """`--merge`: rows of runs whose folders are gone stay in the table; a run scored again
    replaces its earlier row, never counts twice."""

    def row(run, last):
        return {"run": run, "best": 0.5, "success": {"1": last, "2": 0.5},
                "last": {"step": 1, "success": last, "regret": 0.5 - last}}

    old = [row("gone", 0.5), row("again", 0.0)]
    merged = regret.merge_rows(old, [row("again", 0.3), row("new", 0.1)])
    assert [r["run"] for r in merged] == ["gone", "again", "new"]
    assert merged[1]["last"]["success"] == 0.3
    summary = regret.summarise(merged, ("last",))["last"]
    assert summary["runs"] == 3 and summary["mean_regret"] == pytest.approx((0 + 0.2 + 0.4) / 3)


def test_the_noise_floor_is_a_perfect_selectors_regret_from_evaluation_noise(regret):
    """Two snapshots that truly succeed half the time, measured over 20 episodes each: a
    selector that knows they are equal still loses E[(Y - X)+] = E|X - Y| / 2 against the
    luckier measurement. Exact figure from the binomial, against the bootstrap."""
    from math import comb

    n = 20
    pmf = [comb(n, k) / 2 ** n for k in range(n + 1)]
    exact = sum(pmf[i] * pmf[j] * abs(i - j) / n for i in range(n + 1)
                for j in range(n + 1)) / 2
    floor = regret.noise_floor({"10": 0.5, "20": 0.5}, n, draws=20000)
    assert floor == pytest.approx(exact, abs=0.005) and exact > 0.05
    assert regret.noise_floor({"10": 0.0, "20": 1.0}, n) == 0.0  # no noise at 0 and 1
    assert regret.noise_floor({"10": 0.4}, n) == 0.0  # one snapshot: nothing to choose
    # A truly better snapshot: the floor is smaller than between equals, not zero.
    assert 0 < regret.noise_floor({"10": 0.6, "20": 0.4}, n) < floor
    # Rows from before the count was kept: read from their figures.
    assert regret.evaluation_episodes({"success": {"1": 0.65, "2": 0.35}}) == 20
    assert regret.evaluation_episodes({"success": {"1": 0.34, "2": 0.0}}) == 50
    assert regret.evaluation_episodes({"success": {"1": 0.5, "2": 0.0}}) == 20
    assert regret.evaluation_episodes({"episodes": 50, "success": {"1": 0.5}}) == 50
    with pytest.raises(ValueError, match="row r: success figures"):
        regret.evaluation_episodes({"run": "r", "success": {"1": 0.123}})
    summary = regret.summarise([{"run": "r", "best": 0.5, "episodes": n,
                                 "success": {"10": 0.5, "20": 0.5},
                                 "last": {"step": 20, "success": 0.5, "regret": 0.0}}],
                               ("last",))
    assert summary["last"]["noise_floor"] == pytest.approx(
        regret.noise_floor({"10": 0.5, "20": 0.5}, n))


def test_early_stop_leaves_the_last_snapshot_only_when_overfitting_is_diagnosed():
    """The recipe's blocked-drawer image runs: Q on data climbs and then sits on a plateau,
    where the workflow rule's "peak" is an early snapshot of the plateau (30k, success 0.00)
    and the policy works only at the end. No fall, no early stop."""
    cfg = TrainConfig(bc_warmup_steps=0)

    def rows(qs, bound=100.0):
        return [{"step": 5000 * (i + 1), "q/data": q, "q/bound": bound}
                for i, q in enumerate(qs)]

    plateau = rows([-30, 48, 75, 84, 86, 87, 87, 86, 86, 85, 86, 85])
    assert select_workflow(plateau, cfg)[0] < 60000
    step, why = select_early_stop(plateau, cfg)
    assert step == 60000 and why.startswith("no overfitting or divergence diagnosed")
    # The idle-tail run: Q falls from its peak, so stop early at the workflow pick.
    falling = rows([-29, -16, -12, -15, -22, -33, -46, -61, -78, -96])
    step, why = select_early_stop(falling, cfg)
    assert step == select_workflow(falling, cfg)[0] == 15000
    assert why.startswith("overfitting diagnosed: the workflow pick (peak of smoothed Q")
    diverging = rows([10, 40, 70, 90, 300, 900])
    step, why = select_early_stop(diverging, cfg)
    assert step == 20000 and why.startswith("diverged diagnosed")


def test_the_regret_table_scores_a_new_free_selector_from_stored_statistics(regret):
    """A selector added later is scored on rows whose run folders are gone, from the
    statistics each row keeps; rows from before statistics were kept are left as they were,
    and a pick already in a row is not redone."""
    snapshots = [{"step": s, "q/data": q, "q/bound": 100.0}
                 for s, q in [(10, 5.0), (20, 80.0), (30, 86.0), (40, 85.0), (50, 85.5)]]
    row = {"run": "gone", "best": 0.4, "success": {"10": 0.0, "20": 0.0, "30": 0.0,
                                                   "40": 0.1, "50": 0.4},
           "statistics": {"bc_warmup_steps": 0, "bellman_weight": 1.0,
                          "snapshots": snapshots},
           "workflow": {"step": 30, "success": 0.0, "regret": 0.4}}
    scored = regret.score_from_statistics(row, ("workflow", "early_stop", "fqe", "last"))
    assert scored["early_stop"] == {"step": 50, "success": 0.4, "regret": 0.0}
    assert scored["last"] == {"step": 50, "success": 0.4, "regret": 0.0}
    assert scored["workflow"] is row["workflow"] and "fqe" not in scored
    old = {k: v for k, v in row.items() if k != "statistics"}
    assert regret.score_from_statistics(old, ("early_stop",)) == old


def test_cog_select_writes_its_evidence(tiny_run, capsys):
    assert main(["select", str(tiny_run), "--selectors", "workflow", "last"]) == 0
    out = capsys.readouterr().out
    assert "workflow: step" in out and "last: step 30" in out
    saved = json.loads((tiny_run / "selection.json").read_text())
    assert saved["picks"]["last"] == 30
    assert (tiny_run / "selection.png").stat().st_size > 1000


def test_cog_select_refuses_a_run_without_snapshots(tmp_path, capsys):
    run = tmp_path / "old_run"
    run.mkdir()
    TrainConfig(obs="state").save(run / "config.json")
    assert main(["select", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no policy snapshots" in err[0]


def test_workflow_picks_the_q_peak_and_honours_the_td_guard():
    cfg = TrainConfig(bc_warmup_steps=0)
    rows = [{"step": s, "q/data": q, "heldout/td_error": td}
            for s, q, td in [(1, 1.0, 1.0), (2, 5.0, 1.0), (3, 9.0, 1.0), (4, 6.0, 1.0),
                             (5, 2.0, 1.0)]]
    assert select_workflow(rows, cfg)[0] == 3
    rows[2]["heldout/td_error"] = rows[3]["heldout/td_error"] = 5.0  # the peak overfits
    assert select_workflow(rows, cfg)[0] in (2, 5)
    assert smooth([0.0, 3.0, 6.0]) == [1.5, 3.0, 4.5]


def test_diagnosis_flags_a_falling_q_and_a_rising_heldout_td_and_nothing_else():
    cfg = TrainConfig(bc_warmup_steps=0)

    def rows(qs, tds=None):
        tds = tds or [1.0] * len(qs)
        return [{"step": 1000 * (i + 1), "q/data": q, "heldout/td_error": td}
                for i, (q, td) in enumerate(zip(qs, tds, strict=True))]

    assert diagnose(rows([-29, -33, -31, -24, -18, -12]), cfg) == []  # still rising
    assert diagnose(rows([-30, -20, -15, -16, -14, -15]), cfg) == []  # a plateau is not a fall
    # The idle-tail run of RESULTS.md: Q on data from -12 at 15k to -96 at 50k.
    (warning,) = diagnose(rows([-29, -16, -12, -15, -22, -33, -46, -61, -78, -96]), cfg)
    assert warning.startswith("overfitting: Q on data peaked at step 3000")
    (warning,) = diagnose(rows([1, 2, 3, 4], [4.0, 1.0, 1.5, 2.5]), cfg)
    assert warning.startswith("held-out TD error 2.5 at the last snapshot is 2.5x its lowest")


def test_a_critic_above_the_most_any_return_can_be_is_flagged_and_never_picked():
    """The irrelevant-prior pick-and-place run of RESULTS.md: Q on data climbs from -25 to
    2,845 against a bound of 100. Its snapshots above the bound are diverged, not a peak."""
    cfg = TrainConfig(bc_warmup_steps=0)
    qs = [-25.3, -29.6, -20.4, -12.3, -4.3, 49.5, 200.2, 504.7, 2844.5]
    rows = [{"step": 2500 * (i + 1), "q/data": q, "q/bound": 100.0} for i, q in enumerate(qs)]
    step, why = select_workflow(rows, cfg)
    assert step == 6 * 2500 and "3 passed over for Q above its bound" in why
    (warning,) = diagnose(rows, cfg)
    assert warning.startswith("diverged: Q on data 200.2 at step 17500 is above 100.0")
    assert "(3 of 9 snapshots)" in warning
    # A saturated critic (the time-to-success runs peaked at 100.7) is not a diverged one.
    assert diagnose([{**r, "q/data": min(r["q/data"], 100.7)} for r in rows], cfg) == []
    every = [{**r, "q/data": 500.0} for r in rows]
    assert select_workflow(every, cfg) == (rows[-1]["step"], "Q on data is above the most "
                                           "any return can be at every snapshot (diverged): "
                                           "fell back to the last")


def test_a_diverged_neighbour_does_not_lift_the_smoothed_q_of_a_kept_snapshot():
    """Smoothing over all snapshots gave step 5 (9, 8 and 500 average 172): the peak of a
    curve the critic left. Over the kept ones the peak is at step 2."""
    cfg = TrainConfig(bc_warmup_steps=0)
    rows = [{"step": s, "q/data": q, "q/bound": 100.0}
            for s, q in [(1, 10.0), (2, 12.0), (3, 11.0), (4, 9.0), (5, 8.0), (6, 500.0)]]
    step, why = select_workflow(rows, cfg)
    assert step == 2 and "peak of smoothed Q on data (11.00) among 5 snapshots" in why


def test_the_overfitting_warning_reads_only_the_snapshots_that_did_not_diverge():
    """Smoothed over every snapshot, Q 40, 60, 80, 90, 900, 88, 87, 88, 87 peaks beside the
    diverged 900 (at 359) and then "falls" to 88: an overfitting warning from a critic that
    never fell. Over the kept snapshots it peaks at 88.33 and stays within the margin."""
    cfg = TrainConfig(bc_warmup_steps=0)
    rows = [{"step": i + 1, "q/data": q, "q/bound": 100.0}
            for i, q in enumerate([40.0, 60.0, 80.0, 90.0, 900.0, 88.0, 87.0, 88.0, 87.0])]
    (warning,) = diagnose(rows, cfg)
    assert warning.startswith("diverged: Q on data 900.0 at step 5")
    # A real fall among the kept snapshots is still read, with the diverged one left out.
    rows += [{"step": 10, "q/data": 60.0, "q/bound": 100.0},
             {"step": 11, "q/data": 50.0, "q/bound": 100.0}]
    warnings = diagnose(rows, cfg)
    assert len(warnings) == 2 and warnings[1].startswith(
        "overfitting: Q on data peaked at step 6 (88.33, smoothed) and has fallen to 55.00")


def test_the_value_bound_comes_from_the_rewards_trained_on():
    task = random_dataset(6, 5, image_size=4, seed=3)  # reward 1 everywhere
    prior = random_dataset(6, 5, image_size=4, seed=4, reward=3.0)
    assert ReplayBuffer(task, prior, use_images=False).value_bound(0.99) == \
        pytest.approx(100.0)  # the prior's 3s are relabelled to 0, as COG does
    assert ReplayBuffer(task, prior, use_images=False, relabel_prior=False,
                        n_step=3).value_bound(0.9) == pytest.approx(30.0)  # one-step rewards
    negative = random_dataset(6, 5, image_size=4, seed=3, reward=-1.0)
    assert ReplayBuffer(negative, None, use_images=False).value_bound(0.99) == 0.0
    low, high = ReplayBuffer(negative, None, use_images=False).value_range(0.99)
    assert (low, high) == (pytest.approx(-100.0), 0.0)
    assert ReplayBuffer(task, prior, use_images=False).value_range(0.99) == \
        (0.0, pytest.approx(100.0))


def test_fqe_estimates_no_return_could_have_are_flagged(tiny_run, monkeypatch):
    import cog.selection

    def fake_fqe(run_dir, steps, fqe, progress=False):
        # step 20 diverged upwards, as FQE did on a diverging state run (891,379 at 22.5k)
        return {10: -4.0, 20: 8.9e5, 30: 61.0}, (0.0, 100.0)

    monkeypatch.setattr(cog.selection, "fqe_values", fake_fqe)
    sel = select_run(tiny_run, ("fqe", "last"), FQEConfig(steps=30))
    try:  # the run is shared by the module: its fake FQE must not outlive this test
        assert sel.picks["fqe"] == 20  # the pick is unchanged: the warning is what says why not
        warned = [d for d in sel.diagnosis if d.startswith("FQE did not converge")]
        assert warned == ["FQE did not converge on 1 of 3 snapshots: estimates at steps "
                          "20 (8.9e+05) lie outside [0, 100], the range any return of this data "
                          "can take; its pick, step 20 (8.9e+05), is one of them; check the fqe "
                          "pick against the others"]
        # -4 is within the margin of 0 (10% of the range plus one unit): estimation noise
        assert cog.selection.fqe_range_warning({10: -11.5, 20: 5.0}, [0.0, 100.0]) is not None
        assert cog.selection.fqe_range_warning({10: -10.5, 20: 111.0}, [0.0, 100.0]) is None
        # ... and a saved selection reused by the regret table says the same
        write_selection(sel, tiny_run / "selection.json")
        again = saved_selection(tiny_run, ("fqe", "last"), FQEConfig(steps=30))
        assert again.fqe_range == [0.0, 100.0] and again.diagnosis == sel.diagnosis
    finally:
        (tiny_run / "selection.json").unlink(missing_ok=True)


def test_snapshots_carry_the_value_bound(tiny_run):
    rows = (tiny_run / "snapshots" / "index.csv").read_text().splitlines()
    column = rows[0].split(",").index("q/bound")
    # the task's rewards are 1, the prior's relabelled to 0: 1 / (1 - 0.99)
    assert all(float(r.split(",")[column]) == pytest.approx(100.0) for r in rows[1:])


def test_runs_from_before_q_bound_get_it_from_their_data(tiny_run, tmp_path):
    from dataclasses import replace

    from cog.selection import data_value_bound

    cfg = TrainConfig.load(tiny_run / "config.json")
    assert data_value_bound(cfg) == pytest.approx(100.0)
    assert data_value_bound(replace(cfg, discount=0.9)) == pytest.approx(10.0)
    assert data_value_bound(replace(cfg, task=str(tmp_path / "moved.h5"))) is None


def test_the_trainer_warns_once_when_its_critic_diverges(tmp_path, caplog):
    from cog.trainer import Trainer

    cfg = TrainConfig(obs="state", steps=2, batch_size=4, progress=False, log_every=1)
    trainer = Trainer(cfg, tmp_path / "run", task=random_dataset(2, 3, image_size=8))
    assert trainer.q_bound == pytest.approx(100.0)
    with caplog.at_level("WARNING", logger="cog.trainer"):
        trainer.snapshot({"q/data": 105.0})  # saturated, not diverged
        assert caplog.text == ""
        for q in (434.0, 560.0):
            trainer.snapshot({"q/data": q})
            assert trainer.snapshot_log.rows[-1]["q/bound"] == pytest.approx(100.0)
    assert caplog.text.count("the critic is diverging") == 1
    assert "Q on dataset actions is 434.0, above 100.0" in caplog.text


def test_the_heldout_split_never_reaches_training():
    task = random_dataset(20, 5, image_size=4, seed=3)
    prior = random_dataset(20, 5, image_size=4, seed=4)
    buf = ReplayBuffer(task, prior, use_images=False, holdout_fraction=0.2, holdout_seed=7)
    held = set(buf.heldout_ids.tolist())
    assert len(held) == 2 * 4 * 5  # 20% of each file's 20 episodes, 5 transitions each
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        assert not held & set(buf.sample_indices(64, g).tolist())
    assert not held & set(buf.all_ids.tolist())
    # The state statistics (the networks' normaliser) come from training rows only.
    rows = torch.cat([buf.obs_index[buf.all_ids], buf.obs_index[buf.all_ids] + 1]).unique()
    torch.testing.assert_close(buf.state_statistics()[0],
                               buf.states[rows].double().mean(0).float())
    batch = buf.heldout_batch(1000, seed=1)
    assert batch.actions.shape[0] == len(held)
    # Seeded by role: a task-only buffer holds out the same task episodes.
    alone = ReplayBuffer(task, use_images=False, holdout_fraction=0.2, holdout_seed=7)
    offset = int(buf.num_prior + len([i for i in held if not buf.from_task[i]]))
    task_held = sorted(i - offset for i in held if buf.from_task[i])
    assert task_held == sorted(alone.heldout_ids.tolist())


def test_runs_from_before_the_split_resume_without_one(tmp_path):
    cfg = TrainConfig(obs="state")
    data = cfg.to_dict()
    del data["holdout_fraction"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    assert TrainConfig.load(tmp_path / "config.json").holdout_fraction == 0.0
    assert TrainConfig().holdout_fraction == 0.05  # new runs hold out 5% by default
    assert np.isclose(TrainConfig.from_dict({}).holdout_fraction, 0.05)


@pytest.mark.parametrize("preset", ["state", "cog"])
def test_critic_layer_norm_option(preset):
    """LayerNorm before each hidden ReLU: the split first layer still equals the naive
    forward, and Q no longer depends on the scale of the first layer's pre-activations."""
    from cog.networks import ActorCritic, NetSpec

    obs_kind = "state" if preset == "state" else "image"
    spec = NetSpec(preset, obs_kind, image_size=48, hidden=(32, 16))
    torch.manual_seed(0)
    plain, normed = ActorCritic(spec), ActorCritic(NetSpec(**{**spec.__dict__,
                                                             "critic_layer_norm": True}))
    n_params = [sum(p.numel() for p in m.critic.parameters()) for m in (plain, normed)]
    assert n_params[1] == n_params[0] + 2 * 2 * (32 + 16)  # a gain and a bias per unit, per Q
    g = torch.Generator().manual_seed(1)
    obs = {"state": torch.randn(4, 10, generator=g),
           "image": torch.randint(0, 256, (4, 48, 48, 3), generator=g, dtype=torch.uint8)}
    actions = torch.rand(4, 8, generator=g) * 2 - 1
    for nets, invariant in ((plain, False), (normed, True)):
        critic = nets.critic
        fast = critic.q(critic.encode(obs), actions.unsqueeze(1))[:, :, 0]
        torch.testing.assert_close(fast, critic.q_naive(obs, actions), rtol=1e-4, atol=1e-4)
        with torch.no_grad():  # scale every first-layer pre-activation by 10
            heads = critic.heads if preset == "cog" else [critic.head]
            for head in heads:
                if preset == "cog":
                    head.first.weight.mul_(10)
                    head.first.bias.mul_(10)
                else:
                    head.weights[0].mul_(10)
                    head.biases[0].mul_(10)
        scaled = critic.q(critic.encode(obs), actions.unsqueeze(1))[:, :, 0]
        assert torch.allclose(scaled, fast, rtol=1e-3, atol=1e-3) == invariant
    assert TrainConfig().critic_layer_norm is False  # COG has none: an option only


def test_initial_observations_are_each_episodes_first():
    task = random_dataset(3, 4, image_size=4, seed=5)
    prior = random_dataset(2, 6, image_size=4, seed=6)
    buf = ReplayBuffer(task, prior, use_images=False)
    starts = buf.initial_obs("prior")["state"]
    torch.testing.assert_close(starts[:, :10], torch.as_tensor(prior.states[[0, 7]]))
    task_starts = buf.initial_obs("task")["state"]
    torch.testing.assert_close(task_starts[:, :10], torch.as_tensor(task.states[[0, 5, 10]]))
    with pytest.raises(ValueError, match="no prior data"):
        ReplayBuffer(task, use_images=False).initial_obs("prior")


def _reward_one_run(tmp_path, obs: str):
    """A task-only run on data whose every reward is 1 and whose episodes never terminate."""
    save_dataset(tmp_path / "task.h5", random_dataset(6, 5, image_size=8, seed=1))
    run = tmp_path / f"run_{obs}"
    net = ["--net", "fast"] if obs == "image" else []
    assert main(["train", "--task", str(tmp_path / "task.h5"), "--obs", obs, *net,
                 "--discount", "0.5", "--steps", "20", "--batch-size", "16",
                 "--eval-every", "10", "--bc-warmup-steps", "5", "--threads", "1",
                 "--no-progress", "--out", str(run)]) == 0
    return run


def test_fqe_on_frozen_image_features_finds_a_known_value(tmp_path):
    """Every reward 1, no terminal: every policy's value is 1 / (1 - gamma) = 2 at gamma 0.5.
    FQE finds it whether it trains its critic's encoder or fits only a Q head on the run's
    last critic's features, which "auto" does for image runs (an image run's FQE would
    otherwise cost hours on a CPU)."""
    from cog.selection import fqe_values

    run = _reward_one_run(tmp_path, "image")
    values = {}
    for encoder in ("train", "frozen"):
        with torch_settings(1, False):  # as `cog select` runs it
            values[encoder], value_range = fqe_values(
                run, [20], FQEConfig(steps=300, batch_size=64, encoder=encoder))
        assert value_range == (0.0, pytest.approx(2.0))
        assert values[encoder][20] == pytest.approx(2.0, abs=0.1), encoder
    assert values["train"] != values["frozen"]  # two encoders: two estimates
    assert FQEConfig().resolved_encoder("image") == "frozen"
    assert FQEConfig().resolved_encoder("state") == "train"
    assert FQEConfig(encoder="train").resolved_encoder("image") == "train"
    with pytest.raises(ValueError, match="FQE encoder 'fixed' is not one of auto, train"):
        fqe_values(run, [20], FQEConfig(steps=1, encoder="fixed"))


def test_fqe_with_a_frozen_encoder_is_the_trained_one_where_the_encoder_has_no_weights(
        tmp_path):
    """A state encoder only normalises, so the frozen features are the trained encoder's and
    the two paths (precomputed rows against per-batch observations) must agree."""
    from cog.selection import fqe_values

    run = _reward_one_run(tmp_path, "state")
    fqe = {"steps": 100, "batch_size": 64}
    with torch_settings(1, False):
        train, _ = fqe_values(run, [10, 20], FQEConfig(**fqe, encoder="train"))
        frozen, _ = fqe_values(run, [10, 20], FQEConfig(**fqe, encoder="frozen"))
    assert frozen == pytest.approx(train, rel=1e-5)
    assert train[10] != train[20]  # two snapshots, two policies
