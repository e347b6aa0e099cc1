"""Seeded image augmentation on the training device: random crop with padding, flip.

The random draws for a whole epoch come from one CPU ``torch.Generator`` (the
trial's batch-order generator, which checkpoints save), so augmentation is
reproducible and a restored trial draws the same crops; only the cheap gathers run
on the device. :func:`alternating_flips` is airbench94's derandomised flip (Jordan
2024, arXiv:2404.00498, section 3.6): each image is mirrored on every other epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class AugmentDraws:
    """One epoch of augmentation draws, indexed like the epoch's image order.

    Attributes:
        shifts: ``n x 2`` int64 crop offsets ``(dy, dx)`` in ``[0, 2 * pad]``.
        flips: ``n`` bool, True to mirror the image left-right.

    """

    shifts: torch.Tensor
    flips: torch.Tensor

    def to(self, device: torch.device) -> AugmentDraws:
        """Return the draws on ``device``."""
        return AugmentDraws(self.shifts.to(device), self.flips.to(device))

    def __getitem__(self, idx: slice) -> AugmentDraws:
        return AugmentDraws(self.shifts[idx], self.flips[idx])


def draw(n: int, *, pad: int, flip: bool, generator: torch.Generator) -> AugmentDraws:
    """Draw crop offsets and flips for ``n`` images from a CPU ``generator``.

    Both are drawn whatever ``pad`` and ``flip`` are, so the generator advances the
    same way for every augmentation setting.
    """
    shifts = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    return AugmentDraws(shifts=shifts, flips=flips & flip)


def alternating_flips(n: int, *, epoch: int, seed: int) -> torch.Tensor:
    """Whether each of ``n`` images is mirrored in epoch ``epoch`` (0-based).

    A random half, fixed by ``seed``, is mirrored in even epochs and the other half
    in odd ones, so every image is seen both ways every two epochs.

    Returns:
        ``n`` bools on the CPU, indexed by image (not by the epoch's order).

    """
    first = torch.rand(n, generator=torch.Generator().manual_seed(seed)) < 0.5
    return first ^ bool(epoch % 2)


def augment(x: torch.Tensor, draws: AugmentDraws, *, pad: int, mode: str = "zeros") -> torch.Tensor:
    """Crop each image at its offset from a padded copy, then flip it if drawn.

    Args:
        x: Normalised images ``B x C x H x W`` (zero padding is the mean colour).
        draws: ``B`` draws on ``x``'s device.
        pad: Padding in pixels on each side, >= 0 (``reflect``: < H and < W).
        mode: ``zeros`` or ``reflect`` (``torch.nn.functional.pad``'s modes).

    Returns:
        Augmented images ``B x C x H x W`` (channels-last memory layout).

    """
    b, _, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad), mode="constant" if mode == "zeros" else mode)
        rows = draws.shifts[:, 0, None] + torch.arange(h, device=x.device)  # B x H
        cols = draws.shifts[:, 1, None] + torch.arange(w, device=x.device)  # B x W
        batch = torch.arange(b, device=x.device)[:, None, None]
        # Advanced indices around a slice put their dims first: B x H x W x C.
        x = padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return torch.where(draws.flips[:, None, None, None], x.flip(3), x)
