"""Exact training-state checkpoints: how a trainable checkpoint is written and read.

A checkpoint is a directory holding one file, :data:`STATE_FILE`, written with
``torch.save`` and read with ``torch.load(..., weights_only=True)``. It holds the
model and optimizer ``state_dict``, the LR scheduler's ``state_dict`` (when training
uses one), the number of finished epochs, the best validation accuracy, the metrics
last reported (so a trial restored after its last epoch can report them again) and
every RNG state that training draws from (Python ``random``, NumPy's global RNG,
torch CPU and CUDA, and the generator that shuffles batches and draws
augmentations), so a restored run continues bit-identically on the same device.
Non-tensor RNG states are stored as int64 tensors and plain numbers, which the
``weights_only`` unpickler accepts.
"""

from __future__ import annotations

import copy
import pickle
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from distributed_bo.exceptions import DataError
from distributed_bo.trainables.lookahead import Lookahead

STATE_FILE = "state.pt"
FORMAT_VERSION = 1
_KEYS = ("format_version", "epoch", "best_val_accuracy", "model", "optimizer", "rng")


class _OptionalState(TypedDict, total=False):
    scheduler: dict[str, Any]
    """The LR scheduler's ``state_dict``; absent when training has no scheduler
    (``digits_cnn``, whose LR is constant)."""
    metrics: dict[str, float | int | str]
    """The metrics reported after ``epoch``; optional (every built-in writes it)."""
    lookahead: dict[str, Any]
    """The slow weights and step count of :class:`~distributed_bo.trainables.lookahead.Lookahead`,
    when training uses it."""


class TrainingState(_OptionalState):
    """Everything needed to resume training after ``epoch`` finished epochs.

    ``best_val_accuracy`` is NaN for trainables that do not classify (their best
    metric is in ``metrics``).
    """

    format_version: int
    epoch: int
    best_val_accuracy: float
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: dict[str, Any]


def capture_rng(shuffle: torch.Generator) -> dict[str, Any]:
    """Snapshot all RNG states, each as tensors or plain numbers.

    Args:
        shuffle: The CPU generator that draws the per-epoch batch order.

    Returns:
        A dict accepted by :func:`restore_rng`.

    """
    py_version, py_internal, py_gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "python_version": int(py_version),
        "python_internal": torch.tensor(py_internal, dtype=torch.int64),
        "python_gauss": py_gauss,
        "numpy_keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
        "numpy_pos": int(np_pos),
        "numpy_has_gauss": int(np_has_gauss),
        "numpy_gauss": float(np_gauss),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "shuffle": shuffle.get_state(),
    }


def restore_rng(rng: dict[str, Any], shuffle: torch.Generator) -> None:
    """Set every RNG state from a :func:`capture_rng` snapshot.

    CUDA states are restored only when CUDA is available and the snapshot has them.

    Args:
        rng: The snapshot.
        shuffle: The batch-order generator to restore in place.

    """
    internal = tuple(int(v) for v in rng["python_internal"].tolist())
    random.setstate((rng["python_version"], internal, rng["python_gauss"]))
    np_keys = rng["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(
        ("MT19937", np_keys, rng["numpy_pos"], rng["numpy_has_gauss"], rng["numpy_gauss"])
    )
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    shuffle.set_state(rng["shuffle"])


def capture_state(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
    epoch: int,
    best_val_accuracy: float,
    scheduler: LRScheduler | None = None,
    metrics: Mapping[str, float | int | str] | None = None,
    lookahead: Lookahead | None = None,
) -> TrainingState:
    """Snapshot the training state after ``epoch`` finished epochs.

    The snapshot deep-copies the state dicts, so it stays valid while training
    goes on.

    Args:
        model: The model being trained (the module itself, not a compiled wrapper).
        optimizer: Its optimizer.
        shuffle: The batch-order generator.
        epoch: Number of finished epochs.
        best_val_accuracy: Best validation accuracy so far, a fraction in ``[0, 1]``
            (NaN if the trainable does not classify).
        scheduler: The LR scheduler, stepped by the optimizer's steps; optional.
        metrics: The metrics reported for ``epoch`` (numbers and strings); optional.
        lookahead: The run's lookahead, when it uses one.

    Returns:
        The state, ready for :func:`save_state`.

    """
    state = TrainingState(
        format_version=FORMAT_VERSION,
        epoch=epoch,
        best_val_accuracy=best_val_accuracy,
        model=copy.deepcopy(model.state_dict()),
        optimizer=copy.deepcopy(optimizer.state_dict()),
        rng=capture_rng(shuffle),
    )
    if scheduler is not None:
        state["scheduler"] = copy.deepcopy(scheduler.state_dict())
    if metrics is not None:
        state["metrics"] = dict(metrics)
    if lookahead is not None:
        state["lookahead"] = lookahead.state_dict()
    return state


def restore_state(
    state: TrainingState,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
    scheduler: LRScheduler | None = None,
    lookahead: Lookahead | None = None,
) -> None:
    """Load a snapshot into a freshly built model, optimizer, scheduler and generator.

    Args:
        state: A snapshot from :func:`capture_state` or :func:`load_state`.
        model: A model of the same architecture.
        optimizer: An optimizer of the same kind over ``model``'s parameters.
        shuffle: The batch-order generator.
        scheduler: The LR scheduler over ``optimizer``; the snapshot must hold one.
        lookahead: The run's lookahead; the snapshot must hold its state.

    Raises:
        DataError: If the snapshot does not fit the model, optimizer or scheduler.

    """
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if lookahead is not None:
            lookahead.load_state_dict(state["lookahead"])
        restore_rng(state["rng"], shuffle)
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise DataError(
            f"checkpoint: does not fit this config ({reason}); restore it with the "
            "architecture, optimizer and LR schedule it was written with"
        ) from err


def save_state(state: TrainingState, directory: Path) -> Path:
    """Write ``state`` to ``directory / STATE_FILE``.

    Args:
        state: The training state; tensors may live on any device.
        directory: An existing directory, typically a fresh temporary one.

    Returns:
        The path of the written file.

    """
    path = Path(directory) / STATE_FILE
    torch.save(state, path)
    return path


def load_state(directory: Path) -> TrainingState:
    """Read a state written by :func:`save_state`, with tensors on the CPU.

    Args:
        directory: The checkpoint directory.

    Returns:
        The training state.

    Raises:
        DataError: If the file is missing, unreadable or lacks a required entry.

    """
    path = Path(directory) / STATE_FILE
    fix = "delete this checkpoint or restart the trial without it"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise DataError(f"checkpoint {path}: cannot be read ({reason}); {fix}") from err
    missing = [k for k in _KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise DataError(f"checkpoint {path}: missing {', '.join(missing)}; {fix}")
    if state["format_version"] != FORMAT_VERSION:
        raise DataError(
            f"checkpoint {path}: format_version is {state['format_version']!r}, "
            f"expected {FORMAT_VERSION}; {fix}"
        )
    return state
