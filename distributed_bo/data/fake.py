"""Write small fake datasets in the exact on-disk formats torchvision reads.

For tests and offline smoke runs: :func:`write_fake_dataset` writes CIFAR's pickled
batches (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``, ``batches.meta``;
CIFAR-100's ``train``, ``test``, ``meta``) or MNIST's IDX files
(``MNIST/raw/train-images-idx3-ubyte`` ...), so torchvision's real loaders read them.
Images are a per-class pattern plus noise, so a small model beats chance in an epoch.

torchvision checks CIFAR files against the MD5 sums of the real files;
:func:`trust_checksums` temporarily swaps in the fake files' sums (tests only).
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from distributed_bo.data.catalog import DATASETS
from distributed_bo.exceptions import SpecError


def _images(n: int, shape: tuple[int, ...], num_classes: int, rng: np.random.Generator):
    patterns = rng.integers(0, 256, size=(num_classes, *shape))
    labels = rng.integers(0, num_classes, size=n)
    noise = rng.integers(-48, 49, size=(n, *shape))
    images = np.clip(0.7 * patterns[labels] + 0.3 * 128 + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def _pickle(path: Path, obj: dict) -> None:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=2)  # the real files are Python 2 pickles


def _write_cifar(folder: Path, name: str, n_train: int, n_test: int, rng) -> None:
    info = DATASETS[name]
    x, y = _images(n_train + n_test, info.shape, info.num_classes, rng)
    flat = x.reshape(len(x), -1)  # N x 3072, channel-major, as in the real files
    label_key = "labels" if name == "cifar10" else "fine_labels"
    if name == "cifar10":
        parts = np.array_split(np.arange(n_train), 5)
        files = {f"data_batch_{i + 1}": idx for i, idx in enumerate(parts)}
        files["test_batch"] = np.arange(n_train, n_train + n_test)
        meta_file, meta = "batches.meta", {"label_names": [f"class{i}" for i in range(10)]}
    else:
        files = {"train": np.arange(n_train), "test": np.arange(n_train, n_train + n_test)}
        meta_file = "meta"
        meta = {"fine_label_names": [f"class{i}" for i in range(100)]}
        meta["coarse_label_names"] = [f"super{i}" for i in range(20)]
    for file, idx in files.items():
        entry = {
            "batch_label": file,
            "data": flat[idx],
            label_key: [int(v) for v in y[idx]],
            "filenames": [f"{file}_{i}.png" for i in range(len(idx))],
        }
        if name == "cifar100":
            entry["coarse_labels"] = [int(v) % 20 for v in y[idx]]
        _pickle(folder / file, entry)
    _pickle(folder / meta_file, {**meta, "num_cases_per_batch": n_train // 5, "num_vis": 3072})


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX: big-endian magic (0, 0, 0x08 = uint8, ndim), then each dim as uint32."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _write_mnist(folder: Path, name: str, n_train: int, n_test: int, rng) -> None:
    x, y = _images(n_train + n_test, (28, 28), 10, rng)
    for prefix, sl in (("train", slice(0, n_train)), ("t10k", slice(n_train, None))):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", x[sl])
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", y[sl].astype(np.uint8))


def write_fake_dataset(
    root: str | Path, name: str, *, n_train: int = 100, n_test: int = 20, seed: int = 0
) -> Path:
    """Write a fake ``name`` dataset under ``root`` in torchvision's layout.

    Args:
        root: The ``data_dir`` to write into (created if needed).
        name: ``cifar10``, ``cifar100``, ``mnist`` or ``fashion_mnist``.
        n_train: Training images, >= 5 (CIFAR-10 spreads them over 5 batches).
        n_test: Test images, >= 1.
        seed: Seed of the images and labels.

    Returns:
        The folder holding the files, e.g. ``root/cifar-10-batches-py``.

    Raises:
        SpecError: If ``name`` is not a torchvision dataset here.

    """
    info = DATASETS.get(name)
    if info is None or not info.folder:
        raise SpecError(f"name: got {name!r}; use cifar10, cifar100, mnist or fashion_mnist")
    folder = Path(root) / info.folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = _write_cifar if name.startswith("cifar") else _write_mnist
    writer(folder, name, n_train, n_test, rng)
    return folder


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@contextlib.contextmanager
def trust_checksums(root: str | Path, name: str) -> Iterator[None]:
    """Make torchvision's CIFAR class accept the fake files' MD5 sums, then restore.

    Only for tests: inside the block, ``CIFAR10.train_list`` etc. carry the sums of
    the files under ``root``, so torchvision's integrity check passes on fake data.
    For MNIST-style datasets (no sums are checked) this does nothing.
    """
    from torchvision import datasets

    info = DATASETS[name]
    cls = getattr(datasets, info.torchvision_class)
    if not hasattr(cls, "train_list"):
        yield
        return
    folder = Path(root) / info.folder
    saved = {attr: getattr(cls, attr) for attr in ("train_list", "test_list", "meta")}
    cls.train_list = [[f, _md5(folder / f)] for f, _ in saved["train_list"]]
    cls.test_list = [[f, _md5(folder / f)] for f, _ in saved["test_list"]]
    cls.meta = {**saved["meta"], "md5": _md5(folder / saved["meta"]["filename"])}
    try:
        yield
    finally:
        for attr, value in saved.items():
            setattr(cls, attr, value)
