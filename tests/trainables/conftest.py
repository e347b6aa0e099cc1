"""Fake CIFAR-10 in the real on-disk format, and a guard for torch's thread count."""

from __future__ import annotations

import pytest
import torch

from distributed_bo.data.fake import trust_checksums, write_fake_dataset


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory):
    """A data_dir with a fake CIFAR-10: 240 training and 40 test images."""
    root = tmp_path_factory.mktemp("cifar")
    write_fake_dataset(root, "cifar10", n_train=240, n_test=40, seed=0)
    return root


@pytest.fixture
def cifar_dir(cifar_root):
    """``cifar_root``, with torchvision accepting its MD5 sums during the test."""
    with trust_checksums(cifar_root, "cifar10"):
        yield cifar_root


@pytest.fixture
def one_thread():
    """Train with one torch thread (bit-identical reruns), restoring the count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
