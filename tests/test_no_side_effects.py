"""Library code leaves the process as it found it (issue 13): torch's thread count,
determinism flag and global RNG, matplotlib's backend, and the environment."""

from __future__ import annotations

import subprocess
import sys

import torch

from cog.config import TrainConfig
from cog.testing import random_dataset
from cog.trainer import Trainer


def test_a_training_run_restores_torch_settings_and_rng(tmp_path):
    threads = torch.get_num_threads()
    torch.manual_seed(1234)
    rng = torch.random.get_rng_state()
    cfg = TrainConfig(obs="state", steps=3, batch_size=4, checkpoint_every=3, log_every=1,
                      bc_warmup_steps=1, progress=False, deterministic=True,
                      threads=threads + 1, seed=5)
    trainer = Trainer(cfg, tmp_path / "run", task=random_dataset(2, 4, image_size=8))
    trainer.run()
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.random.get_rng_state(), rng)
    # ... while the run's own weights still follow its seed alone.
    again = Trainer(cfg, tmp_path / "again", task=random_dataset(2, 4, image_size=8))
    first = Trainer(cfg, tmp_path / "first", task=random_dataset(2, 4, image_size=8))
    for a, b in zip(again.nets.parameters(), first.nets.parameters(), strict=True):
        assert torch.equal(a, b)


def test_plotting_never_touches_pyplot_or_the_backend(tmp_path):
    code = f"""
import sys, matplotlib
raw = lambda: dict.__getitem__(matplotlib.rcParams, 'backend')  # unresolved
backend = raw()
from cog.logger import CsvLog
from cog.plotting import plot_runs
run = {str(tmp_path / 'run')!r}
log = CsvLog(run + '/train.csv')
log.append({{'step': 1, 'q/data': 0.5}})
log.flush()
plot_runs([run], {str(tmp_path / 'p.png')!r})
assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'
assert raw() == backend, 'backend switched'
print('ok')
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.stdout.strip() == "ok", res.stderr[-2000:]
    assert (tmp_path / "p.png").stat().st_size > 1000
