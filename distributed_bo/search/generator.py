"""How a batch is generated: the Ax experiment and one q-point acquisition optimisation.

:class:`BatchGenerator` owns an :class:`ax.api.Client` and is the only code that
touches its experiment. It is synchronous and not thread-safe; the searcher runs
it on one background thread.

A batch of ``k`` points comes from one call:

* At the start, from Ax's scrambled Sobol sequence (Owen, 1998), so the first
  round fills every free slot at once. With ``sobol_start="until_data"`` that
  lasts until ``num_initial`` trials have data. With ``"fixed"`` the start is
  ``num_initial`` points, and the model takes over once they are drawn and half
  of them (at least 2, :func:`model_threshold`) have data; a point needed before
  then is one more Sobol point. Warm observations
  (:mod:`distributed_bo.search.warm`), attached before the first batch, are
  data: they shorten the Sobol start by as many points, and with at least
  ``num_initial`` of them the first batch already comes from the model.
* Then from one BoTorch acquisition optimisation with ``q = k``: ``joint``
  optimises all ``k x d`` coordinates together (``optimize_acqf(sequential=False)``);
  ``sequential`` builds the batch greedily, one point at a time, conditioning on the
  points already chosen (``sequential=True``, Ax's default). Every trial that is
  queued, running or failed is passed as a pending point ``X_pending``, so the
  acquisition value integrates over their unknown outcomes (Snoek et al., 2012;
  Wilson et al., 2018). Failed trials are included so that a configuration that
  crashed is not proposed again, while their (absent) outcome is never data.

For spaces with discrete parameters Ax switches to BoTorch's mixed optimiser,
which always builds the batch greedily; ``batch_strategy`` then only affects the
continuous relaxation.

Bounded model size: exact GP inference costs O(n^3) in the number of observations
n, and fitting its hyperparameters repeats that many times. With
``max_observations = m`` set and more than m trials with data, the model is fitted
on m of them only (:func:`select_observations`): the best half by objective,
then the most recent of the rest. Trials left out are not data for that batch
(they stay COMPLETED in the experiment). ``benchmarks/searcher_overhead.py``
measures the time this saves and its cost in regret.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distributed_bo.search.acquisition import acquisition_class, multi_objective_acquisition
from distributed_bo.search.outcomes import Outcomes, ax_metric_name
from distributed_bo.search.snapshot import AxSnapshot, client_from_json
from distributed_bo.search.space import MappedSpace
from distributed_bo.search.warm import LABEL_KEY, WARM_KEY, WarmObservation

logger = logging.getLogger(__name__)

#: BoTorch draws from torch's global RNG, which ``with_rng_seed`` reseeds; one
#: generation at a time per process keeps seeded runs reproducible when several
#: searchers live in one process.
_GENERATION_LOCK = threading.Lock()

SOBOL_KEY = "Sobol"
MANUAL_KEY = "Manual"


@dataclass(frozen=True, kw_only=True)
class GenerationStats:
    """What one call to :meth:`BatchGenerator.generate` did.

    Attributes:
        method: ``"sobol"``, ``"initial"`` (user-given points) or the acquisition name.
        num_points: Points produced.
        num_pending: Pending points the acquisition was conditioned on.
        num_observations: Completed trials with data.
        seconds: Wall time of the call (fit plus optimisation), in seconds.
        num_fitted: Observations the model was fitted on (fewer than
            ``num_observations`` when ``max_observations`` bounds the model);
            ``None`` for Sobol and user-given points.
    """

    method: str
    num_points: int
    num_pending: int
    num_observations: int
    seconds: float
    num_fitted: int | None = None


class BatchGenerator:
    """The Ax experiment plus batch generation; one thread at a time.

    Args:
        space: The mapped search space.
        metric: The objective's name as the trainable reports it.
        mode: ``"min"`` or ``"max"``.
        acquisition: Acquisition name, see :mod:`distributed_bo.search.acquisition`.
        batch_strategy: ``"joint"`` or ``"sequential"``.
        num_initial: Size of the Sobol start (see ``sobol_start``).
        seed: Seed of the Sobol sequence and of the acquisition optimiser.
        parameter_constraints: Linear constraints in Ax syntax over flat Tune names.
        initial_points: Ax parameterizations to evaluate before anything else.
        optimizer_options: Extra ``optimize_acqf`` options (``num_restarts``,
            ``raw_samples``, ``options``).
        max_observations: Most observations the model is fitted on, >= 2; ``None``
            fits on all of them. See :func:`select_observations`.
        client: An existing client (from a checkpoint); otherwise a new one.
        outcomes: Several objectives and/or outcome constraints; ``None`` is the one
            objective ``metric``/``mode``. When given, ``metric``/``mode`` are its
            first objective's.
        categorical_kernel: Fit ``MixedSingleTaskGP`` (categorical kernel, Ax's
            ``BO_MIXED``) when the space has an unordered choice.
        warm: Earlier results to attach as data before the first batch (see
            :meth:`attach_warm`); each holds every tracked metric.
        sobol_start: ``"until_data"``: Sobol points until ``num_initial`` trials
            have data; ``"fixed"``: ``num_initial`` Sobol points, then the model
            once :func:`model_threshold` of them have data.
    """

    def __init__(
        self,
        *,
        space: MappedSpace,
        metric: str,
        mode: str,
        acquisition: str,
        batch_strategy: str,
        num_initial: int,
        seed: int | None,
        parameter_constraints: Sequence[str] = (),
        initial_points: Sequence[Mapping[str, Any]] = (),
        optimizer_options: Mapping[str, Any] | None = None,
        max_observations: int | None = None,
        client: Any = None,
        outcomes: Outcomes | None = None,
        categorical_kernel: bool = True,
        warm: Sequence[WarmObservation] = (),
        sobol_start: str = "until_data",
    ) -> None:
        from ax.api import Client

        self.space = space
        self.metric = metric
        self.mode = mode
        self.acquisition = acquisition
        self.batch_strategy = batch_strategy
        self.num_initial = num_initial
        self.sobol_start = sobol_start
        self.seed = seed
        self.initial_points = [dict(p) for p in initial_points]
        self.optimizer_options = dict(optimizer_options or {})
        self.max_observations = max_observations
        self.categorical_kernel = categorical_kernel
        self.outcomes = outcomes or Outcomes.build(metric, mode)
        self.metric, self.mode = self.outcomes.metrics[0], self.outcomes.modes[0]
        self.ax_metric = ax_metric_name(self.metric)
        self.last_stats: GenerationStats | None = None
        self.warm = list(warm)
        #: Ax indices of the warm observations' trials, in order; set by attach_warm.
        self.warm_indices: list[int] = []
        #: The client :meth:`attach_warm` last looked at (a restore replaces it).
        self._warm_checked: Any = None
        self._snapshot = AxSnapshot()
        #: Ax's ``GeneratorSpec`` for the model, made on the first model batch.
        self._model_spec: Any = None
        if client is not None:
            self.client = client
            return
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(
            parameters=space.ax_parameters,
            parameter_constraints=[space.translate_constraint(c) for c in parameter_constraints],
            name="distributed_bo",
        )
        self.client.configure_optimization(
            objective=self.outcomes.ax_objective(),
            outcome_constraints=self.outcomes.ax_constraints() or None,
        )

    # ----------------------------------------------------------------- trials
    @property
    def acquisition_name(self) -> str:
        """The acquisition in use: the setting, or its multi-objective form."""
        n = len(self.outcomes.metrics)
        return multi_objective_acquisition(self.acquisition, n) if n > 1 else self.acquisition

    @property
    def experiment(self) -> Any:
        """The Ax experiment."""
        # ``ax.api.Client`` has no public getter for its experiment (it is set through
        # the public ``configure_experiment``); this property is the only way in.
        return self.client._experiment

    def attach(self, parameters: Mapping[str, Any]) -> int:
        """Attach a trial with given Ax parameters (status RUNNING); return its index."""
        return self.client.attach_trial(parameters=dict(parameters))

    def mark_running(self, index: int) -> None:
        """Mark a queued (CANDIDATE) trial as RUNNING."""
        trial = self.experiment.trials[index]
        if trial.status.is_candidate:
            trial.mark_running(no_runner_required=True)

    def complete(self, index: int, value: float, others: Mapping[str, float] | None = None) -> None:
        """Record a trial's final values as data and mark it COMPLETED.

        A trial that is already terminal (a result replayed after a restore) is left
        as it is, so a result is never counted twice.

        Args:
            index: The Ax trial.
            value: The first objective's value.
            others: The other tracked metrics' values (objectives and constrained
                metrics), by the names the trainable reports.
        """
        if self.experiment.trials[index].status.is_terminal:
            return
        self.mark_running(index)
        self.client.complete_trial(trial_index=index, raw_data=self.raw_data(value, others))

    def raw_data(self, value: float, others: Mapping[str, float] | None) -> dict[str, float]:
        """Ax raw data of one trial: every tracked metric under its Ax name."""
        data = {self.ax_metric: float(value)}
        for name in self.outcomes.tracked[1:]:
            if others and name in others:
                data[ax_metric_name(name)] = float(others[name])
        return data

    def fail(self, index: int, reason: str) -> None:
        """Mark a trial FAILED; it is never used as data."""
        self.mark_running(index)
        if not self.experiment.trials[index].status.is_terminal:
            self.client.mark_trial_failed(trial_index=index, failed_reason=reason)

    def early_stop(self, index: int) -> None:
        """Mark a trial EARLY_STOPPED (stopped by a scheduler, not failed)."""
        self.mark_running(index)
        if not self.experiment.trials[index].status.is_terminal:
            self.client.mark_trial_early_stopped(trial_index=index)

    def parameters(self, index: int) -> dict[str, Any]:
        """Ax parameters of trial ``index``."""
        return dict(self.experiment.trials[index].arm.parameters)

    def observed_values(self) -> dict[int, dict[str, float]]:
        """Each tracked metric's value (by reported name), for trials that have them all.

        Those are the completed trials and the ones stopped early with data.
        """
        return _by_trial(self.experiment.lookup_data().df, self.outcomes.tracked)

    def num_with_data(self) -> int:
        """Number of COMPLETED trials (each has objective data)."""
        return sum(1 for t in self.experiment.trials.values() if t.status.is_completed)

    def attach_warm(self) -> None:
        """Attach the warm observations as COMPLETED trials with data, once.

        Called before every generation and after a restore; it acts once per client.
        An experiment that already holds warm trials (a restored one) is left as it
        is, and :attr:`warm_indices` is read from it. Otherwise every observation
        becomes a single-arm trial with generator key ``"WarmStart"`` and its label in
        the run metadata, and all their values are attached in one data update.
        """
        if self._warm_checked is self.client:
            return
        self._warm_checked = self.client
        trials = self.experiment.trials
        found = sorted(i for i, t in trials.items() if generator_key(t) == WARM_KEY)
        if found or not self.warm:
            self.warm_indices = found
            return
        import pandas as pd
        from ax.core.data import Data

        metrics = self.experiment.metrics
        records: list[dict[str, Any]] = []
        indices: list[int] = []
        for obs in self.warm:
            index = self._new_trial(self.space.to_ax(obs.config), key=WARM_KEY)
            trial = trials[index]
            trial.update_run_metadata({LABEL_KEY: obs.label})
            trial.mark_running(no_runner_required=True)
            values = self.raw_data(obs.values[self.metric], obs.values)
            records += [
                {
                    "trial_index": index,
                    "arm_name": trial.arm.name,
                    "metric_name": name,
                    "metric_signature": metrics[name].signature,
                    "mean": value,
                    "sem": math.nan,
                    "step": math.nan,
                }
                for name, value in values.items()
            ]
            indices.append(index)
        self.experiment.attach_data(Data(df=pd.DataFrame.from_records(records)))
        for index in indices:
            trials[index].mark_completed()
        self.warm_indices = indices

    # ------------------------------------------------------------- generation
    def generate(self, k: int) -> list[int]:
        """Create ``k`` new CANDIDATE trials from one generation call.

        Args:
            k: Number of points (the number of free slots, capped by ``batch_size``).

        Returns:
            Indices of the new trials, in order.
        """
        if k <= 0:
            return []
        start = time.perf_counter()
        self.attach_warm()
        consumed = sum(
            1
            for t in self.experiment.trials.values()
            # Only the user's initial points, not trials attached after a restore.
            if generator_key(t) == MANUAL_KEY
        )
        if consumed < len(self.initial_points):
            points = self.initial_points[consumed : consumed + k]
            indices = [self._new_trial(p, key=MANUAL_KEY) for p in points]
            self._stats("initial", len(indices), start)
            return indices
        n_data = self.num_with_data()
        if self.model_ready(n_data):
            return self._generate_bo(k, n_data, start)
        if self.sobol_start == "fixed" and self.design_left() > 0:
            k = min(k, self.design_left())  # the rest in the next cycle, maybe from the model
        return self._generate_sobol(k, start)

    def design_left(self) -> int:
        """Points the Sobol start still has: ``num_initial`` less every trial so far."""
        return max(0, self.num_initial - len(self.experiment.trials))

    def model_ready(self, n_data: int | None = None) -> bool:
        """Whether the next point comes from the model (``n_data``: trials with data)."""
        n = self.num_with_data() if n_data is None else n_data
        if n >= max(self.num_initial, 1):
            return True
        return (
            self.sobol_start == "fixed"
            and self.design_left() == 0
            and n >= model_threshold(self.num_initial)
        )

    def spares_drawable(self) -> bool:
        """Whether a spare point would be a start or model point, not an extra Sobol one.

        Always true for ``"until_data"``. For ``"fixed"``, false once the start is
        drawn and too few of it have data: a slot that frees then still gets a
        Sobol point, but none is drawn ahead for it.
        """
        if self.sobol_start != "fixed":
            return True
        return self.design_left() > 0 or self.model_ready()

    def _generate_sobol(self, k: int, start: float) -> list[int]:
        from ax.adapter.registry import Generators

        drawn = sum(1 for t in self.experiment.trials.values() if generator_key(t) == SOBOL_KEY)
        sobol = Generators.SOBOL(experiment=self.experiment, seed=self.seed, init_position=drawn)
        run = sobol.gen(n=k)
        indices = self._add_runs(run)
        self._stats("sobol", len(indices), start)
        return indices

    def _generate_bo(self, k: int, n_data: int, start: float) -> list[int]:
        from ax.utils.common.random import with_rng_seed

        pending = self._pending_observations()
        num_pending = len(next(iter(pending.values()), [])) if pending else 0
        options: dict[str, Any] = {}
        if self.space.is_continuous:
            # Only BoTorch's continuous optimiser takes ``sequential``; the mixed
            # optimisers Ax uses for discrete parameters are always greedy.
            options["sequential"] = self.batch_strategy == "sequential"
        options.update(self.optimizer_options)
        seed = None if self.seed is None else self.seed + len(self.experiment.trials)
        data, num_fitted = self._model_data()
        spec = self._spec()
        with _GENERATION_LOCK, with_rng_seed(seed):
            spec.fit(experiment=self.experiment, data=data)
            run = spec.gen(
                n=k,
                pending_observations=pending,
                model_gen_options={"optimizer_kwargs": options},
            )
        indices = self._add_runs(run)
        self.last_stats = GenerationStats(
            method=self.acquisition_name,
            num_points=len(indices),
            num_pending=num_pending,
            num_observations=n_data,
            seconds=time.perf_counter() - start,
            num_fitted=num_fitted,
        )
        return indices

    def _spec(self) -> Any:
        """Ax's ``GeneratorSpec`` for the model, kept from batch to batch.

        Ax's own generation strategy fits through it: a later ``fit`` with the data
        unchanged keeps the fitted GP (Ax's ``Surrogate`` compares the datasets), and
        with new data it fits anew. So the chunks of one round (several cycles while
        no trial ends, :data:`~distributed_bo.search.settings.GENERATION_CHUNK`) pay
        for one fit, not one each. A replaced client (a restore) gets a new fit too.
        """
        from ax.adapter.registry import Generators
        from ax.generation_strategy.generator_spec import GeneratorSpec

        from distributed_bo.search.conditional import model_kwargs

        if self._model_spec is None:
            # A conditional space's kernel needs Ax's default (one-hot) transforms.
            mixed = self.categorical_kernel and self.space.has_categorical
            mixed = mixed and not self.space.is_conditional
            self._model_spec = GeneratorSpec(
                generator_enum=Generators.BO_MIXED if mixed else Generators.BOTORCH_MODULAR,
                generator_kwargs={
                    "botorch_acqf_class": acquisition_class(self.acquisition_name),
                    **model_kwargs(self.space),  # a conditional space's kernel; {} if flat
                },
            )
        return self._model_spec

    def _model_data(self) -> tuple[Any, int]:
        """The data the model is fitted on, and how many trials it covers."""
        data = self.experiment.lookup_data()
        df = data.df
        rows = df[df["metric_name"] == self.ax_metric]
        values = rows.groupby("trial_index")["mean"].mean().to_dict()
        mode = self.mode
        if self.outcomes.is_multi and self.max_observations is not None:
            # Several objectives: rank trials by Pareto layer (0 = non-dominated).
            rows = _by_trial(df, self.outcomes.metrics)
            layers = self.outcomes.layers(list(rows.values()))
            values, mode = dict(zip(rows, layers, strict=True)), "min"
        keep = select_observations(
            {int(k): float(v) for k, v in values.items()},
            max_observations=self.max_observations,
            mode=mode,
        )
        if len(keep) == len(values):
            return data, len(values)
        return data.filter(trial_indices=keep), len(keep)

    def _pending_observations(self) -> dict[str, list[Any]]:
        """Queued, running and failed trials, pending for every metric of the experiment.

        Ax keeps a pending point only if it is pending for every objective and
        constrained metric (``ax.generators.utils.get_observed`` intersects them), so
        keying the points by the first objective alone would drop them all with
        several objectives or an outcome constraint. Ax's own
        ``get_pending_observation_features_based_on_trial_status`` keys them by every
        metric too.
        """
        from ax.core.observation import ObservationFeatures

        trials = [
            t
            for t in self.experiment.trials.values()
            if t.arm is not None
            and (t.status.is_candidate or t.status.is_running or t.status.is_failed)
        ]
        if not trials:
            return {}
        names = dict.fromkeys([self.ax_metric, *self.experiment.metrics])
        return {
            name: [ObservationFeatures.from_arm(arm=t.arm, trial_index=t.index) for t in trials]
            for name in names
        }

    def _add_runs(self, run: Any) -> list[int]:
        """Split one k-arm generator run into k single-arm trials (async workers)."""
        from ax.core.arm import Arm
        from ax.core.generator_run import GeneratorRun

        indices = []
        for arm in run.arms:
            if self.space.is_conditional:  # inactive parameters -> their fillers
                arm = Arm(parameters=self.space.canonical(arm.parameters))
            single = GeneratorRun(
                arms=[arm],
                generator_key=_key_of(run),
                fit_time=run.fit_time,
                gen_time=run.gen_time,
            )
            indices.append(self.experiment.new_trial(generator_run=single).index)
        return indices

    def _new_trial(self, parameters: Mapping[str, Any], *, key: str) -> int:
        from ax.core.arm import Arm
        from ax.core.generator_run import GeneratorRun

        run = GeneratorRun(
            arms=[Arm(parameters=dict(parameters))], type="MANUAL", generator_key=key
        )
        return self.experiment.new_trial(generator_run=run).index

    def _stats(self, method: str, n: int, start: float) -> None:
        self.last_stats = GenerationStats(
            method=method,
            num_points=n,
            num_pending=0,
            num_observations=self.num_with_data(),
            seconds=time.perf_counter() - start,
        )

    # ------------------------------------------------------------- state
    def to_json(self) -> dict[str, Any]:
        """The Ax experiment as Ax's own JSON snapshot; see :class:`AxSnapshot`."""
        return self._snapshot.to_json(self.client)

    @staticmethod
    def client_from_json(snapshot: Mapping[str, Any]) -> Any:
        """Rebuild an ``ax.api.Client`` from :meth:`to_json` output.

        Raises:
            SearcherStateError: If the snapshot cannot be decoded.
        """
        return client_from_json(snapshot)


def _by_trial(df: Any, metrics: Sequence[str]) -> dict[int, dict[str, float]]:
    """``metrics``' mean values (by reported name) of each trial that has them all.

    Args:
        df: Ax data (``trial_index``, ``metric_name`` with Ax-safe names, ``mean``).
        metrics: Reported metric names.
    """
    names = {ax_metric_name(m): m for m in metrics}
    out: dict[int, dict[str, float]] = {}
    for (index, name), value in df.groupby(["trial_index", "metric_name"])["mean"].mean().items():
        if name in names:
            out.setdefault(int(index), {})[names[name]] = float(value)
    return {i: v for i, v in out.items() if len(v) == len(names)}


def select_observations(
    values: Mapping[int, float], *, max_observations: int | None, mode: str
) -> list[int]:
    """Trials the model is fitted on when at most ``max_observations`` may be used.

    With ``m = max_observations`` and more than ``m`` trials, keeps the ``ceil(m / 2)``
    best trials by objective (lowest for ``mode="min"``; ties broken by trial index),
    then the most recent (highest trial index) of the rest until ``m`` are kept.
    The best points keep the model accurate where the acquisition looks for the
    optimum; the recent ones follow the search's current region.

    Args:
        values: Trial index -> objective value, for trials with data.
        max_observations: ``m``, or ``None`` for no bound.
        mode: ``"min"`` or ``"max"``.

    Returns:
        The kept trial indices, ascending.
    """
    indices = sorted(values)
    if max_observations is None or len(indices) <= max_observations:
        return indices
    sign = 1.0 if mode == "min" else -1.0
    ranked = sorted(indices, key=lambda i: (sign * values[i], i))
    best = set(ranked[: math.ceil(max_observations / 2)])
    rest = [i for i in reversed(indices) if i not in best]
    recent = rest[: max_observations - len(best)]
    return sorted(best | set(recent))


def model_threshold(num_initial: int) -> int:
    """Trials with data that let the model follow a drawn ``"fixed"`` Sobol start.

    Half the start, at least 2: Ax's rule for its own start (``min_trials_observed
    = max(1, initialization_budget // 2)`` in ``ax.api``'s generation strategy),
    with one point more where one observation would be all the model had.
    """
    return max(2, num_initial // 2)


def generator_key(trial: Any) -> str | None:
    """The key of the generator that made ``trial`` (``"Sobol"``, ``"Manual"``, ...)."""
    return _key_of(trial.generator_runs[0]) if trial.generator_runs else None


def _key_of(run: Any) -> str | None:
    # ``GeneratorRun`` takes ``generator_key=`` publicly but has no public getter; the
    # key is what tells Sobol and user-given trials apart in snapshots of any age.
    key: str | None = run._generator_key
    return key
