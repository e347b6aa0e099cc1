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


def _mnist_like(name: str, cls: str, mean: float, std: float, url: str) -> DatasetInfo:
    """A 28x28 greyscale, 10-class dataset in MNIST's IDX files under ``<cls>/raw``."""
    return DatasetInfo(
        name, cls, (1, 28, 28), 10, 255.0, (mean,), (std,), f"{cls}/raw", _MNIST_FILES, url
    )


_CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
_CIFAR100_FILES = ("train", "test", "meta")


def _cifar(
    classes: int, mean: tuple[float, ...], std: tuple[float, ...], folder: str
) -> DatasetInfo:
    """CIFAR-10 or -100: 32x32 colour images, the python-pickle archive from Toronto."""
    return DatasetInfo(
        f"cifar{classes}",
        f"CIFAR{classes}",
        (3, 32, 32),
        classes,
        255.0,
        mean,
        std,
        folder=folder,
        files=_CIFAR10_FILES if classes == 10 else _CIFAR100_FILES,
        url=f"https://www.cs.toronto.edu/~kriz/cifar-{classes}-python.tar.gz",
    )


DATASETS: Mapping[str, DatasetInfo] = MappingProxyType(
    {
        info.name: info
        for info in (
            DatasetInfo("digits", "", (1, 8, 8), 10, 16.0, (0.305,), (0.376,)),
            _mnist_like(
                "mnist", "MNIST", 0.1307, 0.3081, "https://ossci-datasets.s3.amazonaws.com/mnist/"
            ),
            _mnist_like(
                "fashion_mnist",
                "FashionMNIST",
                0.2860,
                0.3530,
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            ),
            _cifar(10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), "cifar-10-batches-py"),
            _cifar(100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), "cifar-100-python"),
        )
    }
)
"""``dataset`` config value -> :class:`DatasetInfo`."""
