"""``fast``: the patch-whitened conv net of airbench94 (Keller Jordan, 2024).

What it is meant to reach: 94.01% mean CIFAR-10 test accuracy in 3.83 s on one
A100 (airbench94, Jordan 2024, "94% on CIFAR-10 in 3.29 seconds on a single GPU",
arXiv:2404.00498; figure from the airbench repository's README, n = 700 runs of
``airbench94.py``), with its training recipe, which ``vision_cnn`` carries as config
keys whose defaults for ``fast`` are airbench's (see
:data:`~distributed_bo.trainables.recipe.AIRBENCH94`). Whether this project's loop
reaches 94% has NOT been measured: no machine here has CIFAR-10 (no internet), and
GPU time was not available when this was written; ``benchmarks/gpu_check.sh``
measures the speed side on synthetic CIFAR-shaped data.

This module is the architecture: a frozen 2x2 patch-whitening conv initialised from
the training data (its bias trains for the first epochs), three conv-pool-BN-GELU
groups (64, 256, 256 channels by default) whose convs start as identities (dirac),
global max pooling and a linear head scaled by 1/9. BatchNorm scales are fixed at 1,
their biases learn.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

DEFAULT_WIDTHS = (64, 256, 256)
HEAD_SCALE = 1.0 / 9.0
#: airbench's BatchNorm momentum 0.6 is the weight of the old statistics; torch's
#: ``momentum`` is the weight of the new batch, so 1 - 0.6.
BN_MOMENTUM = 0.4


def _bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels, momentum=BN_MOMENTUM, eps=1e-12)
    bn.weight.requires_grad_(False)  # scale fixed at 1; the bias is learned
    return bn


class ConvGroup(nn.Sequential):
    """conv3x3 -> max pool 2 -> BN -> GELU -> conv3x3 -> BN -> GELU; halves H and W.

    Args:
        c_in: Input channels.
        c_out: Output channels.
        dirac: Start each conv as an identity on its first ``min(c_in, c_out)``
            output channels (``torch.nn.init.dirac_``; the rest keep PyTorch's
            default init), as airbench94 does.
        ceil_mode: Round pooled sizes up (only for images under 16 pixels).

    """

    def __init__(self, c_in: int, c_out: int, *, dirac: bool = True, ceil_mode: bool = False):
        conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        if dirac:
            for conv in (conv1, conv2):
                nn.init.dirac_(conv.weight.data[: conv.in_channels])
        pool = nn.MaxPool2d(2, ceil_mode=ceil_mode)
        super().__init__(conv1, pool, _bn(c_out), nn.GELU(), conv2, _bn(c_out), nn.GELU())


#: Images at least this wide pool as airbench does (floor); smaller ones round up.
FLOOR_POOL_SIZE = 16


def fast_feature_size(image_size: int) -> int:
    """Side of the last feature map: the 2x2 valid whitening conv, then three pools.

    Images under :data:`FLOOR_POOL_SIZE` pixels pool with ``ceil_mode`` (8x8 digits:
    7, 4, 2, 1), so the model fits them; CIFAR's 32 pixels pool as airbench (31, 15,
    7, 3).
    """
    size = image_size - 1
    for _ in range(3):
        size = size // 2 if image_size >= FLOOR_POOL_SIZE else -(-size // 2)
    return size


class FastNet(nn.Module):
    """Patch whitening, three :class:`ConvGroup` s, global max pool, scaled linear head.

    Args:
        in_channels: Image channels ``C``; the whitening conv has ``8 C`` outputs.
        num_classes: Number of logits.
        widths: Output channels of the three groups, exactly three.
        dropout: Dropout probability before the head, in ``[0, 1)``.
        dirac: Identity initialisation of the group convs (see :class:`ConvGroup`).
        image_size: Side of the (square) input images, >= 2; under 16 the pools round up.

    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        widths: tuple[int, ...] = DEFAULT_WIDTHS,
        dropout: float = 0.0,
        dirac: bool = True,
        image_size: int = 32,
    ) -> None:
        super().__init__()
        whiten_width = 2 * in_channels * 4
        self.whiten = nn.Conv2d(in_channels, whiten_width, kernel_size=2, bias=True)
        self.whiten.weight.requires_grad_(False)
        nn.init.zeros_(cast(torch.Tensor, self.whiten.bias))
        c = (whiten_width, *widths)
        ceil_mode = image_size < FLOOR_POOL_SIZE
        groups = (ConvGroup(c[i], c[i + 1], dirac=dirac, ceil_mode=ceil_mode) for i in range(3))
        self.groups = nn.Sequential(nn.GELU(), *groups)
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        self.head = nn.Linear(widths[-1], num_classes, bias=False)

    @torch.no_grad()
    def init_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the whitening filters from the 2x2 patches of ``images``.

        The filters are the eigenvectors of the patch covariance scaled by
        ``1 / sqrt(eigenvalue + eps)``, and their negatives (ZCA-like, as airbench).

        Args:
            images: Normalised training images ``N x C x H x W`` (airbench uses 5,000).
            eps: Added to each eigenvalue, > 0.

        """
        c = images.shape[1]
        patches = images.float().unfold(2, 2, 1).unfold(3, 2, 1)  # N x C x H' x W' x 2 x 2
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * 4).double()
        cov = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)
        filters = eigenvectors.T.reshape(-1, c, 2, 2) / torch.sqrt(
            eigenvalues.clamp_min(0).view(-1, 1, 1, 1) + eps
        )
        weight = torch.cat((filters, -filters)).to(self.whiten.weight)
        self.whiten.weight.copy_(weight)

    def train_whitening_bias(self, enabled: bool) -> None:
        """Train the whitening conv's bias (airbench: the first 3 epochs) or freeze it."""
        cast(torch.Tensor, self.whiten.bias).requires_grad_(enabled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map normalised images ``B x C x H x W`` to logits ``B x classes``."""
        return self.head(self.pool(self.groups(self.whiten(x)))) * HEAD_SCALE
