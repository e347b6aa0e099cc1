"""Read a study's warm start: earlier studies' best configurations, fitted to this space.

``run`` calls :func:`warm_start_points` before it starts Ray, so an unreadable
source or a warm start with nothing usable is a one-line error with nothing
started. The points are saved as ``warm_start.json`` in the new experiment
directory (:func:`write_points`), so a resume neither reads the sources again nor
needs them to still exist, and the results writer marks the rows they became.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from distributed_bo.exceptions import ExperimentNotFoundError, SpecError
from distributed_bo.experiment import Experiment, read_experiment
from distributed_bo.experiment.layout import WARM_START_FILE
from distributed_bo.experiment.rows import CONFIG_PREFIX, metric_values, objective, pareto_rows
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.spec import StudySpec
from distributed_bo.spec.feasibility import check_baseline_meets, parse_constraints
from distributed_bo.spec.space import parse_space
from distributed_bo.types import Row
from distributed_bo.validation import fail

#: Why an earlier configuration is not used, as the notes count them.
_REASONS = (
    "lack a parameter of this space",
    "lie outside this space or its constraints",
    "given by an earlier source",
)


@dataclass(frozen=True, kw_only=True)
class WarmPoint:
    """One earlier configuration that this study evaluates first.

    Attributes:
        source: The earlier experiment directory, as shown to the user.
        trial: Its trial number (Ax index) there.
        config: Its values, by this study's flat parameter names.
    """

    source: str
    trial: int | None
    config: dict[str, Any]

    @property
    def label(self) -> str:
        """``SOURCE#TRIAL``, the ``warm_start`` column of the row it becomes."""
        return f"{self.source}#{self.trial}"


@dataclass(frozen=True, kw_only=True)
class WarmStart:
    """What :func:`warm_start_points` found.

    Attributes:
        points: The configurations to evaluate first, best first per source.
        notes: One line per source: how many were taken, and skipped and why.
    """

    points: list[WarmPoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def warm_start_points(spec: StudySpec, exp: StorageDir) -> WarmStart:
    """Each source's best ``top_k`` configurations that fit ``spec``'s space and budget.

    With one objective a source's best are its feasible COMPLETED rows with the best
    values of its own objective; with several, its Pareto set, by its first
    objective. A configuration is skipped when it lacks a parameter of this space,
    when a value lies outside its domain or breaks a parameter constraint, or when an
    earlier source gave it already; parameters this space does not search are dropped.

    Raises:
        SpecError: If a source cannot be read, is ``exp`` itself, or no source has
            a configuration that fits.
    """
    warm = spec.warm_start
    if warm is None:
        return WarmStart()
    parsed = parse_space(spec.space)
    constraints = parse_constraints(spec.searcher.parameter_constraints)
    out = WarmStart()
    seen: set[str] = set()
    for i, source in enumerate(warm.sources):
        path = f"warm_start.from[{i}]"
        if StorageDir.open(source).uri == exp.uri:
            fail(path, source, "name an earlier study, not the one being started")
        earlier = _read(source, path)
        taken, skipped = 0, dict.fromkeys(_REASONS, 0)
        for row in _best(earlier, warm.top_k):
            config = _fit(row, parsed.domains, constraints)
            key = json.dumps(config, sort_keys=True, default=str)
            if isinstance(config, str) or key in seen:
                skipped[config if isinstance(config, str) else _REASONS[2]] += 1
                continue
            seen.add(key)
            index = row.get("ax_index")
            trial = int(index) if index is not None else None
            out.points.append(WarmPoint(source=earlier.exp.shown, trial=trial, config=config))
            taken += 1
        why = "; ".join(f"{n} {reason}" for reason, n in skipped.items() if n)
        note = f"warm start: {taken} configuration(s) from {earlier.exp.shown}"
        out.notes.append(note + (f" (skipped: {why})" if why else ""))
    room = spec.budget.num_trials - (1 if spec.baseline else 0)
    if room < 1:
        fail(
            "warm_start",
            warm.to_dict(),
            "budget.num_trials leaves no trial after the baseline; raise it or drop warm_start",
        )
    if len(out.points) > room:
        out.notes.append(
            f"warm start: the first {room} of {len(out.points)} configurations fit in "
            f"budget.num_trials ({spec.budget.num_trials}); the rest are left out"
        )
        del out.points[room:]
    if not out.points:
        fail(
            "warm_start.from",
            list(warm.sources),
            "none of their completed configurations fits this study's space (each needs "
            "every searched parameter, inside its domain); widen the space or drop warm_start",
        )
    return out


def write_points(exp: StorageDir, points: Sequence[WarmPoint]) -> None:
    """Save the points as ``warm_start.json`` (read back by :func:`read_points`)."""
    data = json.dumps([asdict(p) for p in points], default=str, indent=1)
    exp.write_bytes(WARM_START_FILE, data.encode("utf-8"))


def read_points(exp: StorageDir) -> list[WarmPoint]:
    """The points a study was started with; empty without a warm start."""
    raw = exp.read_bytes(WARM_START_FILE)
    if raw is None:
        return []
    return [WarmPoint(**p) for p in json.loads(raw)]


def _read(source: str, path: str) -> Experiment:
    try:
        return read_experiment(source)
    except ExperimentNotFoundError as err:  # "experiment_dir: <what is wrong>; <fix>"
        raise SpecError(f"{path}: {str(err).removeprefix('experiment_dir: ')}") from err


def _best(earlier: Experiment, k: int) -> list[Row]:
    """Its best ``k`` feasible COMPLETED rows (its Pareto set with several objectives)."""
    objectives = earlier.spec.objectives
    first, mode = objectives[0].metric, objectives[0].mode
    sign = -1.0 if mode == "max" else 1.0
    if len(objectives) > 1:
        front = pareto_rows(earlier.rows)
        ranked = sorted(front, key=lambda r: sign * metric_values(r).get(first, float("inf")))
    else:
        done = [r for r in earlier.rows if objective(r) is not None]
        ranked = sorted(done, key=lambda r: sign * float(objective(r) or 0.0))
    return ranked[:k]


def _fit(row: Row, domains: Any, constraints: Any) -> dict[str, Any] | str:
    """The row's values of every searched parameter, checked; else why not (a reason)."""
    config: dict[str, Any] = {}
    for name, domain in domains.items():
        column = f"{CONFIG_PREFIX}{name}"
        if row.get(column) is None:
            return _REASONS[0]
        try:
            domain.check_value(row[column], column)
        except SpecError:
            return _REASONS[1]
        config[name] = row[column]
    try:
        check_baseline_meets(constraints, config)
    except SpecError:
        return _REASONS[1]
    return config
