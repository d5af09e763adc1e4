"""The one registry of COG setups: for each, its prior and task collection (env + expert),
its evaluation env and the stem of its dataset files; plus two size scales.

Every command spells a setup the same way: ``closed-drawer``, ``blocked-drawer``,
``blocked-object``, ``pick-place``. The underscore names that ``cog collect --preset`` took
before (``closed_drawer``, ``blocked_by_drawer``, ...) are accepted with a note; they survive
as the file stems, so existing data directories keep working.

Prior data keeps only episodes where the expert reached its own goal (e.g. the drawer is
open): those end where the task data starts, which is what lets offline RL stitch them. Its
env reward stays as the env gave it (mostly 0); the trainer relabels prior rewards to 0.
Prior episodes end when the expert has finished (drawer open, arm back at neutral) rather
than idling to the horizon: an idle tail of ~35 steps per episode would teach "wait at
neutral" exactly where the task data teaches "go and grasp", and waiting costs only a
factor of the discount in Q, so the learned policy waited (measured: COG state policies
opened the drawer, went to neutral and stayed there). The end is stored as a timeout, so
the trainer bootstraps from the final state.
Task data keeps failed episodes too (save_all): CQL learns from failures, and the 0/1
env reward tells them apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from data_collection.collect import CollectConfig


@dataclass(frozen=True)
class Source:
    env_id: str
    policy_name: str


@dataclass(frozen=True)
class Preset:
    name: str  # dataset file stem: <name>_prior.h5, <name>_task.h5
    prior: Source
    task: Source

    @property
    def eval_env(self) -> str:
        """Policies are evaluated from the prior's start: the initial condition (closed or
        blocked drawer, object out of reach) that the task data never shows."""
        return self.prior.env_id


@dataclass(frozen=True)
class Scale:
    prior_episodes: int  # episodes attempted (failed prior episodes are dropped)
    task_episodes: int


_DRAWER_TASK = Source("cog/OpenDrawerGrasp-v0", "grasp")
SETUPS: dict[str, Preset] = {
    "closed-drawer": Preset(
        "closed_drawer", Source("cog/ClosedDrawerGrasp-v0", "drawer_open"), _DRAWER_TASK
    ),
    "blocked-drawer": Preset(
        "blocked_by_drawer",
        Source("cog/BlockedByDrawerGrasp-v0", "close_top_open_bottom"),
        _DRAWER_TASK,
    ),
    "blocked-object": Preset(
        "blocked_by_object",
        Source("cog/BlockedByObjectGrasp-v0", "blocker_removal_open"),
        _DRAWER_TASK,
    ),
    "pick-place": Preset(
        "pick_place", Source("cog/PickPlace-v0", "grasp"), Source("cog/Place-v0", "place")
    ),
}
# The spellings `cog collect --preset` documented before there was one registry.
OLD_NAMES = {preset.name: setup for setup, preset in SETUPS.items()}

# quick: a few minutes on a laptop for one preset. paper: our choice for full experiments,
# thousands of trajectories per dataset as in COG (about 1.7 GB raw / ~0.4 GB lzf at 48x48).
SCALES: dict[str, Scale] = {
    "quick": Scale(prior_episodes=100, task_episodes=100),
    "paper": Scale(prior_episodes=5000, task_episodes=5000),
}


def setup_name(name: str) -> str:
    """The registry's spelling of a setup; an old spelling is accepted with a note on stderr,
    anything else is refused naming the choices."""
    if name in SETUPS:
        return name
    if name in OLD_NAMES:
        logging.getLogger(__name__).warning("note: setup %r is now spelled %r", name,
                                            OLD_NAMES[name])
        return OLD_NAMES[name]
    raise ValueError(f"unknown setup {name!r}; choose one of {', '.join(SETUPS)}")


def preset_names(name: str) -> list[str]:
    """Setup names for ``name`` (one setup, or ``all``)."""
    return list(SETUPS) if name == "all" else [setup_name(name)]


def preset_configs(
    name: str,
    out_dir: str | Path,
    *,
    scale: str = "quick",
    prior_episodes: int | None = None,
    task_episodes: int | None = None,
    seed: int = 0,
    noise: float = 0.1,
    workers: int = 1,
    image_size: int = 48,
    address: str | None = None,
    overwrite: bool = False,
    prior_save_all: bool = False,
    irrelevant_fraction: float = 0.0,
    prior_idle_tail: bool = False,
    approach_gripper: str = "open",
) -> list[tuple[str, CollectConfig]]:
    """[(label, config)] for the prior and task datasets of one preset (or all):
    files OUT_DIR/<preset>_prior.h5 and OUT_DIR/<preset>_task.h5.

    ``prior_save_all`` keeps failed prior attempts too, as COG's released data did (collected
    with roboverse's ``--save-all``); by default prior data keeps successful attempts only.
    The file is then <preset>_prior_saveall.h5, so both kinds can share one data folder.

    ``irrelevant_fraction`` F > 0 replaces a fraction F of the prior episodes by irrelevant
    behaviour in the same scene (``policies.scripted.DISTRACTORS``: open the drawer and shut
    it again, wander, put the blocker elsewhere, drop the object beside the tray), kept when
    that behaviour ran to its end; the file is then <preset>_prior_irrNN.h5 (NN = 100 F).

    ``prior_idle_tail`` lets prior episodes run on to the horizon, the expert idling once its
    sub-task is done, instead of ending there (<preset>_prior_idle.h5): the data on which
    COG's Q on dataset actions drifts down (benchmarks/RESULTS.md, "idle tail kept").

    ``approach_gripper="hold"`` labels every grasp's approach with gripper command 0 instead
    of "open", as COG's scripted grasp did (``policies.scripted.APPROACH_GRIPPER``), in the
    prior and the task data alike; both files then end in ``_hold``."""
    if not 0.0 <= irrelevant_fraction <= 1.0:
        raise ValueError(f"irrelevant fraction {irrelevant_fraction!r} must be in [0, 1]")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    sizes = SCALES[scale]
    out_dir = Path(out_dir)
    jobs = []
    for setup in preset_names(name):
        preset = SETUPS[setup]
        preset_name = preset.name
        for role, source, episodes, save_all, role_seed, end_on_done in (
            ("prior", preset.prior, prior_episodes or sizes.prior_episodes, prior_save_all, seed,
             not prior_idle_tail),
            # A different seed stream for task data, so prior and task never share episodes.
            ("task", preset.task, task_episodes or sizes.task_episodes, True, seed + 1, False),
        ):
            policy, stem = source.policy_name, f"{preset_name}_{role}"
            if role == "prior" and irrelevant_fraction > 0:
                policy = f"mix:{policy}:{irrelevant_fraction:g}"
                stem += f"_irr{round(100 * irrelevant_fraction):02d}"
            if role == "prior" and prior_save_all:
                stem += "_saveall"
            if role == "prior" and prior_idle_tail:
                stem += "_idle"
            if approach_gripper != "open":
                stem += f"_{approach_gripper}"
            cfg = CollectConfig(
                env_id=source.env_id,
                policy_name=policy,
                episodes=episodes,
                out=out_dir / f"{stem}.h5",
                noise=noise,
                seed=role_seed,
                workers=workers,
                save_all=save_all,
                end_on_done=end_on_done,
                approach_gripper=approach_gripper,
                image_size=image_size,
                address=address,
                overwrite=overwrite,
            )
            jobs.append((f"{preset_name} {role}", cfg))
    return jobs
