"""Figure plumbing shared by the report's plots: an Agg figure in, PNG bytes out.

No ``pyplot``: each figure is built with Matplotlib's object API, so nothing touches
Matplotlib's global state or needs a display.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BEST_COLOR = "#c44e52"
POINT_COLOR = "#4c72b0"


def figure(width: float, height: float) -> Figure:
    """A constrained-layout figure of ``width`` × ``height`` inches at 100 dpi."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def empty(ax: Axes, text: str) -> None:
    """Write ``text`` in the middle of an axes that has nothing to draw."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777")


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: float) -> str:
    """Three significant digits."""
    return f"{value:.3g}"
