"""How trials stopped early by a scheduler enter the model.

A Ray Tune scheduler (ASHA, HyperBand, the median stopping rule) stops a trial at
a low fidelity: after a few epochs or seconds. Its last value is not a full
training result, so fitting it as one teaches the GP that a region is bad when it
was only undertrained, and mixes fidelities. Such a trial is EARLY_STOPPED in Ax,
never FAILED; :data:`~distributed_bo.search.settings.STOPPED_TRIAL_POLICIES` say what
the model sees of it:

``last_value`` (default)
    A stopped trial's last reported value is data, as if it were a full training
    result. ASHA stops the trials that are poor at that epoch, so their values
    rank configurations consistently enough, and no completed trial's final value
    is thrown away.
``highest_rung``
    BOHB's rule (Falkner et al., "BOHB: Robust and Efficient Hyperparameter
    Optimization at Scale", ICML 2018, section 4.1): the model is fitted on the
    observations at the highest fidelity that enough trials reached. Each
    finished trial's learning curve is kept; the fidelity level ``L`` is the
    largest level (a value of ``time_attr`` at which some trial ended) that at
    least ``min_trials`` finished trials reached, and every one of those trials
    enters the model with its value at ``L`` (its last report at or before ``L``).
    Trials that stopped below ``L`` are left out. Once ``min_trials`` trials ran to
    the full length, the model sees exactly the completed trials' final values.

The default was measured (``python benchmarks/early_stopping.py``, results in
``benchmarks/results/early_stopping.md``): with ASHA, 4 workers and 5 seeds,
``last_value`` was better than or equal to ``highest_rung`` on 9 of 10 (problem,
seed) pairs, median final regret 1.74 vs 1.88 on AugmentedHartmann and validation
accuracy 0.975 vs 0.967 on the digits CNN. With small budgets BOHB's rule must fit
at a low fidelity and discards the completed trials' final values; it suits long
studies in which many trials reach the top rung.
In Ax each trial's attached data is what the model currently uses: under
``highest_rung`` that can be a completed trial's value at ``L`` rather than its
final value (``trials.parquet`` always has the final and best value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distributed_bo.search.generator import BatchGenerator
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.search.settings import DEFAULT_STOPPED_TRIALS, SearcherSettings
from distributed_bo.search.space import MappedSpace
from distributed_bo.search.warm import WarmObservation

#: A learning curve: ``(time_attr value, metric)`` pairs in report order.
Curve = Sequence[Sequence[float]]


def value_at(curve: Curve, level: float) -> float | None:
    """The last value reported at or before ``level`` (``None`` if none was).

    Args:
        curve: ``(t, value)`` pairs, ``t`` non-decreasing.
        level: A value of ``time_attr``.
    """
    found = None
    for t, value in curve:
        if t <= level:
            found = float(value)
    return found


def highest_level(curves: Mapping[int, Curve], min_trials: int) -> float | None:
    """BOHB's level: the largest end point reached by at least ``min_trials`` curves.

    Args:
        curves: Learning curve per trial; a curve's last ``t`` is how far it got.
        min_trials: How many trials must reach the level.

    Returns:
        The level, or the lowest end point if no level has ``min_trials`` trials
        (then there is too little data for a model anyway), or ``None`` without
        curves.
    """
    ends = sorted(float(c[-1][0]) for c in curves.values() if c)
    if not ends:
        return None
    for level in reversed(ends):
        if sum(end >= level for end in ends) >= min_trials:
            return level
    return ends[0]


class StoppedTrialGenerator(BatchGenerator):
    """:class:`BatchGenerator` whose model data follows a stopped-trial policy.

    Args:
        policy: One of :data:`~distributed_bo.search.settings.STOPPED_TRIAL_POLICIES`.
        **kwargs: As for :class:`BatchGenerator`; ``num_initial`` is also the
            number of trials a fidelity level needs under ``highest_rung``.
    """

    def __init__(self, *, policy: str = DEFAULT_STOPPED_TRIALS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        #: Learning curve of every finished trial, by Ax index.
        self.curves: dict[int, list[tuple[float, float]]] = {}
        #: Fidelity level the last model was fitted at (``highest_rung`` only).
        self.level: float | None = None

    @classmethod
    def from_settings(
        cls,
        settings: SearcherSettings,
        *,
        space: MappedSpace,
        metric: str,
        mode: str,
        seed: int | None,
        initial_points: Sequence[Mapping[str, Any]] = (),
        outcomes: Outcomes | None = None,
        warm: Sequence[WarmObservation] = (),
    ) -> StoppedTrialGenerator:
        """The generator that ``settings`` describe, over ``space``.

        Args:
            settings: The searcher's settings; ``num_initial=None`` becomes
                ``space.default_num_initial``.
            space: The mapped search space.
            metric: The objective's name as the trainable reports it.
            mode: ``"min"`` or ``"max"``.
            seed: Seed of the Sobol sequence and of the acquisition optimiser.
            initial_points: Ax parameterizations to evaluate before anything else.
            outcomes: Several objectives and/or outcome constraints (``metric`` and
                ``mode`` are then its first objective's).
            warm: Earlier results attached as data before the first batch.
        """
        return cls(
            policy=settings.stopped_trials,
            space=space,
            metric=metric,
            mode=mode,
            acquisition=settings.acquisition,
            batch_strategy=settings.batch_strategy,
            num_initial=settings.num_initial or space.default_num_initial,
            seed=seed,
            parameter_constraints=settings.parameter_constraints,
            initial_points=initial_points,
            optimizer_options=settings.optimizer_options,
            max_observations=settings.max_observations,
            outcomes=outcomes,
            categorical_kernel=settings.categorical_kernel,
            sobol_start=settings.sobol_start,
            warm=warm,
        )

    def record_curve(self, index: int, curve: Curve) -> None:
        """Keep the learning curve of trial ``index`` (called when it finishes)."""
        if curve:
            self.curves[index] = [(float(t), float(v)) for t, v in curve]

    def early_stop(
        self, index: int, value: float | None = None, others: Mapping[str, float] | None = None
    ) -> None:
        """Mark trial ``index`` EARLY_STOPPED with its last values, then apply the policy.

        Ax keeps an early-stopped trial's data (it refuses to early-stop a trial
        without any), so the last values are attached; under ``highest_rung`` the
        data is then rewritten to the current fidelity level.

        Args:
            index: The Ax trial.
            value: Its last reported (first objective) value, or ``None`` if unknown.
            others: Its last values of the other tracked metrics; the trial enters
                the model only if it has them all.
        """
        trial = self.experiment.trials[index]
        if trial.status.is_terminal:
            return
        self.mark_running(index)
        missing = [m for m in self.outcomes.tracked[1:] if m not in (others or {})]
        known = value is not None and not missing
        if value is not None and known:
            self.client.attach_data(trial_index=index, raw_data=self.raw_data(value, others))
        trial.mark_early_stopped(unsafe=not known)
        if self.policy == "highest_rung":
            self.use_highest_level()

    def complete(self, index: int, value: float, others: Mapping[str, float] | None = None) -> None:
        """Record a full-length trial's final values as data (see the base class)."""
        super().complete(index, value, others)
        if self.policy == "highest_rung":
            self.use_highest_level()

    def num_with_data(self) -> int:
        """Trials the model is fitted on (completed, or stopped with data)."""
        trials = self.experiment.trials
        return sum(
            1
            for i in self.experiment.lookup_data().trial_indices
            if trials[i].status.is_completed or trials[i].status.is_early_stopped
        )

    def use_highest_level(self) -> None:
        """Make the experiment's data every trial's value at BOHB's fidelity level.

        Trials without a recorded curve keep their data as it is.
        """
        from ax.core.data import Data

        finished = {
            i: self.curves[i]
            for i, t in self.experiment.trials.items()
            if i in self.curves and (t.status.is_completed or t.status.is_early_stopped)
        }
        level = highest_level(finished, max(self.num_initial, 1))
        if level is None:
            return
        self.level = level
        values: dict[int, float] = {}
        for i, curve in finished.items():
            value = value_at(curve, level) if float(curve[-1][0]) >= level else None
            if value is not None:
                values[i] = value
        df = self.experiment.lookup_data().full_df
        self.experiment.data = Data(df=df[~df["trial_index"].isin(list(finished))])
        for i, value in values.items():
            self.client.attach_data(trial_index=i, raw_data={self.ax_metric: value})
