"""BatchBOSearcher: a Ray Tune ``Searcher`` that keeps every worker busy.

``suggest()`` never fits a model. It pops a ready candidate from a queue, or
returns ``None`` ("not yet") and wakes a background thread. That thread owns the
Ax experiment: it applies the results reported since its last cycle, then
generates the points the free slots and the spares still lack (at most one per
slot, or ``batch_size``) in one acquisition optimisation, conditioned on every
trial still running or queued. A spare is generated while every slot is busy, so
a slot that frees takes it at once instead of waiting for a model fit; by default
there are as many as slots tend to free at once
(:class:`~distributed_bo.search.spares.SpareCount`). The first round, having no
data, is a Sobol batch that fills all slots at once.

State that ``save()`` writes is a consistent cut without waiting for the thread:
the Ax JSON snapshot taken at the end of the thread's last cycle, plus the result
events reported since, which ``restore()`` replays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ray.tune.search import Searcher

from distributed_bo.exceptions import SearchSpaceError, SpecError
from distributed_bo.search.book import TrialBook
from distributed_bo.search.events import Run, finished_event
from distributed_bo.search.generator import GenerationStats
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.search.restore import ResumeInfo, SaveRestore, upgrade_pickled
from distributed_bo.search.settings import (
    GENERATION_CHUNK,
    MULTI_OBJECTIVE,
    UNSET,
    SearcherSettings,
    settings_from_keywords,
)
from distributed_bo.search.space import MappedSpace, map_space
from distributed_bo.search.spares import SpareCount
from distributed_bo.search.stopped import StoppedTrialGenerator
from distributed_bo.search.warm import WarmObservation
from distributed_bo.search.worker import BatchWorker
from distributed_bo.validation import check_int, check_literal

logger = logging.getLogger(__name__)

_MODES = ("min", "max")
#: How long the first ``suggest()`` of a fresh study waits for the first batch: Sobol
#: points or the given ones, tens of milliseconds. Answering ``None`` instead made
#: Tune ask again a second later, twice: 2 s before the first trial started
#: (``benchmarks/utilization.py``, 2026-12-04). Never a model fit: a study with trials
#: (a resumed one) does not wait.
FIRST_BATCH_WAIT_S = 5.0


class BatchBOSearcher(SaveRestore, Searcher):
    """Batch Bayesian optimisation on Ax/BoTorch for Ray Tune.

    Use it as ``search_alg=`` of a ``tune.Tuner`` or standalone through
    ``suggest()`` / ``on_trial_complete()``.

    Args:
        space: Ray Tune domains (nested dicts and constants allowed). If ``None``, the
            Tuner's ``param_space`` is used.
        metric: The reported key to optimise, or a list of keys for several
            objectives (as ``OptunaSearch`` takes them): batches then come from
            qLogNEHVI, and :meth:`pareto_front` gives the trade-offs found.
        mode: ``"min"`` or ``"max"``, or a list of them, one per metric.
        objective_thresholds: Several objectives only: objective -> the worst value
            worth having (the hypervolume's reference point); an objective left out
            gets the threshold Ax infers from the data.
        outcome_constraints: Constraints on reported metrics that are not objectives,
            in Ax's syntax: ``["num_params <= 5e6"]``. They enter the acquisition
            (as in BoTorch's constrained qLogNEI / qLogNEHVI); a trial must report
            every constrained metric.
        seed: Seed of the Sobol sequence and the acquisition optimiser. With the same
            seed and the same results in the same order, proposals are identical.
        max_concurrent: Trials run at once. ``None`` takes Tune's
            ``max_concurrent_trials``; without either, ``batch_size`` or 1.
        points_to_evaluate: Configs (nested or flat ``a/b`` keys) to run first, for
            example a hand-tuned baseline.
        warm_start: Earlier results that enter the model as data before the first
            batch, never run (:class:`~distributed_bo.search.warm.WarmObservation`:
            a config inside the space and a value of every objective and
            constrained metric). They count toward ``num_initial`` (the Sobol
            start shrinks by as many points), not against ``num_samples``.
        time_attr: The result key that measures a trial's progress (its learning
            curve's x axis), as the scheduler's ``time_attr``.
        settings: How points are generated, as one
            :class:`~distributed_bo.search.settings.SearcherSettings` (e.g. a spec's
            ``searcher`` section); or pass its fields as keywords instead:
        acquisition, batch_strategy, batch_size, num_initial, max_observations,
            prefetch, parameter_constraints, stopped_trials, categorical_kernel,
            sobol_start, optimizer_options: The
            fields of :class:`~distributed_bo.search.settings.SearcherSettings`,
            documented (with their defaults) there. A keyword left out takes the
            settings' default.

    Raises:
        SpecError: On a bad argument (``"<name>: got <value>; <fix>"``), or
            ``settings=`` together with a setting keyword.

    A trial counts as stopped early only when the scheduler says so through
    :meth:`on_trial_early_stopped` before Tune reports it finished;
    :func:`distributed_bo.runner.schedulers.build_scheduler` builds Ray Tune
    schedulers that do. Save and restore (:meth:`save`, :meth:`restore`,
    :meth:`set_resume_info`) come from :class:`~distributed_bo.search.restore.SaveRestore`.
    """

    def __init__(
        self,
        *,
        space: Mapping[str, Any] | None = None,
        metric: str | Sequence[str] | None = None,
        mode: str | Sequence[str] | None = None,
        objective_thresholds: Mapping[str, float] | None = None,
        outcome_constraints: Sequence[str] = (),
        batch_size: int | None = UNSET,
        acquisition: str = UNSET,
        batch_strategy: str = UNSET,
        num_initial: int | None = UNSET,
        seed: int | None = None,
        parameter_constraints: Sequence[str] = UNSET,
        max_concurrent: int | None = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] = (),
        warm_start: Sequence[WarmObservation] = (),
        optimizer_options: Mapping[str, Any] | None = UNSET,
        stopped_trials: str = UNSET,
        time_attr: str = "training_iteration",
        max_observations: int | None = UNSET,
        prefetch: int | None = UNSET,
        categorical_kernel: bool = UNSET,
        sobol_start: str = UNSET,
        settings: SearcherSettings | None = None,
    ) -> None:
        # Every setting keyword (the others are ignored); UNSET where not given.
        self._settings = settings_from_keywords(settings, locals())
        if isinstance(mode, str):
            check_literal(mode, "mode", _MODES)
        check_int(max_concurrent, "max_concurrent", ge=1, allow_none=True, extra=" or None")
        check_int(seed, "seed", allow_none=True, extra=" or None")
        if not isinstance(metric, str | None):
            metric = list(metric)
        if not isinstance(mode, str | None):
            mode = list(mode)
        self._objective_thresholds = dict(objective_thresholds or {})
        self._outcome_constraints = list(outcome_constraints)
        if metric is not None and mode is not None:
            # Bad metric/mode/thresholds/constraints fail here, before Tune's asserts.
            self._outcomes(metric, mode)
        super().__init__(metric=metric, mode=mode)  # type: ignore[arg-type]  # lists too
        self._raw_space = dict(space) if space is not None else None
        self._seed = seed
        self._max_concurrent = max_concurrent
        self._points = [dict(p) for p in points_to_evaluate]
        self._warm = list(warm_start)
        self._time_attr = time_attr
        self._budget: int | None = None
        self._resume = ResumeInfo()
        self._init_runtime()
        if self._raw_space is not None and metric is not None and mode is not None:
            self._setup()

    @property
    def settings(self) -> SearcherSettings:
        """How this searcher generates points."""
        return self._settings

    # ------------------------------------------------------------------ setup
    def _init_runtime(self) -> None:
        """(Re)create everything that is not picklable or is per-process."""
        self._cond = threading.Condition()
        self._book = TrialBook()
        self._worker: BatchWorker | None = None
        self._space: MappedSpace | None = None
        self._warned_concurrency = False
        self._spare_count = SpareCount(fixed=self._settings.prefetch)
        #: Last reported values of the tracked metrics after the first, per live trial.
        self._last_others: dict[str, dict[str, Any]] = {}

    # Tune pickles the searcher into ``tuner.pkl``; threads and locks cannot be
    # pickled and the study state lives in ``save()``'s file instead.
    _PICKLED = (
        *("_raw_space", "_settings", "_seed", "_max_concurrent", "_points"),
        *("_time_attr", "_budget", "_resume", "_metric", "_mode"),
        *("_objective_thresholds", "_outcome_constraints", "_warm"),
    )

    def __getstate__(self) -> dict[str, Any]:
        return {k: self.__dict__[k] for k in self._PICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(upgrade_pickled(state))
        # Pickled before several objectives and outcome constraints existed.
        self.__dict__.setdefault("_objective_thresholds", {})
        self.__dict__.setdefault("_outcome_constraints", [])
        self.__dict__.setdefault("_warm", [])  # pickled before warm data existed
        self._init_runtime()
        if self._raw_space is not None and self._metric is not None and self._mode is not None:
            self._setup()

    def _outcomes(self, metric: Any = UNSET, mode: Any = UNSET) -> Outcomes:
        """The objectives and constraints (of ``metric``/``mode``, else the searcher's).

        Raises:
            SpecError: If metric or mode is missing or malformed, a threshold or
                constraint is bad, or the acquisition or stopped-trial policy does not
                fit the number of objectives.
        """
        metric = self._metric if metric is UNSET else metric
        mode = self._mode if mode is UNSET else mode
        if metric is None or mode is None:
            raise SpecError(
                "metric/mode: not set; pass metric= and mode= to BatchBOSearcher or "
                "to tune.TuneConfig"
            )
        outcomes = Outcomes.build(
            metric,
            mode,
            objective_thresholds=self._objective_thresholds,
            outcome_constraints=self._outcome_constraints,
        )
        acquisition = self._settings.acquisition
        if outcomes.is_multi and acquisition not in ("qLogNEI", *MULTI_OBJECTIVE):
            raise SpecError(
                f"acquisition: got {acquisition!r} with {len(outcomes.metrics)} objectives; "
                f"use one of {', '.join(MULTI_OBJECTIVE)} (or the default qLogNEI, which "
                "becomes qLogNEHVI)"
            )
        if not outcomes.is_multi and acquisition in MULTI_OBJECTIVE:
            raise SpecError(
                f"acquisition: got {acquisition!r} with one objective; it needs several "
                "metrics; use qLogNEI"
            )
        if outcomes.is_multi and self._settings.stopped_trials == "highest_rung":
            raise SpecError(
                "stopped_trials: got 'highest_rung' with several objectives; BOHB's rule "
                "follows one learning curve; use 'last_value'"
            )
        return outcomes

    def _setup(self) -> None:
        outcomes = self._outcomes()
        space = map_space(self._raw_space or {})
        _check_warm(self._warm, space, outcomes)
        gen = StoppedTrialGenerator.from_settings(
            self._settings,
            space=space,
            metric=outcomes.metrics[0],
            mode=outcomes.modes[0],
            seed=self._seed,
            initial_points=[space.to_ax(p) for p in self._points],
            outcomes=outcomes,
            warm=self._warm,
        )
        self._space = space
        self._start_worker(gen)

    def _start_worker(self, gen: StoppedTrialGenerator) -> BatchWorker:
        self._worker = BatchWorker(gen=gen, book=self._book, cond=self._cond, demand=self._demand)
        return self._worker

    @property
    def _gen(self) -> StoppedTrialGenerator | None:
        return None if self._worker is None else self._worker.gen

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Take metric, mode, ``param_space`` and ``num_samples`` from the Tuner."""
        num_samples = spec.get("num_samples")
        if isinstance(num_samples, int) and num_samples > 0:
            self._budget = num_samples
        if self._worker is not None:
            return False
        # Tune's metric/mode (TuneConfig's, for its scheduler) never replace the
        # searcher's own list of objectives.
        several = isinstance(self._metric, list)
        if metric and not several:
            self._metric = metric
        if mode and not several:
            self._mode = check_literal(mode, "mode", _MODES)
        if self._raw_space is None:
            self._raw_space = dict(config)
        self._setup()
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Adopt Tune's ``max_concurrent_trials``; this searcher limits concurrency itself."""
        if self._max_concurrent is None:
            self._max_concurrent = max_concurrent
        return True

    # ---------------------------------------------------------------- suggest
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """Return a config for ``trial_id`` at once, or ``None`` if none is ready yet.

        Only a fresh study's first call waits, for its first batch (Sobol or the
        given points; see :data:`FIRST_BATCH_WAIT_S`).

        Raises:
            SpecError: If no search space, metric or mode was given.
            DistributedBOError: If the background generation failed.
        """
        worker, space, book = self._worker, self._space, self._book
        if worker is None or space is None:
            raise SpecError(
                "space: BatchBOSearcher has no search space; pass space= or a "
                "param_space to the Tuner, and metric=/mode="
            )
        with self._cond:
            if worker.error is not None:
                raise worker.error
            if self._budget is not None and not book.ready and book.assigned() >= self._budget:
                return Searcher.FINISHED  # type: ignore[return-value]  # Tune's str sentinel
            if self._slots_free() <= 0:
                return None
            slots = self._concurrency()
            first_round = book.assigned() < slots
            if not book.ready:
                if not first_round:
                    self._spare_count.missed(slots=slots)
                worker.wake()
                if book.assigned() > 0 or not self._cond.wait_for(
                    lambda: bool(book.ready) or worker.error is not None,
                    timeout=FIRST_BATCH_WAIT_S,
                ):
                    return None
                if worker.error is not None:
                    raise worker.error
            index = book.ready.popleft()
            self._spare_count.handed_out(
                ready_left=len(book.ready),
                slots=slots,
                first_round=first_round,
                refills_free=worker.refills_free,
            )
            book.live[trial_id] = index
            book.ax_of[trial_id] = index
            book.events.append(Run(trial_id=trial_id))
            params = book.cands.pop(index)
            if self._demand() > 0:
                worker.wake()
            else:
                self._cond.notify_all()
        return space.to_config(params)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Keep an intermediate result of a running trial (its learning curve)."""
        with self._cond:
            self._ensure_known(trial_id, result)
            self._add_to_curve(trial_id, result)

    def on_trial_early_stopped(self, trial_id: str) -> None:
        """Note that the scheduler stopped ``trial_id`` before its full length.

        Call it before Tune reports the trial finished; the schedulers that
        :func:`distributed_bo.runner.schedulers.build_scheduler` returns do.
        """
        with self._cond:
            self._book.stopped.add(trial_id)

    def is_early_stopped(self, trial_id: str) -> bool:
        """Whether the scheduler stopped ``trial_id`` early (see above)."""
        with self._cond:
            return trial_id in self._book.stopped

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Record a finished trial: its final metric as data, or a failure.

        A trial that errored, reported no ``metric`` or a NaN/inf value is marked
        FAILED in Ax and never used as data. A trial the scheduler stopped early
        (:meth:`on_trial_early_stopped`) is marked EARLY_STOPPED and enters the
        model as ``stopped_trials`` says (see
        :func:`~distributed_bo.search.events.finished_event`). Its slot is free at
        once: it takes a spare (``prefetch``) if one is ready, and the next
        generation proposes for the free slots and spares still missing, with the
        running trials as pending points.
        """
        book = self._book
        with self._cond:
            self._ensure_known(trial_id, result)
            book.live.pop(trial_id, None)
            if trial_id not in book.ax_of or self._worker is None:
                logger.warning("Trial %s is unknown and has no config; ignored.", trial_id)
                return
            if result is not None and not error:
                self._add_to_curve(trial_id, result)
            curve = book.curves.get(trial_id)
            tracked = self._worker.gen.outcomes.tracked
            event = finished_event(
                trial_id,
                result,
                metric=tracked[0],
                others=tracked[1:],
                error=error,
                early_stopped=trial_id in book.stopped,
                last_value=curve[-1][1] if curve else None,
                last_others=self._last_others.pop(trial_id, None),
            )
            book.events.append(event)
            self._worker.wake()

    def _add_to_curve(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if self._worker is None:
            return
        tracked = self._worker.gen.outcomes.tracked
        t, value = result.get(self._time_attr), result.get(tracked[0])
        self._book.add_to_curve(trial_id, t, value)
        if len(tracked) > 1:
            # The other tracked metrics' last values, for a trial Tune ends unreported.
            last = self._last_others.setdefault(trial_id, {})
            last.update({m: result[m] for m in tracked[1:] if m in result})

    def _ensure_known(self, trial_id: str, result: Mapping[str, Any] | None) -> None:
        """Re-attach a trial that Tune knows and this searcher does not (after restore)."""
        config = (result or {}).get("config")
        params = None
        if trial_id not in self._book.ax_of and isinstance(config, Mapping) and self._space:
            params = self._space.to_ax(config)
        self._book.ensure_known(trial_id, params)

    # ------------------------------------------------------------ slot queue
    def _concurrency(self) -> int:
        if self._max_concurrent is not None:
            return self._max_concurrent
        if not self._warned_concurrency:
            logger.warning(
                "BatchBOSearcher: max_concurrent is not set; generating %d point(s) at a "
                "time. Set tune.TuneConfig(max_concurrent_trials=N).",
                self._settings.batch_size or 1,
            )
            self._warned_concurrency = True
        return self._settings.batch_size or 1

    def _slots_free(self) -> int:
        return self._concurrency() - len(self._book.live)

    def _spares(self) -> int:
        if self._worker is not None and not self._worker.spares_drawable:
            return 0  # only a Sobol point beyond the start could fill it: wait for data
        return self._spare_count.spares(self._concurrency())

    def _demand(self) -> int:
        """Points to generate now: free slots plus spares, less those ready.

        One cycle generates at most ``batch_size`` points, or without it at most one
        per slot and :data:`~distributed_bo.search.settings.GENERATION_CHUNK`: the
        cost of an optimisation grows with its size, so the free slots' points come
        first, a chunk at a time, and the spares follow in later cycles.
        """
        ready = len(self._book.ready)
        need = self._slots_free() + self._spares() - ready
        cap = self._settings.batch_size or min(self._concurrency(), GENERATION_CHUNK)
        need = min(need, cap)
        if self._budget is not None:
            # Never queue more points than the study has trials left.
            need = min(need, self._budget - self._book.assigned() - ready)
        return max(need, 0)

    # ----------------------------------------------------------- convenience
    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the background thread is idle; True unless timed out.

        For standalone use: after this returns, ``suggest()`` has a config for every
        free slot.
        """
        return self._worker is None or self._worker.wait_ready(timeout)

    @property
    def generation_stats(self) -> list[GenerationStats]:
        """One entry per generated batch: method, size, pending points and seconds."""
        with self._cond:
            return [] if self._worker is None else list(self._worker.stats)

    def pareto_front(self) -> list[dict[str, Any]]:
        """The observed Pareto front: feasible trials with data that none dominates.

        Values are as reported (not model predictions). A trial is feasible when it
        meets every outcome constraint. With one objective this is the best trial
        (with its ties). Warm observations (``warm_start``) are data, not trials, and
        are left out.

        Returns:
            One entry per trial, best first by the first objective:
            ``{"trial_id": ..., "config": {...}, "values": {metric: value, ...}}``,
            ``values`` holding every objective and constrained metric.
        """
        worker, space = self._worker, self._space
        if worker is None or space is None:
            return []
        with worker.ax_lock:
            gen = worker.gen
            warm = set(gen.warm_indices)  # earlier results: not this study's trials
            observed = {i: v for i, v in gen.observed_values().items() if i not in warm}
            configs = {i: space.to_config(gen.parameters(i)) for i in observed}
        with self._cond:
            tune_id = {i: t for t, i in self._book.ax_of.items()}
        outcomes = gen.outcomes
        rows = [(i, v) for i, v in observed.items() if outcomes.feasible(v)]
        layers = outcomes.layers([v for _, v in rows])
        front = [(i, v) for (i, v), layer in zip(rows, layers, strict=True) if layer == 0]
        sign = 1.0 if outcomes.modes[0] == "min" else -1.0
        front.sort(key=lambda item: (sign * item[1][outcomes.metrics[0]], item[0]))
        return [
            {"trial_id": tune_id.get(i), "config": configs[i], "values": dict(v)} for i, v in front
        ]

    @property
    def ax_client(self) -> Any:
        """The underlying ``ax.api.Client`` (for analysis; don't mutate it)."""
        return None if self._gen is None else self._gen.client

    def branches(self, config: Mapping[str, Any]) -> dict[str, int]:
        """Branch taken at each branch point of a trial's ``config`` (path -> index).

        Empty for a space without branch points, before the space is known, or for a
        config that matches no branch.
        """
        space = self._space
        if space is None or not space.branch_points:
            return {}
        try:
            return space.branches(space.to_ax(config))
        except SearchSpaceError:
            return {}

    def trial_index(self, trial_id: str) -> int | None:
        """The Ax trial index of a Tune trial id, if known."""
        with self._cond:
            return self._book.ax_of.get(trial_id)

    def warm_trial_indices(self) -> list[int]:
        """The Ax indices of the ``warm_start`` observations, in their order.

        Empty until the background thread attached them (before the first batch),
        and without warm data. Never waits for a generation in progress.
        """
        return [] if self._gen is None else list(self._gen.warm_indices)

    def close(self) -> None:
        """Stop the background thread."""
        if self._worker is not None:
            self._worker.close()


def _check_warm(warm: Sequence[WarmObservation], space: MappedSpace, outcomes: Outcomes) -> None:
    """Check that each warm observation fits the space and has every tracked metric.

    Raises:
        SpecError: Naming the first observation that does not, and what it lacks.
    """
    for i, obs in enumerate(warm):
        if not isinstance(obs, WarmObservation):
            raise SpecError(
                f"warm_start[{i}]: got {type(obs).__name__}; pass WarmObservation(config=..., "
                "values=...) items"
            )
        missing = [m for m in outcomes.tracked if m not in obs.values]
        if missing:
            raise SpecError(
                f"warm_start[{i}].values: got {sorted(obs.values)}; give every objective and "
                f"constrained metric (missing {missing[0]!r})"
            )
        try:
            space.to_ax(obs.config)
        except SpecError as err:
            raise SpecError(f"warm_start[{i}].{err}") from err
