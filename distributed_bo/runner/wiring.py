"""Where the runner builds the searcher from the spec, and tells a restored one what happened.

The spec's ``searcher:`` section is the searcher's
:class:`~distributed_bo.search.settings.SearcherSettings`, passed whole; a resume
hands over the finished rows as typed events (:mod:`distributed_bo.search.events`).
"""

from __future__ import annotations

from typing import Any

from distributed_bo.search.events import Complete, EarlyStop, Fail, Finished
from distributed_bo.search.searcher import BatchBOSearcher
from distributed_bo.spec import StudySpec
from distributed_bo.types import Row, TrialStatus


def build_searcher(spec: StudySpec) -> BatchBOSearcher:
    """The study's searcher: the spec's ``searcher:`` section, seed, baseline and time axis."""
    return BatchBOSearcher(
        settings=spec.searcher,
        seed=spec.seed,
        points_to_evaluate=[spec.baseline] if spec.baseline else [],
        time_attr=spec.scheduler.time_attr,
    )


def resume_searcher(
    searcher: BatchBOSearcher,
    *,
    tune_trials: set[str],
    rows: list[Row],
    unfinished_configs: dict[str, dict[str, Any]],
) -> None:
    """Tell the searcher Tune restored which trials Tune knows and how rows ended."""
    searcher.set_resume_info(
        tune_trials=tune_trials,
        finished=finished_events(rows),
        unfinished_configs=unfinished_configs,
    )


def finished_events(rows: list[Row]) -> dict[str, Finished]:
    """The finished rows of ``trials.parquet`` as searcher events, by trial id."""
    out: dict[str, Finished] = {}
    for r in rows:
        tid = r["trial_id"]
        if r["status"] == TrialStatus.COMPLETED and r.get("metric") is not None:
            out[tid] = Complete(trial_id=tid, value=float(r["metric"]))
        elif r["status"] == TrialStatus.FAILED:
            out[tid] = Fail(trial_id=tid, reason=r.get("error") or "failed")
        elif r["status"] == TrialStatus.EARLY_STOPPED:
            out[tid] = EarlyStop(trial_id=tid)
    return out
