"""The Pareto front of a study with several objectives: its rows and its hypervolume.

Rows carry ``metric/<name>`` columns, ``feasible`` and ``is_pareto`` (see
:func:`distributed_bo.experiment.rows.mark_front`); this module only reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distributed_bo.experiment.rows import metric_values, pareto_rows
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.types import Row, TrialStatus


def front_rows(rows: Sequence[Row], outcomes: Outcomes) -> list[Row]:
    """The Pareto set, sorted by the first objective, best first."""
    first, mode = outcomes.metrics[0], outcomes.modes[0]
    front = pareto_rows(rows)
    return sorted(front, key=lambda r: metric_values(r)[first] * (-1 if mode == "max" else 1))


def reference_point(rows: Sequence[Row], outcomes: Outcomes) -> dict[str, float]:
    """Each objective's threshold, else inferred from the feasible COMPLETED rows' front.

    The inferred value is the front's worst value less 10% of its range, as Ax
    infers a missing threshold (BoTorch's ``infer_reference_point``; Ishibuchi et
    al., "Reference point specification in hypervolume calculation", 2011), so the
    front's extreme points add to the hypervolume too. Empty without such a row.
    """
    from botorch.utils.multi_objective.hypervolume import infer_reference_point
    from botorch.utils.multi_objective.pareto import is_non_dominated

    signs = _signs(outcomes)
    y = _points(rows, outcomes)
    ref = dict(outcomes.thresholds)
    if len(y) and len(ref) < len(outcomes.metrics):
        inferred = infer_reference_point(y[is_non_dominated(y)])
        for i, m in enumerate(outcomes.metrics):
            ref.setdefault(m, signs[i] * float(inferred[i]))
    return {m: float(ref[m]) for m in outcomes.metrics if m in ref}


def hypervolume(rows: Sequence[Row], outcomes: Outcomes, ref: dict[str, float]) -> float:
    """Hypervolume that the feasible COMPLETED ``rows`` dominate above ``ref``.

    Computed by BoTorch's exact algorithm (Fonseca et al., "An improved dimension-
    sweep algorithm for the hypervolume indicator", CEC 2006), in the objectives'
    own units (the product of their ranges).
    """
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    y = _points(rows, outcomes)
    if not len(y) or len(ref) != len(outcomes.metrics):
        return 0.0
    signs = _signs(outcomes)
    ref_t = torch.tensor([s * ref[m] for s, m in zip(signs, outcomes.metrics, strict=True)])
    y = y[(y > ref_t).all(dim=-1)]
    if len(y) == 0:
        return 0.0
    return float(Hypervolume(ref_point=ref_t).compute(y))


def hypervolume_trace(
    rows: Sequence[Row], outcomes: Outcomes, ref: dict[str, float]
) -> list[float]:
    """Hypervolume of the rows up to each one, in the given order (one value per row).

    The same reference point serves every prefix, so the trace never decreases; it
    steps up only where a row enters the front. Pass the rows in proposal order for
    hypervolume against trials, or in order of ``end_time`` for wall-clock.
    """
    trace: list[float] = []
    counted: list[Row] = []
    current = 0.0
    for r in rows:
        if _counts(r, outcomes):
            counted.append(r)
            current = hypervolume(counted, outcomes, ref)
        trace.append(current)
    return trace


def violation_trace(rows: Sequence[Row]) -> list[float | None]:
    """Share of infeasible rows among the COMPLETED ones up to each row (``None`` before any).

    Only rows whose feasibility is known (``feasible`` set, see
    :func:`~distributed_bo.experiment.rows.mark_front`) count.
    """
    judged = infeasible = 0
    trace: list[float | None] = []
    for r in rows:
        if r.get("feasible") is not None:
            judged += 1
            infeasible += r.get("feasible") is False
        trace.append(infeasible / judged if judged else None)
    return trace


def infeasible_count(rows: Sequence[Row]) -> int:
    """COMPLETED rows that violate an outcome constraint."""
    return sum(1 for r in rows if r.get("feasible") is False)


def _signs(outcomes: Outcomes) -> list[float]:
    """+1 for a maximised objective, -1 for a minimised one (BoTorch maximises)."""
    return [1.0 if mode == "max" else -1.0 for mode in outcomes.modes]


def _points(rows: Sequence[Row], outcomes: Outcomes) -> Any:
    """The feasible COMPLETED rows' objectives, maximisation form: an ``n x m`` tensor."""
    import torch

    signs = _signs(outcomes)
    points = [
        [s * metric_values(r)[m] for s, m in zip(signs, outcomes.metrics, strict=True)]
        for r in rows
        if _counts(r, outcomes)
    ]
    return torch.tensor(points, dtype=torch.float64).reshape(len(points), len(signs))


def _counts(row: Row, outcomes: Outcomes) -> bool:
    values = metric_values(row)
    return (
        row.get("status") == TrialStatus.COMPLETED
        and row.get("feasible") is not False
        and all(m in values for m in outcomes.metrics)
    )
