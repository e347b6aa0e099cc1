"""Live progress in the terminal, and the failure-rate limit."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from ray.tune import Callback
from ray.tune.stopper import Stopper

from distributed_bo.experiment.rows import best_metric, is_finished
from distributed_bo.runner.results import ResultsWriter
from distributed_bo.types import TrialStatus


class ProgressPrinter(Callback):
    """Prints one line per trial event: count, the trial's metric and the best so far.

    Args:
        writer: The study's results writer (the rows it keeps are the source).
        total: The study's trial budget.
        stream: Where to print; standard error by default.
    """

    def __init__(self, *, writer: ResultsWriter, total: int, stream: TextIO | None = None):
        self._writer = writer
        self._total = total
        self._stream = stream or sys.stderr
        self._start = time.monotonic()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks into tuner.pkl; a stream need not be picklable.
        return {**self.__dict__, "_stream": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._stream = self._stream or sys.stderr

    def _line(self, text: str) -> None:
        rows = self._writer.rows.values()
        done = sum(is_finished(r) for r in rows)
        running = sum(r["status"] == TrialStatus.RUNNING for r in rows)
        failed = sum(r["status"] == TrialStatus.FAILED for r in rows)
        best = best_metric(rows, self._writer.mode)
        elapsed = time.monotonic() - self._start
        best_text = "-" if best is None else f"{best:.6g}"
        print(
            f"[{done:>3}/{self._total}] {elapsed:7.1f}s  running {running}  failed {failed}  "
            f"best {self._writer.metric}={best_text}  | {text}",
            file=self._stream,
            flush=True,
        )

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Print a started trial."""
        self._line(f"started {trial.trial_id}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Print a finished trial and its final metric."""
        row = self._writer.rows.get(trial.trial_id, {})
        value = row.get("metric")
        shown = "-" if value is None else f"{value:.6g}"
        self._line(f"{trial.trial_id} {row.get('status', '').lower()} metric={shown}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Print a failed trial and its reason."""
        row = self._writer.rows.get(trial.trial_id, {})
        self._line(f"{trial.trial_id} failed: {row.get('error', '')}")


class StudyStopper(Stopper):
    """Stops the study on too many failures, and single diverged or replayed trials.

    Args:
        writer: The study's results writer.
        max_fraction: Largest tolerated fraction of failed among finished trials.
        min_finished: Finished trials needed before the limit applies.
        finished: Trial ids that had already finished before a resume. Tune may
            restart such a trial when its snapshot predates the trial's end; it is
            stopped at its first report and its result is ignored.
        metric: The objective; a trial reporting it as NaN or inf is stopped.
    """

    def __init__(
        self,
        *,
        writer: ResultsWriter,
        max_fraction: float,
        min_finished: int = 5,
        finished: set[str] | None = None,
        metric: str | None = None,
    ):
        self._writer = writer
        self._metric = metric
        self._max_fraction = max_fraction
        self._min_finished = min_finished
        self._finished = set(finished or ())
        self.replayed: set[str] = set()
        self.triggered: str | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Stop a trial that reported NaN/inf, or that had finished before a resume."""
        if trial_id in self._finished:
            self.replayed.add(trial_id)
            return True
        value = result.get(self._metric) if self._metric else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return not math.isfinite(value)  # a diverged trial will not recover
        return False

    def stop_all(self) -> bool:
        """True once the failure fraction exceeds the limit."""
        rows = self._writer.rows.values()
        finished = [r for r in rows if is_finished(r)]
        failed = sum(r["status"] == TrialStatus.FAILED for r in finished)
        if len(finished) >= self._min_finished and failed / len(finished) > self._max_fraction:
            self.triggered = (
                f"{failed} of {len(finished)} finished trials failed, more than "
                f"max_failure_fraction={self._max_fraction}"
            )
            return True
        return False
