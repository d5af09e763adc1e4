"""The value profile: Q and the policy's action error along the data, per time step."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cog.cli import main
from cog.replay import ReplayBuffer
from cog.runs import load_run
from cog.testing import dataset_from_arrays, random_dataset
from cog.trainer import build_buffer, load_datasets
from cog.value_profile import action_slice, episode_values, q_along_dimension, value_profile
from data_collection.hdf5_format import save_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import grasp_q as grasp_q_script  # noqa: E402
import value_profile as value_profile_script  # noqa: E402

PRIOR_LEN, TASK_LEN = 4, 3
# the prior's episodes name their behaviour, as a prior with irrelevant behaviour does
BEHAVIOURS = ["drawer_open", "wander", "drawer_open", "wander", "drawer_open"]


def _train(root: Path, algo: str, *extra: str) -> Path:
    run = root / algo
    assert main(["train", "--task", str(root / "task.h5"), "--prior", str(root / "prior.h5"),
                 "--algo", algo, "--obs", "state", "--steps", "20", "--batch-size", "16",
                 "--eval-every", "20", "--bc-warmup-steps", "5", "--log-every", "5",
                 "--threads", "1", "--holdout-fraction", "0.25", "--no-progress",
                 "--out", str(run), *extra]) == 0
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("profile")
    save_dataset(root / "task.h5", random_dataset(6, TASK_LEN, image_size=8, seed=1))
    prior = random_dataset(5, PRIOR_LEN, image_size=8, seed=2, reward=0.0)
    save_dataset(root / "prior.h5", dataclasses.replace(prior, behaviour=np.array(BEHAVIOURS)))
    # the CQL run is evaluated in the closed-drawer scene, so off_data can play its policy
    return {"cql": _train(root, "cql", "--eval-env", "cog/ClosedDrawerGrasp-v0",
                          "--eval-episodes", "1"),
            "bc": _train(root, "bc")}


def test_the_profile_is_q_on_the_data_step_by_step(runs):
    prof = value_profile(runs["cql"])
    nets, cfg, step = load_run(runs["cql"])
    assert prof["step"] == step == 20
    assert prof["prior"]["episodes"] == [5] * PRIOR_LEN
    assert prof["task"]["episodes"] == [6] * TASK_LEN
    # Q on the data at each prior step, recomputed through the critic's unfused path.
    buffer = build_buffer(cfg, *load_datasets(cfg), torch.device("cpu"))
    with torch.no_grad():
        for t in range(PRIOR_LEN):
            batch = buffer._batch(torch.as_tensor(buffer.episode_spans["prior"][0] + t))
            want = nets.critic.q_naive(batch.obs, batch.actions).mean().item()
            assert prof["prior"]["q_data"][t] == pytest.approx(want, rel=1e-5, abs=1e-5)
    # The fully propagated chain: the task's Q at t = 0, discounted by the steps left.
    start = prof["task"]["q_data"][0]
    assert prof["prior"]["chain"] == pytest.approx(
        [start * cfg.discount ** (PRIOR_LEN - t) for t in range(PRIOR_LEN)])
    assert "chain" not in prof["task"]
    assert all(0.0 <= e <= 2.0 for e in prof["prior"]["action_error"])


def test_a_prior_that_names_its_behaviours_is_profiled_per_behaviour(runs, capsys, tmp_path):
    prof = value_profile(runs["cql"])
    split = prof["prior_behaviours"]
    assert sorted(split) == ["drawer_open", "wander"]
    assert split["drawer_open"]["episodes"] == [3] * PRIOR_LEN
    assert split["wander"]["episodes"] == [2] * PRIOR_LEN
    # The episode-weighted mean of the parts is the whole prior's profile, step by step.
    for key in ("q_data", "q_policy", "action_error"):
        mixed = [(3 * a + 2 * b) / 5 for a, b in zip(split["drawer_open"][key],
                                                     split["wander"][key], strict=True)]
        assert mixed == pytest.approx(prof["prior"][key], rel=1e-5, abs=1e-5)
    nets, cfg, _ = load_run(runs["cql"])
    buffer = build_buffer(cfg, *load_datasets(cfg), torch.device("cpu"))
    wander = [b for b, name in zip(buffer.episodes("prior"), BEHAVIOURS, strict=True)
              if name == "wander"]
    assert split["wander"]["q_data"][0] == pytest.approx(
        float(np.mean([episode_values(nets, b)[0][0] for b in wander])), rel=1e-5, abs=1e-5)
    assert value_profile_script.main([str(runs["cql"]), "--out", str(tmp_path / "b.png")]) == 0
    printed = capsys.readouterr().out
    assert "prior [wander]: 2 episodes; Q on data " in printed
    assert "prior [drawer_open]: 3 episodes; Q on data " in printed


def test_the_plot_shades_the_steps_that_few_episodes_reach():
    # 294 episodes, the blocked object's prior: 5% is under the 10% share from step 3 on.
    assert value_profile_script.thin_tail([294, 294, 40, 20, 2]) == 3
    assert value_profile_script.thin_tail([6, 6, 5, 4]) == 3  # never fewer than 5 needed
    assert value_profile_script.thin_tail([294, 294, 200]) is None
    assert value_profile_script.thin_tail([]) is None


def test_the_end_of_a_profile_is_each_episodes_own_last_step():
    """Episodes of 3 steps and of 1: the per-step list ends on the long one alone (Q 3), the
    episodes end at Q 3 and 10 (mean 6.5)."""
    from cog.value_profile import _profile

    ones = np.ones(3, dtype=np.float32)
    prof = _profile([(np.array([1.0, 2.0, 3.0]), ones, ones), (np.array([10.0]), ones[:1],
                                                                ones[:1])])
    assert prof["q_data"] == [5.5, 2.0, 3.0] and prof["episodes"] == [2, 1, 1]
    assert prof["q_data_last"] == 6.5


def test_episodes_are_whole_in_time_order_held_out_ones_included():
    lengths = [2, 5, 3]
    n, m = sum(lengths), sum(lengths) + len(lengths)
    actions = np.arange(n * 8, dtype=np.float32).reshape(n, 8)
    ds = dataset_from_arrays(np.zeros((m, 4, 4, 3), np.uint8), np.zeros((m, 10), np.float32),
                             actions, np.zeros(n, np.float32), lengths, np.zeros(3, bool))
    task = random_dataset(2, 3, image_size=4)
    buffer = ReplayBuffer(task, ds, use_images=False, holdout_fraction=0.5)
    assert len(buffer.heldout_ids) > 0
    episodes = buffer.episodes("prior")
    assert [len(b.actions) for b in episodes] == lengths
    assert torch.equal(torch.cat([b.actions for b in episodes]), torch.from_numpy(actions))
    assert [len(b.actions) for b in buffer.episodes("task")] == [3, 3]
    with pytest.raises(ValueError, match="no prior data"):
        ReplayBuffer(task, None, use_images=False).episodes("prior")


def test_a_bc_run_is_refused_with_one_line(runs, capsys, tmp_path):
    with pytest.raises(ValueError, match="behaviour-cloning run"):
        value_profile(runs["bc"])
    assert value_profile_script.main([str(runs["bc"]), "--out", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "behaviour-cloning" in err[0]


def test_the_script_writes_the_plot_and_the_numbers(runs, tmp_path, capsys):
    out = tmp_path / "profile.png"
    assert value_profile_script.main([str(runs["cql"]), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved[0]["prior"]["q_data"] == pytest.approx(value_profile(runs["cql"])["prior"]
                                                         ["q_data"])
    printed = capsys.readouterr().out
    assert "prior: 5 episodes, up to 4 steps" in printed and "minus chain at t=0: " in printed


# --- Q along one action dimension at the data's close steps (benchmarks/grasp_q.py) ---------
def test_the_slice_is_the_critic_on_the_policys_action_with_one_dimension_replaced(runs):
    nets, cfg, _ = load_run(runs["cql"])
    buffer = build_buffer(cfg, *load_datasets(cfg), torch.device("cpu"))
    batch = buffer.episodes("prior")[0]
    grid = torch.tensor([-1.0, 0.0, 0.5])
    q, own, q_own = q_along_dimension(nets, batch, 6, grid)
    assert q.shape == (PRIOR_LEN, 3) and own.shape == (PRIOR_LEN,)
    _, q_policy, _ = episode_values(nets, batch)
    assert q_own == pytest.approx(q_policy, rel=1e-5, abs=1e-5)
    with torch.no_grad():
        feats = nets.critic.encode(batch.obs)
        mean, _ = nets.policy(batch.obs, feats)
        a_pi = torch.tanh(mean)  # the deterministic action
        assert own == pytest.approx(a_pi[:, 6].numpy(), abs=1e-6)
        for k, g in enumerate(grid.tolist()):
            actions = a_pi.clone()
            actions[:, 6] = g
            want = nets.critic.q_naive(batch.obs, actions).mean(dim=0).numpy()
            assert q[:, k] == pytest.approx(want, rel=1e-5, abs=1e-5)
    # at the policy's own value the slice is Q(s, pi(s))
    q_self = np.array([q_along_dimension(nets, batch, 6, torch.tensor([float(v)]))[0][t, 0]
                       for t, v in enumerate(own)])
    assert q_self == pytest.approx(q_policy, rel=1e-5, abs=1e-5)


def test_the_slice_is_taken_at_each_episodes_first_step_below_the_threshold(runs):
    _, cfg, _ = load_run(runs["cql"])
    buffer = build_buffer(cfg, *load_datasets(cfg), torch.device("cpu"))
    grid = np.linspace(-1, 1, 5)
    r = action_slice(runs["cql"], 6, -0.5, grid)
    assert r["grid"] == pytest.approx(grid.tolist()) and r["below"] == -0.5
    for part in ("prior", "task"):
        want = [int(np.flatnonzero(b.actions[:, 6].numpy() < -0.5)[0])
                for b in buffer.episodes(part) if (b.actions[:, 6] < -0.5).any()]
        assert want, "the random data should close somewhere"
        assert r[part]["steps"] == want
        assert len(r[part]["policy_value"]) == len(want) and len(r[part]["q"]) == 5
    # no step below -1.5: no part at all
    assert set(action_slice(runs["cql"], 6, -1.5, grid)) == {"run", "step", "dim", "below",
                                                             "grid"}
    with pytest.raises(ValueError, match="action dimension 8 is out of range"):
        action_slice(runs["cql"], 8, -0.5, grid)
    with pytest.raises(ValueError, match="behaviour-cloning run"):
        action_slice(runs["bc"], 6, -0.5, grid)


def test_grasp_q_writes_the_plot_and_the_numbers_and_refuses_bad_input(runs, tmp_path, capsys):
    out = tmp_path / "grasp.png"
    assert grasp_q_script.main([str(runs["cql"]), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved[0]["prior"]["steps"] == action_slice(runs["cql"], 6, -0.5,
                                                      grasp_q_script.GRID)["prior"]["steps"]
    printed = capsys.readouterr().out
    assert " prior: " in printed and "close steps" in printed and "highest at" in printed
    for argv, match in (([str(runs["bc"]), "--out", str(out)], "behaviour-cloning"),
                        ([str(runs["cql"]), "--out", str(tmp_path / "grasp")], "must end in")):
        assert grasp_q_script.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and match in err[0]


# --- benchmarks/off_data.py: how far the policy's own states leave the data ------------------
import off_data as off_data_script  # noqa: E402


def test_distance_to_the_data_is_in_units_of_the_datas_std():
    ds = random_dataset(3, 4, image_size=4, seed=3)
    distance = off_data_script.DataDistance([ds])
    rows = distance.rows[:5]
    assert np.allclose(distance(rows), 0.0)  # data rows are in the data
    moved = rows[:1].copy()
    moved[0, 2] += 1000.0 * distance.std[2]  # far along one dimension only
    assert distance(moved)[0] > 900.0
    own = slice(0, 5)  # episode 0's rows: the nearest row is then another episode's
    assert np.all(distance(rows, skip=own) > 0.0)
    assert len(distance.baseline(ds)) == 5  # one value per observation of an episode
    no_scene = dataset_from_arrays(ds.images, ds.states, ds.actions, ds.rewards, ds.lengths,
                                   np.zeros(3, bool))
    with pytest.raises(ValueError, match="no scene state"):
        off_data_script.DataDistance([no_scene])


def test_off_data_plays_the_policy_and_writes_its_figures(runs, tmp_path, capsys):
    out = tmp_path / "off.png"
    assert off_data_script.main([str(runs["cql"]), "--episodes", "1", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (r,) = json.loads(out.with_suffix(".json").read_text())
    assert r["step"] == 20 and r["episodes"] == 1 and 0.0 <= r["success"] <= 1.0
    assert len(r["distance"]) == len(r["wrist_turn"]) > 1  # one value per observation
    assert r["wrist_turn"][0] == 0.0 and len(r["mean_rotation_action"]) == 3
    assert len(r["data_distance"]) == PRIOR_LEN + 1
    assert "distance to the data" in capsys.readouterr().out
    assert r["zero_rotation"] is False and any(a != 0.0 for a in r["mean_rotation_action"])
    # the intervention: the policy's rotation actions replaced by the experts' 0
    assert off_data_script.main([str(runs["cql"]), "--episodes", "1", "--zero-rotation",
                                 "--out", str(out)]) == 0
    (r,) = json.loads(out.with_suffix(".json").read_text())
    assert r["zero_rotation"] is True and r["mean_rotation_action"] == [0.0, 0.0, 0.0]
    assert "rotation actions 0" in capsys.readouterr().out
    assert off_data_script.main([str(runs["cql"]), "--episodes", "0"]) == 2
    assert "--episodes 0 must be >= 1" in capsys.readouterr().err
