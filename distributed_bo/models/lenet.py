"""``lenet``: the LeNet-5-like net of the GP-vs-Sobol CIFAR-10 study.

conv 5x5 (10 channels) -> ReLU -> max pool 2 -> conv 5x5 (20 channels) -> ReLU ->
max pool 2 -> linear. On CIFAR-10 (3 x 32 x 32) that is 760 + 5,020 + 5,010 =
10,790 parameters; on MNIST (1 x 28 x 28) 8,490.
"""

from __future__ import annotations

import torch
from torch import nn

KERNEL = 5


def lenet_feature_size(image_size: int) -> int:
    """Side of the last feature map: two (valid 5x5 conv, 2x2 pool) stages."""
    size = image_size
    for _ in range(2):
        size = (size - KERNEL + 1) // 2
    return size


class LeNet(nn.Module):
    """Two conv-ReLU-pool stages (10 and 20 channels) and one linear layer.

    Args:
        in_channels: Image channels ``C``.
        num_classes: Number of logits.
        image_size: Image height (= width) in pixels, >= 16.
        dropout: Dropout probability before the linear layer, in ``[0, 1)``.
        widths: Channels of the two conv layers, exactly two (default ``(10, 20)``, the
            study's).

    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        image_size: int,
        dropout: float = 0.0,
        widths: tuple[int, ...] = (10, 20),
    ) -> None:
        super().__init__()
        c1, c2 = widths
        side = lenet_feature_size(image_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, KERNEL),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, KERNEL),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c2 * side * side, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map normalised images ``B x C x H x W`` to logits ``B x num_classes``."""
        return self.head(self.features(x))
