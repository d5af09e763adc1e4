"""Correctness test 6: the exported TorchScript policy and the in-memory one agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cog.algos.cql import CQL, CQLConfig
from cog.config import TrainConfig
from cog.evaluation import TorchPolicy
from cog.export import export_policy
from cog.networks import ActorCritic, NetSpec
from policies.base import Policy
from policies.exported import load_exported


@pytest.mark.parametrize("preset,obs,size", [("cog", "image", 48), ("fast", "image", 32),
                                             ("state", "state", 48), ("thumb", "image", 48)])
def test_exported_policy_matches_in_memory_policy(tmp_path, preset, obs, size):
    torch.manual_seed(0)
    # State policies also read the env's 8-D privileged "object" vector.
    state_dim = 18 if obs == "state" else 10
    nets = ActorCritic(NetSpec(preset, obs, image_size=size, state_dim=state_dim)).eval()
    # Non-trivial state statistics (state/thumb presets): they must travel with the export.
    nets.set_state_normalizer(torch.randn(state_dim), torch.rand(state_dim) + 0.5)
    algo = CQL(nets, CQLConfig())
    path = export_policy(nets, TrainConfig(obs=obs, net=preset), 7, tmp_path / "p.pt")
    exported = load_exported(path)
    assert isinstance(exported, Policy)
    assert exported.meta["step"] == 7
    rng = np.random.default_rng(0)
    in_memory = TorchPolicy(algo, obs)
    for _ in range(3):
        ob = {"image": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
              "state": rng.normal(size=10).astype(np.float32),
              "object": rng.normal(size=8).astype(np.float32)}
        a_ref = in_memory.act(ob, {})
        a_exp = exported.act(ob, {})
        assert a_exp.shape == (8,) and a_exp.dtype == np.float32
        np.testing.assert_allclose(a_exp, a_ref, atol=1e-5)
    # Batched input gives the same rows.
    images = torch.as_tensor(rng.integers(0, 256, (4, size, size, 3), dtype=np.uint8))
    states = torch.as_tensor(rng.normal(size=(4, state_dim)).astype(np.float32))
    batched = exported.module(images, states)
    single = torch.stack([exported.module(images[i], states[i]) for i in range(4)])
    assert batched.shape == (4, 8)
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_exported_policy_refuses_a_wrong_image_size(tmp_path):
    nets = ActorCritic(NetSpec("fast", "image", image_size=48))
    path = export_policy(nets, TrainConfig(net="fast"), 0, tmp_path / "p.pt")
    policy = load_exported(path)
    with pytest.raises(ValueError, match="image size"):
        policy.act({"image": np.zeros((64, 64, 3), np.uint8), "state": np.zeros(10)}, {})


def test_exported_state_policy_refuses_an_observation_without_object_state(tmp_path):
    """A state policy needs the simulator's privileged state: on a real arm's observation
    (proprioception and image only) it must refuse clearly, not act on garbage."""
    nets = ActorCritic(NetSpec("state", "state", state_dim=18))
    policy = load_exported(export_policy(nets, TrainConfig(obs="state"), 0, tmp_path / "p.pt"))
    assert policy.state_keys == ("state", "object")
    with pytest.raises(ValueError, match="'object'.*cannot run on a real arm"):
        policy.act({"image": np.zeros((48, 48, 3), np.uint8), "state": np.zeros(10)}, {})


def test_load_exported_refuses_missing_and_garbage_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_exported(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid TorchScript"):
        load_exported(bad)
