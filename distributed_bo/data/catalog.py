"""What each supported dataset is: shapes, classes, normalisation and files on disk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset.

    Attributes:
        name: The ``dataset`` config value, e.g. ``"cifar10"``.
        torchvision_class: Class name in :mod:`torchvision.datasets`, or ``""`` for
            scikit-learn's digits.
        shape: One image as ``channels x height x width``.
        num_classes: Number of labels ``0..num_classes-1``.
        pixel_max: Largest raw pixel value (255 for uint8 images, 16 for digits).
        mean: Per-channel mean of the training images, in units of ``pixel_max``.
        std: Per-channel standard deviation, in units of ``pixel_max``.
        folder: Folder under ``data_dir`` that torchvision reads.
        files: Files in ``folder`` that must exist.
        url: Where the archive comes from, for error messages.

    """

    name: str
    torchvision_class: str
    shape: tuple[int, int, int]
    num_classes: int
    pixel_max: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    folder: str = ""
    files: tuple[str, ...] = ()
    url: str = ""


_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")

DATASETS: Mapping[str, DatasetInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            DatasetInfo("digits", "", (1, 8, 8), 10, 16.0, (0.305,), (0.376,)),
            DatasetInfo(
                "mnist",
                "MNIST",
                (1, 28, 28),
                10,
                255.0,
                (0.1307,),
                (0.3081,),
                folder="MNIST/raw",
                files=_MNIST_FILES,
                url="https://ossci-datasets.s3.amazonaws.com/mnist/",
            ),
            DatasetInfo(
                "fashion_mnist",
                "FashionMNIST",
                (1, 28, 28),
                10,
                255.0,
                (0.2860,),
                (0.3530,),
                folder="FashionMNIST/raw",
                files=_MNIST_FILES,
                url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            ),
            DatasetInfo(
                "cifar10",
                "CIFAR10",
                (3, 32, 32),
                10,
                255.0,
                (0.4914, 0.4822, 0.4465),
                (0.2470, 0.2435, 0.2616),
                folder="cifar-10-batches-py",
                files=_CIFAR10_FILES,
                url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            ),
            DatasetInfo(
                "cifar100",
                "CIFAR100",
                (3, 32, 32),
                100,
                255.0,
                (0.5071, 0.4865, 0.4409),
                (0.2673, 0.2564, 0.2762),
                folder="cifar-100-python",
                files=("train", "test", "meta"),
                url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
            ),
        )
    }
)
"""``dataset`` config value -> :class:`DatasetInfo`."""
