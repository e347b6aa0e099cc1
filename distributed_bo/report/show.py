"""``distributed-bo show``: the trial table, the best configuration, and the gain over baseline."""

from __future__ import annotations

import re
from typing import Any

from distributed_bo.exceptions import DistributedBOError
from distributed_bo.experiment import read_experiment
from distributed_bo.experiment.rows import (
    CONFIG_PREFIX,
    METRIC_PREFIX,
    is_finite,
    metric_values,
    objective,
    status_counts,
)
from distributed_bo.experiment.storage import redact
from distributed_bo.spec import StudySpec
from distributed_bo.spec.domains import NESTED_SEP
from distributed_bo.types import Row, TrialStatus


def render_summary(experiment_dir: str, *, top: int = 20) -> str:
    """A plain-text summary of a study, for the terminal (needs neither Ray nor the trainable).

    Args:
        experiment_dir: The experiment directory (path or URI).
        top: Rows of the trial table, best first.

    Returns:
        The summary: counts, the trial table best first, the best configuration,
        the gain over the baseline, and the failures. A ``data`` warm start's
        observations (status ``warm``) are counted apart, ranked in the table by
        their values and marked in its ``warm_start`` column; they are never the
        best configuration, which is this study's. With several objectives: the
        Pareto set (sorted by the first objective) and its hypervolume instead of
        the best configuration; with outcome constraints, how many trials broke one.

    Raises:
        ExperimentNotFoundError: If the directory holds no study.
    """
    study = read_experiment(experiment_dir)
    spec, rows, exp = study.spec, study.rows, study.exp
    metric, mode = study.metric, study.mode
    own = [r for r in rows if not _is_warm(r)]
    counts = status_counts(own)
    status = (
        ", ".join(f"{n} {escape(s.lower())}" for s, n in sorted(counts.items()))
        or "no trial has started yet"
    )
    if len(own) < len(rows):
        status += (
            f"; and {len(rows) - len(own)} warm-start observations, not run here (status warm)"
        )
    outcomes = spec.outcomes()
    objectives = ", ".join(
        f"{m} {escape(o)}" for o, m in zip(outcomes.metrics, outcomes.modes, strict=True)
    )
    lines = [
        f"study {escape(spec.name)}: {len(own)}/{spec.budget.num_trials} trials ({status})",
        f"objective: {objectives}    dir: {escape(exp.shown)}",
    ]
    if spec.constraints:
        lines.append(f"constraints: {escape('; '.join(spec.constraints))}")
    lines.append("")
    params = sorted({k for r in rows for k in r if k.startswith(CONFIG_PREFIX)})
    searched = [p for p in params if _varies(rows, p)] or params
    ranked = sorted(rows, key=lambda r: _sort_key(r, mode))
    extra = list(outcomes.tracked[1:]) if len(outcomes.tracked) > 1 else []
    marks = [k for k in ("warm_start", "feasible", "is_pareto") if any(k in r for r in rows)]
    header = [escape(h) for h in ("trial", "status", metric, *extra, *marks, "iters", "time_s")]
    names = _display_names(spec, searched)
    searched.sort(key=lambda c: names[c])  # width_1 beside num_layers/width_2, as width_2
    header += [names[p] for p in searched]
    table = [
        [
            escape(str(r.get("ax_index", r["trial_id"]))),
            escape(str(r["status"]).lower()),
            _fmt(r.get("metric")),
            *(_fmt(r.get(f"{METRIC_PREFIX}{m}")) for m in extra),
            *(_fmt(r.get(k)) for k in marks),
            str(r.get("iterations") or 0),
            _fmt(r.get("wall_time_s"), 1),
            *(_fmt(r.get(p)) for p in searched),
        ]
        for r in ranked[:top]
    ]
    lines.extend(_table(header, table))
    if outcomes.constraints:
        from distributed_bo.report.front import infeasible_count

        done = sum(1 for r in rows if r.get("status") == TrialStatus.COMPLETED)
        lines += ["", f"infeasible: {infeasible_count(rows)} of {done} completed trials"]
    row = None if outcomes.is_multi else study.best_row()
    if outcomes.is_multi:
        lines += _front_lines(rows, outcomes, searched, names)
    if row is not None:
        best = float(row["metric"])
        lines += ["", f"best {escape(metric)} = {best:.6g} (trial {row.get('ax_index')})"]
        # A parameter of a branch the trial did not take is absent: left out.
        lines += [f"  {names[p]} = {_fmt(row[p])}" for p in searched if row.get(p) is not None]
        base = [
            r for r in rows if r.get("is_baseline") and r.get("status") == TrialStatus.COMPLETED
        ]
        if base and base[0].get("metric") is not None:
            b = base[0]["metric"]
            gain = (best - b) if mode == "max" else (b - best)
            lines.append(f"baseline {escape(metric)} = {b:.6g}; improvement = {gain:+.6g}")
    failed = [r for r in rows if r["status"] == TrialStatus.FAILED]
    if failed:
        lines += ["", "failures:"]
        lines += [
            f"  trial {r.get('ax_index')}: {escape(redact(str(r.get('error') or '?')))}"
            for r in failed[:top]
        ]
    return "\n".join(lines)


#: C0 controls, DEL and C1 controls (ANSI ESC, CSI, BEL, CR, newlines, ...), and the
#: Unicode line separators and bidirectional overrides, which reorder what is shown.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _front_lines(
    rows: list[Row], outcomes: Any, searched: list[str], names: dict[str, str]
) -> list[str]:
    """The Pareto set, sorted by the first objective, and its hypervolume."""
    from distributed_bo.report.front import front_rows, hypervolume, reference_point

    front = front_rows(rows, outcomes)
    if not front:
        return ["", "Pareto set: no feasible trial has completed yet"]
    ref = reference_point(rows, outcomes)
    where = ", ".join(
        f"{escape(m)} {ref[m]:.6g} ({'threshold' if m in outcomes.thresholds else 'inferred'})"
        for m in outcomes.metrics
    )
    out = ["", f"Pareto set: {len(front)} trials, by {escape(outcomes.metrics[0])}"]
    header = ["trial", *(escape(m) for m in outcomes.metrics), *(names[p] for p in searched)]
    table = [
        [
            escape(str(r.get("ax_index", r["trial_id"]))),
            *(_fmt(metric_values(r).get(m)) for m in outcomes.metrics),
            *(_fmt(r.get(p)) for p in searched),
        ]
        for r in front
    ]
    out += _table(header, table)
    out.append(f"hypervolume = {hypervolume(rows, outcomes, ref):.6g} (reference point: {where})")
    return out


def escape(text: str) -> str:
    r"""``text`` with its control characters written as Python escapes (``\x1b``, ``\n``).

    What a trial reported (its error, a string parameter) goes to a terminal, where
    raw escape sequences could move the cursor, recolour or hide lines.
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _display_names(spec: StudySpec, columns: list[str]) -> dict[str, str]:
    """Each config column's name as the spec writes it (escaped).

    A ``when:`` controller and the parameters it gates are one branch point named
    after the controller, so their columns are ``config/num_layers/num_layers`` and
    ``config/num_layers/width_3``: they are shown as ``num_layers`` and ``width_3``.
    Other columns are shown by their flat path (``arch/width_3``).
    """
    short: dict[str, str] = {}
    try:
        parsed = spec.parsed_space()
    except DistributedBOError:  # an old spec file this version reads differently
        parsed = None
    if parsed is not None:
        for controller in parsed.controllers:
            short[f"{controller}{NESTED_SEP}{controller}"] = controller
        for name, gate in parsed.gates.items():
            short[f"{gate.controller}{NESTED_SEP}{name}"] = name
    out = {}
    for column in columns:
        path = column[len(CONFIG_PREFIX) :]
        out[column] = escape(short.get(path, path))
    if len(set(out.values())) < len(out):  # a short name met a flat one: keep paths
        out = {c: escape(c[len(CONFIG_PREFIX) :]) for c in columns}
    return out


def _varies(rows: list[Row], key: str) -> bool:
    # A warm-start observation holds the searched parameters only (its other columns
    # are null): it has no say on the constants and settings the trials' configs carry.
    return len({repr(r.get(key)) for r in rows if r.get(key) is not None or not _is_warm(r)}) > 1


def _is_warm(row: Row) -> bool:
    return row.get("status") == TrialStatus.WARM


def _sort_key(row: Row, mode: str) -> tuple[int, float]:
    """Best first; a warm-start observation ranks by its value among the trials."""
    warm = _is_warm(row) and is_finite(row.get("metric"))
    value = float(row["metric"]) if warm else objective(row)
    if value is None:
        return (1, 0.0)
    return (0, value if mode == "min" else -value)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if digits != 1 else f"{value:.1f}"
    return escape(str(value))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*r) for r in rows
    ]
