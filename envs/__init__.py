"""Simulated COG drawer scenes. ``import envs`` registers the ``cog/...-v0`` gymnasium ids.

Gymnasium 1.x has no plugin entry points, so the import is what makes
``gymnasium.make("cog/ClosedDrawerGrasp-v0")`` work; ``gymnasium.make("envs:cog/...")``
imports this module by itself.
"""

from __future__ import annotations

import gymnasium

from envs.quiet import silenced_output

with silenced_output():  # its first import prints the build time on stdout
    import pybullet  # noqa: F401

from envs.tasks import TASKS  # noqa: E402

ENV_IDS: tuple[str, ...] = tuple(TASKS)


def horizon(env_id: str) -> int:
    if env_id not in TASKS:
        raise ValueError(f"unknown env id {env_id!r}; known: {', '.join(ENV_IDS)}")
    return TASKS[env_id].horizon


def make(env_id: str, **kwargs) -> gymnasium.Env:
    """``gymnasium.make`` with a clear error for an unknown id."""
    horizon(env_id)
    return gymnasium.make(env_id, **kwargs)


for _id, _spec in TASKS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(
            id=_id,
            entry_point="envs.drawer_env:CogDrawerEnv",
            kwargs={"task": _id},
            max_episode_steps=_spec.horizon,
        )
