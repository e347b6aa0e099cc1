"""scikit-learn's 8x8 digits: raw arrays for ``vision_cnn``, a float split for ``digits_cnn``.

``sklearn.datasets.load_digits`` ships with scikit-learn (1,797 8x8 greyscale
images, pixel values 0..16, classes 0..9), so nothing is downloaded. It is read
once per process (:func:`digits_raw`) and serves two trainables:

- ``vision_cnn`` and ``autoencoder`` (``dataset: digits``) get :func:`digits_arrays`,
  raw uint8 pixels with a fixed test set (every 6th image), like the torchvision
  datasets;
- ``digits_cnn`` gets :func:`load_split`: all 1,797 images split by its ``seed``,
  pixels scaled to ``[0, 1]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.data.split import split_indices

if TYPE_CHECKING:  # torch is imported where tensors are made, so data.load stays light
    import torch

#: Largest raw pixel value of the digits.
PIXEL_MAX = 16.0
#: scikit-learn's digits have no official test set: every 6th image (index % 6 == 5,
#: 299 of 1,797) is the test set of :func:`digits_arrays`, the other 1,498 its training set.
DIGITS_TEST_EVERY = 6


@functools.cache
def digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """Return all digits, read once per process: ``(images, labels)``.

    Returns:
        Read-only arrays: images ``1797 x 1 x 8 x 8`` uint8 in ``0..16`` and labels
        ``1797`` int64 in ``0..9``.

    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits_arrays(*, with_test: bool) -> VisionArrays:
    """The digits as a :class:`VisionArrays` dataset with a fixed test set.

    Args:
        with_test: Also return the test set (every :data:`DIGITS_TEST_EVERY`-th image).

    """
    images, labels = digits_raw()
    is_test = np.arange(len(labels)) % DIGITS_TEST_EVERY == DIGITS_TEST_EVERY - 1
    return VisionArrays(
        name="digits",
        x_train=images[~is_test],
        y_train=labels[~is_test],
        x_test=images[is_test] if with_test else None,
        y_test=labels[is_test] if with_test else None,
        source="scikit-learn",
    )


@dataclass(frozen=True)
class DigitsSplit:
    """Train and validation tensors of ``digits_cnn`` on one device.

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


def load_split(*, seed: int, val_fraction: float, device: torch.device) -> DigitsSplit:
    """Split all 1,797 digits by ``seed`` and scale their pixels to ``[0, 1]``.

    Args:
        seed: Seed of the split; the same seed gives the same partition.
        val_fraction: Fraction of the 1,797 images held out for validation.
        device: Where the tensors are placed.

    Returns:
        The split as tensors on ``device``.

    Raises:
        SpecError: If ``val_fraction`` leaves either part empty.

    """
    import torch

    images, labels = digits_raw()
    train_idx, val_idx = split_indices(len(labels), seed=seed, val_fraction=val_fraction)

    def pixels(idx: np.ndarray) -> torch.Tensor:
        # k / 16 is exact in float32, so this equals scaling the float64 originals.
        return torch.from_numpy(images[idx].astype(np.float32) / np.float32(PIXEL_MAX)).to(device)

    def targets(idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(labels[idx]).to(device)

    return DigitsSplit(
        x_train=pixels(train_idx),
        y_train=targets(train_idx),
        x_val=pixels(val_idx),
        y_val=targets(val_idx),
    )
