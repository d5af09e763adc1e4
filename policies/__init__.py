"""Policies: the ``Policy`` protocol, scripted experts, and exported learned policies."""

from __future__ import annotations

import math

from policies.base import Policy
from policies.scripted import DEFAULT_ENV, EXPERTS, PriorMixture, ScriptedExpert

POLICY_NAMES: tuple[str, ...] = tuple(EXPERTS)


def make_policy(name: str, noise: float = 0.1, seed: int | None = None,
                approach_gripper: str = "open") -> ScriptedExpert:
    """A scripted expert by name, with Gaussian action noise of std ``noise``;
    ``mix:USEFUL:F`` is USEFUL's prior with a fraction F of irrelevant behaviour.
    ``approach_gripper`` ("open" or "hold") is what grasps command while approaching
    (``policies.scripted.APPROACH_GRIPPER``)."""
    if name.startswith("mix:"):
        parts = name.split(":")
        try:
            fraction = float(parts[2]) if len(parts) == 3 else math.nan
        except ValueError:
            fraction = math.nan
        if math.isnan(fraction):
            raise ValueError(f"policy {name!r} must look like mix:EXPERT:FRACTION")
        return PriorMixture(parts[1], fraction, noise=noise, seed=seed,
                            approach_gripper=approach_gripper)
    if name not in EXPERTS:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)} "
                         "(or mix:EXPERT:FRACTION)")
    return EXPERTS[name](noise=noise, seed=seed, approach_gripper=approach_gripper)


def load_policy(spec: str, noise: float = 0.1, seed: int | None = None):
    """What every ``--policy`` flag means: an expert name (``make_policy``) or the path of an
    exported learned policy (``cog export``). Returns (policy, is_scripted). The older
    ``scripted:NAME`` spelling still works, with a note."""
    import logging
    from pathlib import Path

    if spec.startswith("scripted:"):
        spec = spec.split(":", 1)[1]
        logging.getLogger(__name__).warning("note: --policy scripted:%s is now --policy %s",
                                            spec, spec)
        return make_policy(spec, noise=noise, seed=seed), True
    if Path(spec).is_file():
        return load_exported(spec), False
    if spec in EXPERTS or spec.startswith("mix:"):
        return make_policy(spec, noise=noise, seed=seed), True
    raise ValueError(f"--policy {spec!r} is neither an expert ({', '.join(POLICY_NAMES)}) nor "
                     "an exported policy file")


__all__ = ["DEFAULT_ENV", "POLICY_NAMES", "Policy", "ScriptedExpert", "load_policy",
           "make_policy"]
from policies.exported import load_exported  # noqa: E402,F401  (exported learned policies)
