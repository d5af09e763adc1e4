"""Correctness test 2, the conservative property: with dataset actions clustered in one
corner of the action space, CQL pushes Q on unseen actions far below Q on dataset actions;
offline SAC (CQL with alpha = 0) does not."""

from __future__ import annotations

import numpy as np
import torch

from cog.algos.cql import CQL, CQLConfig
from cog.networks import ActorCritic, NetSpec
from cog.replay import ReplayBuffer
from cog.testing import dataset_from_arrays


def _narrow_dataset():
    rng = np.random.default_rng(0)
    e, t = 20, 10
    m, n = e * (t + 1), e * t
    actions = np.clip(0.5 + 0.05 * rng.normal(size=(n, 8)), -1, 1).astype(np.float32)
    return dataset_from_arrays(
        np.zeros((m, 2, 2, 3), np.uint8), rng.normal(size=(m, 10)).astype(np.float32),
        actions, np.ones(n, np.float32), np.full(e, t), np.zeros(e, bool),
    )


def _q_data_minus_q_unseen(cql_alpha: float) -> float:
    torch.manual_seed(0)
    algo = CQL(ActorCritic(NetSpec("state", "state")),
               CQLConfig(cql_alpha=cql_alpha, bc_warmup_steps=0, discount=0.9, cql_n_actions=4))
    buf = ReplayBuffer(_narrow_dataset(), use_images=False)
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        algo.update(buf.sample(64, g))
    with torch.no_grad():
        b = buf.sample(512, g)
        feats = algo.nets.critic.encode(b.obs)
        q_data = algo.nets.critic.q(feats, b.actions[:, None]).mean()
        unseen = torch.rand(512, 16, 8, generator=g) * 2 - 1  # uniform: almost all far away
        q_unseen = algo.nets.critic.q(feats, unseen).mean()
    return float(q_data - q_unseen)


def test_cql_is_conservative_on_unseen_actions_and_offline_sac_is_not():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matmuls: one thread is faster on a busy 2-core machine
    try:
        cql_margin = _q_data_minus_q_unseen(1.0)
        sac_margin = _q_data_minus_q_unseen(0.0)
    finally:
        torch.set_num_threads(threads)
    assert cql_margin > 5.0, cql_margin  # unseen actions valued far below dataset actions
    assert sac_margin < 2.0, sac_margin  # nothing pushes them down without the CQL term
