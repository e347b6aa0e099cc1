"""The study runner: a job spec becomes a ``tune.Tuner`` with the batch searcher.

``run_study`` builds the Tuner (the spec's scheduler, ``tune.with_resources``, actor
reuse, storage, failure and checkpoint configs), writes ``spec.yaml`` into the
experiment directory first, and keeps ``trials.parquet`` current while it runs.
``resume_study`` continues a study from its directory after any crash.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

from distributed_bo.exceptions import (
    ClusterError,
    ExperimentExistsError,
    ExperimentNotFoundError,
    SpecError,
    StudyFailedError,
)
from distributed_bo.runner.cluster import connect, max_gpus_per_node
from distributed_bo.runner.guard import guard_trainable
from distributed_bo.runner.progress import ProgressPrinter, StudyStopper, best_metric
from distributed_bo.runner.repair import SnapshotRepair, repair_snapshot
from distributed_bo.runner.results import SEARCHER_FILE, TERMINAL, ResultsWriter, read_trials
from distributed_bo.runner.storage import StorageDir
from distributed_bo.search.searcher import BatchBOSearcher
from distributed_bo.search.space import flatten
from distributed_bo.spec import StudySpec

logger = logging.getLogger(__name__)

SPEC_FILE = "spec.yaml"
#: Seconds between Ray Tune's experiment snapshots (Tune's "auto" is >= 10 s). Short,
#: so that after a driver crash few trials are unknown to Tune's state.
TUNE_SNAPSHOT_S = "2"


@dataclass(frozen=True, kw_only=True)
class StudyResult:
    """What a finished study produced.

    Attributes:
        experiment_dir: The experiment directory (path or URI).
        rows: One dict per trial, as in ``trials.parquet``.
        best: The best COMPLETED row, or ``None``.
    """

    experiment_dir: str
    rows: list[dict[str, Any]]
    best: dict[str, Any] | None


def run_study(
    spec: StudySpec,
    *,
    address: str | None = None,
    storage: str | None = None,
    progress: TextIO | None = sys.stderr,
    worker_logs: bool = False,
) -> StudyResult:
    """Run a study from a validated spec.

    Args:
        spec: The study.
        address: A Ray cluster to join; ``None`` starts a local Ray on 127.0.0.1.
        storage: Overrides ``spec.storage``.
        progress: Stream for live progress lines; ``None`` for silence.
        worker_logs: Stream the trials' own output to this process.

    Raises:
        ExperimentExistsError: If the experiment directory already holds a study.
        ClusterError: If Ray cannot be reached or no node fits a trial.
        StudyFailedError: If the failure-rate limit stopped the study.
    """
    exp = StorageDir.open(storage or spec.storage, spec.name)
    if exp.exists(SPEC_FILE) or exp.exists("tuner.pkl"):
        raise ExperimentExistsError(
            f"name: an experiment {spec.name!r} already exists at {exp.uri}; continue it "
            f"with `distributed-bo resume {exp.uri}` or choose another name"
        )
    started = _connect_and_check(spec, address, worker_logs)
    try:
        return _fit(spec, exp, progress=progress, restore=False)
    finally:
        _shutdown(started)


def resume_study(
    experiment_dir: str,
    *,
    address: str | None = None,
    progress: TextIO | None = sys.stderr,
    worker_logs: bool = False,
) -> StudyResult:
    """Continue a study from its experiment directory.

    Finished trials stay finished, running ones continue from their last
    checkpoint, and the searcher continues from its saved state.

    Raises:
        ExperimentNotFoundError: If the directory holds no readable study.
    """
    exp = StorageDir.open(experiment_dir)
    spec = load_study_spec(exp)
    if not exp.exists("tuner.pkl"):
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri} has no Ray Tune state (tuner.pkl) yet; the study "
            "never started, so `run` it again"
        )
    tune_trials = _prepare_restore(exp)  # validates Tune's state before Ray starts
    started = _connect_and_check(spec, address, worker_logs)
    try:
        repair = repair_snapshot(
            exp,
            _newest_snapshot(exp),
            read_trials(exp),
            metric=spec.objective.metric,
            checkpoint_frequency=spec.checkpoint.frequency,
        )
    except BaseException:
        _shutdown(started)
        raise
    if repair and progress is not None:
        print(_repair_text(repair), file=progress, flush=True)
    try:
        return _fit(
            spec,
            exp,
            progress=progress,
            restore=True,
            tune_trials=tune_trials,
            unfinished_configs=repair.unfinished,
        )
    finally:
        _shutdown(started)


def load_study_spec(exp: StorageDir) -> StudySpec:
    """Read the ``spec.yaml`` a study wrote into its directory.

    Raises:
        ExperimentNotFoundError: If it is missing or unreadable.
    """
    data = exp.read_bytes(SPEC_FILE)
    if data is None:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri} holds no {SPEC_FILE}; pass the directory that "
            "`distributed-bo run` created (STORAGE/NAME)"
        )
    try:
        raw = yaml.safe_load(data.decode())
        return StudySpec.from_dict(raw)
    except (yaml.YAMLError, UnicodeDecodeError, SpecError) as err:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.uri}/{SPEC_FILE} is corrupt ({err}); restore it or "
            "start a new study"
        ) from err


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

        return int(get_accelerator_manager_for_resource("GPU").get_current_node_num_accelerators())
    except Exception:  # a private Ray API; the check after connecting still applies
        return None


def _shutdown(started: bool) -> None:
    import ray

    if started and ray.is_initialized():
        ray.shutdown()


def _fit(
    spec: StudySpec,
    exp: StorageDir,
    *,
    progress: TextIO | None,
    restore: bool,
    tune_trials: dict[str, str] | None = None,
    unfinished_configs: dict[str, dict[str, Any]] | None = None,
):
    import os

    from ray import tune

    from distributed_bo.runner.schedulers import build_scheduler
    from distributed_bo.trainables import resolve_trainable

    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", TUNE_SNAPSHOT_S)
    # ``Tuner.restore`` drops the ConcurrencyLimiter that tells Tune how many trials
    # may be pending at once, and Tune then defaults to 1 for custom searchers.
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(spec.budget.max_concurrent)
    # A result without the metric (or a trial that never reports it) must fail that
    # trial with a reason, not abort the whole study as Tune's strict check does.
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    metric, mode = spec.objective.metric, spec.objective.mode
    baseline = [spec.baseline] if spec.baseline else []
    searcher = BatchBOSearcher(
        acquisition=spec.searcher.acquisition,
        batch_strategy=spec.searcher.batch_strategy,
        batch_size=spec.searcher.batch_size,
        num_initial=spec.searcher.num_initial,
        max_observations=spec.searcher.max_observations,
        prefetch=spec.searcher.prefetch,
        seed=spec.seed,
        parameter_constraints=list(spec.searcher.parameter_constraints),
        points_to_evaluate=baseline,
        stopped_trials=spec.searcher.stopped_trials,
        time_attr=spec.scheduler.time_attr,
    )
    rows = None
    tune_trials = tune_trials or {}
    if restore:
        # Rows of trials that never finished and that Tune never recorded are
        # dropped: their Ax trials are re-run under new Tune trial ids.
        rows = [
            r for r in read_trials(exp) if r["status"] in TERMINAL or r["trial_id"] in tune_trials
        ]
    writer = ResultsWriter(
        storage=exp,
        metric=metric,
        mode=mode,
        searcher=searcher,
        baseline=flatten(spec.baseline) if spec.baseline else None,
        rows=rows,
    )
    stopper = StudyStopper(
        writer=writer,
        max_fraction=spec.max_failure_fraction,
        finished=writer.finished_ids(),
        metric=metric,
    )
    callbacks: list[Any] = [writer]
    if progress is not None:
        callbacks.append(
            ProgressPrinter(writer=writer, total=spec.budget.num_trials, stream=progress)
        )
    constants = dict(spec.trial_constants())
    constants.setdefault("checkpoint_frequency", spec.checkpoint.frequency)
    trainable = tune.with_resources(
        _with_study_data(resolve_trainable(spec.trainable.name), constants),
        {"cpu": spec.resources.cpus_per_trial, "gpu": spec.resources.gpus_per_trial},
    )
    param_space = dict(spec.param_space())
    param_space.update({k: v for k, v in constants.items() if k not in param_space})
    run_config = tune.RunConfig(
        name=exp.name,
        storage_path=exp.storage_path,
        storage_filesystem=exp.tune_filesystem,
        failure_config=tune.FailureConfig(max_failures=spec.retries),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=spec.checkpoint.num_to_keep),
        callbacks=callbacks,
        stop=stopper,
        verbose=0,
    )
    if restore:
        tuner = tune.Tuner.restore(
            exp.uri if exp.is_local else exp.path,
            storage_filesystem=exp.tune_filesystem,
            trainable=trainable,
            param_space=param_space,
            resume_unfinished=True,
            resume_errored=False,
            restart_errored=False,
        )
        # ``Tuner.restore`` keeps the pickled RunConfig; give it this run's callbacks.
        tuner._local_tuner._run_config.callbacks = callbacks
        tuner._local_tuner._run_config.stop = stopper
        searcher = tuner._local_tuner._tune_config.search_alg
        searcher.set_resume_info(
            tune_trials=set(tune_trials),
            finished=_outcomes(rows or []),
            unfinished_configs=unfinished_configs,
        )
        writer._searcher = searcher
    else:
        # Written once the trainable's data loaded, so a failed setup leaves nothing.
        exp.write_bytes(SPEC_FILE, yaml.safe_dump(spec.to_dict(), sort_keys=False).encode())
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=build_scheduler(
                    spec.scheduler,
                    full_length=spec.scheduler.full_length(spec.trainable.config),
                    listener=searcher,
                ),
                metric=metric,
                mode=mode,
                num_samples=spec.budget.num_trials,
                max_concurrent_trials=spec.budget.max_concurrent,
                reuse_actors=True,
            ),
            run_config=run_config,
        )
    tuner.fit()
    if hasattr(searcher, "close"):
        searcher.close()
    rows = list(writer.rows.values())
    if stopper.triggered:
        raise StudyFailedError(f"max_failure_fraction: study stopped: {stopper.triggered}")
    if rows and not any(r.get("status") == "COMPLETED" for r in rows):
        first = next((r.get("error") for r in rows if r.get("error")), "unknown")
        raise StudyFailedError(
            f"trainable: no trial completed ({len(rows)} failed; first reason: {first}); "
            f"results are in {exp.uri}"
        )
    return StudyResult(experiment_dir=exp.uri, rows=rows, best=_best_row(rows, mode))


def _with_study_data(fn: Any, constants: dict[str, Any]) -> Any:
    """Load a trainable's data once per study and share it through the object store.

    A trainable that defines ``fn.study_setup(constants) -> dict`` gets that dict's
    values as keyword arguments, put into Ray's object store once by
    ``tune.with_parameters`` (zero-copy reads for trials on the same node).
    """
    from ray import tune

    _ship_user_module(fn)
    setup = getattr(fn, "study_setup", None)
    guarded = guard_trainable(fn)
    if setup is None:
        return guarded
    return tune.with_parameters(guarded, **setup(constants))


def _outcomes(rows: list[dict[str, Any]]) -> dict[str, tuple[str, Any]]:
    """Finished rows as searcher events: ``("complete", value)`` or ``("fail", reason)``."""
    out: dict[str, tuple[str, Any]] = {}
    for r in rows:
        if r["status"] == "COMPLETED" and r.get("metric") is not None:
            out[r["trial_id"]] = ("complete", float(r["metric"]))
        elif r["status"] == "FAILED":
            out[r["trial_id"]] = ("fail", r.get("error") or "failed")
        elif r["status"] == "EARLY_STOPPED":
            out[r["trial_id"]] = ("early_stop", None)
    return out


def _ship_user_module(fn: Any) -> None:
    """Pickle a user's trainable module by value, so workers need not import it.

    A ``module:function`` from the user's working directory imports in the driver
    but not necessarily in Ray workers (other directories, other nodes). Installed
    packages and this package are still pickled by reference.
    """
    import sys
    import sysconfig

    import ray.cloudpickle

    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    if module is None or path is None or module.__name__.startswith("distributed_bo"):
        return
    site = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    if not any(path.startswith(p) for p in site) and "." not in module.__name__:
        ray.cloudpickle.register_pickle_by_value(module)


def _prepare_restore(exp: StorageDir) -> dict[str, str]:
    """Read Tune's last snapshot and put our fresher searcher state in its place.

    Returns:
        Trial id to status, for every trial in Tune's last experiment snapshot.

    Raises:
        ExperimentNotFoundError: If Tune's experiment state is missing or corrupt.
    """
    import json

    names = exp.list()
    states = _snapshots(names)
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
    tune_copies = sorted(n for n in names if n.startswith("searcher-state-"))
    if ours is not None and tune_copies:
        exp.write_bytes(tune_copies[-1], ours)
    return trials


def _snapshots(names: list[str]) -> list[str]:
    return sorted(n for n in names if n.startswith("experiment_state-") and n.endswith(".json"))


def _newest_snapshot(exp: StorageDir) -> str:
    return _snapshots(exp.list())[-1]


def _repair_text(repair: SnapshotRepair) -> str:
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


def _best_row(rows: list[dict[str, Any]], mode: str) -> dict[str, Any] | None:
    best = best_metric(rows, mode)
    if best is None:
        return None
    return next(r for r in rows if r.get("status") == "COMPLETED" and r.get("metric") == best)
