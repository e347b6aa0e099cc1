"""``vision_cnn``: image classification with a chosen model family, exact checkpoints.

:func:`fit` trains without Ray; :func:`train_vision_cnn` is the Ray Tune trainable.
The dataset is read once per study (``train_vision_cnn.study_setup``), moved to the
trial's device once per process, and batches are drawn, normalised and augmented
on that device: no DataLoader, no worker processes. On CUDA the model runs
channels-last under bf16 autocast (``channels_last``, ``amp``); on the CPU the same
code runs in float32. Resuming from a checkpoint is bit-identical on the CPU with
the same number of torch threads.

Measured on this project's 2-core CPU machine (no GPU), one torch thread:
``dataset: digits``, ``convnet`` with widths 16, 32, batch 64, about 0.15 s per
epoch; see ``jobs/*.yaml`` and ``benchmarks/results/trainable_throughput.md`` for
CIFAR-shaped figures.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch.nn import functional as F

from distributed_bo.data import augment as aug
from distributed_bo.data.arrays import VisionArrays
from distributed_bo.data.device import DeviceSplit
from distributed_bo.models.factory import ModelSpec, build_model
from distributed_bo.models.fast import FastNet
from distributed_bo.trainables import loop
from distributed_bo.trainables.checkpointing import TrainingState
from distributed_bo.trainables.compiled import Forward, prepare_model, warm_up
from distributed_bo.trainables.configs import VisionConfig
from distributed_bo.trainables.costs import latency_batch
from distributed_bo.trainables.lookahead import Lookahead
from distributed_bo.trainables.loop import FitResult, Metrics, ReportFn
from distributed_bo.trainables.optim import make_scheduler
from distributed_bo.trainables.placement import place
from distributed_bo.trainables.study_data import DeviceEpochs, make_study_setup, trial_split
from distributed_bo.trainables.tta import tta_logits

#: Images per forward pass when evaluating.
EVAL_BATCH = 1024
#: Training images the ``fast`` model's whitening filters are computed from (airbench's).
WHITENING_IMAGES = 5000


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate_split(
    forward: Forward,
    model: torch.nn.Module,
    split: DeviceSplit,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cfg: VisionConfig,
    device: torch.device,
) -> tuple[float, float]:
    """Return ``(mean cross-entropy in nats, accuracy as a fraction)`` on ``x``, ``y``.

    ``x`` are raw uint8 images ``N x C x H x W``; with ``cfg.tta`` / ``cfg.tta_translate``
    the logits are averaged over views (:func:`~distributed_bo.trainables.tta.tta_logits`).
    Label smoothing is not applied.
    """
    model.eval()
    loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    channels_last = cfg.channels_last and device.type == "cuda"
    for start in range(0, len(y), EVAL_BATCH):
        xb = split.normalise(x[start : start + EVAL_BATCH])
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _autocast(device, cfg.amp):
            logits = tta_logits(forward, xb, mirror=cfg.tta, translate=cfg.tta_translate)
        yb = y[start : start + EVAL_BATCH]
        loss += F.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(dim=1) == yb).sum()
    return loss.item() / len(y), correct.item() / len(y)


@dataclass
class _Epochs(DeviceEpochs):
    """``vision_cnn``'s training and evaluation passes."""

    cfg: VisionConfig

    @property
    def channels_last(self) -> bool:
        """Whether batches use the channels-last memory format (CUDA only)."""
        return self.cfg.channels_last and self.device.type == "cuda"

    @property
    def epoch_index(self) -> int:
        """Epochs finished before this one (0-based), from the scheduler's step count.

        The scheduler is checkpointed, so a resumed trial continues the count.
        """
        assert self.run.scheduler is not None  # fit always builds one
        return self.run.scheduler.last_epoch // self.steps

    def train(self) -> tuple[float, int]:
        """Run one epoch; return (mean training cross-entropy, images trained)."""
        cfg, split, run, device = self.cfg, self.split, self.run, self.device
        n, batch_size, steps = len(split.y_train), self.batch_size, self.steps
        augmenting = cfg.crop_padding > 0 or cfg.flip
        epoch = self.epoch_index
        run.module.train()
        if isinstance(run.module, FastNet):
            run.module.train_whitening_bias(epoch < cfg.whiten_bias_epochs)
        order_cpu = torch.randperm(n, generator=run.shuffle)
        order = order_cpu.to(device)
        if augmenting:
            draws = aug.draw(n, pad=cfg.crop_padding, flip=cfg.flip, generator=run.shuffle)
            if cfg.flip and cfg.alternate_flips:
                flips = aug.alternating_flips(n, epoch=epoch, seed=cfg.seed)[order_cpu]
                draws = aug.AugmentDraws(shifts=draws.shifts, flips=flips)
            draws = draws.to(device)
        total = torch.zeros((), device=device)
        for step in range(steps):
            batch = slice(step * batch_size, (step + 1) * batch_size)
            idx = order[batch]
            xb = split.normalise(split.x_train[idx])
            if augmenting:
                xb = aug.augment(xb, draws[batch], pad=cfg.crop_padding, mode=cfg.pad_mode)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with _autocast(device, cfg.amp):
                logits = self.forward(xb)
            loss = F.cross_entropy(
                logits.float(), split.y_train[idx], label_smoothing=cfg.label_smoothing
            )
            run.step(loss)
            total += loss.detach()
        return total.item() / steps, steps * batch_size

    @property
    def example(self) -> torch.Tensor:
        """The latency batch: the first validation images, normalised as evaluation does."""
        return self._layout(self.split.normalise(latency_batch(self.split.x_val)))

    def _layout(self, xb: torch.Tensor) -> torch.Tensor:
        """``xb`` in the memory format training uses (channels-last on CUDA)."""
        return xb.contiguous(memory_format=torch.channels_last) if self.channels_last else xb

    def warm_up(self) -> float:
        """Compile the model's training and evaluation passes; return the seconds taken."""
        split = self.split
        return warm_up(
            self.run.module,
            self.forward,
            train_batch=self._layout(split.normalise(split.x_train[: self.batch_size])),
            eval_batch=self._layout(split.normalise(split.x_val[:EVAL_BATCH])),
            autocast=partial(_autocast, self.device, self.cfg.amp),
        )

    def infer(self, xb: torch.Tensor) -> torch.Tensor:
        """One forward pass as evaluation runs it (autocast, no test-time augmentation)."""
        with _autocast(self.device, self.cfg.amp):
            return self.forward(xb)

    def evaluate(self, final: bool) -> Metrics:
        """Validation loss and accuracy; after the last epoch also the test set's, if asked."""
        split = self.split

        def on(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
            return evaluate_split(
                self.forward, self.run.module, split, x, y, cfg=self.cfg, device=self.device
            )

        val_loss, val_accuracy = on(split.x_val, split.y_val)
        metrics: Metrics = {"val_loss": val_loss, "val_accuracy": val_accuracy}
        x_test, y_test = split.x_test, split.y_test
        if final and self.cfg.evaluate_test and x_test is not None and y_test is not None:
            test_loss, test_accuracy = on(x_test, y_test)
            metrics.update(test_loss=test_loss, test_accuracy=test_accuracy)
        return metrics


def fit(
    cfg: VisionConfig,
    *,
    data: VisionArrays | None = None,
    start_state: TrainingState | None = None,
    report: ReportFn | None = None,
    device: torch.device | None = None,
) -> FitResult:
    """Train ``cfg.model`` on ``cfg.dataset`` for ``cfg.epochs`` epochs.

    Seeds Python, NumPy and torch from ``cfg.seed``, builds the model, optimizer and
    LR schedule, restores ``start_state`` if given and continues after its epoch.

    Args:
        cfg: Hyperparameters.
        data: The dataset; ``None`` loads ``cfg.dataset`` here.
        start_state: A state from an earlier run with the same config.
        report: Called after each epoch with the metrics of
            :func:`~distributed_bo.trainables.loop.run_epochs` (here ``val_loss``,
            ``val_accuracy``, ``best_val_accuracy``; ``inference_ms`` on the first
            ``LATENCY_BATCH`` (64) validation images, without ``tta``; after the last
            epoch with ``evaluate_test`` also ``test_loss`` and ``test_accuracy``)
            and, on checkpoint epochs, the state.
        device: Where to train; default: :func:`~distributed_bo.trainables.placement.place`.

    Returns:
        The trained model, the per-epoch metrics and the best validation accuracy.

    Raises:
        SpecError: If the model does not fit the dataset or the data does not fit
            the config.
        DataError: If data or ``start_state`` cannot be used.

    """
    device = device or place(cfg.device).device
    arrays, split = trial_split(cfg, data, device)
    loop.seed_all(cfg.seed)
    spec = ModelSpec(
        cfg.model, arrays.info.shape, split.num_classes, cfg.widths, cfg.dropout, cfg.dirac
    )
    fresh = build_model(spec).to(device)
    if isinstance(fresh, FastNet) and cfg.whiten:
        fresh.init_whitening(split.normalise(split.x_train[:WHITENING_IMAGES]))
    channels_last = cfg.channels_last and device.type == "cuda"
    module, forward, compiled_now = prepare_model(
        fresh, key=spec, device=device, channels_last=channels_last, compile=cfg.compile
    )
    if isinstance(module, FastNet):  # a cached module keeps the last trial's flags
        module.whiten.weight.requires_grad_(not cfg.whiten)
        module.train_whitening_bias(True)  # in the optimizer; frozen per epoch later
    batch_size = min(cfg.batch_size, len(split.y_train))
    steps = len(split.y_train) // batch_size
    run = loop.start_training(cfg, module, partial(make_scheduler, cfg, steps_per_epoch=steps))
    if cfg.lookahead:
        run.lookahead = Lookahead(module, total_steps=cfg.epochs * steps)
    epochs = _Epochs(cfg, split, run, forward, device, batch_size)
    constants: Metrics = {}
    if cfg.compile:  # compile before the first epoch, so epoch times exclude it
        seconds = epochs.warm_up() if compiled_now else 0.0
        constants["compile_seconds"] = seconds
    task = loop.Task(
        train=epochs.train,
        evaluate=epochs.evaluate,
        objective="val_accuracy",
        mode="max",
        example=epochs.example,
        infer=epochs.infer,
        constants=constants,
    )
    return loop.run_epochs(cfg, run, task, device=device, start_state=start_state, report=report)


def train_vision_cnn(config: dict[str, Any], data: VisionArrays | None = None) -> None:
    """Ray Tune function trainable for :func:`fit` (built-in name ``vision_cnn``).

    Reads :class:`~distributed_bo.trainables.configs.VisionConfig` keys from
    ``config`` (others are ignored) and reports every epoch, with ``node``,
    ``device`` and ``gpu_ids`` (see :func:`~distributed_bo.trainables.loop.run_in_tune`).

    Args:
        config: The trial's config.
        data: The study's dataset, passed by the runner from :attr:`study_setup`.

    Raises:
        SpecError: If a config value is invalid.
        DataError: If the data or the checkpoint to resume from cannot be used.

    """
    loop.run_in_tune(fit, VisionConfig.from_config(config), data=data, prefix="vision_cnn_")


train_vision_cnn.study_setup = make_study_setup(VisionConfig)  # type: ignore[attr-defined]
#: Checks the spec's fixed ``trainable.config`` when the spec is validated.
train_vision_cnn.check_config = VisionConfig.from_config  # type: ignore[attr-defined]
