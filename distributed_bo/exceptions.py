"""The error family of distributed-bo.

Every error a user can cause derives from :class:`DistributedBOError`. Messages are
one line that names the field, the bad value and the fix.
"""

from __future__ import annotations


class DistributedBOError(Exception):
    """Base class of every error raised by distributed-bo."""

    exit_code: int = 1


class SpecError(DistributedBOError, ValueError):
    """A job spec, search space or searcher argument is invalid."""

    exit_code = 2


class SearchSpaceError(SpecError):
    """A Ray Tune domain cannot be mapped to an Ax parameter."""


class TrainableError(SpecError):
    """A trainable name or ``module:function`` cannot be resolved."""


class ExperimentExistsError(DistributedBOError):
    """``run`` found an experiment of the same name; ``resume`` it instead."""

    exit_code = 3


class ExperimentLockedError(DistributedBOError):
    """Another ``run`` or ``resume`` holds the experiment directory's ``driver.lock``."""

    exit_code = 3


class ExperimentNotFoundError(DistributedBOError):
    """``resume``/``show`` got a directory that holds no readable experiment."""

    exit_code = 2


class ClusterError(DistributedBOError):
    """The Ray cluster cannot be reached or cannot satisfy the request."""

    exit_code = 4


class DataError(DistributedBOError):
    """A dataset is missing or unreadable."""

    exit_code = 2


class SearcherStateError(DistributedBOError):
    """Saved searcher state is missing, corrupt or inconsistent."""

    exit_code = 2


class GenerationError(DistributedBOError):
    """The searcher could not generate a batch (model fit or optimisation failed)."""


class StudyFailedError(DistributedBOError):
    """The study stopped because too many of its trials failed."""

    exit_code = 5


class StudyInterruptedError(DistributedBOError):
    """A signal (Ctrl-C's SIGINT, or SIGTERM) stopped the study; ``resume`` continues it.

    ``exit_code`` is 128 plus the signal's number, as a shell reports a process that
    a signal ended: 130 for SIGINT, 143 for SIGTERM.

    Attributes:
        signum: The signal that stopped the study.
    """

    exit_code = 130

    def __init__(self, message: str, *, signum: int = 2) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
