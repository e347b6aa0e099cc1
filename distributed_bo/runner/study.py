"""The study lifecycle: run a study from its spec, or resume one from its directory.

``run_study`` builds the Tuner (:mod:`distributed_bo.runner.tuner`), writes
``spec.yaml`` into the experiment directory first, and keeps ``trials.parquet``
current while it runs. ``resume_study`` continues a study from its directory after
any crash (:mod:`distributed_bo.runner.restore`).
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from distributed_bo.exceptions import (
    ClusterError,
    ExperimentExistsError,
    ExperimentNotFoundError,
    SearcherStateError,
    StudyFailedError,
)
from distributed_bo.experiment.layout import SPEC_FILE, TUNER_FILE
from distributed_bo.experiment.rows import best_row
from distributed_bo.experiment.spec_file import read_spec, write_spec
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.cluster import connect, max_gpus_per_node
from distributed_bo.runner.progress import ProgressPrinter, StudyStopper
from distributed_bo.runner.restore import (
    ResumePlan,
    plan_resume,
    prepare_restore,
    repair_text,
    restore_failure,
)
from distributed_bo.runner.results import ResultsWriter
from distributed_bo.runner.tuner import (
    build_trainable,
    new_tuner,
    restore_tuner,
    set_tune_environment,
)
from distributed_bo.runner.wiring import build_searcher, resume_searcher
from distributed_bo.search.space import flatten
from distributed_bo.spec import StudySpec
from distributed_bo.types import Row, TrialStatus


@dataclass(frozen=True, kw_only=True)
class StudyResult:
    """What a finished study produced.

    Attributes:
        experiment_dir: The experiment directory (path or URI).
        rows: One dict per trial, as in ``trials.parquet``.
        best: The best COMPLETED row, or ``None``.
    """

    experiment_dir: str
    rows: list[Row]
    best: Row | None


def run_study(
    spec: StudySpec,
    *,
    address: str | None = None,
    storage: str | None = None,
    progress: TextIO | None = sys.stderr,
    worker_logs: bool = False,
) -> StudyResult:
    """Run a study from a validated spec, to the end of its budget.

    Args:
        spec: The study, e.g. from :func:`distributed_bo.load_spec`.
        address: A Ray cluster to join; ``None`` starts a local Ray on 127.0.0.1
            (or joins ``RAY_ADDRESS``).
        storage: Overrides ``spec.storage``; the directory is ``STORAGE/NAME``.
        progress: Stream for live progress lines; ``None`` for silence.
        worker_logs: Stream the trials' own output to this process.

    Returns:
        The experiment directory, every trial's row, and the best row.

    Raises:
        ExperimentExistsError: If the experiment directory already holds a study;
            call :func:`resume_study` on it instead.
        ClusterError: If Ray cannot be reached or no node fits a trial.
        StudyFailedError: If the failure-rate limit stopped the study, or no
            trial completed.
    """
    exp = StorageDir.open(storage or spec.storage, spec.name)
    if exp.exists(SPEC_FILE) or exp.exists(TUNER_FILE):
        raise ExperimentExistsError(
            f"name: an experiment {spec.name!r} already exists at {exp.uri}; continue it "
            f"with `distributed-bo resume {exp.uri}` or choose another name"
        )
    started = _connect_and_check(spec, address, worker_logs)
    try:
        return _fit(spec, exp, progress=progress, resume=None)
    finally:
        _shutdown(started)


def resume_study(
    experiment_dir: str,
    *,
    address: str | None = None,
    progress: TextIO | None = sys.stderr,
    worker_logs: bool = False,
) -> StudyResult:
    """Continue a study from its experiment directory, to the end of its budget.

    Finished trials stay finished, running ones continue from their last
    checkpoint, and the searcher continues from its saved state.

    Args:
        experiment_dir: The directory :func:`run_study` wrote (``STORAGE/NAME``).
        address: As for :func:`run_study`.
        progress: As for :func:`run_study`.
        worker_logs: As for :func:`run_study`.

    Returns:
        As :func:`run_study`, over the trials of every run.

    Raises:
        ExperimentNotFoundError: If the directory holds no readable study, or the
            study never started (then :func:`run_study` it again).
        SearcherStateError: If the saved searcher state (and the one saved before
            it) is corrupt, truncated, of another version or another space; nothing
            on storage is changed.
        TrainableError: If the spec's trainable cannot be imported here.
        ClusterError: As for :func:`run_study`.
        StudyFailedError: As for :func:`run_study`.
    """
    exp = StorageDir.open(experiment_dir)
    spec = load_study_spec(exp)
    if not exp.exists(TUNER_FILE):
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri} has no Ray Tune state ({TUNER_FILE}) yet; the "
            "study never started, so `run` it again"
        )
    # Checks Tune's state and the searcher's before Ray starts; writes only if both pass.
    start = prepare_restore(exp, spec)
    if progress is not None:
        for line in start.warnings:
            print(line, file=progress, flush=True)
    started = _connect_and_check(spec, address, worker_logs)
    try:
        plan = plan_resume(exp, spec, start.tune_trials)
        if plan.repair and progress is not None:
            print(repair_text(plan.repair), file=progress, flush=True)
        return _fit(spec, exp, progress=progress, resume=plan)
    finally:
        _shutdown(started)


def load_study_spec(exp: StorageDir) -> StudySpec:
    """Read the ``spec.yaml`` of a study to run: its trainable is imported and checked.

    Raises:
        ExperimentNotFoundError: If it is missing or unreadable.
        TrainableError: If the trainable cannot be imported here.
    """
    return read_spec(exp, import_trainable=True)


def _connect_and_check(spec: StudySpec, address: str | None, worker_logs: bool) -> bool:
    gpus = spec.resources.gpus_per_trial
    local = address is None and not os.environ.get("RAY_ADDRESS")
    if local and gpus > 0 and not _ray_running():
        have = _local_gpu_count()
        if have is not None and have < gpus:
            raise ClusterError(
                f"resources.gpus_per_trial: {gpus:g} GPUs per trial, but this machine has "
                f"{have}; lower gpus_per_trial or pass --address of a bigger cluster"
            )
    started = connect(address, log_to_driver=worker_logs)
    most = max_gpus_per_node() if gpus > 0 and address is None else None
    if most is not None and most < gpus:
        _shutdown(started)
        raise ClusterError(
            f"resources.gpus_per_trial: {gpus} GPUs per trial, but no node has more than "
            f"{most:g}; lower gpus_per_trial or run on a bigger cluster"
        )
    return started


def _ray_running() -> bool:
    import ray

    return ray.is_initialized()


def _local_gpu_count() -> int | None:
    """GPUs Ray would find on this machine, without starting Ray (None if unknown)."""
    try:
        from ray._private.accelerators import get_accelerator_manager_for_resource

        manager = get_accelerator_manager_for_resource("GPU")
        return None if manager is None else int(manager.get_current_node_num_accelerators())
    except Exception:  # a private Ray API; the check after connecting still applies
        return None


def _shutdown(started: bool) -> None:
    import ray

    if started and ray.is_initialized():
        ray.shutdown()


def _fit(
    spec: StudySpec, exp: StorageDir, *, progress: TextIO | None, resume: ResumePlan | None
) -> StudyResult:
    set_tune_environment(spec)
    searcher = build_searcher(spec)
    writer = ResultsWriter(
        storage=exp,
        metric=spec.objective.metric,
        mode=spec.objective.mode,
        searcher=searcher,
        baseline=flatten(spec.baseline) if spec.baseline else None,
        rows=resume.rows if resume else None,
    )
    stopper = StudyStopper(
        writer=writer,
        max_fraction=spec.max_failure_fraction,
        finished=writer.finished_ids(),
        metric=spec.objective.metric,
    )
    callbacks: list[Any] = [writer]
    if progress is not None:
        callbacks.append(
            ProgressPrinter(writer=writer, total=spec.budget.num_trials, stream=progress)
        )
    trainable, param_space = build_trainable(spec)
    if resume is not None:
        tuner, searcher = restore_tuner(
            exp, trainable=trainable, param_space=param_space, callbacks=callbacks, stopper=stopper
        )
        resume_searcher(
            searcher,
            tune_trials=set(resume.tune_trials),
            rows=resume.rows,
            unfinished_configs=resume.unfinished_configs,
        )
        writer.attach_searcher(searcher)
        writer.set_verify(functools.partial(restore_failure, resume, searcher=searcher))
    else:
        # Written once the trainable's data loaded, so a failed setup leaves nothing.
        write_spec(exp, spec)
        tuner = new_tuner(
            spec,
            exp,
            trainable=trainable,
            param_space=param_space,
            searcher=searcher,
            callbacks=callbacks,
            stopper=stopper,
        )
    try:
        tuner.fit()
    except Exception as err:
        if writer.restore_error:
            raise SearcherStateError(writer.restore_error) from err
        raise
    finally:
        if hasattr(searcher, "close"):
            searcher.close()
    if writer.restore_error:  # Tune may log a callback's error and carry on
        raise SearcherStateError(writer.restore_error)
    return _result(spec, exp, list(writer.rows.values()), stopper)


def _result(
    spec: StudySpec, exp: StorageDir, rows: list[Row], stopper: StudyStopper
) -> StudyResult:
    """The study's result, or the error that says why it failed."""
    if stopper.triggered:
        raise StudyFailedError(f"max_failure_fraction: study stopped: {stopper.triggered}")
    if rows and not any(r.get("status") == TrialStatus.COMPLETED for r in rows):
        first = next((r.get("error") for r in rows if r.get("error")), "unknown")
        raise StudyFailedError(
            f"trainable: no trial completed ({len(rows)} failed; first reason: {first}); "
            f"results are in {exp.uri}"
        )
    best = best_row(rows, spec.objective.mode)
    return StudyResult(experiment_dir=exp.uri, rows=rows, best=best)
