"""Check the linear parameter constraints against the space and the baseline.

Ax finds out that constraints exclude the whole space only at the first suggest,
after Ray has started; these checks find it while the spec is validated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distributed_bo.exceptions import SpecError
from distributed_bo.search.constraints import LinearConstraint, parse_constraint
from distributed_bo.spec.domains import DomainSpec
from distributed_bo.validation import describe

#: Slack allowed for binary noise in the coefficients (relative to the terms' size).
_TOLERANCE = 1e-9

_PATH = "searcher.parameter_constraints"


def parse_constraints(texts: Sequence[str]) -> tuple[LinearConstraint, ...]:
    """Parse each constraint (its names already checked against the space)."""
    return tuple(parse_constraint(text, f"{_PATH}[{i}]") for i, text in enumerate(texts))


def box(domains: Mapping[str, DomainSpec]) -> dict[str, tuple[float, float]]:
    """The interval of each range parameter; an integer one is relaxed to reals.

    ``randint`` and ``lograndint`` exclude ``upper``, so their largest value is
    ``upper - 1``.
    """
    out: dict[str, tuple[float, float]] = {}
    for name, domain in domains.items():
        if domain.lower is None or domain.upper is None:
            continue
        upper = float(domain.upper)
        if domain.type in ("randint", "lograndint"):
            upper -= 1
        out[name] = (float(domain.lower), upper)
    return out


def check_feasible(
    constraints: Sequence[LinearConstraint], domains: Mapping[str, DomainSpec]
) -> None:
    """Refuse constraints that no point of the space satisfies.

    Each constraint is first checked alone (the least its left side can be over
    the box of its parameters); then all together with ``scipy.optimize.linprog``,
    integer parameters relaxed to their real interval.

    Raises:
        SpecError: Naming the constraint that alone excludes the whole space, or
            saying that the constraints together do.

    """
    bounds = box(domains)
    for i, constraint in enumerate(constraints):
        least = sum(
            c * (bounds[n][0] if c > 0 else bounds[n][1])
            for n, c in constraint.coefficients.items()
        )
        if least > constraint.bound + _slack(constraint, bounds):
            ranges = ", ".join(
                f"{n} in [{bounds[n][0]:g}, {bounds[n][1]:g}]" for n in constraint.coefficients
            )
            raise SpecError(
                f"{_PATH}[{i}]: got {constraint.text!r}; no point of the space satisfies it "
                f"(with {ranges} it misses by at least {least - constraint.bound:g}); "
                "loosen it or widen the ranges in space"
            )
    if len(constraints) > 1 and not _jointly_feasible(constraints, bounds):
        raise SpecError(
            f"{_PATH}: got {describe([c.text for c in constraints])}; each can be met, "
            "but no point of the space meets them all at once; loosen or remove one"
        )


def check_baseline_meets(
    constraints: Sequence[LinearConstraint], baseline: Mapping[str, Any]
) -> None:
    """Refuse a baseline that violates a constraint (Ax would refuse to attach it).

    Raises:
        SpecError: Naming the first constraint the baseline violates.

    """
    for i, constraint in enumerate(constraints):
        values = {n: float(baseline[n]) for n in constraint.coefficients}
        if constraint.slack(values) < -_slack(constraint, {n: (v, v) for n, v in values.items()}):
            shown = ", ".join(f"{n}={baseline[n]!r}" for n in constraint.coefficients)
            raise SpecError(
                f"baseline: got {shown}; it violates {_PATH}[{i}] ({constraint.text!r}); "
                "change the baseline or the constraint"
            )


def _slack(constraint: LinearConstraint, bounds: Mapping[str, tuple[float, float]]) -> float:
    """Tolerance scaled to the size of the terms."""
    scale = abs(constraint.bound) + sum(
        abs(c) * max(abs(bounds[n][0]), abs(bounds[n][1]))
        for n, c in constraint.coefficients.items()
    )
    return _TOLERANCE * max(1.0, scale)


def _jointly_feasible(
    constraints: Sequence[LinearConstraint], bounds: Mapping[str, tuple[float, float]]
) -> bool:
    """Whether some point of the box meets every constraint (a linear program)."""
    from scipy.optimize import linprog

    names = list(dict.fromkeys(n for c in constraints for n in c.coefficients))
    rows = [[c.coefficients.get(n, 0.0) for n in names] for c in constraints]
    limits = [c.bound + _slack(c, bounds) for c in constraints]
    result = linprog(
        c=[0.0] * len(names),
        A_ub=rows,
        b_ub=limits,
        bounds=[bounds[n] for n in names],
        method="highs",
    )
    return result.status != 2  # 2: infeasible; anything else is not proof of it
