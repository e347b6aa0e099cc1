"""The report's figures for several objectives and outcome constraints.

- :func:`front_png`: the observed trials with the Pareto front (two objectives), or
  the objectives' parallel coordinates (three or more);
- :func:`hypervolume_png`: hypervolume against trials and against wall-clock;
- :func:`violations_png`: the share of completed trials that broke a constraint.

The baseline trial, where the study has one, is drawn on each of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distributed_bo.experiment.rows import metric_values
from distributed_bo.report.canvas import BEST_COLOR, POINT_COLOR, empty, figure, fmt, is_number, png
from distributed_bo.report.data import Study, time_origin
from distributed_bo.report.front import (
    front_rows,
    hypervolume,
    hypervolume_trace,
    reference_point,
    violation_trace,
)
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.types import Row, TrialStatus

if TYPE_CHECKING:
    from matplotlib.axes import Axes

INFEASIBLE_COLOR = "#999999"
BASELINE_COLOR = "#222222"


def front_png(study: Study, outcomes: Outcomes) -> bytes:
    """Observed objective values with the Pareto front; parallel axes above two objectives."""
    if len(outcomes.metrics) == 2:
        fig = figure(7.5, 5.5)
        _front_2d(fig.subplots(), study, outcomes)
    else:
        fig = figure(11, 4.5)
        _front_axes(fig.subplots(), study, outcomes)
    return png(fig)


def hypervolume_png(study: Study, outcomes: Outcomes) -> bytes:
    """Hypervolume of the feasible trials so far, against trials (left) and wall-clock (right).

    One reference point (the objectives' thresholds, else their worst observed values)
    serves every point of both curves. The dashed line is the baseline's own
    hypervolume: what the hand-tuned configuration alone dominates.
    """
    fig = figure(11, 4)
    by_trial, by_time = fig.subplots(1, 2, sharey=True)
    ref = reference_point(study.rows, outcomes)
    trace = hypervolume_trace(study.rows, outcomes, ref)
    if any(trace):
        by_trial.step(range(1, len(trace) + 1), trace, where="post", color=BEST_COLOR, lw=2)
    else:
        empty(by_trial, "no feasible completed trial above the reference point")
    t0 = time_origin(study.rows)
    ended = [r for r in study.rows if is_number(r.get("end_time"))]
    timed = sorted(ended, key=lambda r: r["end_time"]) if t0 is not None else []
    times = [(r["end_time"] - t0) / 60 for r in timed] if t0 is not None else []
    by_time_trace = hypervolume_trace(timed, outcomes, ref)
    if any(by_time_trace):
        by_time.step(times, by_time_trace, where="post", color=BEST_COLOR, lw=2)
        by_time.set_xlim(left=0)
    else:
        empty(by_time, "no completed trial with an end time")
    base = _baseline_row(study, outcomes)
    base_hv = hypervolume([base], outcomes, ref) if base is not None else None
    for ax in (by_trial, by_time):
        if base_hv:
            ax.axhline(base_hv, color=BASELINE_COLOR, ls="--", lw=1, label="baseline alone")
            ax.legend(loc="lower right", fontsize=8)
        ax.set_ylabel("hypervolume")
        ax.grid(alpha=0.3)
    by_trial.set_xlabel("trial (in the order proposed)")
    by_trial.set_title("hypervolume vs trials")
    by_time.set_xlabel("wall-clock since the first trial started (min)")
    by_time.set_title("hypervolume vs wall-clock")
    return png(fig)


def violations_png(study: Study) -> bytes:
    """Share of completed trials that broke an outcome constraint, so far, per trial."""
    fig = figure(7.5, 3.5)
    ax = fig.subplots()
    trace = violation_trace(study.rows)
    points = [(i, v) for i, v in enumerate(trace, start=1) if v is not None]
    if points:
        ax.step([i for i, _ in points], [v for _, v in points], where="post", color=BEST_COLOR)
        marks = [i for i, r in enumerate(study.rows, start=1) if r.get("feasible") is False]
        ax.scatter(marks, [0.0] * len(marks), marker="|", s=80, color=INFEASIBLE_COLOR)
        ax.set_ylim(-0.05, 1.05)
    else:
        empty(ax, "no completed trial")
    base = next((r for r in study.rows if r.get("is_baseline")), None)
    if base is not None and base.get("feasible") is not None:
        state = "feasible" if base["feasible"] else "infeasible"
        ax.set_title(f"share of completed trials infeasible (baseline: {state})")
    else:
        ax.set_title("share of completed trials infeasible, so far")
    ax.set_xlabel("trial (in the order proposed; ticks: infeasible trials)")
    ax.set_ylabel("infeasible share")
    ax.grid(alpha=0.3)
    return png(fig)


# ------------------------------------------------------------------ helpers
def _front_2d(ax: Axes, study: Study, outcomes: Outcomes) -> None:
    (m1, m2), (mode1, mode2) = outcomes.metrics, outcomes.modes
    done = [r for r in study.rows if _has_all(r, outcomes)]
    if not done:
        empty(ax, "no completed trial")
    feasible = [r for r in done if r.get("feasible") is not False]
    infeasible = [r for r in done if r.get("feasible") is False]
    _scatter(ax, feasible, (m1, m2), color=POINT_COLOR, label="trial", marker="o")
    _scatter(ax, infeasible, (m1, m2), color=INFEASIBLE_COLOR, label="infeasible", marker="x")
    front = sorted(front_rows(study.rows, outcomes), key=lambda r: metric_values(r)[m1])
    if front:
        xs = [metric_values(r)[m1] for r in front]
        ys = [metric_values(r)[m2] for r in front]
        ax.step(xs, ys, where="post" if mode1 == "min" else "pre", color=BEST_COLOR, lw=1.5)
        ax.scatter(xs, ys, s=36, color=BEST_COLOR, label=f"Pareto set ({len(front)})", zorder=3)
    for m, line in ((m1, ax.axvline), (m2, ax.axhline)):
        if m in outcomes.thresholds:
            line(outcomes.thresholds[m], color="#777", ls=":", lw=1)
    base = _baseline_row(study, outcomes)
    if base is not None:
        v = metric_values(base)
        ax.scatter([v[m1]], [v[m2]], marker="*", s=200, color=BASELINE_COLOR, label="baseline")
    for m, set_scale, set_label, mode in (
        (m1, ax.set_xscale, ax.set_xlabel, mode1),
        (m2, ax.set_yscale, ax.set_ylabel, mode2),
    ):
        wide = _spans_decades([metric_values(r)[m] for r in done])
        if wide:
            set_scale("log")
        set_label(f"{m} ({mode}{', log scale' if wide else ''})")
    ax.set_title("observed trials and the Pareto front (dotted: thresholds)")
    ax.grid(alpha=0.3)
    if done:
        ax.legend(loc="best", fontsize=8)


def _front_axes(ax: Axes, study: Study, outcomes: Outcomes) -> None:
    """One line per completed trial across the objectives' axes, better upwards."""
    done = [r for r in study.rows if _has_all(r, outcomes)]
    if not done:
        empty(ax, "no completed trial")
        return
    ranges: dict[str, tuple[float, float]] = {}
    for m in outcomes.metrics:
        values = [metric_values(r)[m] for r in done]
        ranges[m] = (min(values), max(values))

    def height(r: Row) -> list[float]:
        out = []
        for m, mode in zip(outcomes.metrics, outcomes.modes, strict=True):
            lo, hi = ranges[m]
            h = (metric_values(r)[m] - lo) / (hi - lo) if hi > lo else 0.5
            out.append(h if mode == "max" else 1.0 - h)
        return out

    xs = list(range(len(outcomes.metrics)))
    front = {id(r) for r in front_rows(study.rows, outcomes)}
    for r in sorted(done, key=lambda r: id(r) in front):  # the front on top
        if id(r) in front:
            ax.plot(xs, height(r), color=BEST_COLOR, lw=2.0, alpha=0.9)
        elif r.get("feasible") is False:
            ax.plot(xs, height(r), color=INFEASIBLE_COLOR, lw=0.8, ls=":", alpha=0.7)
        else:
            ax.plot(xs, height(r), color=POINT_COLOR, lw=0.8, alpha=0.5)
    base = _baseline_row(study, outcomes)
    if base is not None:
        ax.plot(xs, height(base), color=BASELINE_COLOR, lw=2.0, ls="--")
    for i, (m, mode) in enumerate(zip(outcomes.metrics, outcomes.modes, strict=True)):
        lo, hi = ranges[m]
        worst, best = (lo, hi) if mode == "max" else (hi, lo)
        ax.axvline(i, color="#333", lw=0.8)
        ax.text(i, -0.06, fmt(worst), ha="center", va="top", fontsize=7)
        ax.text(i, 1.06, fmt(best), ha="center", va="bottom", fontsize=7)
    names = [f"{m} ({mode})" for m, mode in zip(outcomes.metrics, outcomes.modes, strict=True)]
    ax.set_xticks(xs, names)
    ax.tick_params(axis="x", pad=14, length=0)
    ax.set_frame_on(False)
    ax.set_yticks([])
    ax.set_ylim(-0.12, 1.12)
    ax.set_title(
        "objectives per trial, better upwards (red: Pareto set; black dashed: baseline; "
        "grey dotted: infeasible)",
        pad=18,
    )


def _spans_decades(values: list[float], ratio: float = 100.0) -> bool:
    """Whether positive ``values`` span ``ratio`` or more (as sizes and latencies do)."""
    return bool(values) and min(values) > 0 and max(values) >= ratio * min(values)


def _scatter(
    ax: Axes, rows: list[Row], metrics: tuple[str, str], *, color: str, label: str, marker: str
) -> None:
    if rows:
        xs = [metric_values(r)[metrics[0]] for r in rows]
        ys = [metric_values(r)[metrics[1]] for r in rows]
        ax.scatter(xs, ys, s=18, color=color, alpha=0.7, label=label, marker=marker)


def _has_all(row: Row, outcomes: Outcomes) -> bool:
    values = metric_values(row)
    return row.get("status") == TrialStatus.COMPLETED and all(m in values for m in outcomes.metrics)


def _baseline_row(study: Study, outcomes: Outcomes) -> Row | None:
    """The completed baseline trial with every objective, else ``None``."""
    return next((r for r in study.rows if r.get("is_baseline") and _has_all(r, outcomes)), None)
