"""Where the runner builds the searcher from the spec, and tells a restored one what happened.

The spec's ``searcher:`` section is the searcher's
:class:`~distributed_bo.search.settings.SearcherSettings`, passed whole; a resume
hands over the finished rows as typed events (:mod:`distributed_bo.search.events`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distributed_bo.experiment.rows import metric_values
from distributed_bo.search.events import Complete, EarlyStop, Fail, Finished
from distributed_bo.search.searcher import BatchBOSearcher
from distributed_bo.search.warm import WarmObservation
from distributed_bo.spec import StudySpec
from distributed_bo.types import Row, TrialStatus


def build_searcher(
    spec: StudySpec,
    warm: Sequence[Mapping[str, Any]] = (),
    observations: Sequence[WarmObservation] = (),
) -> BatchBOSearcher:
    """The study's searcher: objectives, constraints, settings, seed, time axis.

    It proposes first the baseline, then ``warm`` (flat configs from an ``initial``
    warm start); ``observations`` (a ``data`` warm start) enter its model as data.
    """
    outcomes = spec.outcomes()
    several = outcomes.is_multi
    return BatchBOSearcher(
        metric=list(outcomes.metrics) if several else outcomes.metrics[0],
        mode=list(outcomes.modes) if several else outcomes.modes[0],
        objective_thresholds=dict(outcomes.thresholds),
        outcome_constraints=[c.text for c in outcomes.constraints],
        settings=spec.searcher,
        seed=spec.seed,
        points_to_evaluate=([spec.baseline] if spec.baseline else []) + [dict(c) for c in warm],
        warm_start=observations,
        time_attr=spec.scheduler.time_attr,
    )


def resume_searcher(
    searcher: BatchBOSearcher,
    *,
    tune_trials: set[str],
    rows: list[Row],
    unfinished_configs: dict[str, dict[str, Any]],
    tracked: Sequence[str] = (),
) -> None:
    """Tell the searcher Tune restored which trials Tune knows and how rows ended.

    ``tracked`` names every metric the searcher models (see :func:`finished_events`).
    """
    searcher.set_resume_info(
        tune_trials=tune_trials,
        finished=finished_events(rows, tracked),
        unfinished_configs=unfinished_configs,
    )


def finished_events(rows: list[Row], tracked: Sequence[str] = ()) -> dict[str, Finished]:
    """The finished rows of ``trials.parquet`` as searcher events, by trial id.

    Args:
        rows: The rows.
        tracked: Every metric the searcher models, objectives first (its
            ``Outcomes.tracked``). With more than one, a row's ``metric/<name>``
            columns give an event's other values; an early-stopped row that has
            them all enters at those values, else at its learning curve's last.
    """
    out: dict[str, Finished] = {}
    others = tuple(tracked[1:])
    for r in rows:
        tid = r["trial_id"]
        values = metric_values(r) if others else {}
        extra = {m: values[m] for m in others if m in values}
        if r["status"] == TrialStatus.COMPLETED and r.get("metric") is not None:
            out[tid] = Complete(trial_id=tid, value=float(r["metric"]), others=extra)
        elif r["status"] == TrialStatus.FAILED:
            out[tid] = Fail(trial_id=tid, reason=r.get("error") or "failed")
        elif r["status"] == TrialStatus.EARLY_STOPPED:
            if others and len(extra) == len(others) and r.get("metric") is not None:
                out[tid] = EarlyStop(trial_id=tid, value=float(r["metric"]), others=extra)
            else:
                out[tid] = EarlyStop(trial_id=tid)
    return out
