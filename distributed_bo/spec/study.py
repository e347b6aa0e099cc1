"""StudySpec: the whole job spec, its sections and the checks that span them.

Build one from parsed YAML with :meth:`StudySpec.from_dict`, or from a file with
:func:`distributed_bo.spec.load_spec`. Every check raises
:class:`~distributed_bo.exceptions.SpecError` with a one-line message naming the
field, the bad value and the fix.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from distributed_bo.search.constraints import constraint_names
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.search.settings import MULTI_OBJECTIVE, SearcherSettings
from distributed_bo.spec._frozen import freeze, thaw
from distributed_bo.spec.baseline import check_baseline
from distributed_bo.spec.domains import RANGE_TYPES
from distributed_bo.spec.feasibility import check_baseline_meets, check_feasible, parse_constraints
from distributed_bo.spec.objectives import (
    Objective,
    as_tuple,
    build_outcomes,
    check_objectives,
    objective_to_dict,
    parse_objective,
    parse_outcome_constraints,
)
from distributed_bo.spec.scheduler import SchedulerSpec, check_scheduler_reach, scheduler_objective
from distributed_bo.spec.sections import (
    BudgetSpec,
    CheckpointSpec,
    ObjectiveSpec,
    ResourcesSpec,
    Section,
    TrainableSpec,
)
from distributed_bo.spec.space import ParsedSpace, parse_space, to_param_space
from distributed_bo.spec.warm_start import WarmStartSpec
from distributed_bo.validation import (
    check_int,
    check_keys,
    check_number,
    check_text,
    did_you_mean,
    fail,
    join,
    require_mapping,
)

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.+")
_MAX_SEED = 2**32 - 1
# Each retry reruns a failing trial from its start or last checkpoint; past a
# hundred, a trial that keeps failing would hold a slot for the whole study.
_MAX_RETRIES = 100
# Each constraint is a row of Ax's constraint matrix, checked at every candidate.
_MAX_CONSTRAINTS = 1_000

#: YAML section name -> its class; each has ``from_dict`` and ``to_dict``.
_SECTIONS: dict[str, type[Section] | type[SearcherSettings]] = {
    "trainable": TrainableSpec,
    "budget": BudgetSpec,
    "searcher": SearcherSettings,
    "resources": ResourcesSpec,
    "checkpoint": CheckpointSpec,
    "scheduler": SchedulerSpec,
}


@dataclass(frozen=True, kw_only=True)
class StudySpec:
    """A whole study: what to optimise, over which space, with which budget.

    Attributes:
        name: Names the experiment directory: 1 to 64 characters from
            ``A-Z a-z 0-9 _ . -``, not only dots and not starting with ``-``.
        objective: The metric and its direction, or several of them (a tuple):
            see :mod:`distributed_bo.spec.objectives`.
        constraints: Outcome constraints on reported metrics that are not
            objectives, in Ax's syntax (``"num_params <= 5e6"``).
        trainable: The function each trial runs and its fixed config.
        space: The searched parameters, as validated YAML (read-only): a mapping
            with a ``type`` key is a domain (see :mod:`distributed_bo.spec.domains`),
            a mapping without one is a nested group, any other value a constant.
            Names are identifiers; at least one parameter must be searched.
        budget: Number of trials and how many run at once.
        searcher: The searcher's settings (acquisition function, batching,
            constraints, ...): :class:`~distributed_bo.search.settings.SearcherSettings`.
        resources: CPUs and GPUs per trial.
        checkpoint: Checkpoint frequency (epochs) and retention.
        scheduler: The Ray Tune scheduler that stops trials early (FIFO: none).
        retries: Times a crashed trial is retried, >= 0.
        max_failure_fraction: In ``(0, 1]``: the study stops when this fraction of
            finished trials failed, once at least 5 trials finished.
        storage: Where experiment directories go: a local path or a URI that
            ``pyarrow.fs`` understands (``s3://``, ``gs://``, ``file://``, ...).
        seed: Seed of the searcher's random numbers, in ``[0, 2**32 - 1]``;
            ``None`` for a fresh seed each run.
        baseline: A hand-tuned config evaluated as a reference, or ``None``. One
            complete configuration: every searched parameter gets a value in its
            domain, given nested or by flat name (``optim/beta1``); a branch point's
            value is one of its branches (keys and constants, domains given
            values), and a ``when`` controller's branch may be given flat
            (``{num_layers: 3, width_3: 64}``), but not with values for parameters
            inactive at that controller value. Stored by flat name, branches
            nested (see :func:`~distributed_bo.spec.baseline.check_baseline`).
        warm_start: Earlier studies whose best configurations run first
            (``initial``) or whose trials enter the model as observations
            (``data``), or ``None``: :class:`~distributed_bo.spec.warm_start.WarmStartSpec`.

    """

    _TOP_LEVEL: ClassVar[tuple[str, ...]] = (
        "name",
        "objective",
        "constraints",
        "trainable",
        "space",
        "budget",
        "searcher",
        "resources",
        "checkpoint",
        "scheduler",
        "retries",
        "max_failure_fraction",
        "storage",
        "seed",
        "baseline",
        "warm_start",
    )
    _REQUIRED: ClassVar[tuple[str, ...]] = ("name", "objective", "trainable", "space", "budget")

    name: str
    objective: Objective
    constraints: tuple[str, ...] = ()
    trainable: TrainableSpec
    space: Mapping[str, Any]
    budget: BudgetSpec
    searcher: SearcherSettings = field(default_factory=SearcherSettings)
    resources: ResourcesSpec = field(default_factory=ResourcesSpec)
    checkpoint: CheckpointSpec = field(default_factory=CheckpointSpec)
    scheduler: SchedulerSpec = field(default_factory=SchedulerSpec)
    retries: int = 2
    max_failure_fraction: float = 0.5
    storage: str = "./experiments"
    seed: int | None = 0
    baseline: Mapping[str, Any] | None = None
    warm_start: WarmStartSpec | None = None

    # -- construct ------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, *, import_trainable: bool = True) -> StudySpec:
        """Build a spec from parsed YAML (the layout of the job file).

        Args:
            data: The top-level mapping.
            import_trainable: Import ``trainable.name`` to check it resolves
                (default). ``False`` checks its form only (a built-in name or
                ``module:function``), so a saved ``spec.yaml`` reads back on a
                machine without the trainable's module.

        Returns:
            The validated spec.

        Raises:
            SpecError: On any invalid content (``TrainableError`` for
                ``trainable.name``).

        """
        require_mapping(data, "spec", f"a mapping with keys {', '.join(cls._TOP_LEVEL)}")
        check_keys(data, "", allowed=cls._TOP_LEVEL, required=cls._REQUIRED)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            section = _SECTIONS.get(key)
            if key == "objective":
                kwargs[key] = parse_objective(value)
            elif key == "constraints":
                kwargs[key] = () if value is None else value
            elif key == "warm_start":
                kwargs[key] = None if value is None else WarmStartSpec.from_dict(value)
            elif section is None:
                kwargs[key] = value
            elif value is None and key not in cls._REQUIRED:
                kwargs[key] = section()
            elif section is TrainableSpec:
                kwargs[key] = TrainableSpec.from_dict(value, import_trainable=import_trainable)
            else:
                kwargs[key] = section.from_dict(value)
        return cls(**kwargs)

    def __post_init__(self) -> None:
        _check_name(self.name)
        self._check_outcomes()
        for key, section in _SECTIONS.items():
            value = getattr(self, key)
            if not isinstance(value, section):
                fail(
                    key,
                    value,
                    f"pass a {section.__name__}, or build the spec with StudySpec.from_dict",
                )
        space = freeze(self.space, "space") if isinstance(self.space, Mapping) else self.space
        parsed = parse_space(space)
        object.__setattr__(self, "space", space)
        _check_config_overlap(self.trainable.config, space, "trainable.config")
        _check_constraint_names(self.searcher.parameter_constraints, parsed)
        _check_searcher_fits(self.searcher, len(self.objectives))
        scheduler_objective(self.scheduler, self.objectives)
        constraints = parse_constraints(self.searcher.parameter_constraints)
        check_feasible(constraints, parsed.domains)
        check_scheduler_reach(self.scheduler, self.trainable.config)
        check_int(self.retries, "retries", ge=0, le=_MAX_RETRIES)
        fraction = check_number(
            self.max_failure_fraction,
            "max_failure_fraction",
            gt=0,
            le=1,
            extra=" (the fraction of finished trials that may fail)",
        )
        object.__setattr__(self, "max_failure_fraction", fraction)
        object.__setattr__(self, "storage", _check_storage(self.storage))
        check_int(self.seed, "seed", ge=0, le=_MAX_SEED, allow_none=True, extra=", or null")
        if self.baseline is not None:
            baseline = check_baseline(self.baseline, parsed)
            check_baseline_meets(constraints, baseline)
            object.__setattr__(self, "baseline", baseline)
        self._check_warm_start()

    def _check_warm_start(self) -> None:
        """A :class:`WarmStartSpec`, or ``None``."""
        warm = self.warm_start
        if warm is not None and not isinstance(warm, WarmStartSpec):
            fail("warm_start", warm, "pass a WarmStartSpec, or build the spec with from_dict")

    def _check_outcomes(self) -> None:
        """The objectives and the outcome constraints, before anything else reads them."""
        objective = self.objective
        if isinstance(objective, list):
            objective = tuple(objective)
        entries = objective if isinstance(objective, tuple) else (objective,)
        if not entries or not all(isinstance(o, ObjectiveSpec) for o in entries):
            fail(
                "objective",
                objective,
                "pass an ObjectiveSpec or a tuple of them, or build the spec with "
                "StudySpec.from_dict",
            )
        check_objectives(entries)
        object.__setattr__(self, "objective", entries[0] if len(entries) == 1 else entries)
        parse_outcome_constraints(self.constraints, entries)
        object.__setattr__(self, "constraints", tuple(self.constraints))

    # -- use --------------------------------------------------------------------

    @property
    def objectives(self) -> tuple[ObjectiveSpec, ...]:
        """The objectives in order (one objective: a tuple of one)."""
        return as_tuple(self.objective)

    @property
    def scheduler_objective(self) -> ObjectiveSpec:
        """The objective the scheduler follows (``scheduler.metric``, else the first)."""
        return scheduler_objective(self.scheduler, self.objectives)

    def with_warm_start(self, sources: Sequence[str]) -> StudySpec:
        """This spec warm-started from ``sources`` (mode and ``top_k`` kept, or defaults)."""
        old = self.warm_start or WarmStartSpec(sources=tuple(sources))
        warm = WarmStartSpec(sources=tuple(sources), mode=old.mode, top_k=old.top_k)
        return dataclasses.replace(self, warm_start=warm)

    def outcomes(self) -> Outcomes:
        """The objectives and constraints as the searcher takes them."""
        return build_outcomes(self.objectives, self.constraints)

    def param_space(self) -> dict[str, Any]:
        """Build the Ray Tune ``param_space``: nested dict of ``tune`` domains and constants.

        ``trainable.config`` is not merged in; see :meth:`trial_constants`.
        """
        return to_param_space(self.space)

    def trial_constants(self) -> dict[str, Any]:
        """Return a copy of ``trainable.config``, the fixed values of every trial."""
        return thaw(self.trainable.config)

    def parsed_space(self) -> ParsedSpace:
        """Return the space split into domains, constants and groups by flat name."""
        return parse_space(self.space)

    # -- save -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain YAML-able data; ``from_dict`` of it gives an equal spec."""
        out: dict[str, Any] = {}
        for key in self._TOP_LEVEL:
            value = getattr(self, key)
            if key == "objective":
                out[key] = objective_to_dict(value)
            elif key == "constraints":
                if value:  # left out when empty, as specs written before it have it
                    out[key] = list(value)
            elif key == "warm_start":
                if value is not None:  # left out when absent, likewise
                    out[key] = value.to_dict()
            else:
                out[key] = value.to_dict() if key in _SECTIONS else thaw(value)
        return out

    def to_yaml(self) -> str:
        """Return the spec as a YAML document, fields in the job-file order."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _check_name(name: Any) -> None:
    """The study name names a directory: 1-64 safe characters, not only dots, no leading ``-``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        fail(
            "name",
            name,
            "use 1-64 characters from A-Z a-z 0-9 _ . - (it names the experiment directory)",
        )
    if set(name) == {"."}:
        fail("name", name, "use a name with a letter or digit; dots alone are not a name")
    if name.startswith("-"):
        fail(
            "name",
            name,
            "start it with a letter, digit, _ or . (a leading '-' makes the directory's name "
            "read as a command-line option)",
        )


def _check_config_overlap(config: Mapping[str, Any], space: Mapping[str, Any], path: str) -> None:
    """Reject keys set both in ``trainable.config`` and in ``space``."""
    for key, value in config.items():
        if key not in space:
            continue
        other = space[key]
        if isinstance(value, Mapping) and isinstance(other, Mapping) and "type" not in other:
            _check_config_overlap(value, other, join(path, key))
            continue
        fail(
            join(path, key),
            thaw(value),
            f"space also sets {key!r}; set it in one place (space searches it, "
            "trainable.config fixes it)",
        )


def _check_constraint_names(constraints: tuple[str, ...], parsed: ParsedSpace) -> None:
    """Each name in a linear constraint is a searched parameter of a range type."""
    usable = [n for n, d in parsed.domains.items() if d.type in RANGE_TYPES]
    allowed = (
        f"constraints can name {', '.join(usable)}"
        if usable
        else (f"no parameter is of a type constraints can name ({', '.join(RANGE_TYPES)})")
    )
    if len(constraints) > _MAX_CONSTRAINTS:
        fail(
            "searcher.parameter_constraints",
            f"{len(constraints):,} constraints",
            f"give at most {_MAX_CONSTRAINTS:,}",
        )
    for i, text in enumerate(constraints):
        path = f"searcher.parameter_constraints[{i}]"
        for name in constraint_names(text, path):
            domain = parsed.domains.get(name)
            if domain is None:
                hint = did_you_mean(name, list(parsed.domains))
                fail(
                    path,
                    text,
                    f"{name!r} is not a searched parameter in space{hint}; {allowed}",
                )
            if domain.type not in RANGE_TYPES:
                fail(
                    path,
                    text,
                    f"{name!r} is a {domain.type} parameter, but constraints can only "
                    f"name {', '.join(RANGE_TYPES)} parameters; {allowed}",
                )


def _check_storage(storage: Any) -> str:
    """A local path (``os.PathLike`` accepted) or a well-formed URI, as a string."""
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    fix = "use a local path or a URI such as s3://bucket/experiments"
    check_text(storage, "storage", fix)
    if "://" in storage and not _URI.fullmatch(storage):
        fail("storage", storage, fix)
    return storage


def _check_searcher_fits(settings: SearcherSettings, num_objectives: int) -> None:
    """The acquisition and the stopped-trial policy fit the number of objectives."""
    acquisition = settings.acquisition
    if num_objectives > 1 and acquisition not in ("qLogNEI", *MULTI_OBJECTIVE):
        fail(
            "searcher.acquisition",
            acquisition,
            f"it takes one objective and objective has {num_objectives}; use "
            f"{' or '.join(MULTI_OBJECTIVE)} (or leave the default qLogNEI, which becomes "
            "qLogNEHVI)",
        )
    if num_objectives == 1 and acquisition in MULTI_OBJECTIVE:
        fail(
            "searcher.acquisition",
            acquisition,
            "it needs several objectives and objective has one metric; use qLogNEI",
        )
    if num_objectives > 1 and settings.stopped_trials == "highest_rung":
        fail(
            "searcher.stopped_trials",
            settings.stopped_trials,
            "BOHB's rule follows one learning curve and objective has several; use last_value",
        )
