"""The ``scheduler`` section: which Ray Tune scheduler stops trials early, and when.

:class:`SchedulerSpec` checks itself; :func:`check_scheduler_reach` checks it
against ``trainable.config`` (a trial must be able to reach the scheduler's
full length), which :class:`~distributed_bo.spec.study.StudySpec` calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

from distributed_bo.spec.sections import ObjectiveSpec, Section
from distributed_bo.validation import (
    check_literal,
    check_number,
    check_text,
    did_you_mean,
    fail,
    is_integer,
)

SchedulerType = Literal["fifo", "asha", "hyperband", "median_stopping"]
TimeAttr = Literal["training_iteration", "time_total_s"]
SCHEDULERS: tuple[str, ...] = get_args(SchedulerType)
TIME_ATTRS: tuple[str, ...] = get_args(TimeAttr)


@dataclass(frozen=True, kw_only=True)
class SchedulerSpec(Section):
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
        metric: The objective the scheduler compares trials on, with that
            objective's mode. Ray Tune's schedulers follow one metric, so a study
            with several objectives stops trials on this one; ``None`` (default)
            takes the first objective. It must be one of the objectives (the
            metrics every trial reports).

    """

    _path: ClassVar[str] = "scheduler"

    type: SchedulerType = "fifo"
    time_attr: TimeAttr = "training_iteration"
    max_t: float | None = None
    grace_period: float = 1
    reduction_factor: float = 3
    metric: str | None = None

    def __post_init__(self) -> None:
        if self.metric is not None:
            check_text(self.metric, "scheduler.metric", "use one of the objective's metrics")
        check_literal(self.type, "scheduler.type", SCHEDULERS)
        check_literal(self.time_attr, "scheduler.time_attr", TIME_ATTRS)
        for name in ("max_t", "grace_period"):
            value = getattr(self, name)
            if name != "max_t" or value is not None:
                object.__setattr__(self, name, self._length(name, value))
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

    def _length(self, name: str, value: Any) -> float:
        """Check ``max_t`` or ``grace_period``: > 0, whole epochs for ``training_iteration``."""
        epochs = self.time_attr == "training_iteration"
        path = f"scheduler.{name}"
        extra = " (epochs: a whole number)" if epochs else " (seconds)"
        if name == "max_t":
            extra += ", or null for trainable.config.epochs"
        number = check_number(value, path, gt=0, extra=extra)
        if not epochs:
            return number
        if not is_integer(value):
            if not number.is_integer():
                fail(path, value, "use a whole number of epochs for training_iteration")
            value = int(number)
        return value

    def to_dict(self) -> dict[str, Any]:
        """The section as YAML-able data; ``metric`` only when set (older specs lack it)."""
        out = super().to_dict()
        if out["metric"] is None:
            del out["metric"]
        return out

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


def check_scheduler_reach(scheduler: SchedulerSpec, config: Mapping[str, Any]) -> None:
    """A scheduler needs the trials' full length, and trials must be able to reach it.

    Args:
        scheduler: The ``scheduler`` section.
        config: ``trainable.config``, for its ``epochs``.

    Raises:
        SpecError: If the full length is unknown, beyond ``epochs``, or below the
            grace period.

    """
    if scheduler.type == "fifo":
        return
    by_epoch = scheduler.time_attr == "training_iteration"
    full = scheduler.full_length(config)
    if full is None:
        fail(
            "scheduler.max_t",
            scheduler.max_t,
            f"set it to a trial's full length in {scheduler.time_attr} units"
            + (" (or set trainable.config.epochs)" if by_epoch else ""),
        )
    epochs = config.get("epochs")
    if by_epoch and is_integer(epochs) and scheduler.max_t is not None and scheduler.max_t > epochs:
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


def scheduler_objective(
    scheduler: SchedulerSpec, objectives: Sequence[ObjectiveSpec]
) -> ObjectiveSpec:
    """The objective the scheduler follows: ``scheduler.metric``'s, else the first.

    Args:
        scheduler: The ``scheduler`` section.
        objectives: The study's :class:`~distributed_bo.spec.sections.ObjectiveSpec`
            entries, in order.

    Raises:
        SpecError: If ``scheduler.metric`` is not one of the objectives.
    """
    if scheduler.metric is None:
        return objectives[0]
    names = [o.metric for o in objectives]
    if scheduler.metric not in names:
        fail(
            "scheduler.metric",
            scheduler.metric,
            f"trials are not asked to report it; use one of the objectives "
            f"({', '.join(names)}){did_you_mean(scheduler.metric, names)}",
        )
    return objectives[names.index(scheduler.metric)]
