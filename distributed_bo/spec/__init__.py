"""The study job spec: a YAML file validated into frozen dataclasses.

Typical use::

    from distributed_bo.spec import load_spec

    spec = load_spec("study.yaml", overrides=["budget.num_trials=8"])
    tuner_space = spec.param_space()
"""

from distributed_bo.spec.domains import DOMAIN_TYPES, DomainSpec, ParsedSpace
from distributed_bo.spec.load import apply_overrides, load_spec, parse_spec
from distributed_bo.spec.schema import (
    BudgetSpec,
    CheckpointSpec,
    ObjectiveSpec,
    ResourcesSpec,
    SearcherSpec,
    StudySpec,
    TrainableSpec,
)

__all__ = [
    "DOMAIN_TYPES",
    "BudgetSpec",
    "CheckpointSpec",
    "DomainSpec",
    "ObjectiveSpec",
    "ParsedSpace",
    "ResourcesSpec",
    "SearcherSpec",
    "StudySpec",
    "TrainableSpec",
    "apply_overrides",
    "load_spec",
    "parse_spec",
]
