"""Test-time augmentation: average a classifier's logits over views of each image.

The views are airbench94's (Jordan 2024, arXiv:2404.00498): level 1 is the image
and its mirror image; level 2 adds the four translations by one pixel (reflect
padding), each with its mirror image, and weighs the centre views and the
translated ones half each.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from distributed_bo.trainables.compiled import Forward


def _mirrored(forward: Forward, x: torch.Tensor, mirror: bool) -> torch.Tensor:
    logits = forward(x).float()
    if mirror:
        logits = 0.5 * (logits + forward(x.flip(3)).float())
    return logits


def translations(x: torch.Tensor) -> list[torch.Tensor]:
    """The four copies of ``x`` (``B x C x H x W``, H, W >= 2) moved by one pixel.

    Reflect-pad by 1, then crop at the corners: shifts ``(dy, dx)`` of
    ``(-1, -1), (-1, 1), (1, -1), (1, 1)``; each keeps ``x``'s memory format.
    """
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else None
    views = [padded[..., i : i + h, j : j + w] for i in (0, 2) for j in (0, 2)]
    return [v.contiguous(memory_format=fmt) if fmt else v.contiguous() for v in views]


def tta_logits(forward: Forward, x: torch.Tensor, *, mirror: bool, translate: bool) -> torch.Tensor:
    """Float32 logits ``B x classes`` of ``x`` averaged over the chosen views.

    Args:
        forward: The model's forward pass.
        x: Normalised images ``B x C x H x W``.
        mirror: Average each view with its mirror image (level 1).
        translate: Also average over :func:`translations`; the result is half the
            centre's and half the translations' mean (level 2 with ``mirror``).

    """
    logits = _mirrored(forward, x, mirror)
    if translate:
        moved = torch.stack([_mirrored(forward, v, mirror) for v in translations(x)])
        logits = 0.5 * logits + 0.5 * moved.mean(0)
    return logits
