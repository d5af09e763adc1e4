"""Named recipes (`--recipe`): a set of TrainConfig values under the flags given beside it,
the same in `cog train` and `cog sweep`, judged like its flags when resuming."""

from __future__ import annotations

import json

import pytest

from cog.cli import CliError, build_parser
from cog.commands.sweep import sweep_config
from cog.commands.train import config_from_args, resume_overrides
from cog.config import TrainConfig, recipe

# What the README says the CPU recipe changes, and to what.
CPU_IMAGE = {"obs": "image", "net": "fast", "precision": "bf16", "batch_size": 64,
             "threads": 1, "bc_warmup_steps": 1000, "bellman_weight": 0.5,
             "entropy_lr": 3e-4, "polyak_tau": 0.02}


def _values(cfg: TrainConfig, keys) -> dict:
    return {k: getattr(cfg, k) for k in keys}


def test_cog_train_recipe_sets_its_values_and_a_flag_beside_it_wins():
    cfg = config_from_args(build_parser().parse_args(
        ["train", "--recipe", "cpu-image", "--batch-size", "128", "--out", "run"]))
    assert _values(cfg, CPU_IMAGE) == {**CPU_IMAGE, "batch_size": 128}
    assert cfg.policy_log_std_min == -5.0  # COG's floor: the one value the recipe keeps
    plain = config_from_args(build_parser().parse_args(["train", "--out", "run"]))
    assert (plain.bellman_weight, plain.entropy_lr, plain.polyak_tau) == (1.0, 1e-4, 5e-3)


def test_resume_judges_a_recipe_like_the_flags_it_stands_for(tmp_path):
    TrainConfig().save(tmp_path / "config.json")  # a run trained on the defaults
    args = build_parser().parse_args(["train", "--resume", str(tmp_path), "--recipe",
                                      "cpu-image"])
    with pytest.raises(CliError, match=r"--batch-size 64 \(the run has 256\)"):
        resume_overrides(args)
    TrainConfig.from_dict(recipe("cpu-image")).save(tmp_path / "config.json")
    assert resume_overrides(args) == {}  # the run's own recipe, repeated: nothing changes


def test_cog_sweep_recipe_from_a_flag_or_the_config_file_under_set(tmp_path):
    args = build_parser().parse_args(["sweep", "--recipe", "cpu-image", "--set",
                                      "batch_size=32"])
    assert _values(sweep_config(args).train, CPU_IMAGE) == {**CPU_IMAGE, "batch_size": 32}
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"recipe": "cpu-image", "train": {"polyak_tau": 0.01}}))
    cfg = sweep_config(build_parser().parse_args(["sweep", "--config", str(grid)]))
    assert _values(cfg.train, CPU_IMAGE) == {**CPU_IMAGE, "polyak_tau": 0.01}
    grid.write_text(json.dumps({"recipe": "gpu-magic"}))
    with pytest.raises(ValueError, match="unknown recipe 'gpu-magic'; choose from cpu-image"):
        sweep_config(build_parser().parse_args(["sweep", "--config", str(grid)]))


def test_the_image_table_recipe_grid_trains_with_the_recipe():
    """`benchmarks/grids/image_table_cpu_recipe.json` names the recipe in the file: its runs
    must get every value of it (RESULTS.md's blocked-drawer figures depend on them)."""
    from pathlib import Path

    grid = Path(__file__).resolve().parents[1] / "benchmarks" / "grids" / \
        "image_table_cpu_recipe.json"
    cfg = sweep_config(build_parser().parse_args(["sweep", "--config", str(grid)]))
    assert _values(cfg.train, CPU_IMAGE) == CPU_IMAGE
    assert (cfg.train.steps, cfg.train.checkpoint_every) == (80_000, 2500)
