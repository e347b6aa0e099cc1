"""Read a study's warm start: earlier studies' trials, fitted to this space.

``initial`` mode takes each source's best configurations, which the study runs
first; ``data`` mode takes every completed trial with its values, which the
searcher attaches as observations (:mod:`distributed_bo.search.warm`) and the
results writer records as ``WARM`` rows.

``run`` calls :func:`warm_start_points` before it starts Ray, so an unreadable
source, a different objective in ``data`` mode or a warm start with nothing usable
is a one-line error with nothing started. The points are saved as
``warm_start.json`` in the new experiment directory (:func:`write_points`), so a
resume neither reads the sources again nor needs them to still exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from distributed_bo.exceptions import ExperimentNotFoundError, SpecError
from distributed_bo.experiment import Experiment, read_experiment
from distributed_bo.experiment.layout import WARM_START_FILE
from distributed_bo.experiment.rows import (
    CONFIG_PREFIX,
    METRIC_PREFIX,
    is_finite,
    metric_values,
    objective,
    pareto_rows,
)
from distributed_bo.experiment.spec_file import read_spec
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.spec import StudySpec
from distributed_bo.spec._frozen import thaw
from distributed_bo.spec.domains import NESTED_SEP
from distributed_bo.spec.feasibility import check_baseline_meets, parse_constraints
from distributed_bo.spec.notes import sobol_start
from distributed_bo.spec.space import ParsedSpace, parse_space
from distributed_bo.spec.warm_start import DEFAULT_TOP_K, WarmStartSpec
from distributed_bo.types import Row, TrialStatus
from distributed_bo.validation import fail

if TYPE_CHECKING:
    from distributed_bo.search.space import MappedSpace

#: Why an earlier configuration is not used, as the notes count them.
_REASONS = (
    "lack a parameter of this space",
    "lie outside this space or its constraints",
    "given by an earlier source",
    "lack a value of a modelled metric",
)


@dataclass(frozen=True, kw_only=True)
class WarmPoint:
    """One earlier configuration that this study evaluates first.

    Attributes:
        source: The earlier experiment directory, as shown to the user.
        trial: Its trial number (Ax index) there.
        config: Its values, by this study's flat parameter names.
        values: ``data`` mode: its observed value of every metric this study
            models (objectives, then constrained metrics); ``None`` in ``initial``
            mode, where it is evaluated again.
    """

    source: str
    trial: int | None
    config: dict[str, Any]
    values: dict[str, float] | None = None

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
    """The earlier trials ``spec``'s warm start takes, fitted to its space.

    ``initial`` mode: each source's best ``top_k`` configurations that fit the space
    and the budget. With one objective a source's best are its feasible COMPLETED
    rows with the best values of its own objective; with several, its Pareto set,
    by its first objective. ``data`` mode: every COMPLETED row of each source (see
    :func:`_observations`). A configuration is skipped when it lacks a parameter of
    this space, when a value lies outside its domain or breaks a parameter
    constraint, or (``initial``) when an earlier source gave it already; parameters
    this space does not search are dropped.

    Raises:
        SpecError: If a source cannot be read, is ``exp`` itself, has another
            objective (``data`` mode), or no source has a configuration that fits.
    """
    warm = spec.warm_start
    if warm is None:
        return WarmStart()
    from distributed_bo.search.space import map_space

    parsed = parse_space(spec.space)
    mapped = map_space(spec.param_space())
    earlier: list[Experiment] = []
    for i, source in enumerate(warm.sources):
        path = f"warm_start.from[{i}]"
        if StorageDir.open(source).uri == exp.uri:
            fail(path, source, "name an earlier study, not the one being started")
        if warm.is_data:  # before its rows are read: a wrong study is said as such
            _check_objectives(spec, _read(source, path, rows=False).spec, path, source)
        earlier.append(_read(source, path))
    if not warm.is_data:
        return _initial_points(spec, warm, parsed, earlier, mapped)
    out = WarmStart()
    for study in earlier:
        points, note = _observations(spec, parsed, study, mapped)
        out.points.extend(points)
        out.notes.append(note)
    if not out.points:
        fail(
            "warm_start.from",
            list(warm.sources),
            "none of their completed trials fits this study's space (each needs every "
            "searched parameter, inside its domain, and every modelled metric); widen "
            "the space or drop warm_start",
        )
    out.notes.append(_sobol_note(spec, len(out.points)))
    return out


def _initial_points(
    spec: StudySpec,
    warm: WarmStartSpec,
    parsed: ParsedSpace,
    sources: list[Experiment],
    mapped: MappedSpace,
) -> WarmStart:
    """``initial`` mode: each source's best ``top_k`` that fit, within the budget."""
    top_k = warm.top_k or DEFAULT_TOP_K
    constraints = parse_constraints(spec.searcher.parameter_constraints)
    out = WarmStart()
    seen: set[str] = set()
    for earlier in sources:
        taken, skipped = 0, dict.fromkeys(_REASONS, 0)
        for row in _best(earlier, top_k):
            config = _fit(row, parsed.domains, constraints, mapped)
            key = json.dumps(config, sort_keys=True, default=str)
            if isinstance(config, str) or key in seen:
                skipped[config if isinstance(config, str) else _REASONS[2]] += 1
                continue
            seen.add(key)
            index = row.get("ax_index")
            trial = int(index) if index is not None else None
            out.points.append(WarmPoint(source=earlier.exp.shown, trial=trial, config=config))
            taken += 1
        out.notes.append(_note(f"{taken} configuration(s)", earlier, skipped))
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


def _note(taken: str, earlier: Experiment, skipped: dict[str, int]) -> str:
    """One line per source: what was taken, and what was skipped and why."""
    why = "; ".join(f"{n} {reason}" for reason, n in skipped.items() if n)
    note = f"warm start: {taken} from {earlier.exp.shown}"
    return note + (f" (skipped: {why})" if why else "")


def _check_objectives(spec: StudySpec, theirs_spec: StudySpec, path: str, source: str) -> None:
    """``data`` mode: the source has this study's objectives and constrained metrics.

    Raises:
        SpecError: If its objectives or modes differ, or its rows lack a metric this
            study's outcome constraints read.
    """
    ours = sorted((o.metric, o.mode) for o in spec.objectives)
    theirs = sorted((o.metric, o.mode) for o in theirs_spec.objectives)
    if ours != theirs:
        fail(
            path,
            source,
            f"its objective ({_objectives(theirs)}) is not this study's "
            f"({_objectives(ours)}); data mode needs the same objectives and modes; use "
            "mode: initial, which re-evaluates its best configurations",
        )
    tracked = theirs_spec.outcomes().tracked
    missing = [m for m in spec.outcomes().tracked if m not in tracked]
    if missing:
        fail(
            path,
            source,
            f"its trials do not record {missing[0]!r}, which this study's constraints "
            "read; data mode needs every constrained metric in the earlier rows; use "
            "mode: initial, or drop the constraint",
        )


def _objectives(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{metric} {mode}" for metric, mode in pairs)


def _observations(
    spec: StudySpec, parsed: ParsedSpace, earlier: Experiment, mapped: MappedSpace
) -> tuple[list[WarmPoint], str]:
    """``data`` mode: a source's COMPLETED rows that fit, with their values, and a note.

    Rows are taken in the order the source proposed them. A row is skipped when it
    lacks a parameter of this space, a value lies outside its domain, breaks a
    parameter constraint or differs from a constant of this space, or when it lacks
    a finite value of a metric this study models. Rows of trials that failed or
    were stopped early, and the source's own warm data, are not taken.
    """
    constraints = parse_constraints(spec.searcher.parameter_constraints)
    tracked = spec.outcomes().tracked
    first = earlier.spec.objectives[0].metric
    points: list[WarmPoint] = []
    skipped = dict.fromkeys(_REASONS, 0)
    done = [r for r in earlier.rows if r.get("status") == TrialStatus.COMPLETED]
    for row in sorted(done, key=_trial_number):
        config = _fit(row, parsed.domains, constraints, mapped)
        if not isinstance(config, str) and not _meets_constants(row, parsed.constants):
            config = _REASONS[1]
        values = _values(row, tracked, first)
        if isinstance(config, str) or values is None:
            skipped[config if isinstance(config, str) else _REASONS[3]] += 1
            continue
        index = row.get("ax_index")
        trial = int(index) if index is not None else None
        points.append(
            WarmPoint(source=earlier.exp.shown, trial=trial, config=config, values=values)
        )
    return points, _note(f"{len(points)} observation(s)", earlier, skipped)


def _trial_number(row: Row) -> tuple[bool, int]:
    """Rows in the order their study proposed them (Ax index; rows without one last)."""
    index = row.get("ax_index")
    return (index is None, int(index or 0))


def _meets_constants(row: Row, constants: Any) -> bool:
    """Whether the row's values of this space's constants (where it has them) are equal.

    A row holds a list or mapping as JSON text (as the results writer writes it).
    """
    for name, value in constants.items():
        have = row.get(f"{CONFIG_PREFIX}{name}")
        want = thaw(value)
        if not (want is None or isinstance(want, (bool, int, float, str))):
            want = json.dumps(want, default=str)
        if have is not None and have != want:
            return False
    return True


def _values(row: Row, tracked: Sequence[str], first: str) -> dict[str, float] | None:
    """The row's finite value of each tracked metric, else ``None``.

    ``first`` is the source's first objective, whose value is the row's ``metric``.
    """
    values: dict[str, float] = {}
    for name in tracked:
        value = row.get("metric") if name == first else row.get(f"{METRIC_PREFIX}{name}")
        if value is None or not is_finite(value):
            return None
        values[name] = float(value)
    return values


def _sobol_note(spec: StudySpec, n: int) -> str:
    """How the warm observations change the Sobol start (they count toward num_initial)."""
    initial = sobol_start(spec)
    if n >= initial:
        return (
            f"warm start: {n} observation(s), at least searcher.num_initial ({initial}): no "
            "Sobol start, the first batch comes from the model"
        )
    return (
        f"warm start: {n} observation(s) count toward searcher.num_initial ({initial}): "
        f"Sobol points until {initial - n} trial(s) of this study have results"
    )


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


def _read(source: str, path: str, *, rows: bool = True) -> Experiment:
    """The source's spec and (unless ``rows`` is false) its rows, errors as ``path``'s."""
    try:
        if not rows:
            exp = StorageDir.open(source)
            return Experiment(exp=exp, spec=read_spec(exp), rows=[])
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


def _fit(row: Row, domains: Any, constraints: Any, mapped: MappedSpace) -> dict[str, Any] | str:
    """The row's values of every searched parameter, checked; else why not (a reason).

    A branch point (a choice of mappings, or a ``when:`` controller) takes the row's
    non-null ``config/<branch point>/...`` columns, by flat name: the branch the row
    took, with its constants and parameters, and nothing of the others. They must
    make exactly one branch of this space's branch point, as the searcher matches
    them (:meth:`~distributed_bo.search.space.MappedSpace.branch_taken`).
    """
    config: dict[str, Any] = {}
    for name, domain in domains.items():
        if domain.is_branch_point:
            prefix = f"{CONFIG_PREFIX}{name}{NESTED_SEP}"
            taken = {
                k[len(CONFIG_PREFIX) :]: v
                for k, v in row.items()
                if k.startswith(prefix) and v is not None
            }
            if not taken:
                return _REASONS[0]
            if not _in_a_branch(mapped, name, taken):
                return _REASONS[1]
            config.update(taken)
            continue
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


def _in_a_branch(mapped: MappedSpace, path: str, flat: dict[str, Any]) -> bool:
    """Whether ``flat`` (flat paths -> values) is exactly one branch of ``path``'s choice."""
    return mapped.branch_taken(path, flat) is not None
