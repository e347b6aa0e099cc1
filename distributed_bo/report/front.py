"""The Pareto front of a study with several objectives: its rows and its hypervolume.

Rows carry ``metric/<name>`` columns, ``feasible`` and ``is_pareto`` (see
:func:`distributed_bo.experiment.rows.mark_front`); this module only reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

from distributed_bo.experiment.rows import metric_values, pareto_rows
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.types import Row, TrialStatus


def front_rows(rows: Sequence[Row], outcomes: Outcomes) -> list[Row]:
    """The Pareto set, sorted by the first objective, best first."""
    first, mode = outcomes.metrics[0], outcomes.modes[0]
    front = pareto_rows(rows)
    return sorted(front, key=lambda r: metric_values(r)[first] * (-1 if mode == "max" else 1))


def reference_point(rows: Sequence[Row], outcomes: Outcomes) -> dict[str, float]:
    """Each objective's threshold, else its worst value among feasible COMPLETED rows."""
    done = [metric_values(r) for r in rows if _counts(r, outcomes)]
    ref: dict[str, float] = {}
    for m, mode in zip(outcomes.metrics, outcomes.modes, strict=True):
        if m in outcomes.thresholds:
            ref[m] = outcomes.thresholds[m]
        elif done:
            ref[m] = (min if mode == "max" else max)(v[m] for v in done)
    return ref


def hypervolume(rows: Sequence[Row], outcomes: Outcomes, ref: dict[str, float]) -> float:
    """Hypervolume that the feasible COMPLETED ``rows`` dominate above ``ref``.

    Computed by BoTorch's exact algorithm (Fonseca et al., "An improved dimension-
    sweep algorithm for the hypervolume indicator", CEC 2006), in the objectives'
    own units (the product of their ranges).
    """
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    signs = [1.0 if mode == "max" else -1.0 for mode in outcomes.modes]
    points = [
        [s * metric_values(r)[m] for s, m in zip(signs, outcomes.metrics, strict=True)]
        for r in rows
        if _counts(r, outcomes)
    ]
    if not points or len(ref) != len(outcomes.metrics):
        return 0.0
    ref_t = torch.tensor([s * ref[m] for s, m in zip(signs, outcomes.metrics, strict=True)])
    y = torch.tensor(points, dtype=ref_t.dtype)
    y = y[(y > ref_t).all(dim=-1)]
    if len(y) == 0:
        return 0.0
    return float(Hypervolume(ref_point=ref_t).compute(y))


def infeasible_count(rows: Sequence[Row]) -> int:
    """COMPLETED rows that violate an outcome constraint."""
    return sum(1 for r in rows if r.get("feasible") is False)


def _counts(row: Row, outcomes: Outcomes) -> bool:
    values = metric_values(row)
    return (
        row.get("status") == TrialStatus.COMPLETED
        and row.get("feasible") is not False
        and all(m in values for m in outcomes.metrics)
    )
