"""Getting an experiment directory ready for ``resume``, before and after Ray starts.

Before: Tune's last snapshot is read (and checked), and our fresher searcher state
is put in the place of Tune's copy. After: the snapshot is repaired to match
``trials.parquet`` (:mod:`distributed_bo.runner.repair`), and the rows the resumed
run keeps are chosen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.exceptions import ExperimentNotFoundError
from distributed_bo.experiment.layout import SEARCHER_FILE, tune_searcher_copies, tune_snapshots
from distributed_bo.experiment.rows import is_finished, read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.repair import SnapshotRepair, repair_snapshot
from distributed_bo.spec import StudySpec
from distributed_bo.types import Row


@dataclass(frozen=True, kw_only=True)
class ResumePlan:
    """What a resumed run starts from.

    Attributes:
        tune_trials: Trial id to status, for every trial in Tune's last snapshot.
        rows: The rows kept: finished ones, and unfinished ones Tune knows. Rows of
            trials that never finished and that Tune never recorded are dropped:
            their Ax trials are re-run under new Tune trial ids.
        unfinished_configs: Trial id to config of every trial Tune will resume.
        repair: What was corrected in Tune's snapshot.
    """

    tune_trials: dict[str, str]
    rows: list[Row]
    unfinished_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    repair: SnapshotRepair = field(default_factory=SnapshotRepair)


def prepare_restore(exp: StorageDir) -> dict[str, str]:
    """Read Tune's last snapshot and put our fresher searcher state in its place.

    Returns:
        Trial id to status, for every trial in Tune's last experiment snapshot.

    Raises:
        ExperimentNotFoundError: If Tune's experiment state is missing or corrupt.
    """
    names = exp.list()
    states = tune_snapshots(names)
    if not states:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri} has no Ray Tune experiment state; it is not a "
            "study directory, or it was damaged"
        )
    try:
        data = json.loads((exp.read_bytes(states[-1]) or b"").decode())
        trials = {}
        for entry in data["trial_data"]:
            trial = json.loads(entry[0])
            trials[trial["trial_id"]] = trial["status"]
    except (ValueError, KeyError, TypeError, IndexError) as err:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri}/{states[-1]} is corrupt ({err}); the study cannot "
            "be resumed"
        ) from err
    ours = exp.read_bytes(SEARCHER_FILE)
    tune_copies = tune_searcher_copies(names)
    if ours is not None and tune_copies:
        exp.write_bytes(tune_copies[-1], ours)
    return trials


def plan_resume(exp: StorageDir, spec: StudySpec, tune_trials: dict[str, str]) -> ResumePlan:
    """Repair Tune's newest snapshot against ``trials.parquet``; choose the rows kept."""
    every = read_trials(exp)
    repair = repair_snapshot(
        exp,
        tune_snapshots(exp.list())[-1],
        every,
        metric=spec.objective.metric,
        checkpoint_frequency=spec.checkpoint.frequency,
    )
    rows = [r for r in every if is_finished(r) or r["trial_id"] in tune_trials]
    return ResumePlan(
        tune_trials=tune_trials,
        rows=rows,
        unfinished_configs=repair.unfinished,
        repair=repair,
    )


def repair_text(repair: SnapshotRepair) -> str:
    """One line on what a resume corrected in Tune's lagging snapshot."""
    parts = []
    if repair.finished:
        parts.append(f"{len(repair.finished)} finished trial(s) kept finished")
    if repair.moved:
        parts.append(
            f"{len(repair.moved)} trial(s) continue from their newest checkpoint on storage"
        )
    if repair.from_scratch:
        parts.append(f"{len(repair.from_scratch)} trial(s) start over (no checkpoint left)")
    return "resume: Tune's last snapshot lagged trials.parquet; " + ", ".join(parts)
