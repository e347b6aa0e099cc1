"""``distributed-bo show``: the trial table, the best configuration, and the gain over baseline."""

from __future__ import annotations

import math
from typing import Any

from distributed_bo.runner.progress import best_metric
from distributed_bo.runner.results import read_trials
from distributed_bo.runner.storage import StorageDir
from distributed_bo.runner.study import load_study_spec


def render_summary(experiment_dir: str, *, top: int = 20) -> str:
    """A plain-text summary of a study, for the terminal.

    Args:
        experiment_dir: The experiment directory (path or URI).
        top: Rows of the trial table, best first.

    Raises:
        ExperimentNotFoundError: If the directory holds no study.
    """
    exp = StorageDir.open(experiment_dir)
    spec = load_study_spec(exp)
    rows = read_trials(exp)
    metric, mode = spec.objective.metric, spec.objective.mode
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    status = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "no trials"
    lines = [
        f"study {spec.name}: {len(rows)}/{spec.budget.num_trials} trials ({status})",
        f"objective: {mode} {metric}    dir: {exp.uri}",
        "",
    ]
    params = sorted({k for r in rows for k in r if k.startswith("config/")})
    searched = [p for p in params if _varies(rows, p)] or params
    ranked = sorted(rows, key=lambda r: _sort_key(r, mode))
    header = ["trial", "status", metric, "iters", "time_s", *(p[7:] for p in searched)]
    table = [
        [
            str(r.get("ax_index", r["trial_id"])),
            r["status"].lower(),
            _fmt(r.get("metric")),
            str(r.get("iterations") or 0),
            _fmt(r.get("wall_time_s"), 1),
            *(_fmt(r.get(p)) for p in searched),
        ]
        for r in ranked[:top]
    ]
    lines.extend(_table(header, table))
    best = best_metric(rows, mode)
    if best is not None:
        row = next(r for r in ranked if r.get("metric") == best)
        config = {p[7:]: row.get(p) for p in searched}
        lines += ["", f"best {metric} = {best:.6g} (trial {row.get('ax_index')})"]
        lines += [f"  {k} = {_fmt(v)}" for k, v in config.items()]
        base = [r for r in rows if r.get("is_baseline") and r.get("status") == "COMPLETED"]
        if base and base[0].get("metric") is not None:
            b = base[0]["metric"]
            gain = (best - b) if mode == "max" else (b - best)
            lines.append(f"baseline {metric} = {b:.6g}; improvement = {gain:+.6g}")
    failed = [r for r in rows if r["status"] == "FAILED"]
    if failed:
        lines += ["", "failures:"]
        lines += [f"  trial {r.get('ax_index')}: {r.get('error') or '?'}" for r in failed[:top]]
    return "\n".join(lines)


def _varies(rows: list[dict[str, Any]], key: str) -> bool:
    return len({repr(r.get(key)) for r in rows}) > 1


def _sort_key(row: dict[str, Any], mode: str) -> tuple[int, float]:
    value = row.get("metric")
    if row.get("status") != "COMPLETED" or value is None or not math.isfinite(value):
        return (1, 0.0)
    return (0, value if mode == "min" else -value)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if digits != 1 else f"{value:.1f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*r) for r in rows
    ]
