"""The one typed configuration of a training run.

Every field is settable from `cog train` (``--batch-size 64``, ``--lagrange/--no-lagrange``),
and the whole dataclass is written as ``config.json`` into every run directory, so a run can
be resumed, evaluated and exported without remembering its command line.

Defaults are those of COG's released code (Singh et al. 2020, built on CQL, Kumar et al.
2020); the README's section "Defaults that follow COG's released code" lists each one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from envs.atomic import write_text_atomic

ALGOS = ("cql", "sac", "bc")
OBS_KINDS = ("image", "state")


def state_keys(obs_kind: str) -> tuple[str, ...]:
    """Which env observation keys are concatenated into the networks' low-dimensional input.

    Image policies read proprioception only (a real arm has nothing else). State policies
    also read the privileged ``object`` vector: proprioception alone is the same with the
    drawer closed or open, so without it no state policy could tell the tasks apart."""
    return ("state",) if obs_kind == "image" else ("state", "object")
NETS = ("auto", "cog", "fast", "state", "thumb")
MIXING = ("proportional", "fixed")
PRECISIONS = ("float32", "bf16", "bf16-first-layer")
COMPILE_MODES = ("", "default", "reduce-overhead", "max-autotune")
BC_DATA = ("task", "all", "success")


@dataclass
class CQLConfig:
    """The algorithm's hyperparameters (CQL, and SAC and BC where they share them), declared
    once: ``TrainConfig`` extends this class, and ``cog.algos.cql.CQL`` reads it."""

    # --- SAC / CQL optimisation -----------------------------------------------------------
    discount: float = 0.99  # gamma in the TD target
    polyak_tau: float = 5e-3  # target network: t <- t + tau (online - t) every step
    policy_lr: float = 1e-4  # Adam learning rate of the policy (COG: 1e-4)
    q_lr: float = 3e-4  # Adam learning rate of the Q networks (COG: 3e-4)
    entropy_lr: float = 1e-4  # COG's code steps the temperature with the policy lr
    auto_entropy: bool = True  # target entropy = -action_dim
    entropy_alpha: float = 0.0  # the fixed entropy coefficient when auto_entropy is off
    backup_entropy: bool = False  # subtract alpha*log pi in the TD target (the facts' y has none)

    # --- CQL ------------------------------------------------------------------------------
    # Weight of the Bellman error: 1.0 is COG's code (plain MSE); 0.5 is the CQL paper's 1/2,
    # which weighs the conservative term twice as heavily for the same cql_alpha.
    bellman_weight: float = 1.0
    cql_alpha: float = 1.0  # weight of the conservative term (0 = offline SAC)
    cql_n_actions: int = 1  # N actions of each kind (uniform, pi(s), pi(s')) in the logsumexp
    lagrange: bool = False  # learn alpha >= 0 so the CQL gap stays near lagrange_tau
    lagrange_tau: float = 5.0  # the CQL gap the Lagrange variant aims for
    lagrange_lr: float = 3e-4  # Adam learning rate of the Lagrange multiplier
    max_backup: bool = False  # y uses max over cql_n_actions next actions
    bc_warmup_steps: int = 10_000  # policy loss is behaviour cloning for the first K steps

    @classmethod
    def from_train_config(cls, cfg: TrainConfig) -> CQLConfig:
        """The algorithm's part of a run's config; offline SAC is CQL with cql_alpha 0."""
        values = {f.name: getattr(cfg, f.name) for f in fields(cls)}
        if cfg.algo == "sac":
            values["cql_alpha"] = 0.0
            values["lagrange"] = False
        return cls(**values)



@dataclass
class TrainConfig(CQLConfig):
    """A training run: its data, networks, schedule and everything else, on top of the
    algorithm's hyperparameters (``CQLConfig``'s fields come first in --help and the JSON)."""

    # --- what to train on -----------------------------------------------------------------
    algo: str = "cql"  # cql | sac (= CQL with cql_alpha 0) | bc
    obs: str = "image"  # image | state
    net: str = "auto"  # cog | fast | thumb | state; auto = cog for images, state for states
    prior: str = ""  # prior HDF5 path; empty = task data only (the task-only baseline)
    task: str = ""  # task HDF5 path
    eval_env: str = ""  # gymnasium id; empty = no evaluation
    steps: int = 100_000  # gradient steps in all (BC warm-up included)
    seed: int = 0  # seeds the networks, the batches and the augmentation

    # --- data -----------------------------------------------------------------------------
    relabel_prior_rewards: bool = True  # COG: every prior reward becomes prior_reward_value
    prior_reward_value: float = 0.0  # the reward prior transitions are relabelled to
    mixing: str = "proportional"  # proportional to dataset sizes (COG) | fixed task fraction
    task_fraction: float = 0.5  # used when mixing == "fixed"
    # Episodes (task and prior, each seeded) kept out of training, for the held-out TD error
    # and Q logged at every snapshot (issue 14). 0 = train on everything, as COG did.
    holdout_fraction: float = 0.05
    bc_data: str = "all"  # bc only: task | all | success (successful episodes of both files)
    augment: bool = True  # pad + random crop, images only
    augment_pad: int = 4  # pixels of replicate padding before the random crop
    image_use_state: bool = False  # also feed the 10-D state to image networks
    normalize_state: bool = True  # state/thumb presets: standardise the state with data stats

    # --- optimisation ---------------------------------------------------------------------
    batch_size: int = 256  # transitions per gradient step (COG: 256)
    # n-step returns in the TD target (1 = COG). Longer returns carry reward back through
    # the prior data in fewer target-network updates, at the price of using the data's own
    # actions for the first n-1 steps: a named option, not COG's algorithm.
    n_step: int = 1
    policy_log_std_min: float = -5.0  # the policy's log-std floor (COG: -5; rlkit's SAC: -20)
    # LayerNorm before every hidden ReLU of the Q heads: a corrective option against critic
    # overfitting (Q on data drifting down), off by default as in COG.
    critic_layer_norm: bool = False
    # float32 | bf16 (conv encoders under bf16 autocast; heads fp32) | bf16-first-layer (also
    # the feature matmul of every head's first layer; the rest of the heads fp32)
    precision: str = "float32"
    # torch.compile the networks: "" = eager; default | reduce-overhead (CUDA graphs) |
    # max-autotune. For GPUs: on a CPU it costs tens of seconds of compiling for no gain.
    compile_mode: str = ""

    # --- run ------------------------------------------------------------------------------
    checkpoint_every: int = 5_000  # steps between checkpoints (a crash loses at most these)
    eval_every: int = 1_000  # steps between evaluations in eval_env
    # > 0: evaluate every this many minutes of training time instead of every eval_every
    # steps (a wall-clock schedule, for comparing configurations of different speeds).
    eval_every_minutes: float = 0.0
    # > 0: stop (with a checkpoint) after this many minutes of training time, counted across
    # resumes; evaluation time is not counted.
    time_limit_minutes: float = 0.0
    eval_episodes: int = 5  # seeded episodes per evaluation
    eval_workers: int = 1  # 1 = in this process; N > 1 = N Ray workers; 0 = one per CPU
    eval_gif: bool = True  # write each evaluation's first episode to videos/eval_STEP.gif
    # tanh(mean) as COG does; False samples the policy (seeded per episode), which helps when
    # the same observation means "wait" in some demonstrations and "close" in others.
    eval_deterministic: bool = True
    log_every: int = 100  # steps between rows of train.csv and TensorBoard
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    deterministic: bool = False  # torch.use_deterministic_algorithms (for exact resume tests)
    progress: bool = True  # a progress bar on stderr (cog train: only on a terminal)

    def resolved_net(self) -> str:
        if self.net != "auto":
            return self.net
        return "cog" if self.obs == "image" else "state"

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad field; returns self for chaining."""
        choices = {
            "algo": ALGOS,
            "obs": OBS_KINDS,
            "net": NETS,
            "mixing": MIXING,
            "bc_data": BC_DATA,
            "precision": PRECISIONS,
            "compile_mode": COMPILE_MODES,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"config {name}={value!r} is not one of {', '.join(allowed)}")
        if self.obs == "state" and self.resolved_net() != "state":
            raise ValueError(f"net={self.net!r} needs images; use net=state with obs=state")
        if self.obs == "image" and self.resolved_net() == "state":
            raise ValueError("net='state' cannot read images; use net=cog or net=fast")
        positive = ("steps", "batch_size", "n_step", "cql_n_actions", "checkpoint_every",
                    "eval_every", "log_every", "eval_episodes")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"config {name}={getattr(self, name)!r} must be > 0")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(f"config holdout_fraction={self.holdout_fraction!r} must be in "
                             "[0, 1)")
        if not 0.0 <= self.task_fraction <= 1.0:
            raise ValueError(f"config task_fraction={self.task_fraction!r} must be in [0, 1]")
        if not 0.0 < self.discount <= 1.0:
            raise ValueError(f"config discount={self.discount!r} must be in (0, 1]")
        if self.cql_alpha < 0:
            raise ValueError(f"config cql_alpha={self.cql_alpha!r} must be >= 0")
        if self.eval_workers < 0:
            raise ValueError(f"config eval_workers={self.eval_workers!r} must be >= 0")
        if self.eval_workers != 1 and not self.eval_deterministic:
            raise ValueError("eval_workers != 1 runs the exported (deterministic) policy: "
                             "use it with eval_deterministic=True")
        if self.bellman_weight <= 0:
            raise ValueError(f"config bellman_weight={self.bellman_weight!r} must be > 0")
        if self.eval_every_minutes < 0 or self.time_limit_minutes < 0:
            raise ValueError("config eval_every_minutes and time_limit_minutes must be >= 0")
        if not -20.0 <= self.policy_log_std_min < 2.0:
            raise ValueError(f"config policy_log_std_min={self.policy_log_std_min!r} must be "
                             "in [-20, 2)")
        if self.augment_pad < 0 or self.bc_warmup_steps < 0:
            raise ValueError("config augment_pad and bc_warmup_steps must be >= 0")
        return self

    # --- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        if "eval_ray" in data:  # runs saved before eval_workers: True meant one per CPU
            data.setdefault("eval_workers", 0 if data.pop("eval_ray") else 1)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**data)

    def save(self, path: str | os.PathLike) -> None:
        write_text_atomic(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrainConfig:
        data = read_json_object(path, "config file")
        # Runs saved before the held-out split trained on every episode: resume them so.
        data.setdefault("holdout_fraction", 0.0)
        return cls.from_dict(data)


def read_json_object(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; one clear error naming ``what`` and the path otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {path} does not hold a JSON object")
    return data


def field_help() -> dict[str, str]:
    """One line of help per TrainConfig field, read from the comments in its declaration (the
    comment on the field's line, else the comment block just above it), so ``cog train
    --help`` and the code never disagree."""
    import inspect
    import re

    helps, block = {}, []
    source = "\n".join(inspect.getsource(c) for c in (CQLConfig, TrainConfig))
    for line in source.splitlines():
        text = line.strip()
        if text.startswith("# ---"):
            block = []
        elif text.startswith("#"):
            block.append(text.lstrip("# "))
        elif m := re.match(r"(\w+): [^=]+=[^#]*(?:#\s*(.*))?$", text):
            helps[m.group(1)] = m.group(2) or " ".join(block)
            block = []
        else:
            block = []
    return helps


def config_for_setup(setup: str, **overrides: Any) -> TrainConfig:
    """A config evaluating in the setup's env (``data_collection.presets.SETUPS``)."""
    from data_collection.presets import SETUPS, setup_name

    values = {"eval_env": SETUPS[setup_name(setup)].eval_env, **overrides}
    return TrainConfig.from_dict(values)


# Named recipes: sets of TrainConfig values for one purpose, applied under any flag given
# beside them (`cog train --recipe NAME`, `cog sweep --recipe NAME`). A run's config.json
# stores the resolved values, so a recipe changed later never changes a finished run.
RECIPES: dict[str, dict[str, Any]] = {
    # Image COG on a 2-core CPU: the time-to-success benchmark's `cpu-b64-oldnum-tau02-ls5`
    # (2 of 3 seeds past 0.6 on the closed drawer within 40 training minutes; RESULTS.md).
    # Where it departs from COG's released code, for speed on a CPU: the Bellman term
    # weighted 0.5 (the CQL paper's 1/2; COG 1), entropy lr 3e-4 (COG 1e-4), Polyak 0.02
    # (COG 0.005), batch 64 (COG 256), 1k BC warm-up steps (COG 10k), the fast network
    # (COG's is `--net cog`) in bf16. The log-std floor stays COG's.
    "cpu-image": dict(obs="image", net="fast", precision="bf16", batch_size=64, threads=1,
                      bc_warmup_steps=1000, bellman_weight=0.5, entropy_lr=3e-4,
                      polyak_tau=0.02),
}


def recipe(name: str) -> dict[str, Any]:
    """The TrainConfig values of a named recipe."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return dict(RECIPES[name])
