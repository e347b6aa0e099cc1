"""Read a dataset from disk (or scikit-learn) into :class:`VisionArrays`.

torchvision's own loaders read the files (``download=False`` unless asked), so the
on-disk formats are exactly torchvision's: CIFAR's pickled batches under
``cifar-10-batches-py/`` (MD5-checked) and MNIST's IDX files under ``MNIST/raw/``.
Before torchvision runs, every required file is checked here, so a missing or
corrupt file gives a one-line :class:`~distributed_bo.exceptions.DataError` that
says which files to put where.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.data.catalog import DATASETS, DatasetInfo
from distributed_bo.data.digits import digits_arrays
from distributed_bo.exceptions import DataError, SpecError

# What torchvision's readers raise on damaged files (IDX parsing uses ``assert``).
_READ_ERRORS = (
    OSError,
    EOFError,
    RuntimeError,
    ValueError,
    TypeError,
    KeyError,
    AssertionError,
    pickle.UnpicklingError,
)


def load_arrays(
    name: str, *, data_dir: str | Path, download: bool = False, with_test: bool = False
) -> VisionArrays:
    """Load a whole dataset into memory.

    Args:
        name: A key of :data:`~distributed_bo.data.catalog.DATASETS`.
        data_dir: Root folder torchvision reads (unused for ``digits``).
        download: Let torchvision download missing files.
        with_test: Also load the test set; without it the test files are checked
            but never read.

    Returns:
        The training (and optionally test) images and labels.

    Raises:
        SpecError: If ``name`` is not a supported dataset.
        DataError: If files are missing (and not downloaded), corrupt or unreadable.

    """
    info = DATASETS.get(name)
    if info is None:
        raise SpecError(f"dataset: got {name!r}; use one of {', '.join(DATASETS)}")
    if name == "digits":
        return digits_arrays(with_test=with_test)
    root = Path(data_dir).expanduser().resolve()
    return _torchvision(info, root, download=download, with_test=with_test)


def required_files(info: DatasetInfo) -> list[tuple[str, str | None]]:
    """Return ``(file name, md5 or None)`` for every file torchvision requires.

    Read from the torchvision class itself (``train_list``, ``test_list``, ``meta``
    for CIFAR; ``resources`` without ``.gz`` for MNIST), so they always agree with
    what its loader checks.
    """
    from torchvision import datasets

    cls = getattr(datasets, info.torchvision_class)
    if hasattr(cls, "train_list"):
        meta = cls.meta
        return [(f, md5) for f, md5 in cls.train_list + cls.test_list] + [
            (meta["filename"], meta["md5"])
        ]
    return [(os.path.splitext(os.path.basename(url))[0], None) for url, _ in cls.resources]


def _compress(names: list[str]) -> str:
    """Join file names, writing 3+ numbered in a row as ``data_batch_1..5``."""
    out: list[str] = []
    i = 0
    while i < len(names):
        m = re.fullmatch(r"(.*?)(\d+)", names[i])
        run = 1
        while m and i + run < len(names) and names[i + run] == f"{m[1]}{int(m[2]) + run}":
            run += 1
        if m and run >= 3:
            out.append(f"{names[i]}..{int(m[2]) + run - 1}")
        else:
            out.extend(names[i : i + run])
        i += run
    return ", ".join(out)


def _how_to_get(info: DatasetInfo, root: Path) -> str:
    if info.url.endswith(".tar.gz"):
        return f"extract {info.url} into {root}"
    return f"download the four .gz files from {info.url} and gunzip them into {root / info.folder}"


def check_files(info: DatasetInfo, root: Path) -> None:
    """Raise if a required file is missing or fails its MD5 check.

    Raises:
        DataError: Naming the folder, the files and how to get them.

    """
    from torchvision.datasets.utils import check_integrity

    folder = root / info.folder
    files = required_files(info)
    missing = [f for f, _ in files if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"data_dir: {info.name} files missing in {folder} ({_compress(missing)}); "
            f"{_how_to_get(info, root)}, or set trainable.config.download: true when online"
        )
    corrupt = [f for f, md5 in files if md5 is not None and not check_integrity(folder / f, md5)]
    if corrupt:
        raise DataError(
            f"data_dir: {info.name} files in {folder} fail their MD5 check "
            f"({_compress(corrupt)}); delete them and {_how_to_get(info, root)} again"
        )


def _download(info: DatasetInfo, root: Path) -> None:
    from urllib.error import URLError

    from torchvision import datasets

    cls = getattr(datasets, info.torchvision_class)
    try:
        cls(str(root), train=True, download=True)
    except (URLError, OSError, RuntimeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise DataError(
            f"download: could not fetch {info.name} into {root} ({reason}); "
            f"offline, {_how_to_get(info, root)} and set download: false"
        ) from err


def _torchvision(info: DatasetInfo, root: Path, *, download: bool, with_test: bool) -> VisionArrays:
    from torchvision import datasets

    if download:
        _download(info, root)
    check_files(info, root)
    cls = getattr(datasets, info.torchvision_class)

    def read(train: bool) -> tuple[np.ndarray, np.ndarray]:
        try:
            ds = cls(str(root), train=train, download=False)
        except _READ_ERRORS as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise DataError(
                f"data_dir: cannot read {info.name} from {root / info.folder} ({reason}); "
                f"delete the files and {_how_to_get(info, root)} again"
            ) from err
        x = np.asarray(ds.data)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # -> N x C x H x W
        x = np.ascontiguousarray(x, dtype=np.uint8)
        y = np.asarray(ds.targets, dtype=np.int64)
        if x.shape[1:] != info.shape or len(x) != len(y):
            raise DataError(
                f"data_dir: {info.name} in {root / info.folder} has images {x.shape[1:]} and "
                f"{len(y)} labels for {len(x)} images; expected {info.shape}, one label each"
            )
        return x, y

    x_train, y_train = read(True)
    x_test, y_test = read(False) if with_test else (None, None)
    return VisionArrays(
        name=info.name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        source=str(root),
    )
