"""``torch.compile`` once per process and architecture, not once per trial.

With Tune's actor reuse one process runs many trials. :func:`prepare_model` keeps
the most recent model of each device and its compiled wrapper; a later trial with
the same architecture copies its freshly initialised weights (and buffers) into
that model, so the compiled code is reused instead of compiled again. A trial with
another architecture replaces the cached model and resets torch's compiler caches
(``torch.compiler.reset``), so an actor that runs many architectures holds one
compiled graph, not one per architecture. A new batch size may still make torch
recompile for the new shape. :func:`warm_up` compiles before training starts, so
compile time is reported apart from epoch time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Hashable
from typing import NamedTuple

import torch
from torch import nn

Forward = Callable[[torch.Tensor], torch.Tensor]

#: str(device) -> (key, channels_last, module, compiled wrapper)
_COMPILED: dict[str, tuple[Hashable, bool, nn.Module, Forward]] = {}


class Prepared(NamedTuple):
    """What :func:`prepare_model` returns.

    Attributes:
        module: The module holding the weights (its ``state_dict`` is what
            checkpoints save).
        forward: The callable for forward passes (the compiled wrapper, or ``module``).
        compiled_now: True when this call created the compiled wrapper (its first
            forward passes will compile).

    """

    module: nn.Module
    forward: Forward
    compiled_now: bool


def prepare_model(
    fresh: nn.Module,
    *,
    key: Hashable,
    device: torch.device,
    channels_last: bool,
    compile: bool,
) -> Prepared:
    """Move ``fresh`` to ``device`` and return it with the callable to train it through.

    Args:
        fresh: A freshly built, initialised model.
        key: Identity of its architecture (equal keys must mean equal structure).
        device: Where to train.
        channels_last: Use the channels-last memory format.
        compile: Return a ``torch.compile`` wrapper, cached for ``device`` until a
            model of another ``key`` (or memory format) is prepared there.

    Returns:
        The module, the forward callable, and whether it was compiled now. Without
        ``compile`` both are ``fresh``.

    """
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    fresh = fresh.to(device).to(memory_format=memory_format)
    if not compile:
        return Prepared(fresh, fresh, False)
    cached = _COMPILED.get(str(device))
    if cached is not None and cached[:2] == (key, channels_last):
        module, compiled = cached[2], cached[3]
        module.load_state_dict(fresh.state_dict())
        return Prepared(module, compiled, False)
    if cached is not None:  # another architecture: drop its graph before compiling anew
        del _COMPILED[str(device)]
        torch.compiler.reset()
    compiled = torch.compile(fresh)
    _COMPILED[str(device)] = (key, channels_last, fresh, compiled)
    return Prepared(fresh, compiled, True)


def warm_up(
    module: nn.Module,
    forward: Forward,
    *,
    train_batch: torch.Tensor,
    eval_batch: torch.Tensor,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> float:
    """Run one training and one evaluation forward pass, leaving no trace; return seconds.

    Compiles a freshly compiled ``forward`` for both modes before training starts.
    The module's parameters, buffers (BatchNorm statistics), gradients and the RNG
    states are as before the call.

    Args:
        module: The module behind ``forward``.
        forward: Its compiled wrapper.
        train_batch: A training batch ``B x ...`` as training feeds it.
        eval_batch: An evaluation batch as evaluation feeds it.
        autocast: Returns the autocast context training uses.

    Returns:
        Wall seconds spent, on CUDA after synchronising.

    """
    device = train_batch.device
    saved = {k: v.detach().clone() for k, v in module.state_dict().items()}
    start = time.perf_counter()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        module.train()
        with autocast():
            forward(train_batch).float().sum().backward()
        module.eval()
        with torch.no_grad(), autocast():
            forward(eval_batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    module.load_state_dict(saved)
    for p in module.parameters():
        p.grad = None
    return seconds


def clear_compiled() -> None:
    """Forget every cached compiled model of this process."""
    _COMPILED.clear()
