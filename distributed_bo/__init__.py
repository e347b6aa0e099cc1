"""distributed-bo: batch Bayesian optimisation for Ray Tune on Ax and BoTorch."""

from __future__ import annotations

from distributed_bo.exceptions import (
    ClusterError,
    DataError,
    DistributedBOError,
    ExperimentExistsError,
    ExperimentNotFoundError,
    SearcherStateError,
    SearchSpaceError,
    SpecError,
    StudyFailedError,
    TrainableError,
)

__all__ = [
    "ClusterError",
    "DataError",
    "DistributedBOError",
    "ExperimentExistsError",
    "ExperimentNotFoundError",
    "SearchSpaceError",
    "SearcherStateError",
    "SpecError",
    "StudyFailedError",
    "TrainableError",
]
