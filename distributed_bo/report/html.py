"""The report as one HTML page: figures inlined as base64 PNG data URIs, no scripts.

The page needs nothing else (no network, no JavaScript, no files beside it), so it
can be mailed, attached to an issue or opened offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from collections.abc import Mapping
from typing import Any

from distributed_bo.experiment.rows import METRIC_PREFIX, objective
from distributed_bo.report.data import Study, best_row, trial_label
from distributed_bo.report.effects import Effects
from distributed_bo.report.front import front_rows, hypervolume, infeasible_count, reference_point
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.types import TrialStatus

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1150px;color:#222;padding:0 16px}
h1{margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666}.kv td{padding:2px 12px 2px 0}
img{max-width:100%;height:auto;border:1px solid #eee}
table.trials{border-collapse:collapse;font-size:13px}
table.trials th,table.trials td{border:1px solid #ddd;padding:3px 8px;text-align:right}
table.trials th{background:#f4f4f4;position:sticky;top:0}
table.trials td.text{text-align:left;max-width:520px;overflow-wrap:anywhere}
tr.best td{background:#fdecea;font-weight:600}
.s-FAILED{color:#c44e52}.s-COMPLETED{color:#2d5a8c}.s-EARLY_STOPPED{color:#b0602a}.s-WARM{color:#7a7a7a}
"""


def render_html(
    study: Study,
    *,
    figures: Mapping[str, bytes],
    effects: Effects,
    lanes: int,
    peak: int,
    busy: float | None,
) -> str:
    """The whole page.

    Args:
        study: The study.
        figures: PNG bytes by name: ``best_so_far`` (one objective) or ``front`` and
            ``hypervolume`` (several), ``violations`` (with outcome constraints),
            ``timeline``, ``parallel_coordinates``, ``effects`` and optionally
            ``sensitivity``.
        effects: Ax's analyses (or why they are missing).
        lanes: Number of timeline lanes.
        peak: Most trials that ran at once.
        busy: Busy fraction of the lanes over the study's span, if known.
    """
    spec, esc = study.spec, html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(spec.name)}: distributed-bo report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Study {esc(spec.name)}</h1>",
        f'<p class="muted">{esc(study.exp.shown)} · report written '
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC</p>",
        _summary(study, lanes=lanes, peak=peak, busy=busy),
        *_progress(figures),
        "<h2>Timeline</h2>",
        '<p class="muted">One lane per GPU where trials report their GPU ids, otherwise '
        "per worker slot (overlapping trials take separate lanes). Gaps are idle time.</p>",
        _img(figures["timeline"], "trials per worker lane over time"),
        "<h2>Parallel coordinates</h2>",
        _img(figures["parallel_coordinates"], "parallel coordinates of the parameters"),
        f"<h2>Parameter effects{_on_first(study)}</h2>",
        _effects_note(effects, conditional=any(p.conditional for p in study.params)),
        _img(figures["effects"], "objective against each parameter"),
    ]
    if "sensitivity" in figures:
        parts += [
            "<h3>Sensitivity (Ax)</h3>",
            _img(figures["sensitivity"], "Sobol sensitivity of the objective"),
        ]
    parts += ["<h2>Trials</h2>", _trial_table(study)]
    parts += ["<h2>Failures</h2>", _failures(study), "</body></html>"]
    return "\n".join(parts)


def _progress(figures: Mapping[str, bytes]) -> list[str]:
    """The sections on how the search went: best so far, or the front and hypervolume."""
    if "front" in figures:
        parts = [
            "<h2>Pareto front</h2>",
            _img(figures["front"], "observed objective values and the Pareto front"),
            "<h2>Hypervolume</h2>",
            _img(figures["hypervolume"], "hypervolume against trials and wall-clock"),
        ]
    else:
        parts = [
            "<h2>Best so far</h2>",
            _img(figures["best_so_far"], "best so far against trials and wall-clock"),
        ]
    if "violations" in figures:
        parts += [
            "<h2>Constraints</h2>",
            _img(figures["violations"], "share of completed trials that broke a constraint"),
        ]
    return parts


def _on_first(study: Study) -> str:
    """With several objectives, the parameter views show the first one."""
    if len(study.spec.objectives) == 1:
        return ""
    return f" on {html.escape(study.metric)}, the first objective"


def _summary(study: Study, *, lanes: int, peak: int, busy: float | None) -> str:
    spec, esc = study.spec, html.escape
    counts: dict[str, int] = {}
    for r in study.rows:
        status = str(r.get("status") or "?")
        counts[status] = counts.get(status, 0) + 1
    status = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "none yet"
    items = [
        ("objective", ", ".join(f"{o.mode} {o.metric}" for o in spec.objectives)),
        ("trials", f"{len(study.rows)} of {spec.budget.num_trials} ({status})"),
        ("concurrency", f"{spec.budget.max_concurrent} slots; at most {peak} trial(s) at once"),
        ("searcher", f"{spec.searcher.acquisition}, {spec.searcher.batch_strategy} batches"),
    ]
    if study.warm:
        sources = sorted({str(r.get("warm_start") or "?").rpartition("#")[0] for r in study.warm})
        items.append(
            (
                "warm start",
                f"{len(study.warm)} earlier result(s) entered the model as observations, not "
                f"run here (status warm, listed after the trials): from {', '.join(sources)}",
            )
        )
    if peak > spec.budget.max_concurrent:
        items.append(("warning", f"{peak} trials ran at once, more than budget.max_concurrent"))
    if busy is not None:
        items.append(("lanes busy", f"{busy:.1%} of the study's span"))
    outcomes = spec.outcomes()
    if outcomes.constraints:
        done = sum(1 for r in study.rows if r.get("feasible") is not None)
        bad = infeasible_count(study.rows)
        share = f" ({bad / done:.0%})" if done else ""
        text = ", ".join(c.text for c in outcomes.constraints)
        items.append(("constraints", f"{text}; {bad} of {done} completed infeasible{share}"))
    if outcomes.is_multi:
        items += _front_summary(study, outcomes)
    best = None if outcomes.is_multi else best_row(study)
    if best is not None:
        config = ", ".join(  # a parameter of another branch is absent, not shown
            f"{p.name}={_fmt(v)}" for p in study.params if (v := p.value(best)) is not None
        )
        items.append(("best", f"{_fmt(objective(best))} (trial {trial_label(best)}): {config}"))
        base = next((r for r in study.rows if r.get("is_baseline")), None)
        b, v = (None, None) if base is None else (objective(base), objective(best))
        if b is not None and v is not None:
            gain = (v - b) if study.mode == "max" else (b - v)
            items.append(("baseline", f"{_fmt(b)}; improvement {gain:+.4g}"))
    rows = "".join(f"<tr><td><b>{esc(k)}</b></td><td>{esc(v)}</td></tr>" for k, v in items)
    return f'<table class="kv">{rows}</table>'


def _front_summary(study: Study, outcomes: Outcomes) -> list[tuple[str, str]]:
    """The Pareto set's size and hypervolume, and the baseline's place against it."""
    front = front_rows(study.rows, outcomes)
    ref = reference_point(study.rows, outcomes)
    where = ", ".join(f"{m} {_fmt(v)}" for m, v in ref.items()) or "-"
    items = [
        ("Pareto set", f"{len(front)} trial(s): {', '.join(trial_label(r) for r in front)}"),
        ("hypervolume", f"{_fmt(hypervolume(study.rows, outcomes, ref))} (reference: {where})"),
    ]
    base = next((r for r in study.rows if r.get("is_baseline")), None)
    if base is not None and base.get("is_pareto") is not None:
        on = "on the Pareto front" if base["is_pareto"] else "dominated by the Pareto set"
        items.append(("baseline", f"trial {trial_label(base)}, {on}"))
    return items


def _effects_note(effects: Effects, *, conditional: bool = False) -> str:
    branches = (
        " A parameter inside branches: the trials where it was active, and the slice in "
        "the branch of the best of them, the other parameters fixed at its values."
        if conditional
        else ""
    )
    if effects.unavailable:
        return (
            '<p class="muted">Points: observed trials. Ax\'s model-based analyses are not '
            f"shown: {html.escape(effects.unavailable)}.{branches}</p>"
        )
    fixed = f", the other parameters fixed at {effects.fixed}" if effects.fixed else ""
    return (
        '<p class="muted">Points: observed trials. Line and band: the prediction and ±2 '
        f"standard errors of a GP fitted by Ax (<code>SlicePlot</code>{html.escape(fixed)})."
        f"{branches}</p>"
    )


def _trial_table(study: Study) -> str:
    if not study.rows and not study.warm:
        return '<p class="muted">No trial has started yet.</p>'
    outcomes = study.spec.outcomes()
    shown = _trial_table_metrics(study, outcomes)
    marked = (
        {id(r) for r in study.rows if r.get("is_pareto")}
        if outcomes.is_multi
        else {id(best_row(study))}
    )
    head = ["trial", "status", *shown, "iters", "time (s)"]
    head += [p.name for p in study.params] + ["node", "gpu", "restarts"]
    out = ['<table class="trials"><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for r in [*study.rows, *study.warm]:
        status = str(r.get("status") or "?")
        cells = [
            trial_label(r)
            + (" (baseline)" if r.get("is_baseline") else "")
            + (f" (warm start: {r['warm_start']})" if r.get("warm_start") else ""),
            f'<span class="s-{html.escape(status)}">{html.escape(status.lower())}</span>',
            *(_fmt(r.get(column)) for column in shown.values()),
            _fmt(r.get("iterations")),
            _fmt(r.get("wall_time_s"), 1),
            *(_fmt(p.value(r)) for p in study.params),
            _fmt(r.get("node")),
            _fmt(r.get("gpu")),
            _fmt(r.get("restarts")),
        ]
        tds = [
            f"<td>{c}</td>" if i == 1 else f"<td>{html.escape(c)}</td>" for i, c in enumerate(cells)
        ]
        cls = ' class="best"' if id(r) in marked else ""
        out.append(f"<tr{cls}>{''.join(tds)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _trial_table_metrics(study: Study, outcomes: Outcomes) -> dict[str, str]:
    """Heading -> row key of the metric columns: one per objective and constrained metric."""
    if not outcomes.is_multi and not outcomes.constraints:
        return {study.metric: "metric", "best": "best_metric"}
    shown = {m: f"{METRIC_PREFIX}{m}" for m in outcomes.tracked}
    if outcomes.constraints:
        shown["feasible"] = "feasible"
    if outcomes.is_multi:
        shown["Pareto"] = "is_pareto"
    return shown


def _failures(study: Study) -> str:
    failed = [r for r in study.rows if r.get("status") == TrialStatus.FAILED]
    retried = [r for r in study.rows if r.get("status") != TrialStatus.FAILED and r.get("restarts")]
    if not failed and not retried:
        return '<p class="muted">No trial failed.</p>'
    out = ['<table class="trials"><thead><tr><th>trial</th><th>status</th><th>restarts</th>']
    out.append("<th>reason</th></tr></thead><tbody>")
    for r in failed + retried:
        out.append(
            f"<tr><td>{html.escape(trial_label(r))}</td>"
            f"<td>{html.escape(str(r.get('status')).lower())}</td>"
            f"<td>{_fmt(r.get('restarts'))}</td>"
            f'<td class="text">{html.escape(str(r.get("error") or "no reason recorded"))}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}" if digits == 1 else f"{value:.{digits}g}"
    return str(value)
