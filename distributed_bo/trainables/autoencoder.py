"""``autoencoder``: tune an autoencoder's learning rate and code size on digits or MNIST.

The third reference study: minimise the reconstruction error ``val_mse`` (mean
squared error per pixel, pixels scaled to ``[0, 1]``) over ``lr`` and
``latent_dim``. Same data path, schedules and exact checkpoints as ``vision_cnn``.

Measured on this project's 2-core CPU machine, one torch thread, digits, default
config (20 epochs, batch 64, hidden 128): 0.04-0.06 s per epoch (about 1 s per
trial) after a ~5 s first-use import cost in a fresh process;
``jobs/digits_autoencoder.yaml`` gives the whole study's cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch.nn import functional as F

from distributed_bo.data.arrays import VisionArrays
from distributed_bo.models.autoencoder import Autoencoder
from distributed_bo.trainables import loop
from distributed_bo.trainables.checkpointing import TrainingState
from distributed_bo.trainables.compiled import prepare_model
from distributed_bo.trainables.configs import AutoencoderConfig
from distributed_bo.trainables.costs import latency_batch
from distributed_bo.trainables.loop import FitResult, Metrics, ReportFn
from distributed_bo.trainables.optim import make_scheduler
from distributed_bo.trainables.placement import place
from distributed_bo.trainables.study_data import DeviceEpochs, make_study_setup, trial_split

EVAL_BATCH = 4096


@dataclass
class _Epochs(DeviceEpochs):
    """``autoencoder``'s training and evaluation passes, on flattened ``[0, 1]`` pixels."""

    cfg: AutoencoderConfig

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        return self.split.to_unit(x).flatten(1)

    def _autocast(self) -> torch.autocast:
        amp = self.cfg.amp and self.device.type == "cuda"
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp)

    def train(self) -> tuple[float, int]:
        """Run one epoch; return (mean training MSE per pixel, images trained)."""
        split, run, batch_size, steps = self.split, self.run, self.batch_size, self.steps
        run.module.train()
        order = torch.randperm(len(split.y_train), generator=run.shuffle).to(self.device)
        total = torch.zeros((), device=self.device)
        for step in range(steps):
            xb = self._flat(split.x_train[order[step * batch_size : (step + 1) * batch_size]])
            with self._autocast():
                out = self.forward(xb)
            loss = F.mse_loss(out.float(), xb)
            run.step(loss)
            total += loss.detach()
        return total.item() / steps, steps * batch_size

    @torch.no_grad()
    def mse(self, x: torch.Tensor) -> float:
        """Mean squared reconstruction error per pixel of raw images ``x``."""
        self.run.module.eval()
        total = torch.zeros((), device=self.device)
        for start in range(0, len(x), EVAL_BATCH):
            xb = self._flat(x[start : start + EVAL_BATCH])
            with self._autocast():
                out = self.forward(xb)
            total += F.mse_loss(out.float(), xb, reduction="sum")
        return total.item() / (len(x) * x[0].numel())

    @property
    def example(self) -> torch.Tensor:
        """The latency batch: the first validation images, flattened ``LATENCY_BATCH x D``."""
        return self._flat(latency_batch(self.split.x_val))

    def infer(self, xb: torch.Tensor) -> torch.Tensor:
        """One forward pass over flattened images ``batch x D``, as evaluation runs it."""
        with self._autocast():
            return self.forward(xb)

    def evaluate(self, final: bool) -> Metrics:
        """``val_mse``; after the last epoch also ``test_mse`` when ``evaluate_test``."""
        metrics: Metrics = {"val_mse": self.mse(self.split.x_val)}
        if final and self.cfg.evaluate_test and self.split.x_test is not None:
            metrics["test_mse"] = self.mse(self.split.x_test)
        return metrics


def fit(
    cfg: AutoencoderConfig,
    *,
    data: VisionArrays | None = None,
    start_state: TrainingState | None = None,
    report: ReportFn | None = None,
    device: torch.device | None = None,
) -> FitResult:
    """Train the autoencoder for ``cfg.epochs`` epochs, resuming from ``start_state``.

    Args:
        cfg: Hyperparameters.
        data: The dataset; ``None`` loads ``cfg.dataset`` here.
        start_state: A state from an earlier run with the same config.
        report: Called after each epoch with the metrics of
            :func:`~distributed_bo.trainables.loop.run_epochs` (``train_loss`` is the
            training MSE; here ``val_mse``, ``best_val_mse`` and, after the last
            epoch with ``evaluate_test``, ``test_mse``; ``num_params`` counts encoder
            and decoder) and, on checkpoint epochs, the state.
        device: Where to train; default: :func:`~distributed_bo.trainables.placement.place`.

    Returns:
        The trained model, per-epoch metrics and the best ``val_mse``.

    """
    device = device or place(cfg.device).device
    arrays, split = trial_split(cfg, data, device)
    loop.seed_all(cfg.seed)
    c, h, w = arrays.info.shape
    fresh = Autoencoder(in_features=c * h * w, latent_dim=cfg.latent_dim, hidden=cfg.hidden)
    module, forward, _ = prepare_model(
        fresh,
        key=("autoencoder", c * h * w, cfg.latent_dim, cfg.hidden),
        device=device,
        channels_last=False,
        compile=cfg.compile,
    )
    batch_size = min(cfg.batch_size, len(split.y_train))
    steps = len(split.y_train) // batch_size
    run = loop.start_training(cfg, module, partial(make_scheduler, cfg, steps_per_epoch=steps))
    epochs = _Epochs(cfg, split, run, forward, device, batch_size)
    task = loop.Task(
        train=epochs.train,
        evaluate=epochs.evaluate,
        objective="val_mse",
        mode="min",
        example=epochs.example,
        infer=epochs.infer,
    )
    return loop.run_epochs(cfg, run, task, device=device, start_state=start_state, report=report)


def train_autoencoder(config: dict[str, Any], data: VisionArrays | None = None) -> None:
    """Ray Tune function trainable for :func:`fit` (built-in name ``autoencoder``).

    Reads :class:`~distributed_bo.trainables.configs.AutoencoderConfig` keys from
    ``config`` and reports every epoch with ``node``, ``device`` and ``gpu_ids``.

    Raises:
        SpecError: If a config value is invalid.
        DataError: If the data or the checkpoint to resume from cannot be used.

    """
    loop.run_in_tune(fit, AutoencoderConfig.from_config(config), data=data, prefix="autoencoder_")


train_autoencoder.study_setup = make_study_setup(AutoencoderConfig)  # type: ignore[attr-defined]
#: Checks the spec's fixed ``trainable.config`` when the spec is validated.
train_autoencoder.check_config = AutoencoderConfig.from_config  # type: ignore[attr-defined]
