"""The epoch loop of every built-in torch trainable, and its Ray Tune wrapper.

:func:`run_epochs` owns what ``digits_cnn``, ``vision_cnn`` and ``autoencoder`` do
the same way: resume from a checkpoint, time each epoch, track the best metric,
measure the model's costs (:mod:`~distributed_bo.trainables.costs`), decide when to
checkpoint, and report. A trainable supplies its model and data as a
:class:`Training` and its epoch as a :class:`Task`. :func:`run_in_tune` connects
the loop to Ray Tune: it places the trial, reads the trial's checkpoint, adds
``node``, ``device`` and ``gpu_ids`` to every report, and writes checkpoint
directories.
"""

from __future__ import annotations

import gc
import math
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from distributed_bo.models.factory import count_parameters
from distributed_bo.trainables.checkpointing import (
    TrainingState,
    capture_state,
    load_state,
    restore_state,
    save_state,
)
from distributed_bo.trainables.compiled import Forward
from distributed_bo.trainables.configs import LoopConfig
from distributed_bo.trainables.costs import inference_ms
from distributed_bo.trainables.lookahead import Lookahead
from distributed_bo.trainables.optim import make_optimizer
from distributed_bo.trainables.placement import Placement, place

Metrics = dict[str, float | int | str]
ReportFn = Callable[[Metrics, TrainingState | None], None]
"""Called after every epoch with the metrics and, on checkpoint epochs, the state."""
ScheduleFn = Callable[[torch.optim.Optimizer], LRScheduler]
"""Builds the per-step LR scheduler over an optimizer."""


def seed_all(seed: int) -> None:
    """Seed Python ``random``, NumPy's global RNG and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Training:
    """One run's model, optimizer, scheduler and batch-order generator.

    Attributes:
        module: The model whose ``state_dict`` is checkpointed.
        optimizer: Its optimizer.
        scheduler: Per-step LR scheduler, or ``None`` for a constant LR
            (``digits_cnn``; its checkpoints then hold no scheduler state).
        shuffle: CPU generator of batch order and augmentation draws.
        lookahead: Slow weights the model is reset to every few steps, or ``None``.

    """

    module: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler | None
    shuffle: torch.Generator
    lookahead: Lookahead | None = None

    def step(self, loss: torch.Tensor) -> None:
        """One optimizer step on ``loss`` (a scalar), one scheduler step, then lookahead."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        if self.lookahead is not None:
            self.lookahead.after_step()

    def restore(self, state: TrainingState) -> None:
        """Load a checkpoint's weights, optimizer, scheduler and RNG states.

        Raises:
            DataError: If ``state`` does not fit the model, optimizer or scheduler.

        """
        restore_state(
            state,
            model=self.module,
            optimizer=self.optimizer,
            shuffle=self.shuffle,
            scheduler=self.scheduler,
            lookahead=self.lookahead,
        )

    def capture(self, *, epoch: int, best_val_accuracy: float, metrics: Metrics) -> TrainingState:
        """Snapshot the run after ``epoch`` finished epochs (see :func:`capture_state`)."""
        return capture_state(
            model=self.module,
            optimizer=self.optimizer,
            shuffle=self.shuffle,
            epoch=epoch,
            best_val_accuracy=best_val_accuracy,
            scheduler=self.scheduler,
            metrics=metrics,
            lookahead=self.lookahead,
        )


def start_training(
    cfg: LoopConfig, module: nn.Module, schedule: ScheduleFn | None = None
) -> Training:
    """Build ``cfg``'s optimizer over ``module``, the schedule, and the batch-order generator.

    Build ``module`` after :func:`seed_all`; the generator is seeded from ``cfg.seed`` here.

    Args:
        cfg: The config (optimizer keys, seed).
        module: The freshly built model.
        schedule: Builds the per-step LR scheduler; ``None`` keeps the LR constant.

    """
    optimizer = make_optimizer(cfg, module)
    return Training(
        module=module,
        optimizer=optimizer,
        scheduler=schedule(optimizer) if schedule is not None else None,
        shuffle=torch.Generator().manual_seed(cfg.seed),
    )


@dataclass(frozen=True)
class Task:
    """What a trainable does each epoch, and the metric it is tuned on.

    Attributes:
        train: Runs one epoch; returns (mean training loss, images trained).
        evaluate: Returns validation metrics (including ``objective``); its argument
            is True after the last epoch, when test metrics may be added.
        objective: Key of the metric to track, e.g. ``val_accuracy``.
        mode: Whether larger (``max``) or smaller (``min``) ``objective`` is better.
        example: The fixed batch ``inference_ms`` is timed on: model inputs
            ``LATENCY_BATCH x ...`` (:func:`~distributed_bo.trainables.costs.latency_batch`),
            prepared as evaluation prepares them (normalised, memory format).
        infer: One forward pass as evaluation runs it (compiled wrapper, autocast),
            without test-time augmentation; ``None``: the module itself.
        constants: Metrics added to every report, such as ``compile_seconds``.

    """

    train: Callable[[], tuple[float, int]]
    evaluate: Callable[[bool], Metrics]
    objective: str
    mode: Literal["min", "max"]
    example: torch.Tensor
    infer: Forward | None = None
    constants: Metrics = field(default_factory=dict)


@dataclass
class FitResult:
    """What a ``fit`` returns.

    Attributes:
        model: The trained model, on the training device.
        history: One metrics dict per epoch run by this call (one replayed dict when
            the run was restored after its last epoch).
        best: Best value of the objective over all epochs.

    """

    model: nn.Module
    history: list[Metrics]
    best: float


def run_epochs(
    cfg: LoopConfig,
    run: Training,
    task: Task,
    *,
    device: torch.device,
    start_state: TrainingState | None = None,
    report: ReportFn | None = None,
) -> FitResult:
    """Train ``cfg.epochs`` epochs (or the rest of them after ``start_state``).

    The model's costs are measured once, after the first epoch this call trains:
    the architecture, and so the size and the latency, do not depend on the
    weights, and by then the device is warm (allocator, cuDNN, ``torch.compile``).
    Measuring then rather than after the last epoch puts ``num_params`` and
    ``inference_ms`` into every report, so a trial that a scheduler such as ASHA
    stops early still carries them onto the Pareto front. A resumed run measures
    again, on the device it now runs on.

    Args:
        cfg: The config (epochs, checkpoint frequency).
        run: Freshly built training objects; ``start_state`` is loaded into them.
        task: The trainable's epoch, evaluation and objective.
        device: The training device, reported as ``device``.
        start_state: A checkpoint of an earlier run of the same config.
        report: Called after each epoch with the metrics ``epoch`` (1-based),
            ``train_loss``, ``task.evaluate``'s, ``best_<objective>``, ``epoch_seconds``
            (train and evaluate), ``images_per_second`` (training images over
            training seconds), ``lr`` (at the end of the epoch), ``device``,
            ``num_params`` (trainable parameters, an int; see
            :func:`~distributed_bo.models.factory.count_parameters`),
            ``inference_ms`` (median milliseconds of one forward pass over
            ``task.example`` on ``device``; see
            :func:`~distributed_bo.trainables.costs.inference_ms`) and ``train_seconds``
            (wall seconds in ``task.train`` summed over all epochs so far, continued
            from ``start_state``'s metrics; evaluation and the latency measurement
            excluded); and, on checkpoint epochs (every ``checkpoint_frequency`` and
            the last), the state. A run restored after its last epoch reports that
            epoch's metrics once more.

    Raises:
        DataError: If ``start_state`` does not fit the model, optimizer or scheduler.

    """
    objective, evaluate = task.objective, task.evaluate
    best_key = f"best_{objective}"
    better = max if task.mode == "max" else min
    done, best = 0, -math.inf if task.mode == "max" else math.inf
    trained_s = 0.0  # checkpoints written before issue 14 lack train_seconds
    if start_state is not None:
        run.restore(start_state)
        done = int(start_state["epoch"])
        last = start_state.get("metrics") or {}
        best = float(last.get(best_key, start_state["best_val_accuracy"]))
        trained_s = float(last.get("train_seconds", 0.0))
        if done >= cfg.epochs:  # restored after the last epoch: report it once more
            replay: Metrics = dict(last) or {"epoch": done, **evaluate(True), best_key: best}
            if report is not None:
                report(replay, None)
            return FitResult(model=run.module, history=[replay], best=best)

    history: list[Metrics] = []
    costs: Metrics = {}
    for epoch in range(done + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        train_loss, images = task.train()
        train_seconds = time.perf_counter() - t0
        trained_s += train_seconds
        evaluated = evaluate(epoch == cfg.epochs)
        best = better(best, float(evaluated[objective]))
        epoch_seconds = time.perf_counter() - t0
        if not costs:
            latency = inference_ms(run.module, task.example, device, forward=task.infer)
            size = count_parameters(run.module, trainable_only=True)
            costs = {"num_params": size, "inference_ms": latency}
        metrics: Metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            **evaluated,
            best_key: best,
            "epoch_seconds": epoch_seconds,
            "images_per_second": images / train_seconds,
            "lr": run.optimizer.param_groups[0]["lr"],
            "device": str(device),
            **costs,
            "train_seconds": trained_s,
            **task.constants,
        }
        history.append(metrics)
        if report is not None:
            due = epoch == cfg.epochs or (
                cfg.checkpoint_frequency > 0 and epoch % cfg.checkpoint_frequency == 0
            )
            best_accuracy = best if objective == "val_accuracy" else math.nan
            state = None
            if due:
                state = run.capture(epoch=epoch, best_val_accuracy=best_accuracy, metrics=metrics)
            report(metrics, state)
    return FitResult(model=run.module, history=history, best=best)


FitFn = Callable[..., FitResult]


def release_memory(device: torch.device) -> None:
    """Free what a finished trial left: collect cycles, return cached CUDA blocks.

    The per-process caches (the device-resident dataset, the compiled model of the
    last architecture) stay, by design; the model copy, optimizer state and
    activations of the trial go, so a reused actor's next trial starts from the
    same allocated memory.
    """
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_in_tune(fit: FitFn, cfg: LoopConfig, *, data: Any, prefix: str) -> None:
    """Run ``fit`` as the body of a Ray Tune function trainable.

    Sets ``torch_threads`` (if > 0), places the trial (:func:`place`), resumes from
    ``ray.tune.get_checkpoint()`` when there is one, and calls ``ray.tune.report``
    after every epoch with ``fit``'s metrics plus ``node``, ``device`` and
    ``gpu_ids`` (a list, from ``ray.get_gpu_ids()``), attaching a checkpoint
    directory on checkpoint epochs. On CUDA every report also has
    ``gpu_start_mb`` (memory allocated by this process when the trial started,
    MiB) and ``gpu_peak_mb`` (the peak allocated since then, MiB). When ``fit``
    returns or fails, :func:`release_memory` runs.

    Args:
        fit: ``fit(cfg, data=..., start_state=..., report=..., device=...)``.
        cfg: The trial's config.
        data: The study's data (from ``study_setup``), or ``None`` to let ``fit`` load it.
        prefix: Prefix of the temporary checkpoint directories.

    """
    from ray import tune

    if cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    where: Placement = place(cfg.device)
    start_state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory:
            start_state = load_state(Path(directory))
    extra: dict[str, Any] = {
        "node": where.node,
        "gpu_ids": list(where.gpu_ids),
        "device": str(where.device),
    }
    cuda = where.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(where.device)
        extra["gpu_start_mb"] = torch.cuda.memory_allocated(where.device) / 2**20

    def report(metrics: Metrics, state: TrainingState | None) -> None:
        reported: dict[str, Any] = {**metrics, **extra}
        if cuda:
            reported["gpu_peak_mb"] = torch.cuda.max_memory_allocated(where.device) / 2**20
        if state is None:
            tune.report(reported)
            return
        with tempfile.TemporaryDirectory(prefix=prefix) as directory:
            save_state(state, Path(directory))
            tune.report(reported, checkpoint=tune.Checkpoint.from_directory(directory))

    try:
        fit(cfg, data=data, start_state=start_state, report=report, device=where.device)
    finally:
        release_memory(where.device)
