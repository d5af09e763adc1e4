"""The tanh-squashed Gaussian policy distribution (SAC), written out so it is easy to check."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_tanh_jacobian(u: Tensor) -> Tensor:
    # log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)), stable for large |u|.
    return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))


def gaussian_log_prob(u: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    z = (u - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - _HALF_LOG_2PI).sum(-1)


def tanh_gaussian_sample(mean: Tensor, log_std: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
    """Reparameterised sample a = tanh(mean + std * noise) and its log-density.

    mean, log_std: (B, A); noise: (B, N, A) standard normal -> actions (B, N, A), logp (B, N).
    """
    mean, log_std = mean.unsqueeze(1), log_std.unsqueeze(1)
    u = mean + torch.exp(log_std) * noise
    logp = (-0.5 * noise.pow(2) - log_std - _HALF_LOG_2PI).sum(-1)
    logp = logp - _log_tanh_jacobian(u).sum(-1)
    return torch.tanh(u), logp


def tanh_gaussian_log_prob(mean: Tensor, log_std: Tensor, actions: Tensor,
                           eps: float = 1e-6) -> Tensor:
    """log pi(a|s) for given actions (B, A) in [-1, 1] -> (B,). Used by BC."""
    a = actions.clamp(-1.0 + eps, 1.0 - eps)
    u = torch.atanh(a)
    return gaussian_log_prob(u, mean, log_std) - _log_tanh_jacobian(u).sum(-1)


def policy_action(mean: Tensor, log_std: Tensor, deterministic: bool,
                  generator: torch.Generator | None = None) -> Tensor:
    """The action a policy takes: tanh(mean) (evaluation), or a sample drawn from
    ``generator`` (B, A) -> (B, A)."""
    if deterministic:
        return torch.tanh(mean)
    noise = torch.randn(mean.shape[0], 1, mean.shape[1], device=mean.device, generator=generator)
    return tanh_gaussian_sample(mean, log_std, noise)[0][:, 0]
