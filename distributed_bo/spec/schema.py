"""The study job spec: frozen, validated dataclasses mirroring the YAML file.

Every class validates itself on construction and raises
:class:`~distributed_bo.exceptions.SpecError` with a one-line message naming the
field, the bad value and the fix. Build a spec from parsed YAML with
:meth:`StudySpec.from_dict`, or from a file with :func:`distributed_bo.spec.load_spec`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, InitVar, dataclass, field, fields
from typing import Any, ClassVar, Literal, TypeVar

from distributed_bo.exceptions import TrainableError
from distributed_bo.search.acquisition import (
    ACQUISITIONS,
    BATCH_STRATEGIES,
    AcquisitionName,
    BatchStrategy,
)
from distributed_bo.search.generator import DEFAULT_MAX_OBSERVATIONS
from distributed_bo.search.stopped import (
    DEFAULT_STOPPED_TRIALS,
    STOPPED_TRIAL_POLICIES,
    StoppedTrialPolicy,
)
from distributed_bo.spec._constraints import constraint_names
from distributed_bo.spec._frozen import FrozenDict, freeze, thaw
from distributed_bo.spec.domains import (
    NESTED_SEP,
    RANGE_TYPES,
    ParsedSpace,
    parse_space,
    to_param_space,
)
from distributed_bo.trainables import BUILTIN_TRAINABLES, resolve_trainable
from distributed_bo.validation import (
    check_int,
    check_keys,
    check_literal,
    check_number,
    check_str,
    did_you_mean,
    fail,
    is_integer,
    join,
    require_mapping,
)

Mode = Literal["min", "max"]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.+")
_MAX_SEED = 2**32 - 1

_S = TypeVar("_S", bound="_Section")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class _Section:
    """``from_dict``/``to_dict`` for the dataclasses of one YAML section."""

    _path: ClassVar[str]

    @classmethod
    def from_dict(cls: type[_S], data: Any) -> _S:
        """Build the section from its parsed YAML mapping.

        Args:
            data: The mapping, e.g. ``{"metric": "loss", "mode": "min"}``.

        Raises:
            SpecError: On a non-mapping, an unknown or missing key, or a bad value.

        """
        return cls(**cls._checked_keys(data))

    @classmethod
    def _checked_keys(cls, data: Any) -> Mapping[str, Any]:
        """Check that ``data`` is a mapping of this section's fields, required ones given."""
        specs = fields(cls)  # type: ignore[arg-type]
        names = [f.name for f in specs]
        required = [f.name for f in specs if f.default is MISSING and f.default_factory is MISSING]
        require_mapping(data, cls._path, f"a mapping with keys {', '.join(names)}")
        check_keys(data, cls._path, allowed=names, required=required)
        return data

    def to_dict(self) -> dict[str, Any]:
        """Return the section as plain YAML-able data."""
        return {f.name: thaw(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class ObjectiveSpec(_Section):
    """What the study optimises (YAML section ``objective``).

    Attributes:
        metric: Key of the result the trainable reports, e.g. ``val_accuracy``.
        mode: ``"max"`` to maximise the metric, ``"min"`` to minimise it.

    """

    _path: ClassVar[str] = "objective"

    metric: str
    mode: Mode

    def __post_init__(self) -> None:
        check_str(
            self.metric,
            "objective.metric",
            "use the name of the metric the trainable reports, e.g. val_accuracy",
        )
        check_literal(self.mode, "objective.mode", ("min", "max"))


@dataclass(frozen=True, kw_only=True)
class TrainableSpec(_Section):
    """The function each trial runs (YAML section ``trainable``).

    By default the name is resolved (its module imported) on construction, so a
    missing ``module:function`` fails when the spec is validated, not when trials
    start. ``import_trainable=False`` checks the name's form only (a built-in name
    or ``module:function``), for reading a saved ``spec.yaml`` back on a machine
    without the user's module.

    ``import_trainable`` is an ``InitVar``, not a field (the design
    :class:`~distributed_bo.search.settings.SearcherSettings` uses for ``path``): it
    is not a YAML key, not saved by :meth:`to_dict`, and not compared, so a spec read
    either way equals the other. It only says how much construction checks;
    :meth:`resolve` imports the function whenever it is called.

    Attributes:
        name: A built-in name (``digits_cnn``, ``branin``, ...) or
            ``"package.module:function"``.
        config: Fixed values merged into every trial's config, not searched.
            Their keys must not also be in ``space``.
        import_trainable: Import and resolve ``name`` now (default); ``False``
            checks its form only. Not a field.

    """

    _path: ClassVar[str] = "trainable"

    name: str
    config: Mapping[str, Any] = field(default_factory=FrozenDict)
    import_trainable: InitVar[bool] = True

    @classmethod
    def from_dict(cls, data: Any, *, import_trainable: bool = True) -> TrainableSpec:
        """Build the section from its parsed YAML mapping.

        Args:
            data: The mapping, e.g. ``{"name": "branin", "config": {}}``.
            import_trainable: As for the class; ``False`` does not import the module.

        Raises:
            SpecError: On a non-mapping, an unknown or missing key, or a bad value
                (``TrainableError`` for ``name``).

        """
        return cls(**cls._checked_keys(data), import_trainable=import_trainable)

    def __post_init__(self, import_trainable: bool) -> None:
        check_str(self.name, "trainable.name", "use a built-in name or 'package.module:function'")
        config = FrozenDict() if self.config is None else self.config
        require_mapping(config, "trainable.config", "a mapping of fixed config values")
        object.__setattr__(self, "config", freeze(config, "trainable.config"))
        if import_trainable:
            self.resolve()
        else:
            check_trainable_form(self.name)

    def resolve(self) -> Callable[[dict[str, Any]], Any]:
        """Import and return the trainable function.

        Raises:
            TrainableError: If the name cannot be resolved.

        """
        return resolve_trainable(self.name)


def check_trainable_form(name: str) -> None:
    """Check that ``name`` is a built-in trainable or ``module:function``, importing nothing.

    The messages are those of :func:`~distributed_bo.trainables.resolve_trainable`.

    Raises:
        TrainableError: If the name is neither.

    """
    if name in BUILTIN_TRAINABLES:
        return
    if ":" not in name:
        raise TrainableError(
            f"trainable.name: got {name!r}, which is neither a built-in "
            f"({', '.join(sorted(BUILTIN_TRAINABLES))}) nor 'module:function'"
        )
    module_name, _, attr = name.partition(":")
    if not _DOTTED.fullmatch(module_name) or not attr.isidentifier():
        raise TrainableError(f"trainable.name: got {name!r}; write it as 'package.module:function'")


@dataclass(frozen=True, kw_only=True)
class BudgetSpec(_Section):
    """How many trials to run (YAML section ``budget``).

    Attributes:
        num_trials: Total number of trials, >= 1.
        max_concurrent: Most trials running at once, >= 1.

    """

    _path: ClassVar[str] = "budget"

    num_trials: int
    max_concurrent: int = 4

    def __post_init__(self) -> None:
        check_int(self.num_trials, "budget.num_trials", ge=1)
        check_int(self.max_concurrent, "budget.max_concurrent", ge=1)


@dataclass(frozen=True, kw_only=True)
class SearcherSpec(_Section):
    """Settings of the batch Bayesian-optimisation searcher (YAML section ``searcher``).

    Attributes:
        acquisition: Acquisition function, one of
            :data:`~distributed_bo.search.acquisition.ACQUISITIONS`.
        batch_strategy: How a batch is optimised: ``"joint"`` (all points at once)
            or ``"sequential"`` (greedy, one point at a time).
        batch_size: Points generated per batch, >= 1; ``None`` means the number of
            free trial slots.
        num_initial: Quasi-random (Sobol) points before the model takes over, >= 1;
            ``None`` lets the searcher choose.
        max_observations: Most observations the model is fitted on, >= 2 (the best
            half plus the most recent), so long studies keep batch generation
            bounded; ``null`` fits on all. Default 500, chosen from
            ``benchmarks/results/searcher_overhead.md``.
        prefetch: Spare points kept generated while every slot is busy, >= 0, so
            a freed slot never waits for a model fit; 0 generates only on demand.
            ``null`` (default): 1 when ``budget.max_concurrent`` > 1, else 0; see
            ``benchmarks/results/utilization.md``.
        parameter_constraints: Linear inequalities over searched parameters of
            type uniform, loguniform, randint or lograndint, e.g.
            ``"x0 + x1 <= 1.5"``; nested parameters by flat name (``optim/beta1``).
        stopped_trials: How trials that the scheduler stopped early enter the
            model: ``"last_value"`` (default) or ``"highest_rung"`` (BOHB's rule); see
            :mod:`distributed_bo.search.stopped`.

    """

    _path: ClassVar[str] = "searcher"

    acquisition: AcquisitionName = "qLogNEI"
    batch_strategy: BatchStrategy = "joint"
    batch_size: int | None = None
    num_initial: int | None = None
    max_observations: int | None = DEFAULT_MAX_OBSERVATIONS
    prefetch: int | None = None
    parameter_constraints: tuple[str, ...] = ()
    stopped_trials: StoppedTrialPolicy = DEFAULT_STOPPED_TRIALS  # type: ignore[assignment]

    def __post_init__(self) -> None:
        check_literal(self.acquisition, "searcher.acquisition", ACQUISITIONS)
        check_literal(self.stopped_trials, "searcher.stopped_trials", STOPPED_TRIAL_POLICIES)
        check_literal(self.batch_strategy, "searcher.batch_strategy", BATCH_STRATEGIES)
        check_int(
            self.batch_size,
            "searcher.batch_size",
            ge=1,
            allow_none=True,
            extra=", or null for the number of free trial slots",
        )
        check_int(
            self.num_initial,
            "searcher.num_initial",
            ge=1,
            allow_none=True,
            extra=", or null for the searcher's default",
        )
        check_int(
            self.max_observations,
            "searcher.max_observations",
            ge=2,
            allow_none=True,
            extra=", or null to fit the model on every observation",
        )
        check_int(
            self.prefetch,
            "searcher.prefetch",
            ge=0,
            allow_none=True,
            extra=" (0 = only on demand), or null for 1 when trials run in parallel",
        )
        path = "searcher.parameter_constraints"
        constraints = () if self.parameter_constraints is None else self.parameter_constraints
        if not isinstance(constraints, (list, tuple)):
            fail(path, constraints, "use a list of strings such as ['x0 + x1 <= 1.5']")
        for i, text in enumerate(constraints):
            check_str(text, f"{path}[{i}]", "use a string such as 'x0 + x1 <= 1.5'")
            constraint_names(text, f"{path}[{i}]")
        object.__setattr__(self, "parameter_constraints", tuple(constraints))


@dataclass(frozen=True, kw_only=True)
class ResourcesSpec(_Section):
    """What each trial reserves on the Ray cluster (YAML section ``resources``).

    Attributes:
        cpus_per_trial: CPUs per trial, > 0; fractions allowed.
        gpus_per_trial: GPUs per trial, >= 0; fractions (e.g. 0.5, to share a GPU)
            are allowed up to 1, above 1 it must be a whole number.

    """

    _path: ClassVar[str] = "resources"

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0

    def __post_init__(self) -> None:
        cpus = check_number(self.cpus_per_trial, "resources.cpus_per_trial", gt=0)
        gpus = check_number(self.gpus_per_trial, "resources.gpus_per_trial", ge=0)
        if gpus > 1 and not gpus.is_integer():
            fail(
                "resources.gpus_per_trial",
                self.gpus_per_trial,
                "a trial can share one GPU (a fraction <= 1) or use whole GPUs; "
                f"use {int(gpus)} or {int(gpus) + 1}",
            )
        object.__setattr__(self, "cpus_per_trial", cpus)
        object.__setattr__(self, "gpus_per_trial", gpus)


@dataclass(frozen=True, kw_only=True)
class CheckpointSpec(_Section):
    """How trials checkpoint (YAML section ``checkpoint``).

    Attributes:
        frequency: Epochs between checkpoints, >= 0; 0 checkpoints only at the end.
        num_to_keep: Checkpoints kept per trial, >= 1; ``None`` keeps all.

    """

    _path: ClassVar[str] = "checkpoint"

    frequency: int = 1
    num_to_keep: int | None = 2

    def __post_init__(self) -> None:
        check_int(self.frequency, "checkpoint.frequency", ge=0, extra=" (0 = only at the end)")
        check_int(
            self.num_to_keep,
            "checkpoint.num_to_keep",
            ge=1,
            allow_none=True,
            extra=", or null to keep all",
        )


SchedulerType = Literal["fifo", "asha", "hyperband", "median_stopping"]
TimeAttr = Literal["training_iteration", "time_total_s"]
SCHEDULERS: tuple[str, ...] = ("fifo", "asha", "hyperband", "median_stopping")
TIME_ATTRS: tuple[str, ...] = ("training_iteration", "time_total_s")


@dataclass(frozen=True, kw_only=True)
class SchedulerSpec(_Section):
    """Which Ray Tune scheduler stops trials early (YAML section ``scheduler``).

    The runner builds Ray Tune's own classes from it (``FIFOScheduler``,
    ``ASHAScheduler``, ``HyperBandScheduler``, ``MedianStoppingRule``); see
    :mod:`distributed_bo.runner.schedulers`.

    Attributes:
        type: ``"fifo"`` (no early stopping), ``"asha"``, ``"hyperband"`` or
            ``"median_stopping"``.
        time_attr: The resource trials are measured in: ``"training_iteration"``
            (reports, i.e. epochs for the built-in trainables) or
            ``"time_total_s"`` (seconds of training).
        max_t: A trial's full length in ``time_attr`` units, > 0; a trial that
            ends before it without an error was stopped early. ``None`` takes
            ``trainable.config.epochs`` (``training_iteration`` only).
        grace_period: ``time_attr`` units every trial runs before it can be
            stopped, > 0 and <= ``max_t`` (ASHA and the median stopping rule).
        reduction_factor: Fraction of trials (1 / this) promoted at each rung,
            > 1 (ASHA and HyperBand).

    """

    _path: ClassVar[str] = "scheduler"

    type: SchedulerType = "fifo"
    time_attr: TimeAttr = "training_iteration"
    max_t: float | None = None
    grace_period: float = 1
    reduction_factor: float = 3

    def __post_init__(self) -> None:
        check_literal(self.type, "scheduler.type", SCHEDULERS)
        check_literal(self.time_attr, "scheduler.time_attr", TIME_ATTRS)
        epochs = self.time_attr == "training_iteration"
        unit = " (epochs: a whole number)" if epochs else " (seconds)"
        for name in ("max_t", "grace_period"):
            value = getattr(self, name)
            if name == "max_t" and value is None:
                continue
            path = f"scheduler.{name}"
            extra = unit + (", or null for trainable.config.epochs" if name == "max_t" else "")
            number = check_number(value, path, gt=0, extra=extra)
            if epochs and not is_integer(value):
                if not number.is_integer():
                    fail(path, value, "use a whole number of epochs for training_iteration")
                value = int(number)
            object.__setattr__(self, name, value if epochs else number)
        factor = check_number(
            self.reduction_factor, "scheduler.reduction_factor", gt=1, extra=" (e.g. 3)"
        )
        object.__setattr__(self, "reduction_factor", factor)
        if self.max_t is not None and self.grace_period > self.max_t:
            fail(
                "scheduler.grace_period",
                self.grace_period,
                f"use a value <= scheduler.max_t ({self.max_t:g}); no trial could be stopped",
            )

    def full_length(self, trainable_config: Mapping[str, Any]) -> float | None:
        """A trial's full length in ``time_attr`` units (``max_t`` or the epochs).

        Args:
            trainable_config: ``trainable.config``, for its ``epochs``.

        Returns:
            ``max_t``, else ``trainable_config["epochs"]`` when ``time_attr`` is
            ``training_iteration``, else ``None``.
        """
        if self.max_t is not None:
            return self.max_t
        epochs = trainable_config.get("epochs")
        if self.time_attr == "training_iteration" and is_integer(epochs) and epochs > 0:
            return int(epochs)
        return None


_SECTIONS: dict[str, type[_Section]] = {
    "objective": ObjectiveSpec,
    "trainable": TrainableSpec,
    "budget": BudgetSpec,
    "searcher": SearcherSpec,
    "resources": ResourcesSpec,
    "checkpoint": CheckpointSpec,
    "scheduler": SchedulerSpec,
}


@dataclass(frozen=True, kw_only=True)
class StudySpec:
    """A whole study: what to optimise, over which space, with which budget.

    Attributes:
        name: Names the experiment directory: 1 to 64 characters from
            ``A-Z a-z 0-9 _ . -``, not only dots.
        objective: The metric and its direction.
        trainable: The function each trial runs and its fixed config.
        space: The searched parameters, as validated YAML (read-only): a mapping
            with a ``type`` key is a domain (see :mod:`distributed_bo.spec.domains`),
            a mapping without one is a nested group, any other value a constant.
            Names are identifiers; at least one parameter must be searched.
        budget: Number of trials and how many run at once.
        searcher: Acquisition function, batching and constraints.
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
        baseline: A hand-tuned config evaluated as a reference, or ``None``. Keys
            are searched parameters, given nested or by flat name (``optim/beta1``);
            values must lie in their domains. Stored by flat name. It may leave
            parameters out; the searcher chooses those.

    """

    _TOP_LEVEL: ClassVar[tuple[str, ...]] = (
        "name",
        "objective",
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
    )
    _REQUIRED: ClassVar[tuple[str, ...]] = ("name", "objective", "trainable", "space", "budget")

    name: str
    objective: ObjectiveSpec
    trainable: TrainableSpec
    space: Mapping[str, Any]
    budget: BudgetSpec
    searcher: SearcherSpec = field(default_factory=SearcherSpec)
    resources: ResourcesSpec = field(default_factory=ResourcesSpec)
    checkpoint: CheckpointSpec = field(default_factory=CheckpointSpec)
    scheduler: SchedulerSpec = field(default_factory=SchedulerSpec)
    retries: int = 2
    max_failure_fraction: float = 0.5
    storage: str = "./experiments"
    seed: int | None = 0
    baseline: Mapping[str, Any] | None = None

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
            if section is None:
                kwargs[key] = value
            elif value is None and key not in cls._REQUIRED:
                kwargs[key] = section()
            elif section is TrainableSpec:
                kwargs[key] = TrainableSpec.from_dict(value, import_trainable=import_trainable)
            else:
                kwargs[key] = section.from_dict(value)
        return cls(**kwargs)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            fail(
                "name",
                self.name,
                "use 1-64 characters from A-Z a-z 0-9 _ . - (it names the experiment directory)",
            )
        if set(self.name) == {"."}:
            fail("name", self.name, "use a name with a letter or digit; dots alone are not a name")
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
        _check_scheduler(self.scheduler, self.trainable.config)
        check_int(self.retries, "retries", ge=0)
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
            require_mapping(self.baseline, "baseline", "a mapping of searched parameters to values")
            baseline = freeze(self.baseline, "baseline")
            flat: dict[str, Any] = {}
            _flatten_baseline(baseline, "", "baseline", parsed, flat)
            missing = [name for name in parsed.domains if name not in flat]
            if missing:
                fail(
                    "baseline",
                    dict(thaw(baseline)),
                    f"missing {', '.join(map(repr, missing))}; a baseline is one complete "
                    "configuration, so give every searched parameter a value",
                )
            object.__setattr__(self, "baseline", FrozenDict(flat))

    # -- use --------------------------------------------------------------------

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
            out[key] = value.to_dict() if isinstance(value, _Section) else thaw(value)
        return out

    def to_yaml(self) -> str:
        """Return the spec as a YAML document, fields in the job-file order."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)


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
    usable = [n for n, d in parsed.domains.items() if d.type in RANGE_TYPES]
    allowed = (
        f"constraints can name {', '.join(usable)}"
        if usable
        else (f"no parameter is of a type constraints can name ({', '.join(RANGE_TYPES)})")
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


def _check_scheduler(scheduler: SchedulerSpec, config: Mapping[str, Any]) -> None:
    """A scheduler needs the trials' full length, and trials must be able to reach it."""
    if scheduler.type == "fifo":
        return
    full = scheduler.full_length(config)
    if full is None:
        fail(
            "scheduler.max_t",
            scheduler.max_t,
            f"set it to a trial's full length in {scheduler.time_attr} units"
            + (
                " (or set trainable.config.epochs)"
                if scheduler.time_attr == "training_iteration"
                else ""
            ),
        )
    epochs = config.get("epochs")
    if (
        scheduler.time_attr == "training_iteration"
        and is_integer(epochs)
        and scheduler.max_t is not None
        and scheduler.max_t > epochs
    ):
        fail(
            "scheduler.max_t",
            scheduler.max_t,
            f"trainable.config.epochs is {epochs}, so no trial could reach it; use a value "
            f"<= {epochs} or null",
        )
    if scheduler.grace_period > full:
        fail(
            "scheduler.grace_period",
            scheduler.grace_period,
            f"use a value <= the trials' full length ({full:g} {scheduler.time_attr})",
        )


def _check_storage(storage: Any) -> str:
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    fix = "use a local path or a URI such as s3://bucket/experiments"
    check_str(storage, "storage", fix)
    if "://" in storage and not _URI.fullmatch(storage):
        fail("storage", storage, fix)
    return storage


def _flatten_baseline(
    node: Mapping[str, Any], prefix: str, path: str, parsed: ParsedSpace, out: dict[str, Any]
) -> None:
    """Check a (possibly nested) baseline and collect it by flat parameter name."""
    for key, value in node.items():
        name, key_path = prefix + key, join(path, key)
        if name in parsed.domains:
            if name in out:
                fail(
                    key_path,
                    thaw(value),
                    f"{name!r} is given twice (nested and flat); give it once",
                )
            parsed.domains[name].check_value(thaw(value), key_path)
            out[name] = value
        elif name in parsed.groups:
            require_mapping(
                value,
                key_path,
                f"a mapping: {name!r} is a group of parameters (or use flat names "
                f"such as '{name}{NESTED_SEP}...')",
            )
            _flatten_baseline(value, name + NESTED_SEP, key_path, parsed, out)
        elif name in parsed.constants:
            fail(
                key_path,
                thaw(value),
                f"{name!r} is a constant in space, not a searched parameter; remove it",
            )
        else:
            hint = did_you_mean(name, list(parsed.domains))
            fail(
                key_path,
                thaw(value),
                f"{name!r} is not a searched parameter in space{hint}; "
                f"use {', '.join(parsed.domains)}",
            )
