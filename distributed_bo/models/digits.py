"""``digits_cnn``'s model: a small CNN for 8x8 greyscale digits (``sklearn.datasets.load_digits``).

Checkpoints hold its ``state_dict``: the attribute names ``features`` and ``head``
are part of the checkpoint format and must not change.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

NUM_CLASSES = 10


class DigitsCNN(nn.Module):
    """``num_layers`` 3x3 conv + ReLU blocks, then dropout and a linear classifier.

    The first two blocks halve the resolution (8x8 -> 4x4 -> 2x2) with 2x2 max
    pooling; later blocks keep 2x2. An adaptive average pool makes the head see
    ``channels x 2 x 2`` features for any depth.

    Args:
        channels: Width of every conv layer that ``widths`` does not set.
        num_layers: Number of conv blocks, >= 1.
        dropout: Dropout probability before the classifier, in ``[0, 1)``.
        widths: Width of each conv layer (``num_layers`` of them); default
            ``channels`` for every layer. Equal widths build the same modules (and
            ``state_dict``) as before per-layer widths existed.

    """

    def __init__(
        self,
        *,
        channels: int,
        num_layers: int,
        dropout: float,
        widths: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        widths = tuple(widths) if widths else (channels,) * num_layers
        if len(widths) != num_layers:
            raise ValueError(f"widths: got {len(widths)} widths; give one per layer ({num_layers})")
        blocks: list[nn.Module] = []
        in_channels = 1
        for i, width in enumerate(widths):
            blocks += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU()]
            if i < 2:
                blocks.append(nn.MaxPool2d(2))
            in_channels = width
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * in_channels, NUM_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``batch x 1 x 8 x 8`` in ``[0, 1]`` to logits ``batch x 10``."""
        return self.head(self.features(x))
