"""What a report shows, read from an experiment directory and derived from its rows.

Everything here is plain Python over the rows of ``trials.parquet`` (see
:mod:`distributed_bo.experiment.rows`): best-so-far series, the searched parameters,
and the assignment of trials to worker lanes for the timeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from distributed_bo.experiment import Experiment, read_experiment
from distributed_bo.experiment.rows import BRANCH_PREFIX, CONFIG_PREFIX, is_finite
from distributed_bo.experiment.rows import best_row as best_of
from distributed_bo.search.space import AX_SEP, NESTED_SEP
from distributed_bo.spec import StudySpec
from distributed_bo.spec._frozen import thaw
from distributed_bo.spec.domains import DomainSpec
from distributed_bo.types import Row, TrialStatus

_LOG_TYPES = ("loguniform", "lograndint", "qloguniform", "qlograndint")
_INT_TYPES = ("randint", "lograndint", "qrandint", "qlograndint")
#: A row's start times: its first start, and its latest (after restarts).
_TIMES = ("start_time", "last_start_time")


@dataclass(frozen=True, kw_only=True)
class Param:
    """One searched parameter, or one branch point of a conditional space.

    A branch point (a ``choice`` of mappings, or a ``when:`` controller) is one axis
    whose values are its branches' labels, read from the row's ``branch/<path>``
    column. Each parameter inside its branches is an axis of its own, null in the
    rows of the other branches (see :attr:`conditional`).

    Attributes:
        path: Flat name, as in the ``config/<path>`` (or ``branch/<path>``) columns.
        ax_name: The parameter's name in the Ax experiment (a branch point: its
            selector; inside branches: its parameter in the first branch holding it).
        log_scale: Whether the parameter is searched on a log scale.
        categories: The values of an unordered (categorical) choice, or a branch
            point's branch labels, else ``None``.
        branch_point: True for a branch point's axis: which branch a row took.
        title: The axis name, if not ``path`` (a branch point named after the
            constant that tells its branches apart, such as ``arch/depth``).
        ax_names: Inside branches: its Ax parameter in each branch that holds it
            (one per branch, as the searcher maps them); empty outside branches.
        branches: For each of :attr:`ax_names`, the innermost branch holding it, as
            ``(branch point path, branch index)``.
    """

    path: str
    ax_name: str
    log_scale: bool = False
    categories: tuple[Any, ...] | None = None
    branch_point: bool = False
    title: str = ""
    ax_names: tuple[str, ...] = ()
    branches: tuple[tuple[str, int], ...] = ()

    @property
    def column(self) -> str:
        """The row key holding this parameter's value (a branch point: its branch index)."""
        return f"{BRANCH_PREFIX if self.branch_point else CONFIG_PREFIX}{self.path}"

    @property
    def name(self) -> str:
        """The name the report shows."""
        return self.title or self.path

    @property
    def conditional(self) -> bool:
        """Whether it exists in some branches only (null in the other rows)."""
        return bool(self.ax_names)

    def value(self, row: Row) -> Any:
        """Its value in ``row``; ``None`` where the row's branch does not hold it.

        A branch point's value is the label of the branch the row took.
        """
        value = row.get(self.column)
        if not self.branch_point or value is None or not self.categories:
            return value
        index = int(value)
        return self.categories[index] if 0 <= index < len(self.categories) else None

    def ax_name_in(self, row: Row) -> str | None:
        """The Ax parameter that holds its value in ``row`` (``None``: inactive there)."""
        if not self.conditional:
            return self.ax_name
        for name, (path, index) in zip(self.ax_names, self.branches, strict=True):
            taken = row.get(f"{BRANCH_PREFIX}{path}")
            if taken is not None and int(taken) == index:
                return name
        return None


@dataclass(frozen=True, kw_only=True)
class Study(Experiment):
    """One experiment directory, read for the report.

    Attributes:
        exp: The directory.
        spec: The study's spec, from ``spec.yaml``.
        rows: One dict per trial of this study, sorted by Ax trial index (then
            start time).
        params: The searched parameters, in the spec's order.
        warm: The ``WARM`` rows of a ``data`` warm start (earlier results entered as
            observations, never run here), by Ax index; kept out of ``rows``, so the
            plots over trials and time show this study's own.
    """

    params: tuple[Param, ...]
    warm: tuple[Row, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Bar:
    """One trial on the timeline.

    Attributes:
        lane: Index of the lane (a GPU, or a worker slot) it ran in.
        start: Seconds since the study's first trial started.
        end: Seconds since then at which it ended (or was last seen running).
        status: The trial's status.
        label: The trial number shown on the bar.
    """

    lane: int
    start: float
    end: float
    status: str
    label: str


def load_study(experiment_dir: str) -> Study:
    """Read an experiment directory for the report (its trainable is not imported).

    Raises:
        ExperimentNotFoundError: If it holds no study, or its files are corrupt.
    """
    read = read_experiment(experiment_dir)
    rows = sorted(read.rows, key=_trial_order)
    own = [r for r in rows if r.get("status") != TrialStatus.WARM]
    warm = tuple(r for r in rows if r.get("status") == TrialStatus.WARM)
    params = searched_params(read.spec)
    return Study(exp=read.exp, spec=read.spec, rows=own, params=params, warm=warm)


def searched_params(spec: StudySpec) -> tuple[Param, ...]:
    """The spec's searched parameters (constants excluded), read from its domains.

    The same parameters, names and scales that :func:`distributed_bo.search.space.map_space`
    gives the searcher (a test checks it for every domain type), without building Ray
    Tune domains, so that a report imports no Ray Tune. A branch point is one
    :class:`Param` (its branches), followed by the parameters inside its branches,
    one per flat path (a ``when:``-gated parameter searched at several values of its
    controller is one axis).
    """
    parsed = spec.parsed_space()
    out: list[Param] = []
    for d in parsed.domains.values():
        out.extend(_params(d, _top_ax_name, inside=None))
    # A when:-gated parameter is shown by the name the spec gives it (width_3, not
    # num_layers/width_3): the branch point is named after its controller.
    for name, gate in parsed.gates.items():
        path = f"{gate.controller}{NESTED_SEP}{name}"
        out = [replace(p, title=name) if p.path == path else p for p in out]
    return tuple(out)


def _top_ax_name(path: str) -> str:
    return path.replace(NESTED_SEP, AX_SEP)


def _params(
    d: DomainSpec, name_of: Callable[[str], str], *, inside: tuple[str, int] | None
) -> list[Param]:
    """``d`` as the searcher sees it: none, one parameter, or a branch point's axes.

    Args:
        d: The domain.
        name_of: Flat path -> Ax name at this level (as the searcher names them).
        inside: The innermost branch holding ``d``; ``None`` outside branches.
    """
    ax_name = name_of(d.name)
    ax_names: tuple[str, ...] = () if inside is None else (ax_name,)
    held: tuple[tuple[str, int], ...] = () if inside is None else (inside,)
    if not d.is_branch_point:
        p = _param(d)
        return [] if p is None else [replace(p, ax_name=ax_name, ax_names=ax_names, branches=held)]
    branches = [thaw(v) for v in d.values or ()]
    prefix = f"{d.name}{NESTED_SEP}"
    if len(branches) == 1:  # one branch: its parameters are always there
        return [
            p
            for rel, value in _domains(branches[0])
            for p in _params(DomainSpec.from_dict(prefix + rel, value), name_of, inside=inside)
        ]
    title, labels = _branch_labels(d.name, branches)
    out = [
        Param(
            path=d.name,
            ax_name=ax_name,
            categories=labels,
            branch_point=True,
            title=title,
            ax_names=ax_names,
            branches=held,
        )
    ]
    by_path: dict[tuple[str, bool], int] = {}
    for i, branch in enumerate(branches):

        def inner(path: str, i: int = i) -> str:
            return f"{ax_name}{AX_SEP}b{i}{AX_SEP}{_top_ax_name(path[len(prefix) :])}"

        for rel, value in _domains(branch):
            domain = DomainSpec.from_dict(prefix + rel, value)
            for p in _params(domain, inner, inside=(d.name, i)):
                key = (p.path, p.branch_point)
                if key in by_path:  # the same path in another branch: one axis
                    seen = out[by_path[key]]
                    out[by_path[key]] = replace(
                        seen,
                        ax_names=seen.ax_names + p.ax_names,
                        branches=seen.branches + p.branches,
                    )
                else:
                    by_path[key] = len(out)
                    out.append(p)
    return out


def _domains(branch: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(relative flat path, domain mapping) of each domain in a branch, in order."""
    for key, value in branch.items():
        if isinstance(value, Mapping) and "type" in value:
            yield f"{prefix}{key}", value
        elif isinstance(value, Mapping):
            yield from _domains(value, f"{prefix}{key}{NESTED_SEP}")


def _constants(branch: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Relative flat path -> value of each constant in a branch."""
    out: dict[str, Any] = {}
    for key, value in branch.items():
        if isinstance(value, Mapping) and "type" not in value and value:
            out.update(_constants(value, f"{prefix}{key}{NESTED_SEP}"))
        elif not isinstance(value, Mapping):
            out[f"{prefix}{key}"] = value
    return out


def _branch_labels(path: str, branches: list[Any]) -> tuple[str, tuple[str, ...]]:
    """A branch point's axis title and one label per branch.

    Branches told apart by one constant (``depth: 2`` / ``depth: 3``, or a ``when:``
    controller's value) are labelled by its value, and the axis by its path
    (``arch/depth``; a ``when:`` controller: its own name). Otherwise each label
    lists the branch's constants (``branch i`` if it has none).
    """
    constants = [_constants(b) for b in branches]
    keys = {tuple(c) for c in constants}
    title = ""
    if len(keys) == 1 and len(next(iter(keys))) == 1:
        key = next(iter(keys))[0]
        labels = [str(next(iter(c.values()))) for c in constants]
        leaf = path.rsplit(NESTED_SEP, 1)[-1]
        title = "" if key == leaf else f"{path}{NESTED_SEP}{key}"
    else:
        labels = [
            ", ".join(f"{k}={v}" for k, v in c.items()) or f"branch {i}"
            for i, c in enumerate(constants)
        ]
    if len(set(labels)) < len(labels):
        labels = [f"{i}: {label}" for i, label in enumerate(labels)]
    return title, tuple(labels)


def _param(d: DomainSpec) -> Param | None:
    """``d`` as the searcher sees it, or ``None`` if it collapses to one value."""
    ax_name = d.name.replace(NESTED_SEP, AX_SEP)
    if d.type == "choice":
        values = list(thaw(d.values))
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numbers:  # an ordered choice; one distinct number is a constant
            ints = all(isinstance(v, int) for v in values)
            distinct = {int(v) if ints else float(v) for v in values}
            return None if len(distinct) < 2 else Param(path=d.name, ax_name=ax_name)
        if len(values) < 2:
            return None
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return Param(path=d.name, ax_name=ax_name, categories=tuple(values))
        labels = tuple(str(i) for i in range(len(values)))  # searched over indices
        return Param(path=d.name, ax_name=ax_name, categories=labels)
    lower, upper, q = float(d.lower or 0), float(d.upper or 0), d.q
    if q is not None and q != 1:  # multiples of q: a stepped range or an ordered choice
        count = math.floor(upper / q + 1e-9) - math.ceil(lower / q - 1e-9) + 1
        return None if count < 2 else Param(path=d.name, ax_name=ax_name)
    if d.type in _INT_TYPES and int(upper) - 1 <= int(lower):  # Ray's upper is exclusive
        return None
    return Param(path=d.name, ax_name=ax_name, log_scale=d.type in _LOG_TYPES)


def trial_label(row: Row) -> str:
    """The number a person knows a trial by: its Ax index, else its Tune id."""
    index = row.get("ax_index")
    return str(index) if index is not None else str(row.get("trial_id", "?"))


def best_so_far(values: list[float | None], mode: str) -> list[float | None]:
    """Running best of ``values``; ``None`` entries (no result) carry the best on."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if v is not None and (best is None or (v < best if mode == "min" else v > best)):
            best = v
        out.append(best)
    return out


def best_row(study: Study) -> Row | None:
    """The COMPLETED row with the best metric, or ``None``."""
    return best_of(study.rows, study.mode)


def time_origin(rows: list[Row]) -> float | None:
    """Unix time the first trial started, or ``None`` if no row has a start time."""
    starts = [r["start_time"] for r in rows if is_finite(r.get("start_time"))]
    return min(starts) if starts else None


def timeline(rows: list[Row]) -> tuple[list[str], list[Bar]]:
    """Assign trials to lanes: one per GPU where rows record it, else worker slots.

    Rows that record their ``gpu`` are grouped by node and GPU; other rows by node.
    Within a group, trials that overlap in time go to separate lanes, each trial to
    the lowest lane free at its start, so the lanes are the slots the study used and
    a gap in a lane is time that slot stood idle. A trial that restarted (after a
    worker died, or on ``resume``) is drawn from its last start (``last_start_time``,
    where the row has it): the time before is shown as idle. A row without an end
    time (still running, or left by a crash) ends at ``start + wall_time_s``, or at
    the latest time seen.

    Returns:
        Lane labels, and one bar per row that has a start time.
    """
    t0 = time_origin(rows)
    if t0 is None:
        return [], []
    latest = max(
        [r[k] for r in rows for k in (*_TIMES, "end_time") if is_finite(r.get(k))], default=t0
    )
    groups: dict[tuple[str, str], list[tuple[float, float, Row]]] = {}
    for r in rows:
        if is_finite(r.get("start_time")):
            start, end = _span(r, latest)
            groups.setdefault(_group(r), []).append((start, end, r))
    labels: list[str] = []
    bars: list[Bar] = []
    for group in sorted(groups):
        lane_ends: list[float] = []
        first = len(labels)
        for start, end, r in sorted(groups[group], key=lambda t: t[0]):
            free = [i for i, e in enumerate(lane_ends) if e <= start + 1e-6]
            lane = free[0] if free else len(lane_ends)
            if lane == len(lane_ends):
                lane_ends.append(end)
            lane_ends[lane] = end
            bars.append(
                Bar(
                    lane=first + lane,
                    start=start - t0,
                    end=end - t0,
                    status=str(r.get("status") or "?"),
                    label=trial_label(r),
                )
            )
        node, gpu = group
        for i in range(len(lane_ends)):
            if gpu:
                extra = f" #{i + 1}" if len(lane_ends) > 1 else ""
                labels.append(f"{node} GPU {gpu}{extra}")
            else:
                labels.append(f"{node} slot {i + 1}")
    return labels, bars


def busy_fraction(labels: list[str], bars: list[Bar]) -> float | None:
    """Busy lane-seconds over lanes × the study's span (1.0: no lane ever idle)."""
    if not bars:
        return None
    span = max(b.end for b in bars) - min(b.start for b in bars)
    if span <= 0:
        return None
    return sum(b.end - b.start for b in bars) / (len(labels) * span)


def peak_concurrency(bars: list[Bar]) -> int:
    """Most trials that ran at the same moment."""
    events = sorted([(b.start, 1) for b in bars] + [(b.end, -1) for b in bars])
    peak = running = 0
    for _, step in events:  # at equal times an end (-1) sorts before a start
        running += step
        peak = max(peak, running)
    return peak


def _span(row: Row, latest: float) -> tuple[float, float]:
    """(start, end) of a row with a start time, as :func:`timeline` draws it."""
    start = float(row["start_time"])
    if is_finite(row.get("last_start_time")):
        start = max(start, float(row["last_start_time"]))
    if is_finite(row.get("end_time")):
        end = float(row["end_time"])
    elif is_finite(row.get("wall_time_s")):
        end = start + float(row["wall_time_s"])
    else:
        end = latest
    return start, max(end, start)


def _group(row: Row) -> tuple[str, str]:
    """(node, GPU ids) of a row; the GPU ids are empty for a CPU trial."""
    gpu = row.get("gpu")
    text = "" if gpu is None else str(gpu).strip("[]").replace(" ", "")
    return (str(row.get("node") or "?"), text)


def _trial_order(row: Row) -> tuple[float, float]:
    index = row.get("ax_index")
    start = row.get("start_time")
    return (
        float(index) if index is not None else math.inf,
        float(start) if start is not None and is_finite(start) else math.inf,
    )
