"""The `sim` backend through the real client, `cog deploy`, `cog robot calibrate`, and the
server's signal behaviour. Servers run as subprocesses on loopback and are always killed."""

from __future__ import annotations

import json
import signal
import time
import warnings

import numpy as np
import pytest

from robot_interface.client import RobotClient
from robot_interface.testing import spawn_server

TASK = "cog/OpenDrawerGrasp-v0"
# Generous watchdog/frame-age limits: these tests check behaviour, not timing, and CI is shared.
SIM = ("--backend", "sim", "--task", TASK, "--rate", "50", "--watchdog", "5",
       "--max-frame-age", "5")


def test_parity_scripted_expert_solves_through_server_and_matches_direct_env():
    import envs
    import policies

    seed = 3
    with spawn_server(*SIM) as srv, RobotClient(srv.endpoint, timeout_s=10.0) as client:
        assert client.welcome["horizon"] == envs.horizon(TASK)
        obs = client.reset(seed=seed)
        policy = policies.make_policy("grasp", noise=0.0, seed=seed)
        policy.reset(seed=seed)
        actions, served_ee, rewards = [], [obs["state"][:3]], []
        for _ in range(client.welcome["horizon"]):
            action = policy.act({"image": obs["image"], "state": obs["state"]}, obs["privileged"])
            obs = client.act(action, obs["frame_time"])
            assert obs["interventions"] == [] and not obs["hold"]
            np.testing.assert_array_equal(obs["applied_action"], action)
            actions.append(action)
            served_ee.append(obs["state"][:3])
            rewards.append(obs["reward"])
    assert rewards[-1] == 1.0, "the scripted expert should solve the task through the server"

    env = envs.make(TASK)
    try:
        o, _ = env.reset(seed=seed)
        direct_ee = [o["state"][:3]]
        for action in actions:
            o, *_ = env.step(action)
            direct_ee.append(o["state"][:3])
    finally:
        env.close()
    np.testing.assert_allclose(np.array(served_ee), np.array(direct_ee), atol=1e-6)


def test_deploy_records_valid_hdf5_and_prints_success_rate(tmp_path, capsys):
    from cog.cli import main
    from data_collection.hdf5_format import load_dataset

    out = tmp_path / "real"
    with spawn_server(*SIM) as srv:
        code = main([
            "deploy", "--policy", "grasp", "--robot", srv.endpoint, "--episodes", "2",
            "--rate", "100", "--out", str(out), "--noise", "0.0", "--timeout", "10",
        ])
        assert code == 0
        printed = capsys.readouterr().out
        assert "success rate 1.00 (2/2)" in printed and "p99" in printed
        ds = load_dataset(out / "rollouts.h5")
        assert ds.num_episodes == 2 and ds.num_transitions == 60
        assert ds.images.shape == (62, 48, 48, 3)
        assert ds.attrs["env_id"] == TASK and ds.attrs["policy_name"] == "grasp"
        assert ds.success.all() and ds.timeouts.sum() == 2
        summary = json.loads((out / "summary.json").read_text())
        assert summary["act_latency"]["n"] == 60

        # an interrupted run is resumed, never silently overwritten
        base = ["deploy", "--policy", "grasp", "--robot", srv.endpoint, "--rate", "100",
                "--out", str(out), "--noise", "0.0", "--timeout", "10", "--episodes", "3"]
        assert main(base) == 2
        assert "--resume" in capsys.readouterr().err
        assert main([*base, "--resume"]) == 0
        resumed = load_dataset(out / "rollouts.h5")
        assert resumed.num_episodes == 3 and resumed.num_transitions == 90
        np.testing.assert_array_equal(resumed.images[:62], ds.images)
        np.testing.assert_array_equal(resumed.actions[:60], ds.actions)

        # --dry-run computes and logs actions but sends none: the server counts no steps
        dry = tmp_path / "dry"
        assert main(["deploy", "--policy", "grasp", "--robot", srv.endpoint,
                     "--rate", "100", "--out", str(dry), "--dry-run", "--horizon", "5"]) == 0
        lines = (dry / "dry_run_actions.jsonl").read_text().splitlines()
        assert len(lines) == 5 and len(json.loads(lines[0])["action"]) == 8
        assert not (dry / "rollouts.h5").exists()
        with RobotClient(srv.endpoint, timeout_s=5.0) as client:
            assert client.status()["counters"]["steps"] == 90


def test_deploy_rejects_unknown_policy_and_scripted_on_real_robot(tmp_path, capsys):
    from cog.cli import main

    assert main(["deploy", "--policy", "nope", "--out", str(tmp_path)]) == 2
    assert "--policy 'nope' is neither an expert" in capsys.readouterr().err
    assert main(["deploy", "--policy", str(tmp_path / "missing.pt"), "--out", str(tmp_path)]) == 2
    with spawn_server("--backend", "fake", "--rate", "50") as srv:
        code = main(["deploy", "--policy", "grasp", "--robot", srv.endpoint,
                     "--out", str(tmp_path), "--horizon", "3"])
        assert code == 2
        assert "privileged" in capsys.readouterr().err


def test_calibrate_reports_displacement_per_action_unit(capsys):
    from cog.cli import main

    with spawn_server("--backend", "fake", "--rate", "50") as srv:
        assert main(["robot", "calibrate", "--robot", srv.endpoint, "--repeats", "1"]) == 0
    report = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in report[1:7]}
    assert set(rows) == {"+x", "-x", "+y", "-y", "+z", "-z"}
    for row in rows.values():
        assert float(row[1]) == pytest.approx(0.04, abs=1e-4)  # the fake moves exactly
        assert 0.0 < float(row[2]) <= 0.0401  # the sim's arm, measured through env.step


def test_sigint_latches_stop_then_second_sigint_shuts_down():
    with spawn_server("--backend", "fake", "--rate", "50") as srv:
        with RobotClient(srv.endpoint, timeout_s=2.0) as client:
            obs = client.reset(seed=0)
            srv.proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 5
            while not client.status()["stopped"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "SIGINT" in client.status()["stop_reason"]
            step = client.act(np.array([0, 0, 1, 0, 0, 0, 0, 0], np.float32), obs["frame_time"])
            assert step["hold"]
        srv.proc.send_signal(signal.SIGINT)
        assert srv.proc.wait(timeout=10) == 0
        assert "server shut down" in srv.read_output(1.0)


def _tiny_exported_policy(path):
    """A stand-in for a `cog export` file: TorchScript, (image, state) -> 8-D action."""
    import torch

    from policies.exported import META_FILE

    class Tiny(torch.nn.Module):
        def forward(self, image: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
            # go up and to the left, a little, whatever the picture: deterministic and known
            base = torch.tensor([0.0, 0.25, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0])
            return base + 0.0 * state[:1].sum() + 0.0 * image.float().mean()

    with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13, not gone
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(Tiny()), str(path),
                       _extra_files={META_FILE: json.dumps({"image_size": 48})})


def test_deploy_runs_an_exported_learned_policy_file(tmp_path, capsys):
    from cog.cli import main
    from data_collection.hdf5_format import load_dataset

    policy_file = tmp_path / "policy.pt"
    _tiny_exported_policy(policy_file)
    with spawn_server(*SIM) as srv:
        assert main(["deploy", "--policy", str(policy_file), "--robot", srv.endpoint,
                     "--episodes", "2", "--horizon", "4", "--rate", "100",
                     "--out", str(tmp_path / "out"), "--timeout", "10"]) == 0
    assert "success rate 0.00 (0/2)" in capsys.readouterr().out
    ds = load_dataset(tmp_path / "out" / "rollouts.h5")
    assert ds.num_episodes == 2 and ds.num_transitions == 8
    np.testing.assert_allclose(ds.actions[:, :3], np.tile([0.0, 0.25, 0.5], (8, 1)))
    assert (np.diff(ds.states[:5, 2]) > 0).all()  # the arm really rose, step after step
