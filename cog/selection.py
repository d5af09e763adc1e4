"""Choosing a checkpoint without running it: offline policy selection over a run's snapshots.

On a real arm nobody can roll out every checkpoint, and offline RL's success swings from one
checkpoint to the next. Each selector below reads only the run's data and statistics, never
the simulator, and names one snapshot step:

- ``last``: the final snapshot (the baseline every other selector must beat).
- ``workflow``: Kumar, Singh, Tian, Finn and Levine's workflow for offline model-free robotic
  RL (CoRL 2021). Average Q on dataset actions rises while the critic learns and falls when it
  overfits, so pick the snapshot at the peak of that curve (smoothed over three snapshots),
  after the behaviour-cloning warm-up. Guards: snapshots whose held-out TD error is more than
  twice the run's lowest are passed over (a critic that does not fit unseen transitions of the
  same data is not to be trusted at its peak), and so are snapshots whose Q on data is above
  the most any return of the data can be (``q/bound``: a diverged critic's "peak").
- ``early_stop``: the workflow pick only when ``diagnose`` finds the critic overfitting (Q on
  data fallen from its peak) or diverged, the last snapshot otherwise: Kumar et al. advise
  early stopping against overfitting, and a Q that only climbs to a plateau has a "peak"
  anywhere on it.
- ``fqe``: fitted Q evaluation (Le, Voloshin and Yue, 2019) of each snapshot's deterministic
  policy on the run's own training data (prior rewards relabelled as in training), then its
  mean value at the *prior* episodes' first observations. In every COG setup the prior data
  starts where the new task starts (closed or blocked drawer), so these are the initial
  conditions the task data never shows; a task-only run, which has no prior data, is scored
  at its task episodes' starts instead. What FQE cannot see is the rest of the new task's
  start distribution beyond those episodes. FQE itself can diverge, on a policy whose actions
  leave the data's support: estimates outside the range any return of the data can take are
  named in a warning, since they rank nothing. On image runs FQE's critic reads the run's last
  critic's features, fixed (``FQEConfig.encoder``): only its Q head is fitted.

``diagnose`` adds the workflow's warnings (Q on data fallen from its peak: overfitting; a
held-out TD error that has grown) to every selection.

Everything here also runs on real-robot data, which has no simulator and no reward for the
new task: the selectors need only the datasets the run trained on and its snapshots.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cog.config import TrainConfig
from cog.logger import CsvLog, eval_rows

# torch (FQE, snapshots) is imported where it is used: the command line's parser reads
# SELECTORS, and `cog --help` should not wait for torch.
SELECTORS = ("workflow", "early_stop", "fqe", "last")


@dataclass
class FQEConfig:
    steps: int = 3000  # gradient steps per snapshot
    batch_size: int = 256
    lr: float = 1e-3
    polyak_tau: float = 0.05  # a fast target: value must cross ~40 steps in a few thousand
    seed: int = 0
    # The fresh critic's encoder. "train": fit the whole critic, encoder included (one
    # encoder pass per sampled observation and step). "frozen": fit only its Q head, on the
    # features of the run's last critic, computed once for every observation of the data,
    # with each snapshot's actions computed once too; the FQE steps are then MLP steps. That
    # turns an image run's FQE from hours into minutes on a CPU, at the price of judging every
    # snapshot through one fixed representation. "auto": frozen for image runs, train for
    # state runs (a state encoder is cheap).
    encoder: str = "auto"

    def resolved_encoder(self, obs: str) -> str:
        if self.encoder not in FQE_ENCODERS:
            raise ValueError(f"FQE encoder {self.encoder!r} is not one of "
                             f"{', '.join(FQE_ENCODERS)}")
        if self.encoder != "auto":
            return self.encoder
        return "frozen" if obs == "image" else "train"

    @classmethod
    def saved(cls, d: dict) -> FQEConfig:
        """The settings a selection was saved with; a field added since takes its default,
        which does what FQE did before the field existed."""
        return cls(**{**asdict(cls()), **d})


FQE_ENCODERS = ("auto", "train", "frozen")


@dataclass
class Selection:
    run: str
    steps: list[int]
    picks: dict[str, int]  # selector -> chosen step
    evidence: dict[str, dict[int, float]] = field(default_factory=dict)  # name -> step -> value
    notes: dict[str, str] = field(default_factory=dict)  # selector -> why
    diagnosis: list[str] = field(default_factory=list)  # warnings from the statistics
    fqe: dict | None = None  # the FQEConfig used, when FQE was among the selectors
    fqe_range: list[float] | None = None  # [least, most] any return of the data can be

    def to_dict(self) -> dict:
        return {"run": self.run, "steps": self.steps, "picks": self.picks,
                "evidence": {k: {str(s): v for s, v in d.items()}
                             for k, d in self.evidence.items()},
                "notes": self.notes, "diagnosis": self.diagnosis, "fqe": self.fqe,
                "fqe_range": self.fqe_range}

    @classmethod
    def from_dict(cls, d: dict) -> Selection:
        return cls(d["run"], [int(s) for s in d["steps"]],
                   {k: int(v) for k, v in d["picks"].items()},
                   {k: {int(s): float(v) for s, v in e.items()}
                    for k, e in d["evidence"].items()},
                   dict(d["notes"]), list(d.get("diagnosis", [])), d.get("fqe"),
                   d.get("fqe_range"))


def snapshot_rows(run_dir: str | os.PathLike) -> list[dict[str, float]]:
    """The statistics of every snapshot a run kept; one clear error when it kept none."""
    from cog.snapshots import snapshot_dir, snapshot_steps

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json)")
    steps = set(snapshot_steps(run_dir))
    index = snapshot_dir(run_dir) / "index.csv"
    rows = [r for r in CsvLog(index).rows if int(r["step"]) in steps] if index.is_file() else []
    if not rows:
        raise ValueError(f"run {run_dir} has no policy snapshots (it was trained before "
                         "snapshots existed, or stopped before its first evaluation interval)"
                         ": nothing to select from")
    return sorted(rows, key=lambda r: r["step"])


# --- the selectors ----------------------------------------------------------------------------
def diverged(q_data: float, bound: float) -> bool:
    """Q on dataset actions clearly above the most any return of the data can be (the
    trainer's ``q/bound``); a margin of 10% of the bound plus one reward unit allows for a
    saturated critic's estimation noise."""
    return q_data > bound + 0.1 * abs(bound) + 1.0


def data_value_bound(cfg: TrainConfig) -> float | None:
    """The run's ``q/bound`` from its datasets, for runs whose snapshots predate it; None
    when the files have moved."""
    from cog.replay import ReplayBuffer
    from cog.trainer import load_datasets

    try:
        task, prior = load_datasets(cfg)
    except (OSError, ValueError):
        return None
    buffer = ReplayBuffer(task, prior, use_images=False, relabel_prior=cfg.relabel_prior_rewards,
                          prior_reward_value=cfg.prior_reward_value)
    return buffer.value_bound(cfg.discount)


def _diverged_row(r: dict[str, float]) -> bool:
    return "q/bound" in r and "q/data" in r and diverged(r["q/data"], r["q/bound"])


def select_last(rows: list[dict[str, float]]) -> tuple[int, str]:
    return int(rows[-1]["step"]), "the final snapshot"


def smooth(values: list[float], window: int = 3) -> list[float]:
    """Centred moving average; the ends average what they have."""
    half = window // 2
    return [float(np.mean(values[max(0, i - half): i + half + 1])) for i in range(len(values))]


def after_warmup(rows: list[dict[str, float]], cfg: TrainConfig) -> list[dict[str, float]]:
    """The snapshots with Q statistics taken after the BC warm-up (whose Q means nothing)."""
    return [r for r in rows if "q/data" in r and r["step"] > cfg.bc_warmup_steps]


def not_diverged(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """The snapshots whose critic had not diverged. Both the workflow rule and the
    overfitting check drop the others *before* smoothing: a diverged snapshot's huge Q would
    otherwise lift (or fake a fall in) the smoothed value of the snapshots kept beside it.
    Divergence has its own warning."""
    return [r for r in rows if not _diverged_row(r)]


def select_workflow(rows: list[dict[str, float]], cfg: TrainConfig) -> tuple[int, str]:
    """Peak of (smoothed) Q on dataset actions after the warm-up, guarded by held-out TD."""
    have_q = [r for r in rows if "q/data" in r]
    if not have_q:
        return select_last(rows)[0], "no Q statistics (a BC run): fell back to the last"
    warm = after_warmup(rows, cfg) or have_q
    after = not_diverged(warm)
    if not after:
        return select_last(rows)[0], ("Q on data is above the most any return can be at "
                                      "every snapshot (diverged): fell back to the last")
    q = smooth([r["q/data"] for r in after])
    candidates = list(range(len(after)))
    guard = (f"; {len(warm) - len(after)} passed over for Q above its bound"
             if len(after) < len(warm) else "")
    tds = [r.get("heldout/td_error", math.nan) for r in after]
    if all(math.isfinite(t) for t in tds):
        floor = min(tds)
        kept = [i for i in candidates if tds[i] <= 2.0 * floor]
        guard += f"; {len(candidates) - len(kept)} passed over for held-out TD > 2x its lowest"
        candidates = kept
    best = max(candidates, key=lambda i: (q[i], after[i]["step"]))
    return int(after[best]["step"]), (f"peak of smoothed Q on data ({q[best]:.2f}) among "
                                      f"{len(candidates)} snapshots{guard}")


def diagnose(rows: list[dict[str, float]], cfg: TrainConfig) -> list[str]:
    """The workflow's warnings, from the statistics alone (empty when there is nothing to say):
    a diverged critic, overfitting, and a held-out TD error that has grown (each below)."""
    checks = (diverged_warning(rows), overfitting_warning(rows, cfg), heldout_td_warning(rows))
    return [w for w in checks if w is not None]


def diverged_warning(rows: list[dict[str, float]]) -> str | None:
    """Q on data above the most any return of the data can be, at any snapshot."""
    gone = [r for r in rows if _diverged_row(r)]
    if not gone:
        return None
    first = gone[0]
    return (f"diverged: Q on data {first['q/data']:.1f} at step {int(first['step'])} is "
            f"above {first['q/bound']:.1f}, the most any return of this data can be "
            f"({len(gone)} of {len(rows)} snapshots); no pick among them is "
            "trustworthy: regularise the critic (--critic-layer-norm)")


def overfitting_warning(rows: list[dict[str, float]], cfg: TrainConfig) -> str | None:
    """After the warm-up, (smoothed) Q on dataset actions has fallen from its peak by more
    than 10% of the peak's magnitude plus one reward unit, and stayed down for the last two
    snapshots. Kumar et al. read this as the critic overfitting; the cure they give is early
    stopping (the workflow pick) or a regulariser (``--critic-layer-norm`` here)."""
    after = not_diverged(after_warmup(rows, cfg))
    if len(after) < 3:
        return None
    q = smooth([r["q/data"] for r in after])
    peak = max(range(len(q)), key=lambda i: q[i])
    margin = 0.1 * abs(q[peak]) + 1.0
    if peak > len(q) - 3 or any(v >= q[peak] - margin for v in q[-2:]):
        return None
    return (f"overfitting: Q on data peaked at step {int(after[peak]['step'])} "
            f"({q[peak]:.2f}, smoothed) and has fallen to {q[-1]:.2f}; prefer "
            "the workflow pick over the last snapshot, stop early, or regularise "
            "the critic (--critic-layer-norm)")


def heldout_td_warning(rows: list[dict[str, float]]) -> str | None:
    """The held-out TD error at the last snapshot more than twice its lowest: the critic
    fits unseen transitions of the same data worse than it did."""
    tds = [(int(r["step"]), r["heldout/td_error"]) for r in rows if "heldout/td_error" in r]
    tds = [(s, t) for s, t in tds if math.isfinite(t)]
    if len(tds) < 2:
        return None
    low_step, low = min(tds, key=lambda st: st[1])
    if tds[-1][1] <= 2.0 * low:
        return None
    return (f"held-out TD error {tds[-1][1]:.3g} at the last snapshot is "
            f"{tds[-1][1] / low:.1f}x its lowest ({low:.3g} at step {low_step}): "
            "the critic fits unseen transitions worse than it did")


def select_early_stop(rows: list[dict[str, float]], cfg: TrainConfig) -> tuple[int, str]:
    """Kumar et al.'s advice taken literally: stop early only when the statistics show the
    critic overfitting (Q on data fallen from its peak) or diverging, and then take the
    workflow pick; otherwise the last snapshot. The plain workflow rule picks the peak of Q
    even when Q only rises to a plateau, where the peak is any snapshot of the plateau:
    every image run so far saturated there long before its policy worked."""
    if diverged_warning(rows) is not None:
        cause = "diverged"
    elif overfitting_warning(rows, cfg) is not None:
        cause = "overfitting"
    else:
        return select_last(rows)[0], "no overfitting or divergence diagnosed: the last snapshot"
    step, why = select_workflow(rows, cfg)
    return step, f"{cause} diagnosed: the workflow pick ({why})"


# The selectors that read only the snapshot statistics (and the run's config): free to run,
# and scorable later from stored statistics alone.
FREE_SELECTORS = {
    "workflow": select_workflow,
    "early_stop": select_early_stop,
    "last": lambda rows, cfg: select_last(rows),
}


def fqe_values(run_dir: str | os.PathLike, steps: list[int], fqe: FQEConfig,
               progress: bool = False) -> tuple[dict[int, float], tuple[float, float]]:
    """FQE value of each snapshot's policy at the new task's initial states (see above), and
    the range any return of the run's data can take (``ReplayBuffer.value_range``)."""
    import torch

    from cog.runs import GreedyActor, load_run
    from cog.trainer import build_buffer, build_nets, load_datasets

    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    frozen = fqe.resolved_encoder(cfg.obs) == "frozen"
    task, prior = load_datasets(cfg)
    data_cfg = TrainConfig.from_dict({**cfg.to_dict(), "algo": "cql"})  # all of the data
    buffer = build_buffer(data_cfg, task, prior, torch.device("cpu"))
    init_rows = buffer.initial_rows("prior" if prior is not None else "task")
    features = None
    if frozen:  # the run's last critic's features of every observation row, once
        last, _, _ = load_run(run_dir)
        features = _over_rows(buffer, last.critic.encode)
    values = {}
    iterator = steps
    if progress:
        from tqdm import tqdm

        iterator = tqdm(steps, desc=f"FQE {run_dir.name}", unit="snapshot")
    for step in iterator:
        policy_nets, _, _ = load_run(run_dir, step)
        act = GreedyActor(policy_nets).act  # the snapshot's deterministic action
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(fqe.seed)
            q_nets = build_nets(cfg, task.image_size, buffer.states.shape[1],
                                task.actions.shape[1])
        if cfg.normalize_state:
            q_nets.set_state_normalizer(*buffer.state_statistics())
        if frozen:
            actions = _over_rows(buffer, act)  # the snapshot's action at every row, once
            inputs = _FrozenInputs(features, actions)
        else:
            inputs = _TrainedInputs(buffer, act)
        values[step] = _fit_q(q_nets, buffer, inputs, init_rows, cfg.discount, fqe)
    return values, buffer.value_range(cfg.discount)


def _over_rows(buffer, fn, chunk: int = 1024):
    """``fn`` of every observation row of ``buffer``, computed in chunks; rows on axis -2
    (actions (rows, A), features (rows, F), or (n_q, rows, F) from a per-member encoder)."""
    import torch

    rows = torch.arange(buffer.num_obs_rows, device=buffer.device)
    with torch.no_grad():
        return torch.cat([fn(buffer.obs_at(r)) for r in rows.split(chunk)], dim=-2)


class _TrainedInputs:
    """What FQE's critic reads when it trains its own encoder: the observations themselves,
    and the snapshot's action computed on them."""

    def __init__(self, buffer, act):
        self.buffer, self.act = buffer, act

    def features(self, critic, rows):
        return critic.encode(self.buffer.obs_at(rows))

    def action(self, rows):
        return self.act(self.buffer.obs_at(rows))


class _FrozenInputs:
    """... and when it reads fixed features: both computed once for every row."""

    def __init__(self, features, actions):
        self.feats, self.actions = features, actions

    def features(self, critic, rows):
        return self.feats.index_select(-2, rows)

    def action(self, rows):
        return self.actions[rows]


def attach_fqe(sel: Selection, values: dict[int, float], fqe: dict,
               value_range: list[float] | None) -> None:
    """Put FQE's values, settings and value range into ``sel``, with the warning when some
    estimates lie outside that range (computed afresh or reused from a saved selection)."""
    sel.evidence["fqe"], sel.fqe = values, fqe
    sel.fqe_range = None if value_range is None else [float(v) for v in value_range]
    warning = fqe_range_warning(values, sel.fqe_range)
    if warning is not None:
        sel.diagnosis.append(warning)


def fqe_pick(values: dict[int, float]) -> int:
    """The snapshot with the highest FQE value (the later one on a tie)."""
    return max(values, key=lambda s: (values[s], s))


def outside_range(value: float, low: float, high: float) -> bool:
    """A value estimate clearly outside [low, high], the range any return of the data can
    take; the margin (10% of the range plus one reward unit) allows for estimation noise."""
    margin = 0.1 * (high - low) + 1.0
    return not low - margin <= value <= high + margin


def fqe_range_warning(values: dict[int, float], value_range: list[float] | None) -> str | None:
    """FQE estimates no policy's value could have: FQE has not converged on those snapshots
    (it diverges on a policy whose actions leave the data's support), so its ranking of
    them, its pick included, is not evidence."""
    if not value_range or not values:
        return None
    low, high = value_range
    bad = [s for s, v in sorted(values.items()) if outside_range(v, low, high)]
    if not bad:
        return None
    best = fqe_pick(values)
    pick = (f"; its pick, step {best} ({values[best]:.3g}), is one of them"
            if best in bad else "")
    shown = ", ".join(f"{s} ({values[s]:.3g})" for s in bad[:6]) + (", ..." if len(bad) > 6
                                                                     else "")
    return (f"FQE did not converge on {len(bad)} of {len(values)} snapshots: estimates at "
            f"steps {shown} lie outside [{low:g}, {high:g}], the range any return of this "
            f"data can take{pick}; check the fqe pick against the others")


def _fit_q(q_nets, buffer, inputs, init_rows, discount: float, fqe: FQEConfig) -> float:
    """Fit Q^pi by regression on the Bellman target r + gamma Q'(s', pi(s')), then its mean
    at ``init_rows`` under the policy's own action."""
    import torch

    critic, target = q_nets.critic, q_nets.critic_target
    opt = torch.optim.Adam(critic.parameters(), lr=fqe.lr)
    g = torch.Generator().manual_seed(fqe.seed)
    for _ in range(fqe.steps):
        idx = buffer.sample_indices(fqe.batch_size, g)
        rows, next_rows = buffer.obs_index[idx], buffer.next_rows[idx]
        with torch.no_grad():
            a_next = inputs.action(next_rows)
            v = target.q(inputs.features(target, next_rows), a_next.unsqueeze(1))[:, :, 0].mean(0)
            gamma = discount if buffer.discounts is None else buffer.discounts[idx]
            y = buffer.rewards[idx] + gamma * (1.0 - buffer.dones[idx]) * v
        q = critic.q(inputs.features(critic, rows), buffer.actions[idx].unsqueeze(1))[:, :, 0]
        loss = (q - y.unsqueeze(0)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(target.parameters()), list(critic.parameters()),
                                 fqe.polyak_tau)
    with torch.no_grad():
        a0 = inputs.action(init_rows)
        return float(critic.q(inputs.features(critic, init_rows), a0.unsqueeze(1))[:, :, 0]
                     .mean())


def selector_rows(run_dir: str | os.PathLike) -> tuple[list[dict[str, float]], TrainConfig]:
    """The snapshot statistics every free selector reads, and the run's config. Snapshots
    from before the trainer recorded ``q/bound`` get it from the run's datasets."""
    rows = snapshot_rows(run_dir)
    cfg = TrainConfig.load(Path(run_dir) / "config.json")
    if any("q/data" in r and "q/bound" not in r for r in rows):
        bound = data_value_bound(cfg)
        if bound is not None:
            rows = [{**r, "q/bound": bound} if "q/data" in r else r for r in rows]
    return rows, cfg


Statistics = tuple[list[dict[str, float]], TrainConfig]  # what ``selector_rows`` returns


def select_run(run_dir: str | os.PathLike, selectors: tuple[str, ...] = SELECTORS,
               fqe: FQEConfig | None = None, progress: bool = False,
               statistics: Statistics | None = None) -> Selection:
    """``statistics``: the run's ``selector_rows``, when the caller has read them already
    (reading them can mean loading the run's datasets, for runs older than ``q/bound``)."""
    unknown = [s for s in selectors if s not in SELECTORS]
    if unknown:
        raise ValueError(f"unknown selector(s) {unknown}; choose from {', '.join(SELECTORS)}")
    rows, cfg = statistics or selector_rows(run_dir)
    steps = [int(r["step"]) for r in rows]
    sel = Selection(str(run_dir), steps, {}, diagnosis=diagnose(rows, cfg))
    for key in ("q/data", "heldout/td_error", "heldout/q_data"):
        if any(key in r for r in rows):
            sel.evidence[key] = {int(r["step"]): r[key] for r in rows if key in r}
    for name in selectors:
        if name in FREE_SELECTORS:
            sel.picks[name], sel.notes[name] = FREE_SELECTORS[name](rows, cfg)
        else:
            fqe = fqe or FQEConfig()
            values, value_range = fqe_values(run_dir, steps, fqe, progress=progress)
            attach_fqe(sel, values, asdict(fqe), list(value_range))
            best = fqe_pick(values)
            sel.picks[name] = best
            features = ("; Q head on the last critic's features"
                        if fqe.resolved_encoder(cfg.obs) == "frozen" else "")
            sel.notes[name] = (f"highest FQE value at the prior episodes' starts "
                               f"({values[best]:.2f}{features})")
    return sel


def true_success(run_dir: str | os.PathLike) -> dict[int, float]:
    """Simulator success at each evaluated step (eval.csv), for judging selectors."""
    return {int(r["step"]): r["eval/success_rate"] for r in eval_rows(run_dir)}


def report(sel: Selection, success: dict[int, float]) -> str:
    lines = [f"{sel.run}: {len(sel.steps)} snapshots"]
    keys = list(sel.evidence)
    header = "  step  " + "  ".join(f"{k:>16s}" for k in keys)
    if success:
        header += "  success (sim, not used)"
    lines.append(header)
    for s in sel.steps:
        cells = "  ".join(f"{sel.evidence[k].get(s, math.nan):16.3f}" for k in keys)
        mark = " <- " + ", ".join(n for n, p in sel.picks.items() if p == s) \
            if s in sel.picks.values() else ""
        extra = f"  {success[s]:.2f}" if s in success else ""
        lines.append(f"{s:6d}  {cells}{extra}{mark}")
    for name, step in sel.picks.items():
        lines.append(f"{name}: step {step} ({sel.notes[name]})")
    lines += [f"warning: {d}" for d in sel.diagnosis]
    return "\n".join(lines)


def plot_selection(sel: Selection, success: dict[int, float], out: str | os.PathLike) -> Path:
    from cog.plotting import new_figure, save_png

    panels = list(sel.evidence) + (["success (simulator, for reference)"] if success else [])
    fig, axes = new_figure(1, len(panels), figsize=(3.8 * len(panels), 3.2))
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, panels, strict=True):
        series = success if key.startswith("success") else sel.evidence[key]
        xs = sorted(series)
        ax.plot(xs, [series[x] for x in xs], marker="o", markersize=3)
        for name, step in sel.picks.items():
            if step in series:
                ax.annotate(name, (step, series[step]), fontsize=7,
                            textcoords="offset points", xytext=(0, 6), ha="center")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    return save_png(fig, out)


def write_selection(sel: Selection, path: str | os.PathLike) -> None:
    from envs.atomic import write_text_atomic

    write_text_atomic(Path(path), json.dumps(sel.to_dict(), indent=2) + "\n")


def saved_selection(run_dir: str | os.PathLike, selectors: tuple[str, ...],
                    fqe: FQEConfig, statistics: Statistics | None = None) -> Selection | None:
    """The selection for ``selectors``, reusing the FQE values of RUN/selection.json when
    they were computed on the same snapshots with the same settings (FQE costs minutes per
    run; the regret benchmark reuses what `cog select` computed). None when FQE is asked
    for and no such values are saved. The free selectors are computed afresh every time, so
    a rule changed since the file was written is the rule applied."""
    free = tuple(s for s in selectors if s != "fqe")
    statistics = statistics or selector_rows(run_dir)
    if "fqe" not in selectors:
        return select_run(run_dir, free, statistics=statistics)
    path = Path(run_dir) / "selection.json"
    if not path.is_file():
        return None
    try:
        saved = Selection.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):
        return None
    steps = [int(r["step"]) for r in statistics[0]]
    try:
        saved_fqe = FQEConfig.saved(saved.fqe or {})
    except TypeError:  # a setting this version does not know
        return None
    if saved.steps != steps or "fqe" not in saved.picks or saved_fqe != fqe:
        return None
    sel = select_run(run_dir, free, statistics=statistics)
    sel.picks["fqe"], sel.notes["fqe"] = saved.picks["fqe"], saved.notes.get("fqe", "")
    attach_fqe(sel, saved.evidence["fqe"], saved.fqe, saved.fqe_range)
    sel.picks = {s: sel.picks[s] for s in selectors}
    return sel
