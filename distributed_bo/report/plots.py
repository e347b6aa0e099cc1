"""The report's figures, drawn with Matplotlib's object API and returned as PNG bytes.

No ``pyplot``: each function builds its own ``Figure`` on an Agg canvas, so nothing
touches Matplotlib's global state or needs a display.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from distributed_bo.experiment.rows import objective
from distributed_bo.report.canvas import BEST_COLOR, POINT_COLOR, empty, figure, fmt, is_number, png
from distributed_bo.report.data import (
    Bar,
    Param,
    Study,
    best_row,
    best_so_far,
    time_origin,
)
from distributed_bo.report.effects import Effects
from distributed_bo.types import Row, TrialStatus

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Colour of each status on the timeline; any other status is grey.
STATUS_COLORS: dict[str, str] = {
    TrialStatus.COMPLETED: "#4c72b0",
    TrialStatus.FAILED: "#c44e52",
    TrialStatus.EARLY_STOPPED: "#dd8452",
    TrialStatus.RUNNING: "#55a868",
}
OTHER_COLOR = "#999999"


def best_so_far_png(study: Study) -> bytes:
    """Best-so-far against trial number (left) and against wall-clock (right)."""
    fig = figure(11, 4)
    by_trial, by_time = fig.subplots(1, 2)
    values = [objective(r) for r in study.rows]
    xs = list(range(1, len(study.rows) + 1))
    done = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
    statuses = [r.get("status") for r in study.rows]
    failed = [x for x, s in zip(xs, statuses, strict=True) if s == TrialStatus.FAILED]
    running = best_so_far(values, study.mode)
    if done:
        by_trial.scatter(
            [x for x, _ in done],
            [v for _, v in done],
            s=18,
            color=POINT_COLOR,
            alpha=0.6,
            label="trial",
        )
    steps = [(x, b) for x, b in zip(xs, running, strict=True) if b is not None]
    if steps:
        by_trial.step(
            [x for x, _ in steps],
            [b for _, b in steps],
            where="post",
            color=BEST_COLOR,
            lw=2,
            label="best so far",
        )
    if failed and done:
        low = min(v for _, v in done)
        by_trial.scatter(failed, [low] * len(failed), marker="x", color="#777", label="failed")
    by_trial.set_xlabel("trial (in the order proposed)")
    by_trial.set_ylabel(f"{study.metric} ({study.mode})")
    by_trial.set_title("best so far vs trials")
    _best_by_time(by_time, study)
    baseline = _baseline(study)
    for ax in (by_trial, by_time):
        if baseline is not None:
            ax.axhline(baseline, color="#555", ls="--", lw=1, label="baseline")
        ax.grid(alpha=0.3)
    if done or baseline is not None:
        by_trial.legend(loc="best", fontsize=8)
    if not done:
        empty(by_trial, "no completed trial")
    return png(fig)


def timeline_png(labels: list[str], bars: list[Bar]) -> bytes:
    """Trials as bars per lane (GPU or worker slot) over wall-clock; gaps are idle time."""
    fig = figure(11, max(2.5, 0.45 * len(labels) + 1.5))
    ax = fig.subplots()
    if not bars:
        empty(ax, "no trial has a start time")
        return png(fig)
    scale = 60.0 if max(b.end for b in bars) > 180 else 1.0
    for b in bars:
        color = STATUS_COLORS.get(b.status, OTHER_COLOR)
        width = max((b.end - b.start) / scale, 1e-9)
        ax.barh(b.lane, width, left=b.start / scale, height=0.7, color=color, edgecolor="white")
        ax.text(
            (b.start + b.end) / 2 / scale, b.lane, b.label, ha="center", va="center", fontsize=7,
            color="white", clip_on=True,
        )  # fmt: skip
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("wall-clock since the first trial started " + ("(min)" if scale > 1 else "(s)"))
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    seen = sorted({b.status for b in bars})
    handles = [Patch(color=STATUS_COLORS.get(s, OTHER_COLOR), label=s.lower()) for s in seen]
    fig.legend(handles=handles, loc="outside upper right", fontsize=8, ncols=len(handles))
    ax.set_title("trials per worker lane (gaps are idle time)")
    return png(fig)


#: Most categories of an axis whose inner ones are labelled too.
_MAX_LABELLED = 8
#: Height, below an axis' range, at which a row is drawn where the axis' parameter
#: is absent (a parameter of another branch).
ABSENT_Y = -0.2


def parallel_coordinates_png(study: Study) -> bytes:
    """One line per trial across the parameters' axes (scaled to their range) and the metric.

    A branch point is an axis of its own (the branch a trial took); each parameter
    inside branches is an axis, labelled with how many trials it was active in, and
    a trial of another branch crosses it at the "absent" level below its range.
    """
    fig = figure(max(11, 1.3 * len(study.params) + 2), 4.8)
    ax = fig.subplots()
    params = list(study.params)
    rows = [r for r in study.rows if any(p.value(r) is not None for p in params)]
    if not params or not rows:
        empty(ax, "no trial to draw")
        return png(fig)
    axes = [_axis_scale(p, [p.value(r) for r in rows]) for p in params]
    metric_values = [v for v in (objective(r) for r in rows) if v is not None]
    lo, hi = (min(metric_values), max(metric_values)) if metric_values else (0.0, 1.0)
    from matplotlib import colormaps

    cmap = colormaps["viridis" if study.mode == "max" else "viridis_r"]
    best = best_row(study)
    ordered = sorted(rows, key=lambda r: (objective(r) is not None, r is best))
    for r in ordered:
        ys = [
            scale(v) if (v := p.value(r)) is not None or not p.conditional else ABSENT_Y
            for p, (scale, _) in zip(params, axes, strict=True)
        ]
        value = objective(r)
        xs = list(range(len(params)))
        color: Any
        if value is not None:
            ys.append((value - lo) / (hi - lo) if hi > lo else 0.5)
            xs.append(len(params))
            color, lw, alpha = cmap((value - lo) / (hi - lo) if hi > lo else 0.5), 1.2, 0.8
        else:
            color, lw, alpha = "#bbbbbb", 0.8, 0.6
        if r is best:
            color, lw, alpha = BEST_COLOR, 3.0, 1.0
        ax.plot(xs, ys, color=color, lw=lw, alpha=alpha, ls="-" if value is not None else "--")
    names = [axis_name(p, rows) for p in params] + [study.metric]
    ticks = [t for _, t in axes] + [(fmt(lo), fmt(hi))]
    for i, (low, high) in enumerate(ticks):
        ax.axvline(i, color="#333", lw=0.8)
        ax.text(i, -0.06, low, ha="center", va="top", fontsize=7)
        ax.text(i, 1.06, high, ha="center", va="bottom", fontsize=7)
    for i, p in enumerate(params):
        cats = _categories(p, [v for r in rows if (v := p.value(r)) is not None])
        if cats and 2 < len(cats) <= _MAX_LABELLED:  # the ends are labelled above
            for j, c in enumerate(cats[1:-1], start=1):
                ax.text(i + 0.04, j / (len(cats) - 1), str(c), va="center", fontsize=6)
        if p.conditional:
            ax.plot([i], [ABSENT_Y], marker="_", ms=14, color="#777")
            ax.text(i + 0.05, ABSENT_Y, "absent", ha="left", va="center", fontsize=7, color="#555")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.tick_params(axis="x", pad=14, length=0)
    ax.set_frame_on(False)
    ax.set_yticks([])
    ax.set_ylim(ABSENT_Y - 0.08 if any(p.conditional for p in params) else -0.12, 1.12)
    ax.set_xlim(-0.3, len(names) - 0.7)
    ax.set_title("parallel coordinates (red: best trial; grey dashed: no result)", pad=18)
    return png(fig)


def axis_name(p: Param, rows: list[Row]) -> str:
    """An axis' label: the parameter's name and scale (inside branches: "3/8 active")."""
    name = p.name + (" (log)" if p.log_scale else "")
    if p.conditional:
        active = sum(1 for r in rows if p.value(r) is not None)
        name += f"\n{active}/{len(rows)} active"
    return name


def effects_png(study: Study, effects: Effects) -> bytes:
    """Per parameter: observed metric (points) and Ax's GP slice (line and ±2 SE band)."""
    params = list(study.params)
    cols = min(3, max(1, len(params)))
    nrows = max(1, math.ceil(len(params) / cols))
    fig = figure(3.8 * cols, 3.0 * nrows)
    grid = fig.subplots(nrows, cols, squeeze=False)
    for i, p in enumerate(params):
        ax = grid[i // cols][i % cols]
        _effect(ax, study, p, effects)
    for j in range(len(params), nrows * cols):
        grid[j // cols][j % cols].set_visible(False)
    return png(fig)


def sensitivity_png(effects: Effects) -> bytes:
    """Ax's signed total-order Sobol indices, largest first."""
    items = sorted(effects.sensitivity.items(), key=lambda kv: abs(kv[1]))
    fig = figure(7, max(2.0, 0.4 * len(items) + 1.2))
    ax = fig.subplots()
    colors = [POINT_COLOR if v >= 0 else "#dd8452" for _, v in items]
    ax.barh([k for k, _ in items], [v for _, v in items], color=colors)
    ax.axvline(0, color="#333", lw=0.8)
    ax.set_xlabel("total-order Sobol index, signed by the direction of the effect")
    ax.grid(axis="x", alpha=0.3)
    return png(fig)


# ------------------------------------------------------------------ helpers
def _best_by_time(ax: Axes, study: Study) -> None:
    """The right panel of :func:`best_so_far_png`: best so far against wall-clock."""
    t0 = time_origin(study.rows)
    timed = sorted(
        (r["end_time"] - t0, value)
        for r in study.rows
        if t0 is not None and (value := objective(r)) is not None and is_number(r.get("end_time"))
    )
    if timed:
        minutes = [t / 60 for t, _ in timed]
        running = best_so_far([v for _, v in timed], study.mode)
        best = [b for b in running if b is not None]  # every value is one: nothing dropped
        ax.scatter(minutes, [v for _, v in timed], s=18, color=POINT_COLOR, alpha=0.6)
        ax.step(minutes, best, where="post", color=BEST_COLOR, lw=2)
        ax.set_xlim(left=0)
    else:
        empty(ax, "no completed trial with an end time")
    ax.set_xlabel("wall-clock since the first trial started (min)")
    ax.set_title("best so far vs wall-clock")


def _effect(ax: Axes, study: Study, p: Param, effects: Effects) -> None:
    points = [(p.value(r), objective(r)) for r in study.rows if objective(r) is not None]
    points = [(x, y) for x, y in points if x is not None]
    cats = _categories(p, [x for x, _ in points])
    pos = (lambda x: cats.index(x) if x in cats else -1) if cats else (lambda x: x)
    s = effects.slices.get(p.path)
    if s is not None and s.x:
        xs = [pos(x) for x in s.x]
        lo = [m - 2 * e for m, e in zip(s.mean, s.sem, strict=True)]
        hi = [m + 2 * e for m, e in zip(s.mean, s.sem, strict=True)]
        if cats:
            yerr = [[m - a for m, a in zip(s.mean, lo, strict=True)]]
            yerr.append([b - m for m, b in zip(s.mean, hi, strict=True)])
            ax.errorbar(xs, s.mean, yerr=yerr, fmt="s", color="#55a868", label="Ax model")
        else:
            ax.plot(xs, s.mean, color="#55a868", lw=1.8, label="Ax model")
            ax.fill_between(xs, lo, hi, color="#55a868", alpha=0.2)
    if points:
        ys = [float(y) for _, y in points if y is not None]
        ax.scatter([pos(x) for x, _ in points], ys, s=14, color=POINT_COLOR)
    if cats:
        ax.set_xticks(range(len(cats)), [str(c) for c in cats], fontsize=7)
    elif p.log_scale:
        ax.set_xscale("log")
    ax.set_xlabel(axis_name(p, [r for r in study.rows if objective(r) is not None]), fontsize=9)
    ax.set_ylabel(study.metric, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if not points:
        empty(ax, "no completed trial")


def _categories(p: Param, observed: list[Any]) -> list[Any] | None:
    if p.categories is not None:
        return list(p.categories)
    if observed and any(isinstance(x, (str, bool)) for x in observed):
        return sorted(set(observed), key=str)
    return None


def _axis_scale(p: Param, values: list[Any]) -> tuple[Any, tuple[str, str]]:
    """A map of a parameter's values to [0, 1], and the axis' end labels."""
    present = [v for v in values if v is not None]
    cats = _categories(p, present)
    if cats:
        n = max(len(cats) - 1, 1)
        return (
            (lambda v: cats.index(v) / n if v in cats else math.nan),
            (str(cats[0]), str(cats[-1])),
        )
    nums = [float(v) for v in present if is_number(v)]
    if not nums:
        return (lambda v: math.nan), ("-", "-")
    use_log = p.log_scale and min(nums) > 0

    def t(v: float) -> float:
        return math.log10(v) if use_log else v

    lo, hi = t(min(nums)), t(max(nums))

    def scale(v: Any) -> float:
        if not is_number(v) or (use_log and v <= 0):
            return math.nan
        return (t(float(v)) - lo) / (hi - lo) if hi > lo else 0.5

    return scale, (fmt(min(nums)), fmt(max(nums)))


def _baseline(study: Study) -> float | None:
    for r in study.rows:
        if r.get("is_baseline") and objective(r) is not None:
            return objective(r)
    return None
