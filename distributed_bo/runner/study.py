"""The study lifecycle: run a study from its spec, or resume one from its directory.

``run_study`` builds the Tuner (:mod:`distributed_bo.runner.tuner`), writes
``spec.yaml`` into the experiment directory first, and keeps ``trials.parquet``
current while it runs. ``resume_study`` continues a study from its directory after
any crash (:mod:`distributed_bo.runner.restore`). Both hold the directory's
``driver.lock`` (:mod:`distributed_bo.experiment.lock`) from before their first
write to their end, so one driver at a time writes an experiment.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from distributed_bo.exceptions import (
    ClusterError,
    ExperimentExistsError,
    SearcherStateError,
    SpecError,
    StudyFailedError,
)
from distributed_bo.experiment.layout import (
    LOCK_FILE,
    SEARCHER_FILE,
    SPEC_FILE,
    TRIALS_FILE,
    TUNER_FILE,
    tune_snapshots,
)
from distributed_bo.experiment.lock import driver_lock
from distributed_bo.experiment.rows import best_row
from distributed_bo.experiment.spec_file import read_spec, write_spec
from distributed_bo.experiment.storage import StorageDir, is_temp_name
from distributed_bo.runner.cluster import check_machine_fits, check_nodes_fit, connect
from distributed_bo.runner.outcome import interrupted, time_up
from distributed_bo.runner.progress import ProgressPrinter, StudyStopper
from distributed_bo.runner.restore import (
    ResumePlan,
    plan_resume,
    prepare_restore,
    repair_text,
    restore_failure,
)
from distributed_bo.runner.results import ResultsWriter
from distributed_bo.runner.signals import GracefulStop
from distributed_bo.runner.tuner import (
    build_trainable,
    new_tuner,
    restore_tuner,
    set_tune_environment,
)
from distributed_bo.runner.warm_start import (
    WarmPoint,
    read_points,
    warm_start_points,
    write_points,
)
from distributed_bo.runner.watchdog import TrialWatchdog
from distributed_bo.runner.wiring import build_searcher, resume_searcher
from distributed_bo.search.space import flatten
from distributed_bo.search.warm import WarmObservation
from distributed_bo.spec import StudySpec
from distributed_bo.spec.notes import sobol_only_note
from distributed_bo.types import Row, TrialStatus


@dataclass(frozen=True, kw_only=True)
class StudyResult:
    """What a finished study produced.

    Attributes:
        experiment_dir: The experiment directory (path or URI).
        rows: One dict per trial of this study, as in ``trials.parquet`` (which
            also holds a ``data`` warm start's observations, status ``WARM``).
        best: The best COMPLETED (and feasible) row of the first objective, or
            ``None``. With several objectives, the rows marked ``is_pareto`` are the
            trade-offs found.
        note: What ended the study early, in one line (its time budget ran out),
            else ``None``.
    """

    experiment_dir: str
    rows: list[Row]
    best: Row | None
    note: str | None = None


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
        ExperimentLockedError: If another driver holds the experiment directory
            (:mod:`distributed_bo.experiment.lock`); nothing is written or started.
        ExperimentExistsError: If the experiment directory already holds a study;
            call :func:`resume_study` on it instead.
        ClusterError: If Ray cannot be reached or no node fits a trial.
        StudyFailedError: If the failure-rate limit stopped the study, or no
            trial completed.
        StudyInterruptedError: If SIGINT (Ctrl-C) or SIGTERM stopped it (exit code
            130 or 143); the running trials were saved, and :func:`resume_study`
            continues. Signals are handled so only when called from the main thread.
    """
    if storage is not None and not storage.strip():
        raise SpecError(
            f"--storage: got {storage!r}; give a directory or a URI such as "
            "s3://bucket/prefix, or leave --storage out to use the spec's storage"
        )
    exp = StorageDir.open(storage or spec.storage, spec.name)
    # The lock first, then the check: of two racing `run`s only one passes it.
    with driver_lock(exp, notes=progress):
        warm = warm_start_points(spec, exp)  # first: a source that is exp says so
        _check_new(exp, spec.name)
        for line in warm.notes if progress is not None else []:
            print(line, file=progress, flush=True)
        started = _connect_and_check(spec, address, worker_logs)
        try:
            # After the cluster checks, so that a refused study prints its error alone.
            if progress is not None and (note := sobol_only_note(spec)):
                print(note, file=progress, flush=True)
            return _fit(spec, exp, progress=progress, resume=None, warm=warm.points)
        finally:
            _shutdown(started)


def _check_new(exp: StorageDir, name: str) -> None:
    """Refuse a directory that holds a study, or files that are not a study's."""
    if exp.exists(SPEC_FILE) or exp.exists(TUNER_FILE):
        raise ExperimentExistsError(
            f"name: an experiment {name!r} already exists at {exp.uri}; continue it "
            f"with `distributed-bo resume {exp.uri}` or choose another name"
        )
    # Only our lock, or a temporary file of a run killed while writing spec.yaml.
    others = sorted(n for n in exp.list() if n != LOCK_FILE and not is_temp_name(n))
    if others:
        raise ExperimentExistsError(
            f"name: {exp.uri} already exists and holds {len(others)} file(s) that are not "
            f"a study's (e.g. {others[0]!r}); choose another name or storage, so that "
            "distributed-bo writes into a directory of its own"
        )


def resume_study(
    experiment_dir: str,
    *,
    address: str | None = None,
    progress: TextIO | None = sys.stderr,
    worker_logs: bool = False,
    force: bool = False,
) -> StudyResult:
    """Continue a study from its experiment directory, to the end of its budget.

    Finished trials stay finished, running ones continue from their last
    checkpoint, and the searcher continues from its saved state.

    Args:
        experiment_dir: The directory :func:`run_study` wrote (``STORAGE/NAME``).
        address: As for :func:`run_study`.
        progress: As for :func:`run_study`.
        worker_logs: As for :func:`run_study`.
        force: Take over a stale ``driver.lock``: one whose holder runs on another
            host and sent no heartbeat for :data:`~distributed_bo.experiment.lock.STALE_AFTER_S`
            seconds. A live lock is never taken; a dead one (its holder ran on this
            machine and is gone) is taken without ``force``.

    Returns:
        As :func:`run_study`, over the trials of every run.

    Raises:
        ExperimentLockedError: If another driver holds the directory (live, or
            stale without ``force``); nothing is read, written or started.
        ExperimentNotFoundError: If the directory holds no readable study. One
            stopped before Tune's first snapshot and any result starts over from its
            ``spec.yaml``.
        SearcherStateError: If the saved searcher state (and the one saved before
            it) is corrupt, truncated, of another version or another space; nothing
            on storage is changed.
        TrainableError: If the spec's trainable cannot be imported here.
        ClusterError: As for :func:`run_study`.
        StudyFailedError: As for :func:`run_study`.
    """
    exp = StorageDir.open(experiment_dir)
    with driver_lock(exp, force=force, notes=progress):  # before anything is read or written
        spec = load_study_spec(exp)
        if _never_started(exp):  # stopped before Tune's first snapshot: nothing to lose
            if progress is not None:
                print(_FRESH_NOTE, file=progress, flush=True)
            started = _connect_and_check(spec, address, worker_logs)
            try:
                return _fit(spec, exp, progress=progress, resume=None)
            finally:
                _shutdown(started)
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


_FRESH_NOTE = (
    "resume: the study was stopped before Ray Tune's first snapshot and before any "
    "trial result; starting it from its spec.yaml"
)


def _never_started(exp: StorageDir) -> bool:
    """Whether a study directory records no progress: no Tune snapshot, no results.

    A driver stopped between writing ``spec.yaml`` and Tune's first snapshot leaves
    only ``spec.yaml`` (and perhaps ``tuner.pkl``): no trial ran to any result, so the
    study can start over, and neither ``run`` (the name is taken) nor a restore
    (Tune has nothing to restore) would help.
    """
    names = exp.list()
    return not tune_snapshots(names) and TRIALS_FILE not in names and SEARCHER_FILE not in names


def load_study_spec(exp: StorageDir) -> StudySpec:
    """Read the ``spec.yaml`` of a study to run: its trainable is imported and checked.

    Raises:
        ExperimentNotFoundError: If it is missing or unreadable.
        TrainableError: If the trainable cannot be imported here.
    """
    return read_spec(exp, import_trainable=True)


def _connect_and_check(spec: StudySpec, address: str | None, worker_logs: bool) -> bool:
    """Start or join Ray, refusing (before Ray starts, if local) a trial no node fits.

    A cluster given by ``--address`` may autoscale, so it is not checked.
    """
    need = {"CPU": spec.resources.cpus_per_trial, "GPU": spec.resources.gpus_per_trial}
    if address is None and not os.environ.get("RAY_ADDRESS") and not _ray_running():
        check_machine_fits(need)
    started = connect(address, log_to_driver=worker_logs)
    if address is None:
        try:
            check_nodes_fit(need)
        except ClusterError:
            _shutdown(started)
            raise
    return started


def _ray_running() -> bool:
    import ray

    return ray.is_initialized()


def _shutdown(started: bool) -> None:
    import ray

    if started and ray.is_initialized():
        ray.shutdown()


@dataclass(frozen=True, kw_only=True)
class _Run:
    """One run's Tuner and the parts of it that outlive ``fit()``."""

    tuner: Any
    searcher: Any
    writer: ResultsWriter
    stopper: StudyStopper


def _fit(
    spec: StudySpec,
    exp: StorageDir,
    *,
    progress: TextIO | None,
    resume: ResumePlan | None,
    warm: Sequence[WarmPoint] = (),
) -> StudyResult:
    """Build the run and fit it; SIGINT/SIGTERM stop it gracefully (exit 130/143)."""
    set_tune_environment(spec)
    with GracefulStop() as stop:
        try:
            run = _build_run(spec, exp, progress=progress, resume=resume, warm=warm)
            note = _run_tuner(run, spec, stop)
        except KeyboardInterrupt:
            if stop.signum is None:  # not ours: no handler here (not the main thread)
                raise
            raise interrupted(exp, stop.signum) from None
    rows = list(run.writer.rows.values())
    if stop.signum is not None:
        raise interrupted(exp, stop.signum, rows=rows, total=spec.budget.num_trials)
    return _result(spec, exp, rows, run.stopper, note)


def _build_run(
    spec: StudySpec,
    exp: StorageDir,
    *,
    progress: TextIO | None,
    resume: ResumePlan | None,
    warm: Sequence[WarmPoint] = (),
) -> _Run:
    if resume is not None:  # the points the study started with, not the sources today
        warm = read_points(exp)
    rerun = [p for p in warm if p.values is None]  # initial mode: evaluated again
    data = [p for p in warm if p.values is not None]  # data mode: observations
    observations = [
        WarmObservation(config=p.config, values=p.values or {}, label=p.label) for p in data
    ]
    searcher = build_searcher(spec, [p.config for p in rerun], observations)
    writer = ResultsWriter(
        storage=exp,
        metric=spec.objectives[0].metric,
        mode=spec.objectives[0].mode,
        outcomes=spec.outcomes(),
        searcher=searcher,
        baseline=flatten(spec.baseline) if spec.baseline else None,
        warm={p.label: p.config for p in rerun},
        observations=data,
        rows=resume.rows if resume else None,
    )
    stopper = StudyStopper(
        writer=writer,
        max_fraction=spec.max_failure_fraction,
        finished=writer.finished_ids(),
        metric=spec.objectives[0].metric,
    )
    callbacks = _callbacks(spec, writer, progress)
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
            tracked=spec.outcomes().tracked,
        )
        writer.attach_searcher(searcher)
        writer.set_verify(functools.partial(restore_failure, resume, searcher=searcher))
    else:
        # Written once the trainable's data loaded, so a failed setup leaves nothing.
        write_spec(exp, spec)
        if warm:
            write_points(exp, warm)
        tuner = new_tuner(
            spec,
            exp,
            trainable=trainable,
            param_space=param_space,
            searcher=searcher,
            callbacks=callbacks,
            stopper=stopper,
        )
    return _Run(tuner=tuner, searcher=searcher, writer=writer, stopper=stopper)


def _callbacks(spec: StudySpec, writer: ResultsWriter, progress: TextIO | None) -> list[Any]:
    """The run's Tune callbacks: the writer first, as the others read its rows."""
    callbacks: list[Any] = [writer]
    if progress is not None:
        callbacks.append(
            ProgressPrinter(writer=writer, total=spec.budget.num_trials, stream=progress)
        )
    if spec.trainable.timeout_s is not None:
        callbacks.append(TrialWatchdog(timeout_s=spec.trainable.timeout_s, writer=writer))
    return callbacks


def _run_tuner(run: _Run, spec: StudySpec, stop: GracefulStop) -> str | None:
    """``fit()`` the run; returns a note if its time budget ended it early."""
    start = time.monotonic()
    try:
        run.tuner.fit()
    except Exception as err:
        if run.writer.restore_error:
            raise SearcherStateError(run.writer.restore_error) from err
        raise
    else:
        if run.writer.restore_error:  # Tune may log a callback's error and carry on
            raise SearcherStateError(run.writer.restore_error)
        if stop.signum is not None or run.stopper.triggered:
            return None  # not the time budget that ended it
        return time_up(spec, run.writer, time.monotonic() - start)  # needs the searcher open
    finally:
        if hasattr(run.searcher, "close"):
            run.searcher.close()


def _result(
    spec: StudySpec, exp: StorageDir, rows: list[Row], stopper: StudyStopper, note: str | None
) -> StudyResult:
    """The study's result, or the error that says why it failed."""
    if stopper.triggered:
        raise StudyFailedError(f"max_failure_fraction: study stopped: {stopper.triggered}")
    if rows and not any(r.get("status") == TrialStatus.COMPLETED for r in rows):
        if note:
            raise StudyFailedError(
                f"{note}, and none completed; raise budget.time_budget_s; results are in "
                f"{exp.shown}"
            )
        first = next((r.get("error") for r in rows if r.get("error")), "unknown")
        raise StudyFailedError(
            f"trainable: no trial completed ({len(rows)} failed; first reason: {first}); "
            f"results are in {exp.uri}"
        )
    best = best_row(rows, spec.objectives[0].mode)
    return StudyResult(experiment_dir=exp.uri, rows=rows, best=best, note=note)
