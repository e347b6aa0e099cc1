"""Shared aliases and enums: one place for the names every layer uses.

``Mode`` is an objective's direction, :class:`TrialStatus` the status a trial row
holds in ``trials.parquet``, and :data:`TRIAL_ERROR_KEY` the result key a trial
that raised reports its reason under. Nothing here imports more than the standard
library, so any module (trial workers included) may use it.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

#: The objective's direction.
Mode = Literal["min", "max"]

#: One trial row of ``trials.parquet``: fixed columns (see
#: :class:`distributed_bo.experiment.rows.TrialRow`) plus ``config/<path>`` columns.
Row = dict[str, Any]

#: The result key under which a trial that raised reports its error (one line).
TRIAL_ERROR_KEY = "trial_error"


class TrialStatus(enum.StrEnum):
    """The status of a trial row; a ``str``, so files hold the plain names.

    ``PENDING`` is a row's status for the moment between its creation and its
    first event; the other five are what rows on storage hold. ``WARM`` is no trial
    of the study: an earlier study's result that entered the model as an
    observation (``warm_start`` in ``data`` mode), never run here and never
    counted against the budget.
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EARLY_STOPPED = "EARLY_STOPPED"
    WARM = "WARM"

    @property
    def is_terminal(self) -> bool:
        """Whether a trial with this status has finished (it is never run again)."""
        return self in TERMINAL


#: The statuses of finished trials.
TERMINAL: frozenset[TrialStatus] = frozenset(
    {TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.EARLY_STOPPED}
)
