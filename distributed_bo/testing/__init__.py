"""Helpers for tests and benchmarks: real parts, made fast or observable.

* :func:`~distributed_bo.testing.optimizer.fast_optimizer`: caps BoTorch's
  acquisition optimiser and fails when it was never called.
"""

from distributed_bo.testing.optimizer import FAST_OPTIMIZER, fast_optimizer

__all__ = ["FAST_OPTIMIZER", "fast_optimizer"]
from distributed_bo.testing.counting import counter as counter  # the counting trainable
