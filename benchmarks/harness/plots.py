"""Plot helpers: a headless pyplot, median-and-IQR bands, and saving a figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def median_band(ax: Any, y: np.ndarray, *, label: str, **style: Any) -> None:
    """Median line and 25-75 % band over the rows of ``y`` (runs x steps), at x = 1..steps."""
    x = np.arange(1, y.shape[1] + 1)
    med, lo, hi = (np.percentile(y, p, axis=0) for p in (50, 25, 75))
    ax.plot(x, med, label=label, **style)
    ax.fill_between(x, lo, hi, color=style.get("color"), alpha=0.12)


def save(fig: Any, path: Path, **kwargs: Any) -> Path:
    """Lay out, write ``path`` and close ``fig``; return ``path``."""
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(path, **kwargs)
    plt.close(fig)
    return path
