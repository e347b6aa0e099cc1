"""``torch.compile`` once per process and architecture, not once per trial.

With Tune's actor reuse one process runs many trials. :func:`prepare_model` keeps
the first model of each architecture and its compiled wrapper; a later trial with
the same architecture copies its freshly initialised weights (and buffers) into
that model, so the compiled code is reused instead of compiled again. A new batch
size may still make torch recompile for the new shape.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch
from torch import nn

Forward = Callable[[torch.Tensor], torch.Tensor]

_COMPILED: dict[Hashable, tuple[nn.Module, Forward]] = {}


def prepare_model(
    fresh: nn.Module,
    *,
    key: Hashable,
    device: torch.device,
    channels_last: bool,
    compile: bool,
) -> tuple[nn.Module, Forward]:
    """Move ``fresh`` to ``device`` and return it with the callable to train it through.

    Args:
        fresh: A freshly built, initialised model.
        key: Identity of its architecture (equal keys must mean equal structure).
        device: Where to train.
        channels_last: Use the channels-last memory format.
        compile: Return a ``torch.compile`` wrapper, cached per ``(key, device,
            channels_last)`` for the life of the process.

    Returns:
        ``(module, forward)``: the module holding the weights (its ``state_dict`` is
        what checkpoints save) and the callable for forward passes. Without
        ``compile`` both are ``fresh``.

    """
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    fresh = fresh.to(device).to(memory_format=memory_format)
    if not compile:
        return fresh, fresh
    cache_key = (key, str(device), channels_last)
    cached = _COMPILED.get(cache_key)
    if cached is None:
        compiled = torch.compile(fresh)
        _COMPILED[cache_key] = (fresh, compiled)
        return fresh, compiled
    module, compiled = cached
    module.load_state_dict(fresh.state_dict())
    return module, compiled


def clear_compiled() -> None:
    """Forget every cached compiled model of this process."""
    _COMPILED.clear()
