"""Correctness test 5 (resume equivalence) and checkpoint contents."""

from __future__ import annotations

import torch

from cog.checkpoint import load_checkpoint
from cog.config import TrainConfig
from cog.testing import random_dataset
from cog.trainer import Trainer


def _cfg(steps: int, **kw) -> TrainConfig:
    base = dict(obs="image", net="fast", steps=steps, batch_size=8, checkpoint_every=3,
                log_every=2, bc_warmup_steps=4, progress=False, deterministic=True, seed=11,
                lagrange=True, cql_n_actions=2)
    base.update(kw)
    return TrainConfig(**base)


def _params(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.algo.state_dict()["nets"].items()}


def test_n_steps_plus_resume_equals_2n_straight(tmp_path):
    try:
        _resume_equivalence(tmp_path)
    finally:  # deterministic=True is process-wide: do not leak it into other tests
        torch.use_deterministic_algorithms(False)


def _resume_equivalence(tmp_path):
    task = random_dataset(3, 6, image_size=16, seed=1)
    prior = random_dataset(3, 6, image_size=16, seed=2, reward=0.5)
    straight = Trainer(_cfg(12), tmp_path / "a", task=task, prior=prior)
    straight.run()

    first = Trainer(_cfg(6), tmp_path / "b", task=task, prior=prior)
    first.run()
    del first
    resumed = Trainer.resume(tmp_path / "b", steps=12, task=task, prior=prior)
    assert resumed.step == 6
    resumed.run()

    a, b = _params(straight), _params(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa, sb = straight.algo.state_dict(), resumed.algo.state_dict()
    assert torch.equal(sa["log_alpha"], sb["log_alpha"])
    assert torch.equal(sa["log_alpha_prime"], sb["log_alpha_prime"])
    # The CSV log of the resumed run has each step once.
    steps = [r["step"] for r in resumed.train_log.rows]
    assert steps == sorted(set(steps))


def test_checkpoint_holds_everything_to_continue(tmp_path):
    task = random_dataset(2, 4, image_size=8, seed=3)
    t = Trainer(TrainConfig(obs="state", steps=4, batch_size=4, checkpoint_every=2,
                            progress=False, log_every=1), tmp_path / "r", task=task)
    t.run()
    state = load_checkpoint(tmp_path / "r")
    assert state["step"] == 4
    algo = state["algo"]
    for key in ("nets", "actor_opt", "critic_opt", "alpha_opt", "alpha_prime_opt",
                "log_alpha", "log_alpha_prime", "generator"):
        assert key in algo
    assert any(k.startswith("critic_target.") for k in algo["nets"])
    assert {"torch_cpu", "trainer"} <= set(state["rng"])


def test_sigkill_loses_at_most_one_checkpoint_interval(tmp_path):
    """A run killed with SIGKILL mid-training leaves a loadable checkpoint at a multiple of
    checkpoint_every, and --resume finishes the run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from cog.cli import main
    from cog.testing import make_line_dataset
    from data_collection import save_dataset

    save_dataset(tmp_path / "task.h5", make_line_dataset(4, 0.0, seed=2))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "cog", "train", "--task", str(tmp_path / "task.h5"),
           "--obs", "state", "--steps", "100000", "--batch-size", "8", "--checkpoint-every",
           "5", "--no-progress", "--threads", "1", "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if (run / "checkpoint.pt").exists() and load_checkpoint(run)["step"] >= 10:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    state = load_checkpoint(run)  # never half-written
    assert state["step"] >= 10 and state["step"] % 5 == 0
    assert main(["train", "--resume", str(run), "--steps", str(state["step"] + 5)]) == 0
    assert load_checkpoint(run)["step"] == state["step"] + 5
