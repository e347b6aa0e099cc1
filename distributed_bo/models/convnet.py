"""``convnet``: N 3x3 conv layers with batch norm and ReLU, per-layer widths.

The family of the Ax/BoTorch CIFAR-10 study (4 conv layers, BN, ReLU, Adam; the
widths and the learning rate tuned).
"""

from __future__ import annotations

import torch
from torch import nn

#: A 2x2 max pool follows every layer whose input is at least this many pixels wide.
POOL_MIN_SIZE = 8


class ConvNet(nn.Module):
    """``len(widths)`` blocks conv3x3 (no bias) -> BN -> ReLU, then a linear head.

    A 2x2 max pool follows each block while the feature map is at least
    :data:`POOL_MIN_SIZE` pixels wide (CIFAR 32 -> 16 -> 8 -> 4; MNIST 28 -> 14 -> 7;
    digits 8 -> 4), so deeper blocks keep the resolution. Global average pooling,
    dropout and a linear layer map the last block to logits.

    Args:
        in_channels: Image channels ``C``.
        num_classes: Number of logits.
        widths: Output channels of each conv layer, one per layer, each >= 1.
        image_size: Image height (= width) in pixels.
        dropout: Dropout probability before the head, in ``[0, 1)``.

    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        widths: tuple[int, ...],
        image_size: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size, c_in = image_size, in_channels
        for width in widths:
            layers += [
                nn.Conv2d(c_in, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if size >= POOL_MIN_SIZE:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            c_in = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map normalised images ``B x C x H x W`` to logits ``B x num_classes``."""
        return self.head(self.features(x))
