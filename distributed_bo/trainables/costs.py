"""A model's costs, reported by the built-in trainables for multi-objective studies.

:func:`inference_ms` gives the latency (``inference_ms``) of a forward pass over a
fixed batch of :data:`LATENCY_BATCH` inputs (:func:`latency_batch`) on the trial's
device; the size (``num_params``) is
:func:`~distributed_bo.models.factory.count_parameters` of the trainable
parameters. The shared loop (:func:`~distributed_bo.trainables.loop.run_epochs`)
measures both once per run, after the first epoch's training.

Measured on this project's 2-core CPU machine, one torch thread (the other core
busy): ``digits_cnn`` at its default config has 3,130 parameters and takes
0.52-0.65 ms per batch of 64; the whole measurement (25 passes) takes about 20 ms.
``vision_cnn``'s default ``convnet`` on CIFAR-shaped images (242,474 parameters)
takes about 42 ms per batch, and the measurement stops early at about 1 s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

#: Inputs per timed forward pass: a typical serving batch, small enough for the CPU.
LATENCY_BATCH = 64
#: Untimed passes first (allocator, cuDNN algorithm choice, ``torch.compile``).
WARMUP_PASSES = 5
#: Timed passes whose median is reported.
TIMED_PASSES = 20
#: Fewest warm-up and timed passes however slow the model is.
MIN_PASSES = 2
#: Seconds after which warm-up, and then timing, stop early (once ``MIN_PASSES`` ran).
BUDGET_S = 1.0


def latency_batch(x: torch.Tensor) -> torch.Tensor:
    """The first :data:`LATENCY_BATCH` rows of ``x`` (``N x ...``), cycled if ``N`` is smaller."""
    return x[torch.arange(LATENCY_BATCH, device=x.device) % len(x)]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def inference_ms(
    model: nn.Module,
    example_batch: torch.Tensor,
    device: torch.device,
    *,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> float:
    """Median wall time of one forward pass over ``example_batch``, in milliseconds.

    Runs ``model`` in eval mode under ``torch.no_grad`` (as evaluation does, so a
    compiled model reuses its evaluation graph): up to :data:`WARMUP_PASSES` untimed
    passes, then up to :data:`TIMED_PASSES` timed ones, each phase stopping early
    after :data:`BUDGET_S` seconds once :data:`MIN_PASSES` ran. On CUDA every timed
    pass ends with ``torch.cuda.synchronize``. The model's train/eval mode is
    restored afterwards; no RNG is drawn, so training continues bit-identically.

    Args:
        model: The module holding the weights (sets the mode).
        example_batch: Model inputs ``LATENCY_BATCH x ...``, as the forward pass takes them.
        device: Where to run; ``example_batch`` is moved there.
        forward: The callable to time (a compiled wrapper, or one adding autocast);
            default ``model``.

    Returns:
        The median over the timed passes, > 0.

    """
    run = forward if forward is not None else model
    batch = example_batch.to(device)
    was_training = model.training
    model.eval()
    times: list[float] = []
    try:
        with torch.no_grad():
            start = time.perf_counter()
            for i in range(WARMUP_PASSES):
                if i >= MIN_PASSES and time.perf_counter() - start > BUDGET_S:
                    break
                run(batch)
            _sync(device)
            start = time.perf_counter()
            for i in range(TIMED_PASSES):
                if i >= MIN_PASSES and time.perf_counter() - start > BUDGET_S:
                    break
                t0 = time.perf_counter()
                run(batch)
                _sync(device)
                times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return 1e3 * statistics.median(times)
