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

    The padded image is never built: output pixel (i, j) of an image cropped at (dy, dx) is
    input pixel (clamp(i + dy - pad), clamp(j + dx - pad)), which is exactly what replicate
    padding followed by the crop gives (``random_crop_padded`` is that reference, and
    tests/test_train_replay.py checks the two are equal). One gather, in the input's dtype.
    """
    if images.dim() != 4:
        raise ValueError(f"random_crop expects (B, H, W, C) images, got {tuple(images.shape)}")
    if pad == 0:
        return images
    b, h, w, _ = images.shape
    offsets = _offsets(b, pad, images.device, generator)
    rows = (offsets[:, 0:1] - pad + torch.arange(h, device=images.device)).clamp_(0, h - 1)
    cols = (offsets[:, 1:2] - pad + torch.arange(w, device=images.device)).clamp_(0, w - 1)
    batch_idx = torch.arange(b, device=images.device)[:, None, None]
    return images[batch_idx, rows[:, :, None], cols[:, None, :]]


def random_crop_padded(images: Tensor, pad: int = 4,
                       generator: torch.Generator | None = None) -> Tensor:
    """The straightforward version of ``random_crop`` (same offsets, same result): build the
    replicate-padded image, then cut the crop out of it. Kept as the reference for tests."""
    b, h, w, _ = images.shape
    offsets = _offsets(b, pad, images.device, generator)
    x = images.permute(0, 3, 1, 2)
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="replicate").to(x.dtype)
    padded = padded.permute(0, 2, 3, 1)  # (B, H+2p, W+2p, C)
    return torch.stack([padded[i, dy : dy + h, dx : dx + w]
                        for i, (dy, dx) in enumerate(offsets.tolist())])


def _offsets(b: int, pad: int, device: torch.device,
             generator: torch.Generator | None) -> Tensor:
    return torch.randint(0, 2 * pad + 1, (b, 2), device=device, generator=generator)
