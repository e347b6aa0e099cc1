"""How a run ended early: stopped by a signal, or out of time (``budget.time_budget_s``).

Ray Tune returns from ``fit()`` normally in both cases. A signal
(:class:`~distributed_bo.runner.signals.GracefulStop`) becomes a
:class:`~distributed_bo.exceptions.StudyInterruptedError` whose message says how to
continue; a spent time budget becomes a note for the study's result, after the
trials Tune stopped are finished in ``trials.parquet`` and in Ax.
"""

from __future__ import annotations

from collections.abc import Iterable

from distributed_bo.exceptions import StudyInterruptedError
from distributed_bo.experiment.rows import is_finished
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.results import ResultsWriter
from distributed_bo.runner.signals import signal_text
from distributed_bo.spec import StudySpec
from distributed_bo.types import Row


def interrupted(
    exp: StorageDir,
    signum: int,
    *,
    rows: Iterable[Row] | None = None,
    total: int | None = None,
) -> StudyInterruptedError:
    """The error for a study a signal stopped; ``rows`` is ``None`` if it stopped at once.

    Args:
        exp: The experiment directory (shown without credentials).
        signum: The signal.
        rows: The rows when Tune's loop ended gracefully, else ``None``.
        total: The study's trial budget.
    """
    how = f"interrupted by {signal_text(signum)}"
    resume = f"`distributed-bo resume {exp.shown}`"
    if rows is None:
        return StudyInterruptedError(
            f"{how} before the study's state was saved one last time; continue from its "
            f"last snapshot with {resume}",
            signum=signum,
        )
    done = sum(is_finished(r) for r in rows)
    return StudyInterruptedError(
        f"{how}: {done} of {total} trials finished, the running ones were saved at their "
        f"last checkpoint; continue the study with {resume}",
        signum=signum,
    )


def time_up(spec: StudySpec, writer: ResultsWriter, elapsed_s: float) -> str | None:
    """If the time budget ended the run early, finish its trials and say so.

    Tune stops the running trials and starts no new ones once
    ``budget.time_budget_s`` is spent. Each trial it stopped becomes EARLY_STOPPED
    (:meth:`ResultsWriter.stop_unfinished`).

    Args:
        spec: The study.
        writer: The study's results writer, its searcher still open.
        elapsed_s: Seconds the run's ``fit()`` took.

    Returns:
        A one-line note for the user, or ``None`` if the budget did not end the run.
    """
    budget = spec.budget.time_budget_s
    total = spec.budget.num_trials
    rows = writer.rows.values()
    if budget is None or elapsed_s < budget:
        return None
    if len(rows) >= total and all(is_finished(r) for r in rows):
        return None  # everything finished as the budget ran out
    stopped = writer.stop_unfinished(
        f"stopped unfinished: budget.time_budget_s ({budget:g} s) was spent"
    )
    done = sum(is_finished(r) for r in writer.rows.values()) - stopped
    return (
        f"budget.time_budget_s: the time budget of {budget:g} s was spent; {done} of {total} "
        f"trials finished, {stopped} stopped unfinished (EARLY_STOPPED), "
        f"{max(total - done - stopped, 0)} never ran"
    )
