"""The offline replay buffer: prior + task transitions, relabelled and mixed.

It knows nothing of algorithms. It holds the merged arrays as torch tensors on the training
device (images stay uint8; they become float only inside the networks), relabels prior
rewards (COG: to 0), and samples batches either uniformly over all transitions (COG's
default: the mix is proportional to dataset sizes) or with a fixed task fraction per batch.

With ``n_step > 1`` a sampled transition is the n-step one (s_t, a_t, R, s_{t+k}), where
R = sum_{j<k} discount^j r_{t+j} and k <= n stops at the episode's end or at a terminal; the
batch then carries each row's bootstrap discount discount^k. COG uses one step (n_step = 1),
for which nothing here changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from data_collection.dataset import Dataset


@dataclass
class Batch:
    obs: dict[str, Tensor]  # image uint8 (B, H, W, 3) [image runs only], state float (B, 10)
    actions: Tensor  # (B, A)
    rewards: Tensor  # (B,)
    dones: Tensor  # (B,) float 0/1: terminals (COG never terminates; timeouts are not dones)
    next_obs: dict[str, Tensor]
    from_task: Tensor  # (B,) bool: which rows came from the task dataset
    # (B,) discount^k of the bootstrap after k steps (n-step returns); None = one step, so the
    # algorithm's own discount applies.
    discounts: Tensor | None = None


def relabel_rewards(rewards: np.ndarray, value: float = 0.0) -> np.ndarray:
    """COG's relabelling of prior data: every reward becomes ``value`` (default 0)."""
    return np.full_like(rewards, value, dtype=np.float32)


class ReplayBuffer:
    def __init__(
        self,
        task: Dataset,
        prior: Dataset | None = None,
        *,
        use_images: bool = True,
        state_keys: tuple[str, ...] = ("state",),
        relabel_prior: bool = True,
        prior_reward_value: float = 0.0,
        mixing: str = "proportional",
        task_fraction: float = 0.5,
        only_successful: bool = False,
        include_prior: bool = True,
        n_step: int = 1,
        discount: float = 0.99,
        holdout_fraction: float = 0.0,
        holdout_seed: int = 0,
        device: str | torch.device = "cpu",
    ):
        if mixing not in ("proportional", "fixed"):
            raise ValueError(f"mixing={mixing!r} is not 'proportional' or 'fixed'")
        if not 0.0 <= task_fraction <= 1.0:
            raise ValueError(f"task_fraction={task_fraction!r} must be in [0, 1]")
        if n_step < 1:
            raise ValueError(f"n_step={n_step!r} must be >= 1")
        if not 0.0 <= holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction={holdout_fraction!r} must be in [0, 1)")
        parts = [prior, task] if (prior is not None and include_prior) else [task]
        if use_images and prior is not None and include_prior and (
            prior.images.shape[1:] != task.images.shape[1:]
        ):
            raise ValueError(
                f"prior images {prior.images.shape[1:]} and task images "
                f"{task.images.shape[1:]} differ in size"
            )
        self.device = torch.device(device)
        self.mixing, self.task_fraction = mixing, float(task_fraction)
        self.use_images = use_images

        obs_offset, trans_offset = 0, 0
        obs_index, rewards, is_task, keep, ends, held = [], [], [], [], [], []
        first_rows: dict[str, np.ndarray] = {}
        episode_spans: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for ds in parts:
            from_task = ds is task
            role = "task" if from_task else "prior"
            obs_index.append(ds.obs_index.astype(np.int64) + obs_offset)
            # episode e's first observation is row episode_starts[e] + e of its file
            first_rows[role] = (
                ds.episode_starts.astype(np.int64) + np.arange(ds.num_episodes) + obs_offset)
            episode_spans[role] = (
                ds.episode_starts.astype(np.int64) + trans_offset, ds.lengths.astype(np.int64))
            ends.append(np.repeat(ds.episode_starts + ds.lengths, ds.lengths) + trans_offset)
            r = ds.rewards.astype(np.float32)
            if not from_task and relabel_prior:
                r = relabel_rewards(r, prior_reward_value)
            rewards.append(r)
            is_task.append(np.full(ds.num_transitions, from_task))
            keep.append(_successful_mask(ds) if only_successful else
                        np.ones(ds.num_transitions, dtype=bool))
            # seeded by role, so task-only and COG runs of one seed hold out the same task
            # episodes
            held.append(_heldout_mask(ds, holdout_fraction, [holdout_seed, int(from_task)]))
            obs_offset += ds.states.shape[0]
            trans_offset += ds.num_transitions

        def to_dev(arrays, dtype=None):
            t = torch.from_numpy(np.ascontiguousarray(np.concatenate(arrays)))
            return t.to(self.device, dtype=dtype) if dtype else t.to(self.device)

        self.states = to_dev([low_dim_rows(ds, state_keys) for ds in parts], torch.float32)
        self.images = to_dev([ds.images for ds in parts]) if use_images else None
        self.actions = to_dev([ds.actions for ds in parts], torch.float32)
        self.rewards = to_dev(rewards, torch.float32)
        # The largest and smallest one-step rewards (as trained on: prior relabelled), before
        # any n-step sums, floored (capped) at 0: what bounds every return, see value_range().
        all_rewards = np.concatenate(rewards)
        self.max_reward = float(all_rewards.max(initial=0.0))
        self.min_reward = float(all_rewards.min(initial=0.0))
        self.dones = to_dev([ds.terminals for ds in parts], torch.float32)
        self.obs_index = to_dev(obs_index)
        self.from_task = to_dev(is_task)
        self.first_rows = {k: torch.from_numpy(v).to(self.device) for k, v in first_rows.items()}
        self.episode_spans = episode_spans
        self.n_step = int(n_step)
        if self.n_step > 1:
            r, d, rows, disc = n_step_returns(np.concatenate(rewards), self.dones.cpu().numpy(),
                                              np.concatenate(obs_index), np.concatenate(ends),
                                              self.n_step, discount)
            self.rewards = torch.from_numpy(r).to(self.device)
            self.dones = torch.from_numpy(d).to(self.device)
            self.next_rows = torch.from_numpy(rows).to(self.device)
            self.discounts = torch.from_numpy(disc).to(self.device)
        else:
            self.next_rows, self.discounts = self.obs_index + 1, None
        # Held-out episodes never enter a training batch (nor the state statistics): they are
        # only read by heldout_batch(), for the held-out TD error and Q (issue 14).
        held_all = np.concatenate(held)
        self.heldout_ids = torch.from_numpy(np.flatnonzero(held_all)).to(self.device)
        keep_all = np.concatenate(keep) & ~held_all
        task_all = np.concatenate(is_task)
        self.task_ids = torch.from_numpy(np.flatnonzero(keep_all & task_all)).to(self.device)
        self.prior_ids = torch.from_numpy(np.flatnonzero(keep_all & ~task_all)).to(self.device)
        self.all_ids = torch.from_numpy(np.flatnonzero(keep_all)).to(self.device)
        if len(self.all_ids) == 0:
            raise ValueError("the replay buffer is empty (no transitions were selected)")

    def __len__(self) -> int:
        return int(len(self.all_ids))

    def value_bound(self, discount: float) -> float:
        """The most any discounted return of this data can be, whatever the policy and
        wherever an episode ends: max(r, 0) / (1 - discount); 100 for COG's 0/1 rewards at
        discount 0.99. A conservative critic may sit below the true values (CQL's lower
        bound), but Q on the data above this is divergence, not learning."""
        return self.max_reward / (1.0 - discount)

    def value_range(self, discount: float) -> tuple[float, float]:
        """The least and the most any discounted return of this data can be: [0, 100] for
        COG's 0/1 rewards at discount 0.99. A value estimate outside it (FQE's, say) is an
        estimator that has not converged, not a policy's value."""
        return self.min_reward / (1.0 - discount), self.value_bound(discount)

    @property
    def num_task(self) -> int:
        return int(len(self.task_ids))

    @property
    def num_prior(self) -> int:
        return int(len(self.prior_ids))

    def heldout_batch(self, max_size: int = 512, seed: int = 0) -> Batch | None:
        """A fixed batch of held-out transitions (the same for every call with one seed);
        None when nothing is held out."""
        if len(self.heldout_ids) == 0:
            return None
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self.heldout_ids), generator=g)[:max_size]
        return self._batch(self.heldout_ids[order.to(self.device)])

    def initial_obs(self, part: str) -> dict[str, Tensor]:
        """The first observation of every episode of the ``prior`` or ``task`` file."""
        return self.obs_at(self.initial_rows(part))

    def initial_rows(self, part: str) -> Tensor:
        """The observation rows (see ``obs_at``) of those first observations."""
        if part not in self.first_rows:
            raise ValueError(f"this buffer holds no {part} data")
        return self.first_rows[part]

    @property
    def num_obs_rows(self) -> int:
        """Observation rows, held-out episodes' included: a transition's observation is
        row ``obs_index[i]`` and its bootstrap observation row ``next_rows[i]``."""
        return int(self.states.shape[0])

    def episodes(self, part: str) -> list[Batch]:
        """Every episode of the ``prior`` or ``task`` file as one batch of its transitions in
        time order, held-out episodes included (for diagnostics, never for training)."""
        if part not in self.episode_spans:
            raise ValueError(f"this buffer holds no {part} data")
        starts, lengths = self.episode_spans[part]
        return [self._batch(torch.arange(s, s + n, device=self.device))
                for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]

    def state_statistics(self, min_std: float = 1e-2) -> tuple[Tensor, Tensor]:
        """Mean and std of the low-dimensional state over the observation rows in use (a
        floor on std keeps near-constant dimensions from blowing up unseen values)."""
        rows = torch.unique(torch.cat([self.obs_index[self.all_ids],
                                       self.obs_index[self.all_ids] + 1]))
        states = self.states[rows].double()
        return states.mean(0).float(), states.std(0).clamp_min(min_std).float()

    def sample_indices(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        def pick(ids: Tensor, n: int) -> Tensor:
            return ids[torch.randint(0, len(ids), (n,), device=self.device, generator=generator)]

        if self.mixing == "proportional" or self.num_prior == 0 or self.num_task == 0:
            return pick(self.all_ids, batch_size)
        n_task = int(round(batch_size * self.task_fraction))
        return torch.cat([pick(self.task_ids, n_task), pick(self.prior_ids, batch_size - n_task)])

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        return self._batch(self.sample_indices(batch_size, generator))

    def _batch(self, idx: Tensor) -> Batch:
        return Batch(
            obs=self.obs_at(self.obs_index[idx]),
            actions=self.actions[idx],
            rewards=self.rewards[idx],
            dones=self.dones[idx],
            next_obs=self.obs_at(self.next_rows[idx]),
            from_task=self.from_task[idx],
            discounts=None if self.discounts is None else self.discounts[idx],
        )

    def obs_at(self, rows: Tensor) -> dict[str, Tensor]:
        """The observations at these rows."""
        obs = {"state": self.states[rows]}
        if self.images is not None:
            obs["image"] = self.images[rows]
        return obs


def n_step_returns(rewards: np.ndarray, dones: np.ndarray, obs_index: np.ndarray,
                   episode_ends: np.ndarray, n: int, discount: float):
    """Per transition t: the n-step reward sum, done flag, bootstrap observation row and
    discount^k, where k <= n steps stay inside t's episode (``episode_ends[t]``, exclusive)
    and stop after a terminal. Returns (rewards f32, dones f32, rows i64, discounts f32)."""
    t = np.arange(len(rewards))
    total = np.zeros(len(rewards), dtype=np.float64)
    k = np.zeros(len(rewards), dtype=np.int64)
    alive = np.ones(len(rewards), dtype=bool)
    for j in range(n):
        idx = t + j
        valid = alive & (idx < episode_ends)
        safe = np.where(valid, idx, t)
        total += np.where(valid, discount**j * rewards[safe].astype(np.float64), 0.0)
        k += valid
        alive = valid & (dones[safe] == 0)
    last = t + k - 1
    return (total.astype(np.float32), dones[last].astype(np.float32),
            obs_index[last] + 1, (discount ** k.astype(np.float64)).astype(np.float32))


def low_dim_rows(ds: Dataset, state_keys: tuple[str, ...]) -> np.ndarray:
    """The dataset's observation rows for the networks' "state" input: the arrays named by
    ``state_keys`` ("state" = proprioception, "object" = privileged scene state), side by side."""
    arrays = {"state": ds.states, "object": ds.objects}
    unknown = [k for k in state_keys if k not in arrays]
    if unknown:
        raise ValueError(f"unknown state key(s) {unknown}; known: {sorted(arrays)}")
    if "object" in state_keys and ds.object_dim == 0:
        raise ValueError(
            f"dataset {ds.attrs.get('env_id', '?')!r} has no object state (schema v1 or a "
            "real-robot recording), which state observations need: re-collect it with "
            "`cog collect`, or train on images"
        )
    return np.concatenate([arrays[k] for k in state_keys], axis=1)


def _heldout_mask(ds: Dataset, fraction: float, seed: list[int]) -> np.ndarray:
    """Per-transition mask of a seeded ``fraction`` of whole episodes, rounded (so a file of
    fewer than 1 / (2 fraction) episodes, 10 at 5%, holds none out; never all of them)."""
    mask = np.zeros(ds.num_transitions, dtype=bool)
    n = ds.num_episodes
    k = min(n - 1, round(fraction * n)) if fraction > 0 else 0
    if k <= 0:
        return mask
    for e in np.random.default_rng(seed).permutation(n)[:k]:
        start = int(ds.episode_starts[e])
        mask[start : start + int(ds.lengths[e])] = True
    return mask


def _successful_mask(ds: Dataset) -> np.ndarray:
    """Per-transition mask: True for transitions of successful episodes."""
    mask = np.zeros(ds.num_transitions, dtype=bool)
    for start, length, ok in zip(ds.episode_starts, ds.lengths, ds.success, strict=True):
        mask[int(start) : int(start) + int(length)] = bool(ok)
    return mask
