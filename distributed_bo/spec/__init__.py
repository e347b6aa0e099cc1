"""The study job spec: a YAML file validated into frozen dataclasses.

Typical use::

    from distributed_bo.spec import load_spec

    spec = load_spec("study.yaml", overrides=["budget.num_trials=8"])
    tuner_space = spec.param_space()

``SearcherSpec``, the ``searcher:`` section, is
:class:`~distributed_bo.search.settings.SearcherSettings` under its old name.
"""

from distributed_bo.search.settings import SearcherSettings
from distributed_bo.search.settings import SearcherSettings as SearcherSpec
from distributed_bo.spec.domains import DOMAIN_TYPES, DomainSpec
from distributed_bo.spec.load import apply_overrides, load_spec, parse_spec
from distributed_bo.spec.scheduler import SchedulerSpec
from distributed_bo.spec.sections import (
    BudgetSpec,
    CheckpointSpec,
    ObjectiveSpec,
    ResourcesSpec,
    TrainableSpec,
)
from distributed_bo.spec.space import ParsedSpace
from distributed_bo.spec.study import StudySpec
from distributed_bo.spec.warm_start import WarmStartSpec

__all__ = [
    "WarmStartSpec",
    "DOMAIN_TYPES",
    "BudgetSpec",
    "CheckpointSpec",
    "DomainSpec",
    "ObjectiveSpec",
    "ParsedSpace",
    "ResourcesSpec",
    "SchedulerSpec",
    "SearcherSettings",
    "SearcherSpec",
    "StudySpec",
    "TrainableSpec",
    "apply_overrides",
    "load_spec",
    "parse_spec",
]
