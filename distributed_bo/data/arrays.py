"""A dataset held in NumPy arrays: what a study puts into Ray's object store once."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from distributed_bo.data.catalog import DATASETS, DatasetInfo


@dataclass(frozen=True, eq=False)
class VisionArrays:
    """Images and labels of one dataset, as loaded from disk.

    Pickles with out-of-band buffers, so ``ray.get`` on a node maps the arrays
    without copying them (they are then read-only).

    Attributes:
        name: The dataset, a key of :data:`~distributed_bo.data.catalog.DATASETS`.
        x_train: Training images ``n_train x C x H x W``, uint8 raw pixels in
            ``[0, pixel_max]``. The validation split is carved from these.
        y_train: Training labels ``n_train``, int64.
        x_test: Test images ``n_test x C x H x W``, or ``None`` when the study does
            not evaluate on the test set (it is then never loaded).
        y_test: Test labels ``n_test``, or ``None``.
        source: Where the data came from (a directory, or ``"scikit-learn"``).

    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    source: str = ""

    @property
    def info(self) -> DatasetInfo:
        """Static facts about the dataset (shape, classes, normalisation)."""
        return DATASETS[self.name]

    @property
    def key(self) -> str:
        """Identity of this data: name, source, sizes and a CRC of sampled images.

        Two loads of the same files give the same key, so a trial process that
        already holds the data on its device can skip moving it again.
        """
        n = len(self.x_train)
        sample = self.x_train[:: max(1, n // 64)]
        crc = zlib.crc32(np.ascontiguousarray(sample).tobytes())
        crc = zlib.crc32(np.ascontiguousarray(self.y_train).tobytes(), crc)
        n_test = 0 if self.x_test is None else len(self.x_test)
        return f"{self.name}|{self.source}|{n}|{n_test}|{crc:08x}"

    @property
    def has_test(self) -> bool:
        """Whether the test set was loaded."""
        return self.x_test is not None and self.y_test is not None
