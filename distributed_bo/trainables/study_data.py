"""Load a trainable's dataset once per study and check what each trial receives.

The runner calls a trainable's ``study_setup(constants)`` once, in the driver, with
the spec's ``trainable.config``; :func:`study_setup` reads the dataset there and
returns ``{"data": VisionArrays}``, which ``tune.with_parameters`` puts into Ray's
object store once. Each trial then gets it as the ``data`` keyword argument
(zero-copy on the same node) and :func:`trial_arrays` checks it fits the trial.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.data.device import DeviceSplit, device_split
from distributed_bo.data.load import load_arrays
from distributed_bo.exceptions import SpecError
from distributed_bo.trainables.compiled import Forward
from distributed_bo.trainables.configs import TrainConfig
from distributed_bo.trainables.loop import Training


def make_study_setup(
    config_cls: type[TrainConfig],
) -> Callable[[Mapping[str, Any]], dict[str, VisionArrays]]:
    """Return the ``study_setup`` hook of a trainable whose config is ``config_cls``.

    The hook validates the fixed config values (so a bad one fails before any trial
    starts) and loads the dataset, with the test set only if ``evaluate_test``.
    Relative ``data_dir`` paths are taken from the driver's working directory.
    """

    def study_setup(constants: Mapping[str, Any]) -> dict[str, VisionArrays]:
        cfg = config_cls.from_config(constants)
        data = load_arrays(
            cfg.dataset,
            data_dir=Path(cfg.data_dir).expanduser().resolve(),
            download=cfg.download,
            with_test=cfg.evaluate_test,
        )
        return {"data": data}

    return study_setup


@functools.lru_cache(maxsize=1)
def _load_here(name: str, data_dir: str, download: bool, with_test: bool) -> VisionArrays:
    return load_arrays(name, data_dir=data_dir, download=download, with_test=with_test)


def trial_arrays(cfg: TrainConfig, data: VisionArrays | None) -> VisionArrays:
    """Return the dataset a trial trains on.

    Args:
        cfg: The trial's config.
        data: The study's data, or ``None`` when the trainable runs without the
            runner's ``study_setup`` (then it is loaded here, once per process;
            relative ``data_dir`` is taken from Tune's original working directory).

    Raises:
        SpecError: If ``data`` is another dataset than ``cfg.dataset``, or lacks the
            test set while ``cfg.evaluate_test`` is set (both happen when these keys
            are searched instead of fixed in ``trainable.config``).
        DataError: If loading here fails.

    """
    if data is None:
        root = Path(os.environ.get("TUNE_ORIG_WORKING_DIR", ".")) / Path(cfg.data_dir).expanduser()
        return _load_here(cfg.dataset, str(root.resolve()), cfg.download, cfg.evaluate_test)
    if data.name != cfg.dataset:
        raise SpecError(
            f"dataset: the trial asks for {cfg.dataset!r} but the study loaded {data.name!r}; "
            "set dataset in trainable.config, not in space"
        )
    if cfg.evaluate_test and not data.has_test:
        raise SpecError(
            "evaluate_test: the trial asks for test metrics but the study did not load the "
            "test set; set evaluate_test: true in trainable.config, not in space"
        )
    return data


def trial_split(
    cfg: TrainConfig, data: VisionArrays | None, device: torch.device
) -> tuple[VisionArrays, DeviceSplit]:
    """Return the trial's dataset (:func:`trial_arrays`) and its split on ``device``.

    The split is carved by ``cfg.split_seed`` and ``cfg.val_fraction``, with the
    test set when ``cfg.evaluate_test``; see :func:`~distributed_bo.data.device.device_split`.

    Raises:
        SpecError: If ``data`` does not fit the config, or the split leaves a part empty.
        DataError: If loading here fails.

    """
    arrays = trial_arrays(cfg, data)
    split = device_split(
        arrays,
        device=device,
        val_fraction=cfg.val_fraction,
        split_seed=cfg.split_seed,
        with_test=cfg.evaluate_test,
    )
    return arrays, split


@dataclass
class DeviceEpochs:
    """What a trainable on a :class:`DeviceSplit` needs for its epoch and evaluation passes.

    ``vision_cnn`` and ``autoencoder`` subclass it with their ``train`` and
    ``evaluate`` (the callables of :class:`~distributed_bo.trainables.loop.Task`).

    Attributes:
        cfg: The trial's config.
        split: The data on ``device``.
        run: The model, optimizer, scheduler and batch-order generator.
        forward: The callable forward passes go through (compiled, or ``run.module``).
        device: The training device.
        batch_size: Images per optimizer step; an epoch is :attr:`steps` full batches.

    """

    cfg: TrainConfig
    split: DeviceSplit
    run: Training
    forward: Forward
    device: torch.device
    batch_size: int

    @property
    def steps(self) -> int:
        """Optimizer steps per epoch: the remainder of ``n_train / batch_size`` is dropped."""
        return len(self.split.y_train) // self.batch_size
