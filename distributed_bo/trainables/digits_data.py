"""The scikit-learn digits data set, split into train and validation tensors.

``sklearn.datasets.load_digits`` ships with scikit-learn (1,797 8x8 greyscale
images, pixel values 0..16, classes 0..9), so nothing is downloaded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from distributed_bo.exceptions import SpecError

PIXEL_MAX = 16.0


@dataclass(frozen=True)
class DigitsSplit:
    """Train and validation tensors on one device.

    Attributes:
        x_train: Images ``n_train x 1 x 8 x 8``, float32 in ``[0, 1]``.
        y_train: Labels ``n_train``, int64 in ``0..9``.
        x_val: Images ``n_val x 1 x 8 x 8``, float32 in ``[0, 1]``.
        y_val: Labels ``n_val``, int64 in ``0..9``.

    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / PIXEL_MAX).astype(np.float32)[:, None, :, :]
    return images, bunch.target.astype(np.int64)


def split_indices(n: int, *, seed: int, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw a random train/validation partition of ``range(n)``.

    Args:
        n: Number of examples.
        seed: Seed of the NumPy generator that permutes the indices.
        val_fraction: Fraction of examples held out, in ``(0, 1)``; rounded to
            the nearest count.

    Returns:
        ``(train_idx, val_idx)``, disjoint sorted int64 arrays covering ``range(n)``.

    Raises:
        SpecError: If either part would be empty.

    """
    n_val = round(n * val_fraction)
    if not 0 < n_val < n:
        raise SpecError(
            f"val_fraction: got {val_fraction!r}, which leaves {n_val} of {n} images for "
            "validation; pass a fraction in (0, 1) that keeps both parts non-empty"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def load_split(*, seed: int, val_fraction: float, device: torch.device) -> DigitsSplit:
    """Load the digits, normalise pixels to ``[0, 1]`` and split them.

    Args:
        seed: Seed of the split; the same seed gives the same partition.
        val_fraction: Fraction of the 1,797 images held out for validation.
        device: Where the tensors are placed.

    Returns:
        The split as tensors on ``device``.

    """
    images, labels = _digits()
    train_idx, val_idx = split_indices(len(labels), seed=seed, val_fraction=val_fraction)

    def to(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(device)

    return DigitsSplit(
        x_train=to(images[train_idx]),
        y_train=to(labels[train_idx]),
        x_val=to(images[val_idx]),
        y_val=to(labels[val_idx]),
    )
