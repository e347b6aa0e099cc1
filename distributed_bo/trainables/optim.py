"""Optimizers and per-step learning-rate schedules built from a trainable's config.

``sgd_decoupled`` and the ``triangle`` schedule are airbench94's (Jordan 2024,
arXiv:2404.00498): Nesterov SGD whose ``lr`` and ``weight_decay`` are stated per
1,024 summed examples, so that neither changes meaning with the batch size or the
momentum, and a schedule that rises from 0.2 to 1 over the first 23% of the steps
and falls to 0.07. ``bias_lr_scale`` multiplies the learning rate (not the decay)
of every BatchNorm bias, airbench's ``bias_scaler`` of 64.
"""

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
#: ``triangle``: the factor at the first step, at the peak, and after the last step;
#: with ``warmup_epochs: 0`` the peak is at this fraction of the steps (airbench94's).
TRIANGLE_START, TRIANGLE_END, TRIANGLE_PEAK = 0.2, 0.07, 0.23
#: ``sgd_decoupled`` states ``lr`` and ``weight_decay`` per this many summed examples.
DECOUPLED_EXAMPLES = 1024


def bias_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable biases of ``model``'s BatchNorm layers (``bias_lr_scale`` applies)."""
    return [
        m.bias
        for m in model.modules()
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))
        and m.bias is not None
        and m.bias.requires_grad
    ]


def decoupled_step(cfg: LoopConfig) -> tuple[float, float]:
    """``sgd_decoupled``'s per-step ``(lr, decay)`` for a mean-reduced loss.

    airbench94 sums the loss over the batch and divides its ``lr`` and
    ``weight_decay`` (both per 1,024 examples) by ``1024 (1 + 1 / (1 - momentum))``
    (the step size momentum amplifies to). The weights then shrink by
    ``weight_decay * batch_size / that`` per step, whatever the learning rate. With
    the mean loss used here the gradient is ``1 / batch_size`` of the summed one, so
    the step's learning rate is ``batch_size`` times airbench's.

    Returns:
        The learning rate of a mean-loss step (times the schedule's factor), and the
        fraction the weights decay per step (times the same factor).

    """
    scale = DECOUPLED_EXAMPLES * (1 + 1 / (1 - cfg.momentum))
    return cfg.lr * cfg.batch_size / scale, cfg.weight_decay * cfg.batch_size / scale


def make_optimizer(cfg: LoopConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Build ``cfg.optimizer`` over the parameters of ``model`` that require gradients.

    With ``bias_lr_scale != 1`` the BatchNorm biases (:func:`bias_parameters`) form a
    second parameter group at that multiple of the learning rate; otherwise there is
    one group, in the model's parameter order. With ``sgd_decoupled`` every group
    decays by the same fraction per step (:func:`decoupled_step`): torch's
    ``weight_decay`` is that fraction divided by the group's learning rate.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    biases = bias_parameters(model) if cfg.bias_lr_scale != 1 else []
    ids = {id(p) for p in biases}
    split = [([p for p in params if id(p) not in ids], 1.0)]
    if biases:
        split.append((biases, cfg.bias_lr_scale))
    lr, step_decay = decoupled_step(cfg) if cfg.optimizer == "sgd_decoupled" else (cfg.lr, 0.0)
    groups = []
    for members, scale in split:
        decay = step_decay / (lr * scale) if cfg.optimizer == "sgd_decoupled" else cfg.weight_decay
        groups.append({"params": members, "lr": lr * scale, "weight_decay": decay})
    if cfg.optimizer in ("sgd", "sgd_decoupled"):
        nesterov = cfg.nesterov and cfg.momentum > 0
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=nesterov)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=lr)


def lr_factor(step: int, *, total: int, warmup: int, kind: str) -> float:
    """Multiplier of the peak learning rate before optimizer step ``step`` (0-based).

    Args:
        step: Optimizer steps taken so far.
        total: Steps in the whole run, >= 1.
        warmup: Steps of linear warmup, ``(step + 1) / warmup`` for ``step < warmup``.
        kind: ``constant``, ``cosine``, ``linear``, ``onecycle`` or ``triangle`` (see
            :class:`~distributed_bo.trainables.configs.TrainConfig`).

    Returns:
        A factor in ``[0, 1]``.

    """
    if kind == "triangle":  # airbench94: 0.2 at step 0, 1 at the peak, 0.07 at `total`
        peak = warmup if warmup > 0 else int(TRIANGLE_PEAK * total)
        if step < peak:
            return TRIANGLE_START + (1 - TRIANGLE_START) * step / peak
        t = min(1.0, (step - peak) / max(1, total - peak))
        return 1.0 + (TRIANGLE_END - 1.0) * t
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
