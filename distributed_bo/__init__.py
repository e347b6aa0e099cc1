"""distributed-bo: batch Bayesian optimisation for Ray Tune on Ax and BoTorch."""

from __future__ import annotations

from distributed_bo.exceptions import (
    ClusterError,
    DataError,
    DistributedBOError,
    ExperimentExistsError,
    ExperimentNotFoundError,
    GenerationError,
    SearcherStateError,
    SearchSpaceError,
    SpecError,
    StudyFailedError,
    TrainableError,
)


def __getattr__(name: str) -> object:
    # Lazy: importing the searcher loads Ray Tune (seconds), which trial workers
    # that only need a trainable should not pay.
    if name == "BatchBOSearcher":
        from distributed_bo.search.searcher import BatchBOSearcher

        return BatchBOSearcher
    raise AttributeError(f"module 'distributed_bo' has no attribute {name!r}")


__all__ = [
    "BatchBOSearcher",
    "ClusterError",
    "DataError",
    "DistributedBOError",
    "ExperimentExistsError",
    "ExperimentNotFoundError",
    "GenerationError",
    "SearchSpaceError",
    "SearcherStateError",
    "SpecError",
    "StudyFailedError",
    "TrainableError",
]
