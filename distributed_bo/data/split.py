"""The train/validation partition every dataset uses, drawn from one seed."""

from __future__ import annotations

import numpy as np

from distributed_bo.exceptions import SpecError


def split_indices(n: int, *, seed: int, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw a random train/validation partition of ``range(n)``.

    Args:
        n: Number of examples.
        seed: Seed of the NumPy generator that permutes the indices.
        val_fraction: Fraction of examples held out, in ``(0, 1)``; rounded to
            the nearest count.

    Returns:
        ``(train_idx, val_idx)``, disjoint sorted int64 arrays covering ``range(n)``.

    Raises:
        SpecError: If either part would be empty.

    """
    n_val = round(n * val_fraction)
    if not 0 < n_val < n:
        raise SpecError(
            f"val_fraction: got {val_fraction!r}, which leaves {n_val} of {n} images for "
            "validation; pass a fraction in (0, 1) that keeps both parts non-empty"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
