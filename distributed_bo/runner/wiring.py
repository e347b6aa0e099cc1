"""Where the runner builds the searcher from the spec, and tells a restored one what happened.

The two calls here are the only places the runner passes searcher settings and
resume information by hand; they are kept together and small on purpose.
"""

from __future__ import annotations

from typing import Any

from distributed_bo.search.searcher import BatchBOSearcher
from distributed_bo.spec import StudySpec
from distributed_bo.types import Row, TrialStatus


def build_searcher(spec: StudySpec) -> BatchBOSearcher:
    """The study's searcher, from the spec's ``searcher:`` section, seed and baseline."""
    baseline = [spec.baseline] if spec.baseline else []
    return BatchBOSearcher(
        acquisition=spec.searcher.acquisition,
        batch_strategy=spec.searcher.batch_strategy,
        batch_size=spec.searcher.batch_size,
        num_initial=spec.searcher.num_initial,
        max_observations=spec.searcher.max_observations,
        prefetch=spec.searcher.prefetch,
        seed=spec.seed,
        parameter_constraints=list(spec.searcher.parameter_constraints),
        points_to_evaluate=baseline,
        stopped_trials=spec.searcher.stopped_trials,
        time_attr=spec.scheduler.time_attr,
    )


def resume_searcher(
    searcher: Any,
    *,
    tune_trials: set[str],
    rows: list[Row],
    unfinished_configs: dict[str, dict[str, Any]],
) -> None:
    """Tell the searcher Tune restored which trials Tune knows and how rows ended."""
    searcher.set_resume_info(
        tune_trials=tune_trials,
        finished=_outcomes(rows),
        unfinished_configs=unfinished_configs,
    )


def _outcomes(rows: list[Row]) -> dict[str, tuple[str, Any]]:
    """Finished rows as searcher events: ``("complete", value)`` or ``("fail", reason)``."""
    out: dict[str, tuple[str, Any]] = {}
    for r in rows:
        if r["status"] == TrialStatus.COMPLETED and r.get("metric") is not None:
            out[r["trial_id"]] = ("complete", float(r["metric"]))
        elif r["status"] == TrialStatus.FAILED:
            out[r["trial_id"]] = ("fail", r.get("error") or "failed")
        elif r["status"] == TrialStatus.EARLY_STOPPED:
            out[r["trial_id"]] = ("early_stop", None)
    return out
