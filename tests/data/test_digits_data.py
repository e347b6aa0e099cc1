"""scikit-learn's digits: the seeded split and the two views (digits_cnn, dataset: digits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distributed_bo.data.digits import DIGITS_TEST_EVERY, digits_arrays, digits_raw, load_split
from distributed_bo.data.split import split_indices
from distributed_bo.exceptions import SpecError


def test_val_split_is_reproducible_and_disjoint() -> None:
    train, val = split_indices(1797, seed=3, val_fraction=0.2)
    train2, val2 = split_indices(1797, seed=3, val_fraction=0.2)
    _, val_other = split_indices(1797, seed=4, val_fraction=0.2)
    assert np.array_equal(train, train2) and np.array_equal(val, val2)
    assert not np.array_equal(val, val_other)
    assert len(val) == 359 and len(train) == 1797 - 359
    assert not set(train) & set(val)
    assert sorted({*train, *val}) == list(range(1797))
    with pytest.raises(SpecError, match="val_fraction"):
        split_indices(10, seed=0, val_fraction=0.01)


def test_load_split_normalises_pixels() -> None:
    data = load_split(seed=0, val_fraction=0.2, device=torch.device("cpu"))
    assert data.x_train.shape == (1438, 1, 8, 8) and data.x_val.shape == (359, 1, 8, 8)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    assert set(data.y_val.tolist()) == set(range(10))


def test_load_split_scales_exactly_as_the_float64_originals() -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    expected = (bunch.images / 16.0).astype(np.float32)[:, None]
    train_idx, val_idx = split_indices(1797, seed=5, val_fraction=0.3)
    data = load_split(seed=5, val_fraction=0.3, device=torch.device("cpu"))
    assert np.array_equal(data.x_train.numpy(), expected[train_idx])
    assert np.array_equal(data.x_val.numpy(), expected[val_idx])
    assert np.array_equal(data.y_val.numpy(), bunch.target[val_idx])


def test_digits_arrays_hold_out_every_sixth_image() -> None:
    arrays = digits_arrays(with_test=True)
    images, _ = digits_raw()
    assert arrays.y_test is not None and arrays.x_test is not None
    assert (len(arrays.y_train), len(arrays.y_test)) == (1498, 299)
    assert arrays.x_train.dtype == np.uint8 and arrays.x_train.max() == 16
    assert np.array_equal(arrays.x_test, images[DIGITS_TEST_EVERY - 1 :: DIGITS_TEST_EVERY])
    assert digits_arrays(with_test=False).x_test is None
    assert not images.flags.writeable
    first = int(images[0, 0, 3, 3])
    arrays.x_train[0, 0, 3, 3] = first + 1  # a copy: the cached originals stay as they were
    assert int(digits_raw()[0][0, 0, 3, 3]) == first
