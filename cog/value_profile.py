"""Where along the data a trained critic carries value, and how closely the policy follows it.

COG's claim is a chain: value learnt at the task data's rewards flows back, through dynamic
programming, along the prior episodes to the states the new task starts from. When a run
fails, two questions come first: did the value reach the prior episodes' starts, and does the
policy take the data's actions on the data's own states? Both are answered here from the run's
datasets and final checkpoint alone (no simulator), per time step t of the episodes:

- ``q_data``: mean Q_i(s_t, a_t) on the dataset action (the ensemble's mean, like the
  trainer's ``q/data``);
- ``q_policy``: mean Q_i(s_t, pi(s_t)) on the policy's deterministic action;
- ``action_error``: mean |pi(s_t) - a_t| over the action's dimensions;
- ``chain`` (prior episodes only): the value a fully propagated chain would give, namely the
  task episodes' mean ``q_data`` at t = 0, discounted by the steps left in each prior episode
  (gamma^(L - t)), averaged over the episodes that reach t.

If ``q_data`` on the prior episodes sits on ``chain``, value has propagated; if the policy's
action error on the data is small too, a failure in the simulator comes from states the data
does not cover (compounding error), not from the critic or from fitting.

A prior that names its episodes' behaviours (a prior with irrelevant behaviour) is also split
by behaviour: COG's selection by value should show as higher Q, and a smaller action error,
on the useful expert's episodes than on the distractors'.
"""

from __future__ import annotations

import os

import numpy as np
import torch

PARTS = ("prior", "task")


def per_step(episodes: list[np.ndarray], statistic=np.mean) -> list[float]:
    """``statistic`` (the mean by default) over the episodes that reach each time step."""
    horizon = max((len(e) for e in episodes), default=0)
    return [float(statistic([e[t] for e in episodes if len(e) > t])) for t in range(horizon)]


@torch.no_grad()
def episode_values(nets, batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q on data actions, Q on policy actions, |pi(s) - a|) for each transition of a batch."""
    from cog.distributions import policy_action

    feats = nets.critic.encode(batch.obs)
    mean, log_std = nets.policy(batch.obs, feats)  # a shared-encoder actor reuses them
    a_pi = policy_action(mean, log_std, True, None)
    q = nets.critic.q(feats, torch.stack([batch.actions, a_pi], dim=1))  # (n_q, B, 2)
    q = q.mean(dim=0)
    err = (a_pi - batch.actions).abs().mean(dim=1)
    return q[:, 0].numpy(), q[:, 1].numpy(), err.numpy()


def _critic_run(run_dir: str | os.PathLike):
    """(networks, config, step, replay buffer of all its data, the prior's per-episode
    behaviour names or None) of a run's final checkpoint; a behaviour-cloning run, which has
    no critic, is refused."""
    from cog.runs import load_run
    from cog.trainer import build_buffer, load_datasets

    nets, cfg, step = load_run(run_dir)
    if cfg.algo == "bc":
        raise ValueError(f"{run_dir} is a behaviour-cloning run: it has no critic to examine")
    task, prior = load_datasets(cfg)
    behaviour = None if prior is None else prior.behaviour
    return nets, cfg, step, build_buffer(cfg, task, prior, torch.device("cpu")), behaviour


def value_profile(run_dir: str | os.PathLike) -> dict:
    """The profile of a run's final checkpoint: {"step", "discount", part: {...}} with, for
    each of "prior" and "task" the run trained on, the per-time-step lists described above
    and ``episodes`` (how many episodes reach each step); with "prior_behaviours" the same per
    behaviour when the prior names more than one."""
    nets, cfg, step, buffer, behaviour = _critic_run(run_dir)
    out: dict = {"run": str(run_dir), "step": step, "discount": cfg.discount}
    lengths: dict[str, list[int]] = {}
    for part in PARTS:
        if part not in buffer.episode_spans:
            continue
        values = [episode_values(nets, batch) for batch in buffer.episodes(part)]
        lengths[part] = [len(v[0]) for v in values]
        out[part] = _profile(values)
        if part == "prior" and behaviour is not None and len(set(behaviour.tolist())) > 1:
            out["prior_behaviours"] = {
                name: _profile([v for v, b in zip(values, behaviour, strict=True) if b == name])
                for name in sorted(set(behaviour.tolist()))}
    if "prior" in out and "task" in out:
        start = out["task"]["q_data"][0]
        out["prior"]["chain"] = per_step(
            [start * cfg.discount ** (n - np.arange(n)) for n in lengths["prior"]])
    return out


def _profile(values: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    lengths = [len(v[0]) for v in values]
    return {
        "q_data": per_step([v[0] for v in values]),
        "q_policy": per_step([v[1] for v in values]),
        "action_error": per_step([v[2] for v in values]),
        "episodes": [sum(n > t for n in lengths) for t in range(max(lengths))],
        # Q on data at each episode's own last step, averaged: where the episodes end. The
        # per-step list's last entry covers only the longest episodes (a handful, often).
        "q_data_last": float(np.mean([v[0][-1] for v in values])),
    }


# --- Q along one action dimension at chosen data steps ---------------------------------------
@torch.no_grad()
def q_along_dimension(nets, batch, dim: int, grid: torch.Tensor
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q(s, pi(s) with dimension ``dim`` set to each ``grid`` value), shape (B, len(grid));
    the policy's own value in that dimension, shape (B,); Q(s, pi(s)), shape (B,)) for each
    state of a batch. The other dimensions keep the policy's deterministic action, so the
    slice is what the actor's gradient sees along ``dim``."""
    from cog.distributions import policy_action

    feats = nets.critic.encode(batch.obs)
    mean, log_std = nets.policy(batch.obs, feats)
    a_pi = policy_action(mean, log_std, True, None)
    actions = a_pi.unsqueeze(1).repeat(1, len(grid) + 1, 1)  # (B, G + 1, A); last: pi(s)
    actions[:, :-1, dim] = grid.to(actions.dtype)
    q = nets.critic.q(feats, actions).mean(dim=0)  # the ensemble's mean, (B, G + 1)
    return q[:, :-1].numpy(), a_pi[:, dim].numpy(), q[:, -1].numpy()


def action_slice(run_dir: str | os.PathLike, dim: int, below: float,
                 grid: np.ndarray) -> dict:
    """At the first step of each prior and task episode where the data's action in dimension
    ``dim`` is below ``below`` (for the gripper, the step the expert closes it), Q of the
    final checkpoint along that dimension (``q_along_dimension``): {"run", "step", "dim",
    "below", "grid", part: {"steps", "q" (mean over those states, per grid value),
    "policy_value" (the policy's own value at each state), "q_policy" (mean Q at the policy's
    own action)}}; a part with no such step is left out."""
    nets, _, step, buffer, _ = _critic_run(run_dir)
    if not 0 <= dim < buffer.actions.shape[1]:
        raise ValueError(f"action dimension {dim} is out of range: the actions have "
                         f"{buffer.actions.shape[1]}")
    grid_t = torch.as_tensor(np.asarray(grid, dtype=np.float32))
    out: dict = {"run": str(run_dir), "step": step, "dim": dim, "below": below,
                 "grid": [float(g) for g in grid]}
    for part in PARTS:
        if part not in buffer.episode_spans:
            continue
        steps, q_rows, own, q_own = [], [], [], []
        for batch in buffer.episodes(part):
            hits = torch.nonzero(batch.actions[:, dim] < below).flatten()
            if len(hits) == 0:
                continue
            t = int(hits[0])
            q, value, q_self = q_along_dimension(nets, batch, dim, grid_t)  # short episodes
            steps.append(t)
            q_rows.append(q[t])
            own.append(float(value[t]))
            q_own.append(float(q_self[t]))
        if steps:
            out[part] = {"steps": steps, "q": np.mean(q_rows, axis=0).tolist(),
                         "policy_value": own, "q_policy": float(np.mean(q_own))}
    return out
