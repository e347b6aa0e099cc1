"""Optimizers and per-step learning-rate schedules built from a trainable's config."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from distributed_bo.trainables.configs import LoopConfig, TrainConfig

#: ``onecycle`` with ``warmup_epochs: 0`` rises over this fraction of the steps
#: (the default ``pct_start`` of ``torch.optim.lr_scheduler.OneCycleLR``).
ONECYCLE_RISE = 0.3


def make_optimizer(cfg: LoopConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Build ``cfg.optimizer`` over the parameters of ``model`` that require gradients."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(step: int, *, total: int, warmup: int, kind: str) -> float:
    """Multiplier of the peak learning rate before optimizer step ``step`` (0-based).

    Args:
        step: Optimizer steps taken so far.
        total: Steps in the whole run, >= 1.
        warmup: Steps of linear warmup, ``(step + 1) / warmup`` for ``step < warmup``.
        kind: ``constant``, ``cosine``, ``linear`` or ``onecycle`` (see
            :class:`~distributed_bo.trainables.configs.TrainConfig`).

    Returns:
        A factor in ``[0, 1]``.

    """
    if kind == "onecycle" and warmup == 0:
        warmup = max(1, round(ONECYCLE_RISE * total))
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if kind in ("linear", "onecycle"):
        return 1.0 - t
    return 1.0


def make_scheduler(
    cfg: TrainConfig, optimizer: torch.optim.Optimizer, *, steps_per_epoch: int
) -> LambdaLR:
    """A :class:`LambdaLR` over :func:`lr_factor`, to be stepped after every optimizer step.

    Its ``state_dict`` holds only numbers (the schedule is rebuilt from ``cfg``), so
    checkpoints load with ``weights_only=True``.
    """
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    return LambdaLR(optimizer, partial(lr_factor, total=total, warmup=warmup, kind=cfg.lr_schedule))
