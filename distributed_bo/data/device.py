"""The train/validation split of a dataset, on a trial's device, cached per process.

With Tune's actor reuse one process runs many trials; :func:`device_split` moves the
data to the device on the first trial and hands the same tensors to every later
trial with the same dataset identity (:attr:`VisionArrays.key`), device and split.
Only the most recent split per device is kept, so a process never holds two
datasets on one GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.data.split import split_indices

_CACHE: dict[str, tuple[tuple, DeviceSplit]] = {}


@dataclass(frozen=True, eq=False)
class DeviceSplit:
    """Images (raw uint8) and labels on one device, and how to normalise them.

    Attributes:
        x_train: Training images ``n_train x C x H x W``, uint8.
        y_train: Training labels ``n_train``, int64.
        x_val: Validation images ``n_val x C x H x W``, uint8, carved from the
            training set by ``split_seed``.
        y_val: Validation labels ``n_val``, int64.
        x_test: Test images, or ``None`` unless the test set was loaded.
        y_test: Test labels, or ``None``.
        scale: ``1 x C x 1 x 1`` float32, ``1 / (pixel_max * std)``.
        shift: ``1 x C x 1 x 1`` float32, ``-mean / std``.
        num_classes: Number of labels.
        pixel_max: Largest raw pixel value (255, or 16 for digits).

    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor | None
    y_test: torch.Tensor | None
    scale: torch.Tensor
    shift: torch.Tensor
    num_classes: int
    pixel_max: float

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Map raw uint8 images ``B x C x H x W`` to float32 with zero mean, unit std."""
        return torch.addcmul(self.shift, x.float(), self.scale)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Map raw uint8 images ``B x C x H x W`` to float32 in ``[0, 1]``."""
        return x.float() / self.pixel_max


def device_split(
    arrays: VisionArrays,
    *,
    device: torch.device,
    val_fraction: float,
    split_seed: int,
    with_test: bool,
) -> DeviceSplit:
    """Split ``arrays`` into train/validation and place them on ``device``, cached.

    Args:
        arrays: The dataset.
        device: Where the tensors live.
        val_fraction: Fraction of the training images held out, in ``(0, 1)``.
        split_seed: Seed of the split; the same seed gives the same partition.
        with_test: Also place the test set (``arrays`` must hold it).

    Returns:
        The split; the same object for repeated calls with the same arguments.

    Raises:
        SpecError: If ``val_fraction`` leaves either part empty.

    """
    key = (arrays.key, val_fraction, split_seed, with_test)
    cached = _CACHE.get(str(device))
    if cached is not None and cached[0] == key:
        return cached[1]
    _CACHE.pop(str(device), None)  # free the old split before allocating the new one
    train_idx, val_idx = split_indices(
        len(arrays.y_train), seed=split_seed, val_fraction=val_fraction
    )
    info = arrays.info

    def put(a: np.ndarray) -> torch.Tensor:
        # Arrays from ``ray.get`` are read-only views of the object store; copy those.
        a = np.ascontiguousarray(a)
        return torch.from_numpy(a if a.flags.writeable else a.copy()).to(device)

    std = np.asarray(info.std, dtype=np.float32)
    mean = np.asarray(info.mean, dtype=np.float32)
    split = DeviceSplit(
        x_train=put(arrays.x_train[train_idx]),
        y_train=put(arrays.y_train[train_idx]),
        x_val=put(arrays.x_train[val_idx]),
        y_val=put(arrays.y_train[val_idx]),
        x_test=put(arrays.x_test) if with_test and arrays.x_test is not None else None,
        y_test=put(arrays.y_test) if with_test and arrays.y_test is not None else None,
        scale=put((1.0 / (info.pixel_max * std)).reshape(1, -1, 1, 1)),
        shift=put((-mean / std).reshape(1, -1, 1, 1)),
        num_classes=info.num_classes,
        pixel_max=info.pixel_max,
    )
    _CACHE[str(device)] = (key, split)
    return split


def clear_device_cache() -> None:
    """Drop every cached split (frees device memory held by this process)."""
    _CACHE.clear()
