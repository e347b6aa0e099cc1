"""The ``objective`` and ``constraints`` sections: one objective or several, and outcome limits.

``objective`` takes three YAML forms::

    objective: {metric: val_accuracy, mode: max}            # one objective

    objective:                                              # several
      - {metric: val_accuracy, mode: max}
      - {metric: inference_ms, mode: min, threshold: 20}

    objective:                                              # several, Ray Tune's lists
      metric: [val_accuracy, inference_ms]
      mode: [max, min]
      threshold: {inference_ms: 20}

A threshold is the worst value worth having (the hypervolume's reference point);
an objective without one gets the threshold Ax infers. ``constraints`` lists
outcome constraints on other reported metrics, in Ax's syntax
(``"num_params <= 5e6"``); they apply to one objective too. Every check raises
:class:`~distributed_bo.exceptions.SpecError` with one line naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distributed_bo.search.outcomes import OutcomeConstraint, Outcomes, parse_constraint
from distributed_bo.spec.sections import ObjectiveSpec
from distributed_bo.validation import (
    check_keys,
    check_literal,
    check_number,
    check_text,
    did_you_mean,
    fail,
    require_mapping,
)

#: One objective, or several (a tuple).
Objective = ObjectiveSpec | tuple[ObjectiveSpec, ...]

_KEYS = ("metric", "mode", "threshold")
_EXAMPLE = "e.g. [{metric: val_accuracy, mode: max}, {metric: inference_ms, mode: min}]"
# Each constraint is a model of its own, fitted at every generation.
_MAX_OUTCOME_CONSTRAINTS = 16


def parse_objective(data: Any) -> Objective:
    """Read the ``objective`` section in any of its three forms.

    Raises:
        SpecError: On a malformed entry, lists of unequal length, an unknown mode,
            a duplicate metric, or a threshold on an unknown metric or on a
            single objective.
    """
    if isinstance(data, list | tuple):
        if not data:
            fail("objective", data, f"give at least one objective, {_EXAMPLE}")
        entries = tuple(_entry(item, f"objective[{i}]") for i, item in enumerate(data))
        check_objectives(entries)
        return entries[0] if len(entries) == 1 else entries
    require_mapping(data, "objective", "a mapping with metric and mode, or a list of them")
    if isinstance(data.get("metric"), list | tuple):
        return _from_lists(data)
    return _entry(data, "objective")


def _entry(data: Any, path: str) -> ObjectiveSpec:
    require_mapping(data, path, "a mapping with metric, mode and an optional threshold")
    check_keys(data, path, allowed=_KEYS, required=("metric", "mode"))
    check_text(data["metric"], f"{path}.metric", "use the name of a metric the trainable reports")
    check_literal(data["mode"], f"{path}.mode", ("min", "max"))
    threshold = data.get("threshold")
    if threshold is not None:
        threshold = check_number(threshold, f"{path}.threshold", extra=", or leave it out")
    return ObjectiveSpec(metric=data["metric"], mode=data["mode"], threshold=threshold)


def _from_lists(data: Mapping[str, Any]) -> Objective:
    """``{metric: [a, b], mode: [max, min], threshold: {b: 20}}``, as Ray Tune takes lists."""
    check_keys(data, "objective", allowed=_KEYS, required=("metric", "mode"))
    metrics, modes = list(data["metric"]), data["mode"]
    if not isinstance(modes, list | tuple) or len(modes) != len(metrics):
        fail(
            "objective.mode",
            modes,
            f"give a list of {len(metrics)} modes, one per metric in objective.metric",
        )
    thresholds = data.get("threshold") or {}
    require_mapping(thresholds, "objective.threshold", "a mapping of objective metric to number")
    for name in thresholds:
        if name not in metrics:
            fail(
                "objective.threshold",
                name,
                f"it is not an objective{did_you_mean(name, metrics)}; use one of "
                f"{', '.join(map(str, metrics))}",
            )
    entries = [
        {"metric": m, "mode": mode} | ({"threshold": thresholds[m]} if m in thresholds else {})
        for m, mode in zip(metrics, modes, strict=True)
    ]
    return parse_objective(entries)


def check_objectives(objectives: Sequence[ObjectiveSpec]) -> None:
    """Several objectives name distinct metrics; one objective has no threshold."""
    seen: dict[str, int] = {}
    for i, obj in enumerate(objectives):
        if obj.metric in seen:
            fail(
                f"objective[{i}].metric",
                obj.metric,
                f"objective[{seen[obj.metric]}] already names it; name each metric once",
            )
        seen[obj.metric] = i
    if len(objectives) == 1 and objectives[0].threshold is not None:
        fail(
            "objective.threshold",
            objectives[0].threshold,
            "a threshold sets the reference point of several objectives; with one, leave "
            "it out (to limit another metric, add it to constraints)",
        )


def as_tuple(objective: Objective) -> tuple[ObjectiveSpec, ...]:
    """The objectives as a tuple (one objective: a tuple of one)."""
    return objective if isinstance(objective, tuple) else (objective,)


def objective_to_dict(objective: Objective) -> Any:
    """The section as YAML-able data: a mapping for one objective, else a list."""
    if isinstance(objective, tuple):
        return [o.to_dict() for o in objective]
    return objective.to_dict()


def parse_outcome_constraints(
    constraints: Any, objectives: Sequence[ObjectiveSpec]
) -> tuple[OutcomeConstraint, ...]:
    """Read the ``constraints`` list: Ax-syntax limits on reported non-objective metrics.

    Raises:
        SpecError: On a non-list, a malformed string, or a constraint on an objective.
    """
    if not isinstance(constraints, list | tuple):
        fail("constraints", constraints, "use a list of strings such as ['num_params <= 5e6']")
    if len(constraints) > _MAX_OUTCOME_CONSTRAINTS:
        fail(
            "constraints",
            f"{len(constraints)} constraints",
            f"give at most {_MAX_OUTCOME_CONSTRAINTS} (each is a model fitted per batch)",
        )
    names = [o.metric for o in objectives]
    out = []
    for i, text in enumerate(constraints):
        path = f"constraints[{i}]"
        if isinstance(text, str):
            check_text(text, path, "write it as 'num_params <= 5e6'")
        parsed = parse_constraint(text, field=path)
        on = [m for m in parsed.metrics if m in names]
        if on:
            fail(
                path,
                text,
                f"{on[0]!r} is an objective; give it a threshold in objective instead, or "
                "constrain another reported metric",
            )
        out.append(parsed)
    return tuple(out)


def build_outcomes(objectives: Sequence[ObjectiveSpec], constraints: Sequence[str]) -> Outcomes:
    """The searcher's :class:`~distributed_bo.search.outcomes.Outcomes` of a checked spec."""
    several = len(objectives) > 1
    return Outcomes.build(
        [o.metric for o in objectives] if several else objectives[0].metric,
        [o.mode for o in objectives] if several else objectives[0].mode,
        objective_thresholds={o.metric: o.threshold for o in objectives if o.threshold is not None},
        outcome_constraints=tuple(constraints),
    )
