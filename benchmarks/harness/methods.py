"""The methods every benchmark compares, behind one ask/tell interface (minimisation).

Ours: ``BatchBOSearcher`` driven as Tune drives it (:class:`SearcherMethod`), and its
``BatchGenerator`` making q points per acquisition optimisation
(:class:`QBatchMethod`). Peers: random search, Ax's scrambled Sobol sequence, Optuna
samplers (TPE, GP) and Ax's ``Client`` alone.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np

#: What ``tell`` takes: one minimised value, or metric -> value (several objectives,
#: constrained metrics; each method knows the metrics' directions).
Told = float | Mapping[str, float]


def as_result(value: Told) -> dict[str, float]:
    """A told value as the result dict a Tune trial reports (``{"value": v}`` for a float)."""
    if isinstance(value, Mapping):
        return {k: float(v) for k, v in value.items()}
    return {"value": float(value)}


class Method:
    """Ask/tell interface every compared method implements.

    Single-objective benchmarks tell one float (minimised); multi-objective ones
    tell a dict of metric -> value, whose directions and constraints the method was
    built with (``benchmarks/multi_objective.py``).
    """

    def ask(self, trial_id: str) -> dict[str, Any] | None:
        """Return the next config for ``trial_id``, or ``None`` if none can be given now."""
        raise NotImplementedError

    def tell(self, trial_id: str, value: Told) -> None:
        """Report ``trial_id``'s objective (a float, minimised) or metrics (a dict)."""
        raise NotImplementedError

    def close(self) -> dict[str, Any]:
        """Release resources; return method-specific measurements."""
        return {}


class SearcherMethod(Method):
    """``BatchBOSearcher`` standalone, driven as Tune drives it (``num_samples`` = budget).

    A ``None`` from ``suggest()`` is followed by ``wait_ready()`` and another
    ``suggest()``, so the worker gets its point as soon as it is generated.
    ``metric``/``mode`` may be lists (several objectives); ``kwargs`` go to the
    searcher (e.g. ``outcome_constraints``). ``center_first`` makes the centre of
    the space (:func:`center_point`) the first point, as Ax's ``Client`` starts.
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        seed: int,
        budget: int,
        workers: int,
        metric: str | Sequence[str] = "value",
        mode: str | Sequence[str] = "min",
        center_first: bool = False,
        **kwargs: Any,
    ) -> None:
        from distributed_bo import BatchBOSearcher

        if center_first:
            kwargs["points_to_evaluate"] = [center_point(space)]
        self.searcher = BatchBOSearcher(
            space=space, metric=metric, mode=mode, max_concurrent=workers, seed=seed, **kwargs
        )
        self.searcher.set_search_properties(None, None, {}, num_samples=budget)
        self.latencies: list[float] = []
        self.waits: list[float] = []
        self.tell_waits: list[float] = []
        self.none_returns = 0

    def ask(self, trial_id: str) -> dict[str, Any]:
        waited = 0.0
        for _ in range(1000):
            start = time.perf_counter()
            config = self.searcher.suggest(trial_id)
            self.latencies.append(time.perf_counter() - start)
            if config is not None:
                self.waits.append(waited)
                return config
            self.none_returns += 1
            start = time.perf_counter()
            if not self.searcher.wait_ready(timeout=600):
                raise RuntimeError("searcher: wait_ready timed out after 600 s")
            waited += time.perf_counter() - start
        raise RuntimeError("searcher: suggest() kept returning None after wait_ready()")

    def tell(self, trial_id: str, value: Told) -> None:
        self.searcher.on_trial_complete(trial_id, as_result(value))
        # Generation finishes before the next completion (it takes no simulated
        # time): with ``prefetch``, the spare for the next freed slot is then
        # always ready, and runs do not depend on thread timing.
        start = time.perf_counter()
        if not self.searcher.wait_ready(timeout=600):
            raise RuntimeError("searcher: wait_ready timed out after 600 s")
        self.tell_waits.append(time.perf_counter() - start)

    def close(self) -> dict[str, Any]:
        stats = [asdict(s) for s in self.searcher.generation_stats]
        self.searcher.close()
        return {
            "suggest_latency_s": self.latencies,
            "wait_s": self.waits,
            "tell_wait_s": self.tell_waits,
            "none_returns": self.none_returns,
            "generation_stats": stats,
        }


def center_point(space: Mapping[str, Any]) -> dict[str, Any]:
    """The centre of a flat Tune space, the first point of Ax's ``Client``.

    Ax's own ``SearchSpace.compute_naive_center`` on the searcher's Ax parameters:
    a range's midpoint (in log space for a log range), a choice's middle value (ties
    to the larger index).
    """
    from ax.api.utils.instantiation.from_config import parameter_from_config
    from ax.core.search_space import SearchSpace

    from distributed_bo.search.space import map_space

    mapped = map_space(space)
    if mapped.is_conditional:
        raise ValueError("center_point: conditional spaces have no single centre here")
    parameters = [parameter_from_config(p) for p in mapped.ax_parameters]
    return mapped.to_config(SearchSpace(parameters=parameters).compute_naive_center())


class RandomMethod(Method):
    """Independent samples of the Ray Tune domains with a seeded numpy RNG."""

    def __init__(self, space: Mapping[str, Any], seed: int) -> None:
        self.space = dict(space)
        self.rng = np.random.default_rng([seed, 1])

    def ask(self, trial_id: str) -> dict[str, Any]:
        return _sample(self.space, self.rng)

    def tell(self, trial_id: str, value: Told) -> None:
        pass


def _sample(space: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One independent sample; a branch point (choice of dicts) gets its branch resolved."""
    from ray.tune.search import sample

    out: dict[str, Any] = {}
    for key, d in space.items():
        if not isinstance(d, sample.Domain):
            out[key] = d
            continue
        value = _plain(d.sample(random_state=rng))
        out[key] = _sample(value, rng) if isinstance(value, Mapping) else value
    return out


def is_conditional(space: Mapping[str, Any]) -> bool:
    """True if some domain of ``space`` is a branch point (a choice of dicts)."""
    from ray.tune.search import sample

    return any(
        isinstance(d, sample.Categorical) and all(isinstance(c, Mapping) for c in d.categories)
        for d in space.values()
    )


class SobolMethod(Method):
    """Ax's scrambled Sobol sequence, through the searcher's ``BatchGenerator``."""

    def __init__(self, space: Mapping[str, Any], seed: int, budget: int) -> None:
        from distributed_bo.search.generator import BatchGenerator
        from distributed_bo.search.space import map_space

        self.space = map_space(space)
        self.gen = BatchGenerator(
            space=self.space,
            metric="value",
            mode="min",
            acquisition="qLogNEI",
            batch_strategy="joint",
            num_initial=budget + 1,  # never leaves the Sobol phase
            seed=seed,
        )

    def ask(self, trial_id: str) -> dict[str, Any]:
        (index,) = self.gen.generate(1)
        return self.space.to_config(self.gen.parameters(index))

    def tell(self, trial_id: str, value: Told) -> None:
        pass


def _plain(value: Any) -> Any:
    """numpy scalar -> Python scalar."""
    return value.item() if hasattr(value, "item") else value


class QBatchMethod(Method):
    """The searcher's ``BatchGenerator`` making q points per acquisition optimisation.

    When a worker frees and no generated point is waiting, one call makes
    ``q`` points (Sobol until ``num_initial`` trials have data, as the searcher
    does), conditioned on every running or queued point.
    """

    def __init__(
        self, space: Mapping[str, Any], seed: int, budget: int, q: int, batch_strategy: str
    ) -> None:
        from distributed_bo.search.generator import BatchGenerator
        from distributed_bo.search.settings import DEFAULT_ACQUISITION
        from distributed_bo.search.space import map_space

        self.space = map_space(space)
        self.gen = BatchGenerator(
            space=self.space,
            metric="value",
            mode="min",
            acquisition=DEFAULT_ACQUISITION,
            batch_strategy=batch_strategy,
            num_initial=self.space.default_num_initial,
            seed=seed,
        )
        self.q, self.budget, self.made = q, budget, 0
        self.queue: deque[int] = deque()
        self.index_of: dict[str, int] = {}
        self.stats: list[dict[str, Any]] = []

    def ask(self, trial_id: str) -> dict[str, Any]:
        if not self.queue:
            new = self.gen.generate(min(self.q, self.budget - self.made))
            self.made += len(new)
            self.queue.extend(new)
            if self.gen.last_stats is not None:
                self.stats.append(asdict(self.gen.last_stats))
        index = self.queue.popleft()
        self.gen.mark_running(index)
        self.index_of[trial_id] = index
        return self.space.to_config(self.gen.parameters(index))

    def tell(self, trial_id: str, value: float) -> None:
        self.gen.complete(self.index_of[trial_id], value)

    def close(self) -> dict[str, Any]:
        return {"generation_stats": self.stats}


def suggest_define_by_run(trial: Any, space: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Suggest ``space`` on an Optuna trial, branch first (define-by-run).

    A branch point ``key`` (a choice of dicts) is a categorical over branch indices;
    then only the chosen branch's domains are suggested, named ``key.b{i}.inner``
    (nested branch points recurse). Constants pass through.
    """
    from ray.tune.search import sample

    out: dict[str, Any] = {}
    for key, domain in space.items():
        name = prefix + key
        if isinstance(domain, sample.Categorical) and all(
            isinstance(c, Mapping) for c in domain.categories
        ):
            i = trial.suggest_categorical(name, list(range(len(domain.categories))))
            out[key] = suggest_define_by_run(trial, domain.categories[i], f"{name}.b{i}.")
        elif isinstance(domain, sample.Domain):
            out[key] = _suggest(trial, name, optuna_distributions({name: domain})[name])
        else:
            out[key] = domain
    return out


def _suggest(trial: Any, name: str, dist: Any) -> Any:
    """``trial.suggest_*`` for one Optuna distribution."""
    import optuna

    if isinstance(dist, optuna.distributions.FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high)
    return trial.suggest_categorical(name, dist.choices)


def optuna_distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    """Ray Tune domains -> Optuna distributions (uniform/loguniform, randint, choice)."""
    import optuna
    from ray.tune.search import sample

    dists = {}
    for key, domain in space.items():
        if isinstance(domain, sample.Float):
            log = isinstance(domain.get_sampler(), sample.LogUniform)
            dists[key] = optuna.distributions.FloatDistribution(domain.lower, domain.upper, log=log)
        elif isinstance(domain, sample.Integer):
            # Ray's randint excludes its upper bound; Optuna's includes it.
            dists[key] = optuna.distributions.IntDistribution(domain.lower, domain.upper - 1)
        elif isinstance(domain, sample.Categorical):
            dists[key] = optuna.distributions.CategoricalDistribution(domain.categories)
        else:
            raise TypeError(f"optuna_distributions: {key}: unsupported domain {domain!r}")
    return dists


class OptunaMethod(Method):
    """An Optuna sampler driven ask/tell with the other workers' trials still running.

    ``sampler`` is ``"tpe"``, ``"gp"`` or ``"nsga2"`` (Deb et al., 2002);
    ``sampler_kwargs`` go to its constructor (e.g. ``constant_liar=True``). With
    ``objectives`` (metric, ``"min"``/``"max"`` pairs) the study has one direction
    each and ``tell`` takes a dict; ``constraints`` maps that dict to Optuna's
    constraint values (<= 0 feasible), given to the sampler as ``constraints_func``.
    A conditional space (:func:`is_conditional`) is written define-by-run
    (:func:`suggest_define_by_run`): the branch, then only that branch's parameters.
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        seed: int,
        sampler: str,
        objectives: Sequence[tuple[str, str]] = (("value", "min"),),
        constraints: Callable[[Mapping[str, float]], list[float]] | None = None,
        **sampler_kwargs: Any,
    ) -> None:
        import optuna

        self.space = dict(space)
        self.dists = None if is_conditional(space) else optuna_distributions(space)
        self.metrics = [m for m, _ in objectives]
        self.constraints = constraints
        if constraints is not None:
            sampler_kwargs["constraints_func"] = _stored_constraints
        samplers = {
            "tpe": optuna.samplers.TPESampler,
            "gp": optuna.samplers.GPSampler,
            "nsga2": optuna.samplers.NSGAIISampler,
        }
        directions = ["maximize" if mode == "max" else "minimize" for _, mode in objectives]
        self.study = optuna.create_study(
            directions=directions, sampler=samplers[sampler](seed=seed, **sampler_kwargs)
        )
        self.trials: dict[str, Any] = {}

    def ask(self, trial_id: str) -> dict[str, Any]:
        if self.dists is None:
            trial = self.study.ask()
            self.trials[trial_id] = trial
            return suggest_define_by_run(trial, self.space)
        trial = self.study.ask(self.dists)
        self.trials[trial_id] = trial
        return dict(trial.params)

    def tell(self, trial_id: str, value: Told) -> None:
        trial = self.trials.pop(trial_id)
        result = as_result(value)
        if self.constraints is not None:
            trial.set_user_attr("constraints", self.constraints(result))
        values = [result[m] for m in self.metrics]
        self.study.tell(trial, values if len(values) > 1 else values[0])


def _stored_constraints(trial: Any) -> list[float]:
    """Optuna ``constraints_func``: the values :meth:`OptunaMethod.tell` stored."""
    return trial.user_attrs["constraints"]


class AxClientMethod(Method):
    """Ax's ``Client`` with its default generation strategy, one trial per free worker.

    ``get_next_trials(max_trials=1)`` may give nothing, or raise Ax's
    ``DataRequiredError``, while Ax waits for data after its initial points; the
    worker then idles until the next completion.
    ``objective`` and ``outcome_constraints`` go to ``configure_optimization`` in
    Ax's syntax (``"acc, -latency"``; ``["slack >= 0"]``). A conditional space
    becomes Ax's hierarchical search space: each branch point's selector gets the
    branch's parameters as ``dependent_parameters``.
    """

    def __init__(
        self,
        space: Mapping[str, Any],
        seed: int,
        objective: str = "-value",
        outcome_constraints: Sequence[str] = (),
    ) -> None:
        from ax.api import Client

        from distributed_bo.search.space import map_space

        self.space = map_space(space)
        deps = self.space.dependencies()
        parameters = [
            replace(p, dependent_parameters=deps[p.name]) if p.name in deps else p
            for p in self.space.ax_parameters
        ]
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=parameters, name="ax_alone")
        self.client.configure_optimization(
            objective=objective, outcome_constraints=list(outcome_constraints) or None
        )
        self.index_of: dict[str, int] = {}
        self.gen_seconds: list[float] = []
        self.empty_asks = 0
        self.fallbacks = _FallbackCounter()
        logging.getLogger("ax.generation_strategy").addHandler(self.fallbacks)

    def ask(self, trial_id: str) -> dict[str, Any] | None:
        from ax.exceptions.core import DataRequiredError

        start = time.perf_counter()
        try:
            trials = self.client.get_next_trials(max_trials=1)
        except DataRequiredError:
            # Ax's Sobol node is spent and its model needs more completed trials
            # (the case with more workers than initial points); its own
            # orchestrator waits for data then, and so does this worker.
            trials = {}
        self.gen_seconds.append(time.perf_counter() - start)
        if not trials:
            self.empty_asks += 1
            return None
        ((index, params),) = trials.items()
        self.index_of[trial_id] = index
        # A hierarchical space gives only the active parameters; fill the others.
        return self.space.to_config(self.space.canonical(params))

    def tell(self, trial_id: str, value: Told) -> None:
        self.client.complete_trial(
            trial_index=self.index_of.pop(trial_id), raw_data=as_result(value)
        )

    def close(self) -> dict[str, Any]:
        logging.getLogger("ax.generation_strategy").removeHandler(self.fallbacks)
        return {
            "ax_gen_seconds": self.gen_seconds,
            "empty_asks": self.empty_asks,
            "ax_sobol_fallbacks": self.fallbacks.count,
        }


class _FallbackCounter(logging.Handler):
    """Counts Ax's "exceeded MAX_GEN_ATTEMPTS ... switching to fallback model" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "MAX_GEN_ATTEMPTS" in record.getMessage()


class TimedMethod(Method):
    """Wraps a method and records the real seconds each ``ask`` and ``tell`` took.

    Seconds per proposal, comparable across methods, is the sum of both divided by
    the configs given: a method may do its work in either (``BatchBOSearcher``
    generates its spare point after a ``tell``; Optuna and Ax work in ``ask``).
    """

    def __init__(self, inner: Method) -> None:
        self.inner = inner
        self.ask_s: list[float] = []
        self.tell_s: list[float] = []
        self.proposals = 0

    def ask(self, trial_id: str) -> dict[str, Any] | None:
        start = time.perf_counter()
        config = self.inner.ask(trial_id)
        self.ask_s.append(time.perf_counter() - start)
        self.proposals += config is not None
        return config

    def tell(self, trial_id: str, value: Told) -> None:
        start = time.perf_counter()
        self.inner.tell(trial_id, value)
        self.tell_s.append(time.perf_counter() - start)

    def close(self) -> dict[str, Any]:
        total = sum(self.ask_s) + sum(self.tell_s)
        return {
            **self.inner.close(),
            "ask_s": self.ask_s,
            "tell_s": self.tell_s,
            "seconds_per_proposal": total / max(self.proposals, 1),
        }
