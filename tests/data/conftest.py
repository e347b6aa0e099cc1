"""Fake CIFAR-10 and MNIST written in the real on-disk formats, read by torchvision."""

from __future__ import annotations

import pytest

from distributed_bo.data.fake import trust_checksums, write_fake_dataset


@pytest.fixture(scope="session")
def fake_root(tmp_path_factory):
    """A data_dir holding fake CIFAR-10, CIFAR-100, MNIST and Fashion-MNIST files."""
    root = tmp_path_factory.mktemp("vision_data")
    for name in ("cifar10", "cifar100", "mnist", "fashion_mnist"):
        write_fake_dataset(root, name, n_train=60, n_test=20, seed=1)
    return root


@pytest.fixture
def trusted(fake_root):
    """Make torchvision accept the fake CIFAR files' MD5 sums for one test."""
    with trust_checksums(fake_root, "cifar10"), trust_checksums(fake_root, "cifar100"):
        yield fake_root
