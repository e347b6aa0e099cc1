"""The small sections of a job spec: objective, trainable, budget, resources, checkpoint.

Each is a frozen dataclass mirroring one YAML section, checked on construction;
a bad value raises :class:`~distributed_bo.exceptions.SpecError` with a one-line
message naming the field, the value and the fix. The ``searcher`` section is
:class:`~distributed_bo.search.settings.SearcherSettings` and the ``scheduler``
section :class:`~distributed_bo.spec.scheduler.SchedulerSpec`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, InitVar, dataclass, field, fields
from typing import Any, ClassVar, Literal, TypeVar

from distributed_bo.exceptions import TrainableError
from distributed_bo.spec._frozen import FrozenDict, freeze, thaw
from distributed_bo.trainables import BUILTIN_TRAINABLES, resolve_trainable
from distributed_bo.validation import (
    check_int,
    check_keys,
    check_literal,
    check_number,
    check_text,
    fail,
    require_mapping,
)

Mode = Literal["min", "max"]

_S = TypeVar("_S", bound="Section")
# Upper bounds on sizes. Each is far above any real study and far below what
# would exhaust the driver: every trial is a row in trials.parquet and an Ax
# trial held in memory and refitted over, so 100,000 trials is already days of a
# GP fit per batch; Ray Tune starts one actor per running trial, so 10,000 at
# once is beyond the largest clusters. Larger values are typos (1e12) or attacks.
MAX_TRIALS = 100_000
MAX_CONCURRENT = 10_000
#: Longest time limit, in seconds (a year): longer ones are typos (an extra zero or
#: milliseconds), and Ray Tune's clocks need not cope with them.
MAX_SECONDS = 365 * 24 * 3600

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class Section:
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
class ObjectiveSpec(Section):
    """One objective of the study (YAML section ``objective``, or one entry of its list).

    See :mod:`distributed_bo.spec.objectives` for the section's forms.

    Attributes:
        metric: Key of the result the trainable reports, e.g. ``val_accuracy``.
        mode: ``"max"`` to maximise the metric, ``"min"`` to minimise it.
        threshold: Several objectives only: the worst value worth having (the
            hypervolume's reference point); ``None`` lets Ax infer it.

    """

    _path: ClassVar[str] = "objective"

    metric: str
    mode: Mode
    threshold: float | None = None

    def __post_init__(self) -> None:
        check_text(
            self.metric,
            "objective.metric",
            "use the name of the metric the trainable reports, e.g. val_accuracy",
        )
        check_literal(self.mode, "objective.mode", ("min", "max"))
        if self.threshold is not None:
            value = check_number(self.threshold, "objective.threshold", extra=", or None")
            object.__setattr__(self, "threshold", value)

    def to_dict(self) -> dict[str, Any]:
        """``{metric, mode}``, with ``threshold`` only when one is set."""
        out: dict[str, Any] = {"metric": self.metric, "mode": self.mode}
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


@dataclass(frozen=True, kw_only=True)
class TrainableSpec(Section):
    """The function each trial runs (YAML section ``trainable``).

    By default the name is resolved (its module imported) on construction, so a
    missing ``module:function`` fails when the spec is validated, not when trials
    start; a trainable with a ``check_config(config)`` attribute (the built-in
    torch trainables) also has its fixed ``config`` checked then.
    ``import_trainable=False`` checks the name's form only (a built-in name or
    ``module:function``), for reading a saved ``spec.yaml`` back on a machine without
    the user's module.

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
        timeout_s: Seconds a trial may go without reporting (counted from its
            start or restart and from each report) before it is failed and retried
            per ``retries``; ``None`` (default) waits forever.
        import_trainable: Import and resolve ``name`` now (default); ``False``
            checks its form only. Not a field.

    """

    _path: ClassVar[str] = "trainable"

    name: str
    config: Mapping[str, Any] = field(default_factory=FrozenDict)
    timeout_s: float | None = None
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
        check_text(self.name, "trainable.name", "use a built-in name or 'package.module:function'")
        config = FrozenDict() if self.config is None else self.config
        require_mapping(config, "trainable.config", "a mapping of fixed config values")
        object.__setattr__(self, "config", freeze(config, "trainable.config"))
        object.__setattr__(self, "timeout_s", check_seconds(self.timeout_s, "trainable.timeout_s"))
        if import_trainable:
            check_config = getattr(self.resolve(), "check_config", None)
            if check_config is not None:  # a built-in checks its fixed keys before Ray starts
                check_config(dict(self.config))
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
class BudgetSpec(Section):
    """How many trials to run (YAML section ``budget``).

    Attributes:
        num_trials: Total number of trials, 1 to :data:`MAX_TRIALS`.
        max_concurrent: Most trials running at once, 1 to :data:`MAX_CONCURRENT`.
        time_budget_s: Seconds a ``run`` (or a ``resume``) may take, up to
            :data:`MAX_SECONDS`; when they are spent no trial is started and the
            running ones are stopped (EARLY_STOPPED). ``None`` (default): no limit.

    """

    _path: ClassVar[str] = "budget"

    num_trials: int
    max_concurrent: int = 4
    time_budget_s: float | None = None

    def __post_init__(self) -> None:
        check_int(self.num_trials, "budget.num_trials", ge=1, le=MAX_TRIALS)
        check_int(self.max_concurrent, "budget.max_concurrent", ge=1, le=MAX_CONCURRENT)
        budget = check_seconds(self.time_budget_s, "budget.time_budget_s")
        object.__setattr__(self, "time_budget_s", budget)


def check_seconds(value: Any, path: str) -> float | None:
    """Check an optional time limit: ``None``, or seconds in (0, :data:`MAX_SECONDS`].

    Raises:
        SpecError: If it is not a number in that range.
    """
    if value is None:
        return None
    return check_number(value, path, gt=0, le=MAX_SECONDS, extra=", or null for no limit")


@dataclass(frozen=True, kw_only=True)
class ResourcesSpec(Section):
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
class CheckpointSpec(Section):
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
