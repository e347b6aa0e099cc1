"""The spec's classes under their old import path, ``distributed_bo.spec.schema``.

Kept so code that imports from here goes on working; import from
:mod:`distributed_bo.spec` instead. The classes live in
:mod:`~distributed_bo.spec.sections`, :mod:`~distributed_bo.spec.scheduler` and
:mod:`~distributed_bo.spec.study`; ``SearcherSpec`` is
:class:`~distributed_bo.search.settings.SearcherSettings`.
"""

from distributed_bo.search.settings import SearcherSettings as SearcherSettings
from distributed_bo.spec.scheduler import SCHEDULERS as SCHEDULERS
from distributed_bo.spec.scheduler import TIME_ATTRS as TIME_ATTRS
from distributed_bo.spec.scheduler import SchedulerSpec as SchedulerSpec
from distributed_bo.spec.sections import BudgetSpec as BudgetSpec
from distributed_bo.spec.sections import CheckpointSpec as CheckpointSpec
from distributed_bo.spec.sections import Mode as Mode
from distributed_bo.spec.sections import ObjectiveSpec as ObjectiveSpec
from distributed_bo.spec.sections import ResourcesSpec as ResourcesSpec
from distributed_bo.spec.sections import TrainableSpec as TrainableSpec
from distributed_bo.spec.study import StudySpec as StudySpec

#: The ``searcher:`` section's old class name.
SearcherSpec = SearcherSettings
