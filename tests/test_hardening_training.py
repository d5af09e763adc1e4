"""Issue 12's collection and training findings, each a regression test: every bad input is
one clear line (CLI exit 2, no traceback) or a clear ValueError, and nothing is left behind."""

from __future__ import annotations

import pytest

from cog.cli import main
from cog.config import TrainConfig
from cog.testing import LINE_ENV_SPEC, make_line_dataset, random_dataset
from cog.trainer import Trainer
from data_collection import save_dataset


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(obs="state", steps=2, batch_size=4, progress=False,
                                 log_every=1), **kw})


def test_a_batch_larger_than_the_data_is_refused_or_warned(tmp_path, caplog):
    task = random_dataset(2, 3, image_size=8)  # 6 transitions
    with pytest.raises(ValueError, match="batch_size 100000 exceeds the 6 transitions"):
        Trainer(_cfg(batch_size=100_000), tmp_path / "r", task=task)
    with caplog.at_level("WARNING", logger="cog.trainer"):
        Trainer(_cfg(batch_size=8), tmp_path / "r2", task=task)
    assert "batch_size 8 exceeds the 6 transitions" in caplog.text


def test_an_out_path_that_is_a_file_or_under_one_is_one_line(tmp_path, capsys):
    task_file = tmp_path / "task.h5"
    save_dataset(task_file, make_line_dataset(3, 0.0, seed=1))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out, expected in ((blocker, "is a file"), (blocker / "run", "which is a file")):
        assert main(["train", "--task", str(task_file), "--obs", "state", "--out", str(out),
                     "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err


def test_a_checkpoint_of_another_network_names_both(tmp_path):
    task = random_dataset(2, 3, image_size=16)
    Trainer(_cfg(obs="image", net="fast"), tmp_path / "run", task=task).run()
    cfg_file = tmp_path / "run" / "config.json"
    cfg_file.write_text(cfg_file.read_text().replace('"net": "fast"', '"net": "thumb"'))
    with pytest.raises(ValueError) as info:
        Trainer.resume(tmp_path / "run", task=task)
    msg = str(info.value)
    assert "'fast'" in msg and "'thumb'" in msg and "\n" not in msg


def test_resume_refuses_a_dataset_replaced_since_the_run_started(tmp_path, capsys):
    task_file = tmp_path / "task.h5"
    save_dataset(task_file, make_line_dataset(3, 0.0, seed=1))
    run = tmp_path / "run"
    assert main(["train", "--task", str(task_file), "--obs", "state", "--steps", "2",
                 "--batch-size", "4", "--no-progress", "--out", str(run)]) == 0
    save_dataset(task_file, make_line_dataset(3, 0.0, seed=2))  # same shape, other data
    assert main(["train", "--resume", str(run), "--steps", "4"]) == 2
    assert "has changed since this run started" in capsys.readouterr().err


def test_a_second_trainer_on_the_same_run_is_refused_naming_the_holder(tmp_path):
    import os

    from data_collection.lock import LockedError, exclusive_lock

    task = random_dataset(2, 3, image_size=8)
    trainer = Trainer(_cfg(), tmp_path / "run", task=task)
    with exclusive_lock(tmp_path / "run" / ".lock", "run"), \
            pytest.raises(LockedError, match=f"PID {os.getpid()}"):
        trainer.run()
    trainer.run()  # the lock is gone with its holder
    assert trainer.step == 2


def test_setup_refuses_data_from_another_task(tmp_path, capsys):
    from data_collection.dataset import Dataset

    task = make_line_dataset(3, 0.0, seed=1)
    attrs = {**task.attrs, "env_id": "cog/PickPlace-v0"}
    path = tmp_path / "task.h5"
    save_dataset(path, Dataset(**{**task.__dict__, "attrs": attrs}))
    assert main(["train", "--setup", "closed-drawer", "--task", str(path), "--obs", "state",
                 "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "expects task data from cog/OpenDrawerGrasp-v0" in err and "PickPlace" in err


def test_object_state_width_must_match_the_eval_env(tmp_path):
    from dataclasses import replace

    import numpy as np

    task = make_line_dataset(3, 0.0, seed=1)  # the line env's obs["object"] has 1 column
    wide = replace(task, objects=np.zeros((task.states.shape[0], 3), np.float32))
    with pytest.raises(ValueError, match="3 object-state columns.*has 1"):
        Trainer(_cfg(eval_env=LINE_ENV_SPEC), tmp_path / "r", task=wide)


def test_eval_of_a_run_at_another_image_size_is_one_line(tmp_path, capsys):
    task = random_dataset(2, 3, image_size=32)
    Trainer(_cfg(obs="image", net="fast"), tmp_path / "run", task=task).run()
    assert main(["eval", "--run", str(tmp_path / "run"), "--env", LINE_ENV_SPEC,
                 "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "32x32" in err and "16x16" in err and "Traceback" not in err


def test_a_typo_in_env_or_policy_touches_no_file(tmp_path, capsys):
    out = tmp_path / "d.h5"
    for args in (["--env", "cog/ClosedDrawerGrasp-v9", "--policy", "drawer_open"],
                 ["--env", "cog/ClosedDrawerGrasp-v0", "--policy", "drawer_opne"]):
        assert main(["collect", *args, "--episodes", "2", "--out", str(out),
                     "--no-progress"]) == 2
        assert "unknown" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["collect", "--env", "cog/ClosedDrawerGrasp-v0", "--policy", "drawer_open",
                 "--episodes", "1", "--out", str(out), "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]


def test_a_second_collection_into_the_same_file_is_refused(tmp_path, capsys):
    import os

    from data_collection.lock import exclusive_lock

    out = tmp_path / "d.h5"
    with exclusive_lock(tmp_path / "d.h5.lock", "output"):
        assert main(["collect", "--env", "cog/ClosedDrawerGrasp-v0", "--policy",
                     "drawer_open", "--episodes", "1", "--out", str(out),
                     "--no-progress"]) == 2
    assert f"PID {os.getpid()}" in capsys.readouterr().err
