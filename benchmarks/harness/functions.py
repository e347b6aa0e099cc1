"""Test functions in numpy, importable where torch is not (Ray workers, subprocesses)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Hartmann6's constants (Surjanovic & Bingham's Virtual Library of Simulation
# Experiments), as in botorch.test_functions.
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: Sequence[float], fidelity: float = 1.0) -> float:
    """Hartmann6 on [0, 1]^6 (minimum -3.32237), or BoTorch's ``AugmentedHartmann``.

    Args:
        x: A point, 6 floats in [0, 1].
        fidelity: In [0, 1]; ``alpha_1`` is lowered by ``0.1 (1 - fidelity)``, as in
            ``AugmentedHartmann``. At 1 (the default) this is Hartmann6.
    """
    alpha = _ALPHA.copy()
    alpha[0] -= 0.1 * (1.0 - fidelity)
    inner = np.sum(_A * (np.asarray(x, dtype=float) - _P) ** 2, axis=1)
    return float(-np.sum(alpha * np.exp(-inner)))
