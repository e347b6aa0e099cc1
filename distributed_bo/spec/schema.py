"""The spec's classes under their old import path, ``distributed_bo.spec.schema``.

Kept so code that imports from here goes on working; import from
:mod:`distributed_bo.spec` instead. The classes live in
:mod:`~distributed_bo.spec.sections`, :mod:`~distributed_bo.spec.scheduler` and
:mod:`~distributed_bo.spec.study`; ``SearcherSpec`` is
:class:`~distributed_bo.search.settings.SearcherSettings`.
"""

from distributed_bo.search.settings import SearcherSettings
from distributed_bo.search.settings import SearcherSettings as SearcherSpec
from distributed_bo.spec.scheduler import SCHEDULERS, TIME_ATTRS, SchedulerSpec
from distributed_bo.spec.sections import (
    BudgetSpec,
    CheckpointSpec,
    Mode,
    ObjectiveSpec,
    ResourcesSpec,
    TrainableSpec,
)
from distributed_bo.spec.study import StudySpec

__all__ = [
    "SCHEDULERS",
    "TIME_ATTRS",
    "BudgetSpec",
    "CheckpointSpec",
    "Mode",
    "ObjectiveSpec",
    "ResourcesSpec",
    "SchedulerSpec",
    "SearcherSettings",
    "SearcherSpec",
    "StudySpec",
    "TrainableSpec",
]
