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
from distributed_bo.search.searcher import BatchBOSearcher

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
