"""experiment/rows.py: the row schema, parquet round trip, best_row and the statuses."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from distributed_bo.experiment import StorageDir, best_metric, best_row, read_trials, write_trials
from distributed_bo.experiment.layout import TRIALS_FILE, tune_searcher_copies, tune_snapshots
from distributed_bo.experiment.rows import TrialRow, is_finished, objective, status_counts
from distributed_bo.types import TERMINAL, TrialStatus


def _row(tid, status, metric=None, **extra):
    return {"trial_id": tid, "status": status, "metric": metric, **extra}


ROWS = [
    _row("a", TrialStatus.COMPLETED, 3.0, ax_index=0),
    _row("b", TrialStatus.COMPLETED, 1.0, ax_index=1),
    _row("c", TrialStatus.FAILED, -9.0, ax_index=2, error="boom"),  # never the best
    _row("d", TrialStatus.EARLY_STOPPED, -5.0, ax_index=3),  # never the best
    _row("e", TrialStatus.COMPLETED, math.nan, ax_index=4),  # not finite
    _row("f", TrialStatus.COMPLETED, 1.0, ax_index=5),  # ties with b, comes later
    _row("g", TrialStatus.RUNNING, 0.5, ax_index=6),
]


@pytest.mark.parametrize(("mode", "tid", "value"), [("min", "b", 1.0), ("max", "a", 3.0)])
def test_best_row_is_the_first_best_completed_finite_row(mode, tid, value):
    assert best_row(ROWS, mode)["trial_id"] == tid
    assert best_metric(ROWS, mode) == value


def test_best_row_of_no_completed_row_is_none():
    rows = [r for r in ROWS if r["status"] != TrialStatus.COMPLETED]
    assert best_row(rows, "min") is None and best_metric(rows, "max") is None
    assert best_row([], "min") is None


def test_objective_and_finished():
    assert [objective(r) for r in ROWS] == [3.0, 1.0, None, None, None, 1.0, None]
    assert [is_finished(r) for r in ROWS] == [True] * 6 + [False]
    assert status_counts(ROWS) == {"COMPLETED": 4, "FAILED": 1, "EARLY_STOPPED": 1, "RUNNING": 1}


def test_statuses_are_plain_strings_in_the_file(tmp_path):
    exp = StorageDir.open(str(tmp_path), "study")
    write_trials(exp, ROWS)
    table = pq.read_table(tmp_path / "study" / TRIALS_FILE)
    assert table.schema.field("status").type == "string"
    back = read_trials(exp)
    assert [r["status"] for r in back] == [str(r["status"]) for r in ROWS]
    assert type(back[0]["status"]) is str and back[0]["status"] == TrialStatus.COMPLETED
    # the fixed columns first, in their order; then the rest, sorted
    assert table.column_names[:4] == ["trial_id", "ax_index", "status", "metric"]
    assert table.column_names[4:] == ["error"]
    assert best_row(back, "min")["trial_id"] == "b"


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_reading_the_file_starts_no_native_threads(tmp_path):
    """Reading ``trials.parquet`` leaves no Arrow pool threads behind (apache/arrow#34314).

    Pool threads still alive at interpreter exit abort it now and then (rc 134,
    "terminate called without an active exception"; 1 of 4 fresh readers in one CI
    run with ``ParquetFile.read()`` on Arrow's CPU pool). A thread count is
    deterministic where the abort is not: that reader left two threads here.
    """
    rows = [
        {"trial_id": f"t{i}", "status": "COMPLETED", "metric": float(i)}
        | {f"config/p{j}": i * j * 0.5 for j in range(30)}
        for i in range(200)
    ]
    write_trials(StorageDir.open(str(tmp_path), "wide"), rows)
    script = (
        "import os\n"
        "import pyarrow.parquet\n"  # its own threads (allocator) start on import
        "from distributed_bo.experiment import StorageDir, read_trials\n"
        "before = len(os.listdir('/proc/self/task'))\n"
        f"n = len(read_trials(StorageDir.open({str(tmp_path)!r}, 'wide')))\n"
        "print(n, len(os.listdir('/proc/self/task')) - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout.split()) == (0, ["200", "0"]), done.stderr[-500:]


def test_missing_file_reads_as_no_rows(tmp_path):
    assert read_trials(StorageDir.open(str(tmp_path), "nothing")) == []


def test_schema_and_enum_cover_every_status_the_writer_uses():
    statuses = {"PENDING", "RUNNING", "COMPLETED", "FAILED", "EARLY_STOPPED", "WARM"}
    assert set(TrialStatus) == statuses
    assert {"COMPLETED", "FAILED", "EARLY_STOPPED"} == TERMINAL
    # WARM: an earlier study's observation (data warm start), no trial of this one.
    assert [s.is_terminal for s in TrialStatus] == [False, False, True, True, True, False]
    assert {"trial_id", "ax_index", "status", "metric", "error"} <= set(TrialRow.__annotations__)


def test_tune_file_names_sorted_oldest_first():
    names = [
        "experiment_state-2026-01-02.json",
        "searcher-state-2026-01-02.pkl",
        "experiment_state-2026-01-01.json",
        "experiment_state-x.json.tmp",
        "searcher-state-2026-01-01.pkl",
        "trials.parquet",
    ]
    assert tune_snapshots(names) == [
        "experiment_state-2026-01-01.json",
        "experiment_state-2026-01-02.json",
    ]
    assert tune_searcher_copies(names) == [
        "searcher-state-2026-01-01.pkl",
        "searcher-state-2026-01-02.pkl",
    ]


def test_mark_front_sets_feasible_and_pareto_from_the_metric_columns() -> None:
    from distributed_bo.experiment.rows import mark_front, pareto_rows
    from distributed_bo.search.outcomes import Outcomes

    outcomes = Outcomes.build(["acc", "ms"], ["max", "min"], outcome_constraints=["params <= 100"])

    def row(i: int, status: str, **values: float) -> dict:
        return {"trial_id": str(i), "status": status} | {
            f"metric/{k}": v for k, v in values.items()
        }

    rows = [row(0, "RUNNING")]
    mark_front(rows, outcomes)  # nothing finished yet: no marks, no error
    assert "is_pareto" not in rows[0] and "feasible" not in rows[0]
    rows += [
        row(1, "COMPLETED", acc=0.9, ms=5.0, params=50),
        row(2, "COMPLETED", acc=0.8, ms=2.0, params=50),
        row(3, "COMPLETED", acc=0.7, ms=6.0, params=50),  # dominated by 1
        row(4, "COMPLETED", acc=0.99, ms=1.0, params=500),  # best of all, infeasible
        row(5, "FAILED", acc=0.95, ms=1.0, params=50),
        row(6, "COMPLETED", acc=0.95),  # lacks a tracked metric
    ]
    mark_front(rows, outcomes)
    assert [r["trial_id"] for r in pareto_rows(rows)] == ["1", "2"]
    assert [r.get("feasible") for r in rows] == [None, True, True, True, False, None, None]
    assert [r.get("is_pareto") for r in rows] == [None, True, True, False, False, None, None]
