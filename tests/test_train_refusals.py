"""Correctness test 7: refusals with clear errors (corrupt checkpoint, image size that does
not match the env, missing file), through the library and through the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from cog.checkpoint import load_checkpoint
from cog.cli import main
from cog.config import TrainConfig
from cog.evaluation import check_image_size
from cog.testing import LINE_ENV_ID, LineReachEnv, random_dataset
from cog.trainer import Trainer


def _tiny_run(path):
    task = random_dataset(2, 3, image_size=8)
    Trainer(TrainConfig(obs="state", steps=2, batch_size=4, progress=False, log_every=1),
            path, task=task).run()
    return task


def test_corrupt_checkpoint_is_refused(tmp_path):
    task = _tiny_run(tmp_path / "run")
    ckpt = tmp_path / "run" / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(ckpt)
    with pytest.raises(ValueError, match="corrupt"):
        Trainer.resume(tmp_path / "run", task=task)
    assert main(["train", "--resume", str(tmp_path / "run"), "--steps", "4"]) == 2


def test_dataset_image_size_must_match_the_env(tmp_path):
    env = LineReachEnv(image_size=16)
    check_image_size(16, env)  # matching: fine
    with pytest.raises(ValueError, match="32x32.*16x16"):
        check_image_size(32, env)
    task = random_dataset(2, 3, image_size=32)
    cfg = TrainConfig(obs="image", net="fast", steps=1, batch_size=4, progress=False,
                      eval_env=LINE_ENV_ID)
    with pytest.raises(ValueError, match="task dataset images are 32x32"):
        Trainer(cfg, tmp_path / "r", task=task)


def test_missing_files_are_refused(tmp_path, capsys):
    rc = main(["train", "--task", str(tmp_path / "missing.h5"), "--obs", "state",
               "--out", str(tmp_path / "r")])
    assert rc == 2
    assert "missing.h5" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert main(["export", "--run", str(tmp_path / "nowhere"), "--out", "x.pt"]) == 2
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")


def test_bad_config_values_are_named(tmp_path):
    with pytest.raises(ValueError, match="algo='dqn'"):
        TrainConfig(algo="dqn").validate()
    with pytest.raises(ValueError, match="unknown config field"):
        TrainConfig.from_dict({"batchsize": 3})
    rc = main(["train", "--task", "t.h5", "--obs", "state", "--net", "cog",
               "--out", str(tmp_path / "r")])
    assert rc == 2


def test_an_existing_run_is_not_overwritten(tmp_path):
    task = _tiny_run(tmp_path / "run")
    with pytest.raises(ValueError, match="already holds a run"):
        Trainer(TrainConfig(obs="state", steps=2, progress=False), tmp_path / "run", task=task)


def test_state_training_refuses_data_without_object_state(tmp_path):
    """Schema-v1 files and real-robot recordings have no privileged object state; a state
    policy trained on proprioception alone could not tell a closed drawer from an open one."""
    from dataclasses import replace

    task = random_dataset(2, 3, image_size=8)
    bare = replace(task, objects=np.zeros((task.states.shape[0], 0), np.float32))
    cfg = TrainConfig(obs="state", steps=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="no object state.*re-collect"):
        Trainer(cfg, tmp_path / "r", task=bare)


def test_state_runs_standardise_inputs_with_the_data_statistics(tmp_path):
    import torch

    task = _tiny_run(tmp_path / "run")
    from cog.runs import load_run

    nets, _, _ = load_run(tmp_path / "run")
    rows = torch.as_tensor(np.concatenate([task.states, task.objects], axis=1))
    norm = nets.actor.encoder.normalize
    torch.testing.assert_close(norm.mean, rows.mean(0))
    torch.testing.assert_close(norm.std, rows.std(0).clamp_min(1e-2))


def test_stochastic_eval_names_what_it_cannot_do(tmp_path, capsys):
    _tiny_run(tmp_path / "run")
    assert main(["eval", "--run", str(tmp_path / "run"), "--env", LINE_ENV_ID,
                 "--stochastic", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--workers 0" in err and "--workers 1" in err and "Traceback" not in err
    assert main(["eval", "--policy", str(tmp_path / "p.pt"), "--stochastic"]) == 2
    assert "exported policies are deterministic" in capsys.readouterr().err
