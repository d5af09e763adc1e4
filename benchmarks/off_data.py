"""How far a trained policy's own states leave its training data, step by step.

    python benchmarks/off_data.py RUN_DIR [RUN_DIR ...] --episodes 10 \\
        --out benchmarks/results/off_data.png

For each run, the policy at its final checkpoint plays ``--episodes`` seeded episodes in the
run's evaluation env (the evaluation seeds, as in training). At every step, its
(proprioception, scene state) observation is compared with the nearest observation in the
data the run trained on, dimension by dimension in units of the data's std: the median of
that distance over episodes, per time step, is how far the policy has left the data. The data's
own spread is the same distance for up to 30 prior episodes, each against the other episodes.
Also per step: how far the wrist has turned since the episode's first step (the largest
change of a quaternion component of ``state[3:7]``), and the policy's mean rotation action
(dims 3-5; the scripted experts send 0 there, plus noise). With ``--zero-rotation`` the
policy's rotation actions are replaced by 0, the experts' own, as an intervention: if a wrist
that turns away from the data is what fails, success rises. Prints a line per run; writes a
PNG and the numbers beside it (.json). Needs the simulator the run was evaluated in.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diagnostics_cli import parser, run_each  # noqa: E402

from cog.evaluation import EVAL_BASE_SEED, TorchPolicy, make_env  # noqa: E402
from cog.plotting import new_figure, save_png  # noqa: E402
from cog.runs import GreedyActor, load_run  # noqa: E402
from cog.trainer import load_datasets  # noqa: E402
from cog.value_profile import per_step  # noqa: E402
from policies.evaluate import play_episode  # noqa: E402

QUAT = slice(3, 7)  # the end effector's quaternion in obs["state"] (envs.drawer_env)
ROTATION = slice(3, 6)  # droll, dpitch, dyaw in the action
BASELINE_EPISODES = 30


def _rows(ds) -> np.ndarray:
    return np.concatenate([ds.states, ds.objects], axis=1).astype(np.float64)


class DataDistance:
    """Distance from observations to the nearest data row, in units of the data's std."""

    def __init__(self, datasets: list):
        if any(ds.object_dim == 0 for ds in datasets):
            raise ValueError("the data hold no scene state (obs['object']; real-robot data "
                             "do not), so there is nothing to measure the distance in")
        self.rows = np.concatenate([_rows(ds) for ds in datasets])
        self.mean = self.rows.mean(0)
        self.std = np.maximum(self.rows.std(0), 1e-2)  # a floor for constant dimensions
        self.scaled = torch.as_tensor((self.rows - self.mean) / self.std)

    def __call__(self, obs_rows: np.ndarray, skip: slice | None = None) -> np.ndarray:
        d = torch.cdist(torch.as_tensor((obs_rows - self.mean) / self.std), self.scaled)
        if skip is not None:
            d[:, skip] = float("inf")
        return d.min(dim=1).values.numpy()

    def baseline(self, ds) -> list[float]:
        """The first dataset's episodes, each against all rows but its own (its rows come
        first in ``rows``)."""
        starts = np.concatenate([[0], np.cumsum(ds.lengths + 1)[:-1]])
        picks = np.unique(np.linspace(0, ds.num_episodes - 1, BASELINE_EPISODES).astype(int))
        out = []
        for e in picks:
            own = slice(int(starts[e]), int(starts[e] + ds.lengths[e] + 1))
            out.append(self(self.rows[own], skip=own))
        return per_step(out, np.median)


class ZeroRotation:
    """A policy whose rotation actions are replaced by 0 (what the scripted experts send)."""

    def __init__(self, policy):
        self.policy = policy

    def reset(self, seed: int | None = None) -> None:
        self.policy.reset(seed)

    def act(self, obs, info=None) -> np.ndarray:
        action = self.policy.act(obs, info).copy()
        action[ROTATION] = 0.0
        return action


def off_data(run: Path, episodes: int, zero_rotation: bool = False) -> dict:
    nets, cfg, step = load_run(run)
    task, prior = load_datasets(cfg)
    datasets = [task] if prior is None else [prior, task]
    distance = DataDistance(datasets)
    policy = TorchPolicy(GreedyActor(nets), cfg.obs)
    if zero_rotation:
        policy = ZeroRotation(policy)
    env = make_env(cfg.eval_env, cfg.obs)
    dist, turn, rot, success = [], [], [], []
    try:
        for k in range(episodes):
            obs_rows, actions = [], []

            def keep(obs, action, *_, obs_rows=obs_rows, actions=actions):
                obs_rows.append(np.concatenate([obs["state"], obs["object"]]))
                if action is not None:
                    actions.append(action)

            ep = play_episode(env, policy, EVAL_BASE_SEED + k, on_step=keep)
            rows = np.stack(obs_rows)
            dist.append(distance(rows))
            turn.append(np.abs(rows[:, QUAT] - rows[0, QUAT]).max(axis=1))
            rot.append(np.stack(actions)[:, ROTATION])
            success.append(ep.success)
    finally:
        env.close()
    return {"run": str(run), "step": step, "episodes": episodes, "zero_rotation": zero_rotation,
            "success": float(np.mean(success)),
            "distance": per_step(dist, np.median), "data_distance": distance.baseline(datasets[0]),
            "wrist_turn": per_step(turn, np.median),
            "final_wrist_turn": [float(t[-1]) for t in turn],
            "mean_rotation_action": np.concatenate(rot).mean(axis=0).tolist()}


def summary_line(r: dict) -> str:
    zeroed = ", rotation actions 0" if r["zero_rotation"] else ""
    return (f"{r['run']} (step {r['step']}{zeroed}): success {r['success']:.2f} over "
            f"{r['episodes']}; "
            f"distance to the data (median over episodes) {r['distance'][0]:.2f} at t=0, "
            f"{max(r['distance']):.2f} at most, {r['distance'][-1]:.2f} at the end; the data's "
            f"own spread at most {max(r['data_distance']):.2f}; wrist turned "
            f"{np.median(r['final_wrist_turn']):.2f} by the end (median); mean rotation action "
            f"{np.round(r['mean_rotation_action'], 3).tolist()}")


def plot(results: list[dict], out: Path) -> Path:
    fig, (ax_d, ax_w) = new_figure(1, 2, figsize=(12, 4))
    for r in results:
        name = "/".join(Path(r["run"]).parts[-3:])  # table/setup/run: the names repeat
        line, = ax_d.plot(r["distance"], label=f"{name} ({r['success']:.2f})")
        ax_d.plot(r["data_distance"], color=line.get_color(), linestyle=":", linewidth=1)
        ax_w.plot(r["wrist_turn"], color=line.get_color(), label=name)
    ax_d.set_yscale("symlog", linthresh=2)
    ax_d.set_title("distance from the data (dotted: the data's own spread)", fontsize=9)
    ax_w.set_title("wrist turn since t=0 (largest quaternion component change)", fontsize=9)
    for ax in (ax_d, ax_w):
        ax.set_xlabel("time step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_png(fig, out)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], "benchmarks/results/off_data.png")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--zero-rotation", action="store_true",
                   help="replace the policy's rotation actions by 0 (the experts' own)")
    args = p.parse_args(argv)
    if args.episodes < 1:
        print(f"error: --episodes {args.episodes} must be >= 1", file=sys.stderr)
        return 2
    return run_each(args, lambda run: off_data(run, args.episodes, args.zero_rotation),
                    lambda r: print(summary_line(r)), plot)


if __name__ == "__main__":
    sys.exit(main())
