from __future__ import annotations

import pickle
from urllib.error import URLError

import numpy as np
import pytest
import torch
from torchvision import datasets

from distributed_bo.data import augment as aug
from distributed_bo.data.device import clear_device_cache, device_split
from distributed_bo.data.fake import write_fake_dataset
from distributed_bo.data.load import load_arrays
from distributed_bo.exceptions import DataError, SpecError

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("name", "shape", "classes"),
    [
        ("cifar10", (3, 32, 32), 10),
        ("cifar100", (3, 32, 32), 100),
        ("mnist", (1, 28, 28), 10),
        ("fashion_mnist", (1, 28, 28), 10),
    ],
)
def test_torchvision_loaders_read_the_fake_files(trusted, name, shape, classes) -> None:
    train_only = load_arrays(name, data_dir=trusted)
    assert train_only.x_train.shape == (60, *shape) and train_only.x_train.dtype == np.uint8
    assert train_only.y_train.shape == (60,) and train_only.y_train.dtype == np.int64
    assert train_only.y_train.min() >= 0 and train_only.y_train.max() < classes
    assert train_only.x_test is None and not train_only.has_test  # never read by default
    both = load_arrays(name, data_dir=trusted, with_test=True)
    assert both.x_test.shape == (20, *shape) and both.has_test
    assert np.array_equal(both.x_train, train_only.x_train)
    assert both.key == load_arrays(name, data_dir=trusted, with_test=True).key


def test_cifar_pixels_keep_channel_order(trusted) -> None:
    raw = pickle.loads((trusted / "cifar-10-batches-py" / "data_batch_1").read_bytes())
    arrays = load_arrays("cifar10", data_dir=trusted)
    # The files store each image as 1024 red, then green, then blue values.
    assert np.array_equal(arrays.x_train[0].reshape(-1), raw["data"][0])


def test_digits_are_the_offline_default() -> None:
    arrays = load_arrays("digits", data_dir="/nowhere", with_test=True)
    assert arrays.x_train.shape == (1498, 1, 8, 8) and arrays.x_test.shape == (299, 1, 8, 8)
    assert arrays.x_train.max() == 16 and arrays.source == "scikit-learn"


def test_missing_cifar_says_which_files_go_where(tmp_path) -> None:
    with pytest.raises(DataError) as info:
        load_arrays("cifar10", data_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message and message.startswith("data_dir: cifar10 files missing in ")
    assert f"{tmp_path}/cifar-10-batches-py (data_batch_1..5, test_batch, batches.meta)" in message
    assert "cifar-10-python.tar.gz" in message and "download: true" in message


def test_missing_mnist_file_is_named(tmp_path) -> None:
    folder = write_fake_dataset(tmp_path, "mnist", n_train=10, n_test=5)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"MNIST/raw \(t10k-labels-idx1-ubyte\); download"):
        load_arrays("mnist", data_dir=tmp_path)


def test_corrupt_cifar_fails_its_md5_check(fake_root) -> None:
    # Without trust_checksums the fake files do not match the real files' MD5 sums.
    with pytest.raises(DataError, match="fail their MD5 check .*data_batch_1..5") as info:
        load_arrays("cifar10", data_dir=fake_root)
    assert "\n" not in str(info.value)


def test_unreadable_mnist_gives_data_error(tmp_path) -> None:
    folder = write_fake_dataset(tmp_path, "mnist", n_train=10, n_test=5)
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x03garbage")
    with pytest.raises(DataError, match="^data_dir: cannot read mnist"):
        load_arrays("mnist", data_dir=tmp_path)


def test_failed_download_gives_data_error(tmp_path, monkeypatch) -> None:
    def offline(self) -> None:
        raise URLError("no network")

    monkeypatch.setattr(datasets.CIFAR10, "download", offline)
    with pytest.raises(DataError, match=r"^download: could not fetch cifar10 .*no network"):
        load_arrays("cifar10", data_dir=tmp_path, download=True)


def test_unknown_dataset() -> None:
    with pytest.raises(SpecError, match="^dataset: got 'imagenet'; use one of digits"):
        load_arrays("imagenet", data_dir=".")


def test_val_split_is_reproducible_disjoint_and_cached() -> None:
    clear_device_cache()
    arrays = load_arrays("digits", data_dir=".")
    a = device_split(arrays, device=CPU, val_fraction=0.2, split_seed=3, with_test=False)
    assert device_split(arrays, device=CPU, val_fraction=0.2, split_seed=3, with_test=False) is a
    b = device_split(arrays, device=CPU, val_fraction=0.2, split_seed=4, with_test=False)
    again = device_split(arrays, device=CPU, val_fraction=0.2, split_seed=3, with_test=False)
    assert again is not a and torch.equal(again.x_val, a.x_val)  # cache of one, same split
    assert not torch.equal(a.x_val, b.x_val)
    assert len(a.y_val) == round(0.2 * 1498) and len(a.y_train) + len(a.y_val) == 1498
    assert a.x_test is None
    norm = a.normalise(a.x_train).mean(dim=(0, 2, 3))
    assert abs(float(norm)) < 0.05  # digits' mean is folded into the normalisation
    with pytest.raises(SpecError, match="val_fraction"):
        device_split(arrays, device=CPU, val_fraction=1e-5, split_seed=0, with_test=False)


def test_read_only_arrays_from_the_object_store_are_copied(trusted) -> None:
    clear_device_cache()
    arrays = load_arrays("cifar10", data_dir=trusted, with_test=True)
    arrays.x_test.setflags(write=False)  # what ray.get returns
    split = device_split(arrays, device=CPU, val_fraction=0.25, split_seed=0, with_test=True)
    assert split.x_test.shape == (20, 3, 32, 32) and split.x_val.shape == (15, 3, 32, 32)


def test_augmentation_is_seeded_and_crops_from_the_padding() -> None:
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    d1 = aug.draw(2, pad=2, flip=True, generator=torch.Generator().manual_seed(0))
    d2 = aug.draw(2, pad=2, flip=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(aug.augment(x, d1, pad=2), aug.augment(x, d2, pad=2))

    centre = aug.AugmentDraws(torch.full((2, 2), 2), torch.tensor([False, True]))
    out = aug.augment(x, centre, pad=2)
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], x[1].flip(2))
    corner = aug.AugmentDraws(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, dtype=torch.bool))
    shifted = aug.augment(x, corner, pad=2)
    assert torch.equal(shifted[0, :, 2:, 2:], x[0, :, :2, :2])  # moved down-right by 2
    assert shifted[0, :, :2].abs().sum() == 0  # zero padding
    off = aug.draw(2, pad=0, flip=False, generator=torch.Generator())
    assert torch.equal(aug.augment(x, off, pad=0), x)
