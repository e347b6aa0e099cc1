"""The trial-row schema of ``trials.parquet``: reading, writing, and the best row.

A row is a plain dict (:data:`distributed_bo.types.Row`) with the columns of
:class:`TrialRow` plus one ``config/<path>`` column per parameter and, in a study
with several objectives or outcome constraints, one ``metric/<name>`` column per
objective and constrained metric. Rows written before a column was added lack it
(``last_start_time``, ``device``, ``feasible``), so readers use ``row.get``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypedDict

from distributed_bo.experiment.layout import TRIALS_FILE
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.types import TERMINAL, Mode, Row, TrialStatus

if TYPE_CHECKING:
    from distributed_bo.search.outcomes import Outcomes

#: Prefix of the per-parameter columns (``config/optim/lr``).
CONFIG_PREFIX = "config/"
#: Prefix of the branch columns of a conditional space (``branch/arch``: the index of
#: the branch taken at branch point ``arch``; a parameter of another branch is null).
BRANCH_PREFIX = "branch/"
#: Prefix of the per-metric columns of several objectives or constraints (``metric/acc``).
METRIC_PREFIX = "metric/"


class TrialRow(TypedDict, total=False):
    """The fixed columns of a trial row (the ``config/<path>`` columns come beside).

    Attributes:
        trial_id: Ray Tune's trial id.
        ax_index: The Ax trial index (the trial number people see).
        status: A :class:`~distributed_bo.types.TrialStatus` name.
        metric: The final reported objective (the first, with several).
        best_metric: The best objective the trial reported.
        is_baseline: Whether this is the spec's baseline trial.
        warm_start: ``SOURCE#TRIAL`` for a configuration taken from an earlier
            study by ``warm_start``, else null.
        feasible: With outcome constraints: whether a COMPLETED trial met them all.
        is_pareto: With several objectives: whether a COMPLETED, feasible trial is
            on the Pareto front of those finished so far.
        iterations: Training iterations reported.
        wall_time_s: Tune's ``time_total_s`` at the last report, seconds.
        start_time: Unix seconds of the first start.
        last_start_time: Unix seconds of the latest (re)start.
        end_time: Unix seconds it finished.
        node: The node it ran on.
        gpu: The GPU ids it ran on (JSON text).
        device: The device it reported training on.
        restarts: Times Tune restarted it after its worker died.
        error: Why it failed (one line), or the last restart's reason.
    """

    trial_id: str
    ax_index: int | None
    status: str
    metric: float | None
    best_metric: float | None
    is_baseline: bool
    warm_start: str | None
    feasible: bool | None
    is_pareto: bool | None
    iterations: int
    wall_time_s: float
    start_time: float
    last_start_time: float
    end_time: float
    node: str
    gpu: Any
    device: str
    restarts: int
    error: str


#: Columns written first, in this order; then the ``config/`` columns, then the rest.
_FIRST = (
    *("trial_id", "ax_index", "status", "metric", "best_metric", "is_baseline"),
    *("warm_start", "feasible", "is_pareto"),
)


def write_trials(storage: StorageDir, rows: list[Row]) -> None:
    """Write ``rows`` as ``trials.parquet`` atomically (a crash leaves the old file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = sorted({k for r in rows for k in r}, key=_column_order)
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    storage.write_bytes(TRIALS_FILE, sink.getvalue().to_pybytes())


def read_trials(storage: StorageDir) -> list[Row]:
    """Read the rows of ``trials.parquet`` (empty if it does not exist yet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = storage.read_bytes(TRIALS_FILE)
    if data is None:
        return []
    # One file's reader on the calling thread: ``pq.read_table``'s dataset scanner, and
    # even ``ParquetFile.read`` with Arrow's CPU pool, leave pool threads that can abort
    # the interpreter at exit ("terminate called without an active exception", rc 134)
    # in a short command such as ``show`` with pyarrow 26 (apache/arrow#34314). The
    # table is small, so one thread costs nothing.
    return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False).to_pylist()


#: The fixed columns a reader relies on, and what each may hold besides null.
_COLUMN_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "trial_id": ("a string", lambda v: isinstance(v, str)),
    "status": ("a string", lambda v: isinstance(v, str)),
    "ax_index": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "metric": ("a number", lambda v: _is_number(v)),
    "best_metric": ("a number", lambda v: _is_number(v)),
    "is_baseline": ("true or false", lambda v: isinstance(v, bool)),
    "warm_start": ("a string", lambda v: isinstance(v, str)),
    "feasible": ("true or false", lambda v: isinstance(v, bool)),
    "is_pareto": ("true or false", lambda v: isinstance(v, bool)),
    "iterations": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "restarts": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "wall_time_s": ("a number", lambda v: _is_number(v)),
    "start_time": ("a number", lambda v: _is_number(v)),
    "last_start_time": ("a number", lambda v: _is_number(v)),
    "end_time": ("a number", lambda v: _is_number(v)),
    "node": ("a string", lambda v: isinstance(v, str)),
    "device": ("a string", lambda v: isinstance(v, str)),
    "error": ("a string", lambda v: isinstance(v, str)),
}


def check_row(row: Row) -> None:
    """Check a row read back from ``trials.parquet``: its fixed columns have their types.

    ``trial_id`` and ``status`` must be there; the other columns may be null.

    Raises:
        ValueError: Naming the first column whose value has the wrong type.
    """
    if not isinstance(row.get("status"), str) or row.get("trial_id") is None:
        raise ValueError(f"a row without a trial_id or a status: {sorted(row)[:5]}")
    for column, (kind, ok) in _COLUMN_KINDS.items():
        value = row.get(column)
        if value is not None and not ok(value):
            raise ValueError(
                f"column {column!r} holds {value!r:.40} ({type(value).__name__}), not {kind}"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finished(row: Row) -> bool:
    """Whether the row's trial finished (COMPLETED, FAILED or EARLY_STOPPED)."""
    return row.get("status") in TERMINAL


def objective(row: Row) -> float | None:
    """The row's final metric if it COMPLETED feasible with a finite value, else ``None``."""
    value = row.get("metric")
    if row.get("status") != TrialStatus.COMPLETED or value is None or not is_finite(value):
        return None
    if row.get("feasible") is False:
        return None
    return float(value)


def metric_values(row: Row) -> dict[str, float]:
    """The row's finite ``metric/<name>`` values, by metric name."""
    n = len(METRIC_PREFIX)
    return {k[n:]: float(v) for k, v in row.items() if k.startswith(METRIC_PREFIX) and is_finite(v)}


def mark_front(rows: Iterable[Row], outcomes: Outcomes) -> None:
    """Set ``feasible`` and ``is_pareto`` on each row, in place, from its metric columns.

    A COMPLETED row that has every tracked metric gets ``feasible`` (with outcome
    constraints) and ``is_pareto`` (with several objectives): whether no other
    such feasible row dominates it. Other rows get ``None`` for both.
    """
    done: list[tuple[Row, dict[str, float]]] = []
    for r in rows:
        values = metric_values(r)
        if r.get("status") == TrialStatus.COMPLETED and all(m in values for m in outcomes.tracked):
            done.append((r, values))
        else:
            r.pop("feasible", None)
            r.pop("is_pareto", None)
    for r, values in done:
        if outcomes.constraints:
            r["feasible"] = outcomes.feasible(values)
    if outcomes.is_multi:
        ok = [(r, v) for r, v in done if r.get("feasible") is not False]
        layers = outcomes.layers([v for _, v in ok])
        for r, _ in done:
            r["is_pareto"] = False
        for (r, _), layer in zip(ok, layers, strict=True):
            r["is_pareto"] = layer == 0


def pareto_rows(rows: Iterable[Row]) -> list[Row]:
    """The rows marked ``is_pareto`` (see :func:`mark_front`), in file order."""
    return [r for r in rows if r.get("is_pareto") is True]


def best_row(rows: Iterable[Row], mode: Mode | str) -> Row | None:
    """The COMPLETED, feasible row with the best finite metric (first of ties), or ``None``."""
    done = [(value, r) for r in rows if (value := objective(r)) is not None]
    if not done:
        return None
    pick = min if mode == "min" else max
    return pick(done, key=lambda pair: pair[0])[1]


def best_metric(rows: Iterable[Row], mode: Mode | str) -> float | None:
    """The best final metric among COMPLETED rows, or ``None``."""
    row = best_row(rows, mode)
    return None if row is None else float(row["metric"])


def status_counts(rows: Iterable[Row]) -> dict[str, int]:
    """Number of rows per status."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def is_finite(value: Any) -> bool:
    """Whether ``value`` is a finite number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _column_order(name: str) -> tuple[int, str]:
    if name in _FIRST:
        return (0, f"{_FIRST.index(name):02d}")
    if name.startswith(METRIC_PREFIX):
        return (1, name)
    return (2 if name.startswith((CONFIG_PREFIX, BRANCH_PREFIX)) else 3, name)
