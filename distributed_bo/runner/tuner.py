"""The ``tune.Tuner`` of a study: trainable, param space, configs; new or restored.

:func:`new_tuner` builds it from the spec (the spec's scheduler, ``tune.with_resources``,
actor reuse, storage, failure and checkpoint configs); :func:`restore_tuner` gets it
back from an experiment directory and hands it this run's callbacks.
"""

from __future__ import annotations

import os
from typing import Any

from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.guard import guard_trainable
from distributed_bo.runner.tune_fixes import drop_stale_actor_failures
from distributed_bo.spec import StudySpec

#: Seconds between Ray Tune's experiment snapshots (Tune's "auto" is >= 10 s). Short,
#: so that after a driver crash few trials are unknown to Tune's state.
TUNE_SNAPSHOT_S = "2"


def set_tune_environment(spec: StudySpec) -> None:
    """Set the Tune environment variables a study relies on (read when Tune runs)."""
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", TUNE_SNAPSHOT_S)
    # ``Tuner.restore`` drops the ConcurrencyLimiter that tells Tune how many trials
    # may be pending at once, and Tune then defaults to 1 for custom searchers.
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(spec.budget.max_concurrent)
    # A result without the metric (or a trial that never reports it) must fail that
    # trial with a reason, not abort the whole study as Tune's strict check does.
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"


def build_trainable(spec: StudySpec) -> tuple[Any, dict[str, Any]]:
    """The resourced, guarded trainable and the param space (with the constants).

    Returns:
        ``(trainable, param_space)`` for ``tune.Tuner``.
    """
    from ray import tune

    from distributed_bo.trainables import resolve_trainable

    constants = dict(spec.trial_constants())
    constants.setdefault("checkpoint_frequency", spec.checkpoint.frequency)
    trainable = tune.with_resources(
        _with_study_data(resolve_trainable(spec.trainable.name), constants),
        {"cpu": spec.resources.cpus_per_trial, "gpu": spec.resources.gpus_per_trial},
    )
    param_space = dict(spec.param_space())
    param_space.update({k: v for k, v in constants.items() if k not in param_space})
    return trainable, param_space


def new_tuner(
    spec: StudySpec,
    exp: StorageDir,
    *,
    trainable: Any,
    param_space: dict[str, Any],
    searcher: Any,
    callbacks: list[Any],
    stopper: Any,
) -> Any:
    """A fresh ``tune.Tuner`` for the study, writing into ``exp``."""
    from ray import tune

    from distributed_bo.runner.schedulers import build_scheduler

    drop_stale_actor_failures()  # reuse_actors=True below loses trials without it

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
    scheduler = build_scheduler(
        spec.scheduler,
        full_length=spec.scheduler.full_length(spec.trainable.config),
        listener=searcher,
    )
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            # Tune's schedulers follow one metric: scheduler.metric's (the first
            # objective by default). The searcher keeps its own list of objectives.
            metric=spec.scheduler_objective.metric,
            mode=spec.scheduler_objective.mode,
            num_samples=spec.budget.num_trials,
            max_concurrent_trials=spec.budget.max_concurrent,
            reuse_actors=True,
            # Tune stops every trial and starts no new one once it is spent, counted
            # from the start of each run; ``Tuner.restore`` keeps it for a resume.
            time_budget_s=spec.budget.time_budget_s,
        ),
        run_config=run_config,
    )


def restore_tuner(
    exp: StorageDir,
    *,
    trainable: Any,
    param_space: dict[str, Any],
    callbacks: list[Any],
    stopper: Any,
) -> tuple[Any, Any]:
    """The study's Tuner restored from ``exp``, with this run's callbacks and stopper.

    Returns:
        ``(tuner, searcher)``: the searcher is the one Tune restored, which this
        run's results writer and resume information must go to.
    """
    from ray import tune

    drop_stale_actor_failures()
    tuner = tune.Tuner.restore(
        exp.uri if exp.is_local else exp.path,
        storage_filesystem=exp.tune_filesystem,
        trainable=trainable,
        param_space=param_space,
        resume_unfinished=True,
        resume_errored=False,
        restart_errored=False,
    )
    # Private Tune members, unavoidable with Ray 2.60: ``Tuner.restore`` keeps the
    # RunConfig pickled in tuner.pkl (its callbacks hold the last run's rows and a
    # stream) and takes no new one, and it exposes no accessor for the restored
    # search algorithm. These three lines and :mod:`distributed_bo.runner.tune_fixes`
    # are the only reaches into Tune's internals.
    local: Any = tuner._local_tuner
    local._run_config.callbacks = callbacks
    local._run_config.stop = stopper
    return tuner, local._tune_config.search_alg


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
