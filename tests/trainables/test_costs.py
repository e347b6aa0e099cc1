"""``num_params``'s count, ``latency_batch`` and ``inference_ms`` on tiny real modules."""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch import nn

from distributed_bo.models.factory import count_parameters
from distributed_bo.trainables import costs
from distributed_bo.trainables.costs import LATENCY_BATCH, inference_ms, latency_batch

CPU = torch.device("cpu")


class Recorder(nn.Module):
    """A linear layer that records, per forward pass, its mode and whether grad was on."""

    def __init__(self, sleep_s: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.sleep_s = sleep_s
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled()))
        time.sleep(self.sleep_s)
        return self.linear(x)


def test_count_parameters_counts_trainable_scalars_only() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    # What the loop reports as num_params: trainable parameters only.
    assert count_parameters(model, trainable_only=True) == (4 * 3 + 3) + (3 + 3) + (3 * 2 + 2)
    assert count_parameters(model, trainable_only=True) == 29
    model[0].weight.requires_grad_(False)  # frozen, as FastNet's whitening filters
    assert count_parameters(model, trainable_only=True) == 29 - 12


def test_latency_batch_has_fixed_size_and_cycles_short_inputs() -> None:
    x = torch.arange(10).view(5, 2)
    batch = latency_batch(x)
    assert batch.shape == (LATENCY_BATCH, 2)
    assert torch.equal(batch[:5], x) and torch.equal(batch[5:10], x)
    long = torch.arange(2 * LATENCY_BATCH)
    assert torch.equal(latency_batch(long), long[:LATENCY_BATCH])


def test_inference_ms_runs_in_eval_mode_without_grad_and_restores_the_mode() -> None:
    model = Recorder()
    model.train()
    ms = inference_ms(model, torch.randn(LATENCY_BATCH, 4), CPU)
    assert math.isfinite(ms) and 0 < ms < 1e3
    assert len(model.calls) == costs.WARMUP_PASSES + costs.TIMED_PASSES
    assert set(model.calls) == {(False, False)}  # eval mode, no autograd graph
    assert model.training
    model.eval()
    inference_ms(model, torch.randn(LATENCY_BATCH, 4), CPU)
    assert not model.training


def test_inference_ms_times_the_given_forward() -> None:
    model = nn.Linear(4, 3)
    through: list[torch.Size] = []

    def forward(x: torch.Tensor) -> torch.Tensor:
        through.append(x.shape)
        return model(x)

    inference_ms(model, torch.randn(LATENCY_BATCH, 4), CPU, forward=forward)
    assert through == [torch.Size([LATENCY_BATCH, 4])] * (costs.WARMUP_PASSES + costs.TIMED_PASSES)


def test_a_slow_model_stops_after_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(costs, "BUDGET_S", 0.01)
    model = Recorder(sleep_s=0.02)
    ms = inference_ms(model, torch.randn(LATENCY_BATCH, 4), CPU)
    assert len(model.calls) == 2 * costs.MIN_PASSES  # warm-up and timing each cut short
    assert 20 <= ms < 1e3
