"""SearcherSettings: every setting of the batch Bayesian-optimisation searcher, once.

One frozen dataclass, checked on construction, in the manner of BoTorch's
``OptimizeAcqfInputs``. It is the spec's ``searcher:`` section (YAML keys are its
field names), what :class:`~distributed_bo.search.searcher.BatchBOSearcher` builds
from its keyword arguments, and what the searcher pickles into ``tuner.pkl``.
Its defaults are written here and nowhere else.

This module imports neither Ray nor :mod:`distributed_bo.spec` (the spec imports it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field, fields
from typing import Any, Literal, get_args

from distributed_bo.exceptions import SpecError
from distributed_bo.search.constraints import constraint_names
from distributed_bo.validation import (
    check_int,
    check_keys,
    check_literal,
    check_str,
    fail,
    join,
    require_mapping,
)

AcquisitionName = Literal[
    "qLogNEI", "qLogEI", "qEI", "qNEI", "qUCB", "qPI", "qLogNEHVI", "qLogNParEGO"
]
BatchStrategy = Literal["joint", "sequential"]
StoppedTrialPolicy = Literal["highest_rung", "last_value"]
SobolStart = Literal["until_data", "fixed"]

#: Acquisition names, as :func:`~distributed_bo.search.acquisition.acquisition_class` maps them.
ACQUISITIONS: tuple[str, ...] = get_args(AcquisitionName)
#: The acquisitions that take several objectives.
MULTI_OBJECTIVE: tuple[str, ...] = ("qLogNEHVI", "qLogNParEGO")
BATCH_STRATEGIES: tuple[str, ...] = get_args(BatchStrategy)
#: See :mod:`distributed_bo.search.stopped`.
STOPPED_TRIAL_POLICIES: tuple[str, ...] = get_args(StoppedTrialPolicy)
SOBOL_STARTS: tuple[str, ...] = get_args(SobolStart)

#: Default acquisition. In ``benchmarks/results/optimizer_quality.md`` (10 paired
#: seeds, 4 async workers) qLogEI and qUCB, generating on demand, tie with the default
#: on Branin and Hartmann6 (qUCB against it: 4-1-5 and 6-2-2 W-T-L, n.s.); qLogNEI
#: stays, as it also handles the noisy metrics that real training reports.
DEFAULT_ACQUISITION: AcquisitionName = "qLogNEI"
#: Default batch strategy: greedy, one point at a time (Ax's default too). In
#: ``benchmarks/results/optimizer_quality.md`` it ranked at least as well as joint in
#: every fixed-q cell (q = 4 and 8, n.s.), and with the default's spares the two gave
#: identical runs (4 async workers ask one point at a time). Speed depends on the
#: problem: with 16 pending points on Hartmann6 it built 16 points in 6.1 s against
#: 15.9 s joint on a 2-core CPU; on Levy-6 with none, joint was faster at q = 4
#: (``benchmarks/results/searcher_overhead.md``).
DEFAULT_BATCH_STRATEGY: BatchStrategy = "sequential"
#: Most points one generation cycle proposes when ``batch_size`` is None. When many
#: slots free at once, chunks of this size reach them as each is ready (sequential
#: q = 4 takes about 1.5 s here), and a later chunk sees any result that came in
#: meanwhile; ``benchmarks/results/utilization.md`` measures it at 16 slots.
GENERATION_CHUNK = 4
#: Chosen by ``benchmarks/early_stopping.py``; see :mod:`distributed_bo.search.stopped`.
DEFAULT_STOPPED_TRIALS: StoppedTrialPolicy = "last_value"
#: Default for unordered choices: a categorical kernel. In ``benchmarks/hpo_suite.py``
#: (4 workers, 64 evaluations, 10 paired seeds) it beat one-hot columns 7-0-3 on
#: NAS-Bench-201 cifar100 and 8-1-1 on imagenet (median final regret 0.0075 vs 0.015
#: and 0.0041 vs 0.0098); the suite's other tasks have no choice of 3+ categories,
#: so their runs are identical.
DEFAULT_CATEGORICAL_KERNEL = True
#: Default bound on the observations the model is fitted on (``max_observations``);
#: chosen from ``benchmarks/results/searcher_overhead.md``.
DEFAULT_MAX_OBSERVATIONS: int | None = 500
#: Default Sobol start: Sobol points until ``num_initial`` trials have data. With
#: many slots that draws far more than ``num_initial`` (every slot that frees first
#: gets one, and so do the spares): 41-48 of 128 points at 16 workers in
#: ``benchmarks/results/hpo_suite.md``'s first runs. ``"fixed"`` (draw
#: ``num_initial``, then the model) is measured there as a switch: at 4 workers
#: (64 evaluations, 10 paired seeds, 11 tasks) it went 42-7-61 against this default
#: (n.s.) and lost naval 1-1-8 to Optuna's GPSampler; at 16 workers (128
#: evaluations, seeds 0-3, 37 paired runs), where the start grows most, it went
#: 12-8-17 (n.s.), at a median 0.97 s per proposal against the default's 0.79 s.
#: So it is not the default.
DEFAULT_SOBOL_START: SobolStart = "until_data"

_CONSTRAINT_EXAMPLE = "'x0 + x1 <= 1.5'"
#: The choice fields and their options, in the order they are checked.
_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("acquisition", ACQUISITIONS),
    ("stopped_trials", STOPPED_TRIAL_POLICIES),
    ("batch_strategy", BATCH_STRATEGIES),
    ("sobol_start", SOBOL_STARTS),
)
#: The optional integer fields: name, lowest value, and the fix's ending.
_OPTIONAL_INTS: tuple[tuple[str, int, str], ...] = (
    ("batch_size", 1, ", or null for the number of free trial slots"),
    ("num_initial", 1, ", or null for the searcher's default"),
    ("max_observations", 2, ", or null to fit the model on every observation"),
    ("prefetch", 0, " (0 = only on demand), or null to keep one per slot that may free at once"),
)


class _Unset:
    """A keyword's default that means "not given: take SearcherSettings' default"."""

    def __repr__(self) -> str:
        return "<SearcherSettings default>"


#: The default of :class:`BatchBOSearcher`'s setting keywords; see
#: :func:`settings_from_keywords`.
UNSET: Any = _Unset()


@dataclass(frozen=True, kw_only=True)
class SearcherSettings:
    """How the searcher generates points (YAML section ``searcher``).

    Attributes:
        acquisition: Acquisition function, one of :data:`ACQUISITIONS`.
        batch_strategy: How a batch is optimised: ``"sequential"`` (default; greedy,
            one point at a time, each conditioned on those before it) or ``"joint"``
            (one optimisation over all ``q x d`` coordinates).
        batch_size: Most points generated by one acquisition optimisation (``q``),
            >= 1; ``None`` means one per free slot, at most :data:`GENERATION_CHUNK`
            per cycle.
        num_initial: Size of the Sobol start, >= 1 (given and warm points count
            toward it). ``None``: ``max(5, 2 * d)`` for the ``d`` parameters of one
            configuration (a branch point's widest branch counts).
        sobol_start: When the model takes over from the Sobol start.
            ``"until_data"`` (default, :data:`DEFAULT_SOBOL_START`): every point is
            a Sobol point until ``num_initial`` trials have data, so with many slots
            the start holds more than ``num_initial`` points. ``"fixed"``: the start
            is ``num_initial`` points, and the model is used as soon as they are all
            drawn and half of them (at least 2) have data, as Ax's own generation
            strategy does (its ``min_trials_observed``); a slot that frees before
            then gets one more Sobol point rather than wait, and no spare is drawn
            for it.
        max_observations: Most observations the model is fitted on, >= 2 (the best
            half plus the most recent, see
            :func:`~distributed_bo.search.generator.select_observations`), so long
            studies keep batch generation bounded; ``None`` fits on all. Default
            :data:`DEFAULT_MAX_OBSERVATIONS`.
        prefetch: Spare points kept generated beyond the free slots, >= 0, so a
            trial that ends gives its slot a point at once instead of waiting for a
            model fit (spares are conditioned on the running trials as pending
            points). 0 generates only when a slot is free: each point then sees one
            more result, but the slot waits. ``None`` (default) adapts the count to
            the slots that free at once (:class:`~distributed_bo.search.spares.SpareCount`):
            a round of spares while trials end together, one or two while they end
            one at a time; none with a single slot. ``benchmarks/results/utilization.md``
            measures the busy time this buys, with equal and staggered trial lengths.
        parameter_constraints: Linear inequalities over flat parameter names, in Ax
            syntax, e.g. ``("x0 + 2 * x1 <= 1.5",)``; nested parameters by flat name
            (``optim/beta1``). A list is stored as a tuple.
        stopped_trials: How trials that a scheduler stopped early enter the model:
            ``"last_value"`` (default) or ``"highest_rung"`` (BOHB's rule); see
            :mod:`distributed_bo.search.stopped`. Either way such a trial is
            EARLY_STOPPED in Ax, never FAILED.
        categorical_kernel: Model unordered choices (``tune.choice`` of strings or
            other non-numbers) as categories, with BoTorch's ``MixedSingleTaskGP``
            and its ``CategoricalKernel`` (Ax's ``BO_MIXED`` setup; default,
            :data:`DEFAULT_CATEGORICAL_KERNEL`); false: one-hot columns in a
            ``SingleTaskGP`` (Ax's default). Spaces without
            such a choice, or with only two-valued ones (one column either way),
            are unaffected; conditional spaces keep their own kernel.
            ``benchmarks/results/hpo_suite.md`` measures it on the NAS-Bench-201
            tables (all categorical).
        optimizer_options: Extra ``botorch.optim.optimize_acqf`` keyword arguments,
            e.g. ``{"num_restarts": 10, "raw_samples": 512}``; empty for Ax's defaults.
            Held as a deep copy, left out of the hash.
        path: Field-path prefix of error messages (not a field): ``"searcher"`` for the
            spec, ``""`` for the searcher's keyword arguments.

    Raises:
        SpecError: On a bad value, ``"<path>.<field>: got <value>; <fix>"``.
    """

    acquisition: AcquisitionName = DEFAULT_ACQUISITION
    batch_strategy: BatchStrategy = DEFAULT_BATCH_STRATEGY
    batch_size: int | None = None
    num_initial: int | None = None
    max_observations: int | None = DEFAULT_MAX_OBSERVATIONS
    prefetch: int | None = None
    parameter_constraints: tuple[str, ...] = ()
    stopped_trials: StoppedTrialPolicy = DEFAULT_STOPPED_TRIALS
    categorical_kernel: bool = DEFAULT_CATEGORICAL_KERNEL
    sobol_start: SobolStart = DEFAULT_SOBOL_START
    optimizer_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    path: InitVar[str] = "searcher"

    def __post_init__(self, path: str) -> None:
        for name, allowed in _CHOICES:
            check_literal(getattr(self, name), join(path, name), allowed)
        for name, low, extra in _OPTIONAL_INTS:
            check_int(getattr(self, name), join(path, name), ge=low, allow_none=True, extra=extra)
        if not isinstance(self.categorical_kernel, bool):
            fail(join(path, "categorical_kernel"), self.categorical_kernel, "use true or false")
        object.__setattr__(
            self, "parameter_constraints", _constraints(self.parameter_constraints, path)
        )
        options = {} if self.optimizer_options is None else self.optimizer_options
        where = join(path, "optimizer_options")
        require_mapping(options, where, "a mapping of optimize_acqf options such as num_restarts")
        object.__setattr__(self, "optimizer_options", copy.deepcopy(dict(options)))

    @classmethod
    def from_dict(cls, data: Any, path: str = "searcher") -> SearcherSettings:
        """Build the settings from a parsed YAML mapping.

        Args:
            data: The mapping, e.g. ``{"acquisition": "qUCB", "batch_size": 4}``.
            path: Field path of the mapping, for messages.

        Raises:
            SpecError: On a non-mapping, an unknown key, or a bad value.
        """
        names = [f.name for f in fields(cls)]
        require_mapping(data, path, f"a mapping with keys {', '.join(names)}")
        check_keys(data, path, allowed=names)
        return cls(**data, path=path)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain YAML-able data (tuples become lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def settings_from_keywords(
    settings: SearcherSettings | None, keywords: Mapping[str, Any]
) -> SearcherSettings:
    """``settings``, or settings built from keyword arguments; never both.

    Args:
        settings: A ready object, or ``None``.
        keywords: Setting name -> value, :data:`UNSET` where the caller gave none;
            other names are ignored.

    Raises:
        SpecError: If both are given, ``settings`` is of another type, or a keyword's
            value is bad (the message names the keyword without a prefix).
    """
    names = {f.name for f in fields(SearcherSettings)}
    keywords = {k: v for k, v in keywords.items() if k in names and v is not UNSET}
    if settings is None:
        return SearcherSettings(**keywords, path="")
    if not isinstance(settings, SearcherSettings):
        fail("settings", settings, "pass a SearcherSettings (or SearcherSettings.from_dict(...))")
    if keywords:
        given = ", ".join(f"{k}=" for k in keywords)
        raise SpecError(
            f"settings: got settings= and {given}; pass each setting once, "
            "in settings= or as keywords"
        )
    return settings


def _constraints(value: Any, path: str) -> tuple[str, ...]:
    """Check linear constraints (a list or tuple of strings) and return them as a tuple."""
    where = join(path, "parameter_constraints")
    constraints = () if value is None else value
    if isinstance(constraints, Sequence) and not isinstance(constraints, (str, list)):
        constraints = tuple(constraints)
    if not isinstance(constraints, (list, tuple)):
        fail(where, constraints, f"use a list of strings such as [{_CONSTRAINT_EXAMPLE}]")
    for i, text in enumerate(constraints):
        check_str(text, f"{where}[{i}]", f"use a string such as {_CONSTRAINT_EXAMPLE}")
        constraint_names(text, f"{where}[{i}]")
    return tuple(constraints)


def _plain(value: Any) -> Any:
    """Plain dicts and lists, safe for ``yaml.safe_dump``."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value
