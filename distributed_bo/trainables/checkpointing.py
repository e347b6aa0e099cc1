"""Exact training-state checkpoints: how a trainable checkpoint is written and read.

A checkpoint is a directory holding one file, :data:`STATE_FILE`, written with
``torch.save`` and read with ``torch.load(..., weights_only=True)``. It holds the
model and optimizer ``state_dict``, the number of finished epochs, the best
validation accuracy and every RNG state that training draws from (Python
``random``, NumPy's global RNG, torch CPU and CUDA, and the generator that
shuffles batches), so a restored run continues bit-identically on the same device.
Non-tensor RNG states are stored as int64 tensors and plain numbers, which the
``weights_only`` unpickler accepts.
"""

from __future__ import annotations

import copy
import pickle
import random
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from torch import nn

from distributed_bo.exceptions import DataError

STATE_FILE = "state.pt"
FORMAT_VERSION = 1
_KEYS = ("format_version", "epoch", "best_val_accuracy", "model", "optimizer", "rng")


class TrainingState(TypedDict):
    """Everything needed to resume training after ``epoch`` finished epochs."""

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
) -> TrainingState:
    """Snapshot the training state after ``epoch`` finished epochs.

    The snapshot deep-copies the state dicts, so it stays valid while training
    goes on.

    Args:
        model: The model being trained.
        optimizer: Its optimizer.
        shuffle: The batch-order generator.
        epoch: Number of finished epochs.
        best_val_accuracy: Best validation accuracy so far, a fraction in ``[0, 1]``.

    Returns:
        The state, ready for :func:`save_state`.

    """
    return TrainingState(
        format_version=FORMAT_VERSION,
        epoch=epoch,
        best_val_accuracy=best_val_accuracy,
        model=copy.deepcopy(model.state_dict()),
        optimizer=copy.deepcopy(optimizer.state_dict()),
        rng=capture_rng(shuffle),
    )


def restore_state(
    state: TrainingState,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
) -> None:
    """Load a snapshot into a freshly built model, optimizer and generator.

    Args:
        state: A snapshot from :func:`capture_state` or :func:`load_state`.
        model: A model of the same architecture.
        optimizer: An optimizer of the same kind over ``model``'s parameters.
        shuffle: The batch-order generator.

    Raises:
        DataError: If the snapshot does not fit the model or optimizer.

    """
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(state["rng"], shuffle)
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise DataError(
            f"checkpoint: does not fit this config ({reason}); restore it with the "
            "channels, num_layers and optimizer it was written with"
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
