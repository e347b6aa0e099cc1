"""What a study optimises: one or more objectives, their thresholds, and outcome constraints.

:class:`Outcomes` holds them in Ray Tune's convention (``metric`` and ``mode`` as a
string each, or as lists of equal length, as ``OptunaSearch`` takes them) and writes
them in Ax's syntax for :meth:`ax.api.Client.configure_optimization`:

* one objective: ``"-loss"``; several: ``"acc, -latency_ms"``;
* an objective threshold (the hypervolume's reference point) becomes ``"latency_ms <=
  20.0"``, which Ax turns into an ``ObjectiveThreshold`` for a multi-objective study;
* an outcome constraint stays a constraint, on a metric the trainable reports and
  that is not an objective: ``"num_params <= 5e6"`` or a linear combination
  ``"0.5 * a + 0.5 * b >= 0.9"``.

Metric names are rewritten to Ax-safe names (:func:`ax_metric_name`) on the way in;
what a trial reports keeps its own names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from distributed_bo.exceptions import SpecError

_MODES = ("min", "max")
#: ``[coefficient *] name`` terms joined by + or -, a comparison, and a number.
_TERM = re.compile(r"\s*([+-])?\s*(?:([0-9.]+(?:[eE][+-]?[0-9]+)?)\s*\*\s*)?([A-Za-z_][\w./]*)\s*")
_SIDES = re.compile(r"^(.*?)(<=|>=)\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*$")
_CONSTRAINT_EXAMPLE = "'num_params <= 5e6' or '0.5 * a + 0.5 * b >= 0.9'"


def ax_metric_name(metric: str) -> str:
    """An Ax-safe metric name (Ax parses objective strings such as ``-loss``)."""
    name = re.sub(r"\W", "_", metric)
    return name if name and not name[0].isdigit() else f"m_{name}"


@dataclass(frozen=True, kw_only=True)
class OutcomeConstraint:
    """``sum(coefficient * metric) <= bound`` (or ``>=``), on reported metrics.

    Attributes:
        terms: ``(coefficient, metric)`` pairs, the metric as the trainable reports it.
        op: ``"<="`` or ``">="``.
        bound: The right-hand side.
        text: The constraint as the user wrote it.
    """

    terms: tuple[tuple[float, str], ...]
    op: str
    bound: float
    text: str

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics the constraint reads."""
        return tuple(m for _, m in self.terms)

    def holds(self, values: Mapping[str, float]) -> bool:
        """Whether ``values`` (metric -> value) satisfy the constraint."""
        total = sum(c * float(values[m]) for c, m in self.terms)
        return total <= self.bound if self.op == "<=" else total >= self.bound

    def to_ax(self) -> str:
        """The constraint in Ax's syntax over Ax-safe names."""
        lhs = " + ".join(
            ax_metric_name(m) if c == 1.0 else f"{c!r} * {ax_metric_name(m)}" for c, m in self.terms
        )
        return f"{lhs} {self.op} {self.bound!r}"


def parse_constraint(text: Any, *, field: str = "outcome_constraints") -> OutcomeConstraint:
    """Read ``"num_params <= 5e6"`` or ``"0.5 * a + 0.5 * b >= 0.9"``.

    Raises:
        SpecError: If ``text`` is not a string of that form.
    """
    fix = f"write it as {_CONSTRAINT_EXAMPLE}"
    if not isinstance(text, str):
        raise SpecError(f"{field}: got {text!r}; {fix}")
    sides = _SIDES.match(text)
    if sides is None:
        raise SpecError(f"{field}: got {text!r}, which has no '<=' or '>=' number; {fix}")
    lhs, op, bound = sides.groups()
    terms: list[tuple[float, str]] = []
    pos = 0
    while pos < len(lhs):
        term = _TERM.match(lhs, pos)
        if term is None or term.end() == pos or (terms and term.group(1) is None):
            raise SpecError(
                f"{field}: got {text!r}, whose left side is not a sum of metrics; {fix}"
            )
        sign, coef, name = term.groups()
        value = float(coef) if coef else 1.0
        terms.append((-value if sign == "-" else value, name))
        pos = term.end()
    if not terms:
        raise SpecError(f"{field}: got {text!r}, which names no metric; {fix}")
    number = float(bound)
    if not all(math.isfinite(c) for c, _ in terms) or not math.isfinite(number):
        raise SpecError(f"{field}: got {text!r}; use finite numbers")
    return OutcomeConstraint(terms=tuple(terms), op=op, bound=number, text=text)


@dataclass(frozen=True, kw_only=True)
class Outcomes:
    """The objectives (one or several) and the outcome constraints of a study.

    Attributes:
        metrics: The objectives' names, as the trainable reports them.
        modes: ``"min"`` or ``"max"`` for each objective.
        thresholds: Objective -> the worst value worth having (the hypervolume's
            reference point); objectives left out get Ax's inferred threshold.
        constraints: Constraints on reported metrics that are not objectives.
    """

    metrics: tuple[str, ...]
    modes: tuple[str, ...]
    thresholds: Mapping[str, float]
    constraints: tuple[OutcomeConstraint, ...] = ()

    @classmethod
    def build(
        cls,
        metric: str | Sequence[str],
        mode: str | Sequence[str],
        *,
        objective_thresholds: Mapping[str, float] | None = None,
        outcome_constraints: Sequence[str] = (),
    ) -> Outcomes:
        """Check and build the outcomes from Ray Tune style arguments.

        Args:
            metric: One metric name, or a list of them (several objectives).
            mode: ``"min"``/``"max"``, or a list of the same length as ``metric``.
            objective_thresholds: Objective -> threshold (several objectives only).
            outcome_constraints: Ax-syntax constraints on reported non-objective metrics.

        Raises:
            SpecError: On lists of unequal length, a duplicate metric, an unknown
                mode, a threshold on an unknown metric (or with one objective), a
                constraint on an objective, or a malformed constraint.
        """
        many = not isinstance(metric, str)
        metrics: tuple[str, ...] = (metric,) if isinstance(metric, str) else tuple(metric)
        modes = tuple(mode) if not isinstance(mode, str) else (mode,)
        if not metrics or not all(isinstance(m, str) and m for m in metrics):
            raise SpecError(f"metric: got {metric!r}; use a metric name or a list of them")
        if many != (not isinstance(mode, str)) or len(modes) != len(metrics):
            raise SpecError(
                f"mode: got {mode!r} for metric {metric!r}; give one mode per metric, "
                "both as strings or both as lists of the same length"
            )
        for m in modes:
            if m not in _MODES:
                raise SpecError(f"mode: got {m!r}; use 'min' or 'max'")
        seen = {ax_metric_name(m) for m in metrics}
        if len(seen) != len(metrics):
            raise SpecError(
                f"metric: got {list(metrics)!r}, which repeats a metric; name each once"
            )
        thresholds = dict(objective_thresholds or {})
        for name, value in thresholds.items():
            if name not in metrics:
                raise SpecError(
                    f"objective_thresholds: got {name!r}, which is not an objective; use "
                    f"one of {list(metrics)!r}"
                )
            if len(metrics) == 1:
                raise SpecError(
                    f"objective_thresholds: got {name!r} with a single objective; thresholds "
                    "set the reference point of several objectives; use an outcome "
                    f"constraint such as '{name} <= ...' on another metric instead"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"objective_thresholds.{name}: got {value!r}; use a number")
            if not math.isfinite(value):
                raise SpecError(f"objective_thresholds.{name}: got {value!r}; use a finite number")
        if isinstance(outcome_constraints, str):
            raise SpecError(
                f"outcome_constraints: got {outcome_constraints!r}; use a list of strings"
            )
        constraints = tuple(parse_constraint(c) for c in outcome_constraints)
        for c in constraints:
            on = [m for m in c.metrics if m in metrics]
            if on:
                raise SpecError(
                    f"outcome_constraints: got {c.text!r}, which constrains the objective "
                    f"{on[0]!r}; use objective_thresholds for an objective, or constrain "
                    "another metric"
                )
        return cls(
            metrics=metrics,
            modes=modes,
            thresholds={k: float(v) for k, v in thresholds.items()},
            constraints=constraints,
        )

    @property
    def is_multi(self) -> bool:
        """Whether there are several objectives."""
        return len(self.metrics) > 1

    @property
    def tracked(self) -> tuple[str, ...]:
        """Every metric the model needs from a trial: objectives, then constrained ones."""
        extra = dict.fromkeys(
            m for c in self.constraints for m in c.metrics if m not in self.metrics
        )
        return (*self.metrics, *extra)

    def ax_objective(self) -> str:
        """The objective in Ax's syntax: ``"-loss"``, ``"acc, -latency_ms"``."""
        return ", ".join(
            f"{'-' if mode == 'min' else ''}{ax_metric_name(m)}"
            for m, mode in zip(self.metrics, self.modes, strict=True)
        )

    def ax_constraints(self) -> list[str]:
        """Thresholds and constraints in Ax's syntax (thresholds first)."""
        out = []
        for m, mode in zip(self.metrics, self.modes, strict=True):
            if m in self.thresholds:
                op = "<=" if mode == "min" else ">="
                out.append(f"{ax_metric_name(m)} {op} {self.thresholds[m]!r}")
        return out + [c.to_ax() for c in self.constraints]

    def feasible(self, values: Mapping[str, float]) -> bool:
        """Whether a trial's ``values`` satisfy every outcome constraint."""
        return all(c.holds(values) for c in self.constraints)

    def layers(self, rows: Sequence[Mapping[str, float]]) -> list[int]:
        """Pareto layer of each row of objective values (0: none dominates it)."""
        signs = [1.0 if mode == "min" else -1.0 for mode in self.modes]
        return pareto_layers(
            [[s * row[m] for s, m in zip(signs, self.metrics, strict=True)] for row in rows]
        )


def pareto_layers(points: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated sorting: each point's Pareto layer, all objectives minimised.

    Layer 0 is the non-dominated set; layer ``k`` is non-dominated once layers
    ``< k`` are removed (Deb et al., "A fast and elitist multiobjective genetic
    algorithm: NSGA-II", IEEE TEC 2002).

    Args:
        points: ``n x k`` objective values.

    Returns:
        The layer of each point, in input order.
    """
    if len(points) == 0:
        return []
    y = np.asarray(points, dtype=float).reshape(len(points), -1)
    # dominates[i, j]: i is no worse than j everywhere and better somewhere.
    no_worse = np.all(y[:, None, :] <= y[None, :, :], axis=-1)
    better = np.any(y[:, None, :] < y[None, :, :], axis=-1)
    dominates = np.logical_and(no_worse, better)
    layers = np.full(len(y), -1)
    left = np.ones(len(y), dtype=bool)
    layer = 0
    while left.any():
        front = left & ~dominates[left].any(axis=0)
        layers[front] = layer
        left &= ~front
        layer += 1
    return [int(v) for v in layers]
