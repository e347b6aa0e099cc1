"""Lookahead with an EMA of the weights, as hlb-cifar10 and airbench94 train.

Every :attr:`Lookahead.every` optimizer steps the slow copy moves towards the
weights, ``slow <- decay * slow + (1 - decay) * fast``, and the weights are reset to
it. ``decay`` grows over training as ``base * (step / total) ** power``: near 0 at
first (the weights lead), ``0.95 ** 5`` at the end. After the last step the weights
take the slow copy (decay 1). Lookahead: Zhang et al., "Lookahead Optimizer: k steps
forward, 1 step back", NeurIPS 2019; this schedule is airbench94's (Jordan 2024,
arXiv:2404.00498). Floating-point buffers (BatchNorm statistics) are averaged too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

#: airbench94's schedule: update every 5 steps, decay ``0.95**5 * (step/total)**3``.
EVERY, BASE, POWER = 5, 0.95**5, 3.0


@dataclass
class Lookahead:
    """The slow weights of one model and the step they were last moved at.

    Attributes:
        module: The model whose floating-point ``state_dict`` entries are averaged.
        total_steps: Optimizer steps in the whole run, >= 1.
        every: Steps between updates, >= 1.
        base: Decay at the last step.
        power: Exponent of the decay's growth with training progress.
        step: Optimizer steps taken so far (checkpointed with :meth:`state_dict`).
        slow: The slow copy, one tensor per floating-point ``state_dict`` entry.

    """

    module: nn.Module
    total_steps: int
    every: int = EVERY
    base: float = BASE
    power: float = POWER
    step: int = 0
    slow: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.slow:
            self.slow = {
                k: v.detach().clone()
                for k, v in self.module.state_dict().items()
                if v.is_floating_point()
            }

    def decay(self, step: int) -> float:
        """The decay of the update after optimizer step ``step`` (1-based)."""
        return self.base * (step / self.total_steps) ** self.power

    @torch.no_grad()
    def after_step(self) -> None:
        """Count one optimizer step; update every :attr:`every` and after the last."""
        self.step += 1
        if self.step % self.every == 0:
            self._update(self.decay(self.step))
        if self.step == self.total_steps:
            self._update(1.0)

    def _update(self, decay: float) -> None:
        fast = self.module.state_dict()
        for key, slow in self.slow.items():
            slow.lerp_(fast[key], 1.0 - decay)
            fast[key].copy_(slow)

    def state_dict(self) -> dict[str, object]:
        """The step and the slow weights, for a checkpoint (tensors and an int)."""
        return {"step": self.step, "slow": {k: v.clone() for k, v in self.slow.items()}}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore :meth:`state_dict`'s output (slow weights copied onto this device).

        Raises:
            KeyError: If an entry is missing.
            TypeError: If an entry has the wrong type.
            RuntimeError: If a tensor's shape does not fit.

        """
        slow, step = state["slow"], state["step"]
        if not isinstance(slow, dict) or not isinstance(step, int):
            raise TypeError("lookahead state: expected {'step': int, 'slow': dict}")
        for key, value in self.slow.items():
            value.copy_(slow[key])
        self.step = step
