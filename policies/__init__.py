"""Policies: the ``Policy`` protocol, scripted experts, and exported learned policies."""

from __future__ import annotations

from policies.base import Policy
from policies.scripted import DEFAULT_ENV, EXPERTS, ScriptedExpert

POLICY_NAMES: tuple[str, ...] = tuple(EXPERTS)


def make_policy(name: str, noise: float = 0.1, seed: int | None = None) -> ScriptedExpert:
    """A scripted expert by name, with Gaussian action noise of std ``noise``."""
    if name not in EXPERTS:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
    return EXPERTS[name](noise=noise, seed=seed)


__all__ = ["DEFAULT_ENV", "POLICY_NAMES", "Policy", "ScriptedExpert", "make_policy"]
from policies.exported import load_exported  # noqa: E402,F401  (exported learned policies)
