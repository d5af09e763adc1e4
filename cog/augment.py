"""Pad-4 random-crop augmentation (DrQ / COG), on whatever device the batch lives on.

Works on uint8 (B, H, W, 3) images, before they become float: the crop is a gather of
pixels, so doing it in uint8 moves 4x fewer bytes and keeps the networks' own float
conversion the single place where images change type.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def random_crop(images: Tensor, pad: int = 4, generator: torch.Generator | None = None) -> Tensor:
    """Replicate-pad every image by ``pad`` pixels, then crop it back at a random offset.

    images: (B, H, W, C) uint8 or float. Offsets are drawn from ``generator`` (which must be
    on the images' device), one (dy, dx) per image, uniform in [0, 2*pad].
    """
    if images.dim() != 4:
        raise ValueError(f"random_crop expects (B, H, W, C) images, got {tuple(images.shape)}")
    if pad == 0:
        return images
    b, h, w, _ = images.shape
    device = images.device
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), device=device, generator=generator)
    # replicate padding needs float on CPU; pad as (B, C, H, W) then come back.
    x = images.permute(0, 3, 1, 2)
    dtype = x.dtype
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="replicate").to(dtype)
    padded = padded.permute(0, 2, 3, 1)  # (B, H+2p, W+2p, C)
    rows = offsets[:, 0:1] + torch.arange(h, device=device)  # (B, H)
    cols = offsets[:, 1:2] + torch.arange(w, device=device)  # (B, W)
    batch_idx = torch.arange(b, device=device)[:, None, None]
    return padded[batch_idx, rows[:, :, None], cols[:, None, :]].contiguous()
