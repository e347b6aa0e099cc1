"""distributed-bo: batch Bayesian optimisation for Ray Tune on Ax and BoTorch.

The lifecycle, as the CLI runs it and a notebook can::

    import distributed_bo as dbo

    spec = dbo.load_spec("jobs/branin.yaml", overrides=["budget.num_trials=8"])  # configure
    result = dbo.run_study(spec)                                                # run
    result = dbo.resume_study(result.experiment_dir)      # continue after a crash or stop
    print(dbo.render_summary(result.experiment_dir))      # analyse: the terminal summary
    dbo.write_report(result.experiment_dir)               # analyse: the HTML report
    experiment = dbo.read_experiment(result.experiment_dir)  # load: spec and rows

``BatchBOSearcher`` is the Ray Tune searcher itself, for a Tuner of your own.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from distributed_bo.exceptions import (
    ClusterError,
    DataError,
    DistributedBOError,
    ExperimentExistsError,
    ExperimentLockedError,
    ExperimentNotFoundError,
    GenerationError,
    SearcherStateError,
    SearchSpaceError,
    SpecError,
    StudyFailedError,
    StudyInterruptedError,
    TrainableError,
)

if TYPE_CHECKING:
    from distributed_bo.experiment import Experiment, read_experiment
    from distributed_bo.report import Report, write_report
    from distributed_bo.report.show import render_summary
    from distributed_bo.runner.study import StudyResult, resume_study, run_study
    from distributed_bo.search.searcher import BatchBOSearcher
    from distributed_bo.search.warm import WarmObservation
    from distributed_bo.spec import StudySpec, load_spec

# Lazy: importing the searcher or the runner loads Ray Tune (seconds), which trial
# workers that only need a trainable, and ``show``/``report``, should not pay.
_LAZY = {
    "BatchBOSearcher": "distributed_bo.search.searcher",
    "Experiment": "distributed_bo.experiment",
    "Report": "distributed_bo.report",
    "StudyResult": "distributed_bo.runner.study",
    "StudySpec": "distributed_bo.spec",
    "load_spec": "distributed_bo.spec",
    "read_experiment": "distributed_bo.experiment",
    "render_summary": "distributed_bo.report.show",
    "resume_study": "distributed_bo.runner.study",
    "run_study": "distributed_bo.runner.study",
    "write_report": "distributed_bo.report",
    "WarmObservation": "distributed_bo.search.warm",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'distributed_bo' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "BatchBOSearcher",
    "ClusterError",
    "DataError",
    "DistributedBOError",
    "Experiment",
    "ExperimentExistsError",
    "ExperimentLockedError",
    "ExperimentNotFoundError",
    "GenerationError",
    "Report",
    "SearchSpaceError",
    "SearcherStateError",
    "SpecError",
    "StudyFailedError",
    "StudyInterruptedError",
    "StudyResult",
    "StudySpec",
    "TrainableError",
    "WarmObservation",
    "load_spec",
    "read_experiment",
    "render_summary",
    "resume_study",
    "run_study",
    "write_report",
]
