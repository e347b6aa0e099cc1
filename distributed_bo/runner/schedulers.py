"""How the ``scheduler`` section becomes a Ray Tune scheduler that reports its stops.

The schedulers are Ray Tune's own classes (``FIFOScheduler``, ``ASHAScheduler``,
``HyperBandScheduler``, ``MedianStoppingRule``), not reimplementations. For the
three that stop trials early, :func:`build_scheduler` returns a subclass that
tells the searcher which trials it stopped *before* Tune reports them finished,
because Tune calls ``Searcher.on_trial_complete`` for a stopped trial exactly as
for one that ran to the end. A trial counts as stopped early when the scheduler
ended it, and its last ``time_attr`` value is below ``max_t``:

* a ``STOP`` decision from ``on_trial_result`` (ASHA, the median stopping rule,
  HyperBand for the trial that closes a rung); ASHA's ``STOP`` at ``max_t`` is the
  end of a full-length trial, hence the ``max_t`` check;
* ``on_trial_remove`` of a trial that had reported (HyperBand stops paused trials
  of a halved rung this way, through ``TuneController.stop_trial``).

Errors and the trainable's own return never pass through these paths, so a
trial that ends by itself, however early, stays COMPLETED (or FAILED).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ray.tune.schedulers import (
    ASHAScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    TrialScheduler,
)

from distributed_bo.exceptions import SpecError

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

    from distributed_bo.spec.schema import SchedulerSpec


class StopListener(Protocol):
    """What a stop-reporting scheduler tells: :class:`BatchBOSearcher` implements it."""

    def on_trial_early_stopped(self, trial_id: str) -> None:
        """``trial_id`` was stopped by the scheduler before ``max_t``."""


class _ReportsStops:
    """Mixin over a Ray Tune scheduler class: reports early stops to a listener.

    Attributes set by :func:`build_scheduler`: ``_listener``, ``_stop_attr``
    (the ``time_attr``) and ``_full_t`` (``max_t``).
    """

    _listener: StopListener | None = None
    _stop_attr: str = "training_iteration"
    _full_t: float = float("inf")

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        """Ask the wrapped scheduler; report a ``STOP`` before ``max_t``."""
        decision = super().on_trial_result(tune_controller, trial, result)  # type: ignore[misc]
        if decision == TrialScheduler.STOP:
            self._report(trial, result)
        return decision

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        """A trial that reported and is removed unfinished was stopped (HyperBand)."""
        super().on_trial_remove(tune_controller, trial)  # type: ignore[misc]
        self._report(trial, trial.last_result or {})

    def _report(self, trial: Trial, result: dict) -> None:
        reached = result.get(self._stop_attr)
        if (
            self._listener is not None
            and isinstance(reached, (int, float))
            and reached < self._full_t
        ):
            self._listener.on_trial_early_stopped(trial.trial_id)


class ReportingASHAScheduler(_ReportsStops, ASHAScheduler):
    """Ray Tune's ``ASHAScheduler`` that reports its early stops."""


class ReportingHyperBandScheduler(_ReportsStops, HyperBandScheduler):
    """Ray Tune's ``HyperBandScheduler`` that reports its early stops."""


class ReportingMedianStoppingRule(_ReportsStops, MedianStoppingRule):
    """Ray Tune's ``MedianStoppingRule`` that reports its early stops."""


def build_scheduler(
    spec: SchedulerSpec,
    *,
    full_length: float | None,
    listener: StopListener | None = None,
) -> TrialScheduler:
    """Build the Ray Tune scheduler a ``scheduler`` section describes.

    The objective's metric and mode are not passed here: Tune hands those of
    ``TuneConfig`` to the scheduler (and refuses a scheduler that has its own).

    Args:
        spec: The validated section.
        full_length: A trial's full length in ``spec.time_attr`` units
            (``StudySpec.scheduler.full_length(trainable.config)``); required
            unless the scheduler is FIFO.
        listener: Told about every trial stopped before ``full_length``, before
            Tune reports it finished (the study's searcher).

    Returns:
        A ``FIFOScheduler``, or a subclass of ``ASHAScheduler``,
        ``HyperBandScheduler`` or ``MedianStoppingRule`` that reports its stops.

    Raises:
        SpecError: If a stopping scheduler has no ``full_length``.
    """
    if spec.type == "fifo":
        return FIFOScheduler()
    if full_length is None:
        raise SpecError(
            f"scheduler.max_t: got None; set it to a trial's full length in {spec.time_attr} units"
        )
    common = {"time_attr": spec.time_attr}
    if spec.type == "asha":
        cls: type[_ReportsStops] = ReportingASHAScheduler
        kwargs = {
            **common,
            "max_t": full_length,
            "grace_period": spec.grace_period,
            "reduction_factor": spec.reduction_factor,
        }
    elif spec.type == "hyperband":
        cls = ReportingHyperBandScheduler
        kwargs = {**common, "max_t": full_length, "reduction_factor": spec.reduction_factor}
    else:
        cls = ReportingMedianStoppingRule
        kwargs = {**common, "grace_period": spec.grace_period}
    scheduler = cls(**kwargs)
    scheduler._listener = listener
    scheduler._stop_attr = spec.time_attr
    scheduler._full_t = float(full_length)
    return scheduler  # type: ignore[return-value]
