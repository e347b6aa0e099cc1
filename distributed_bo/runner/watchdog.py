"""``trainable.timeout_s``: a trial that reports nothing for that long is failed, then retried.

:class:`TrialWatchdog` is a Ray Tune callback in the driver. It notes when each
trial started (or restarted, after a failure or from a checkpoint) and when it last
reported, and once a running trial has been silent for ``timeout_s`` it ends the
trial's actor with ``ray.kill``. Tune sees a dead worker, the failure it retries
from the last checkpoint (``retries`` in the spec, Tune's ``FailureConfig``); when
no retry is left the trial is FAILED. The results writer records the reason
(``trial reported nothing for 30 s (trainable.timeout_s)``) instead of Ray's
actor-died text.

Why in the driver, not a watchdog thread inside the trial: a hung trial is most
often stuck in native code (a collective that never returns, a data loader
waiting on a dead worker, a CUDA call), where an exception raised into its thread
(``PyThreadState_SetAsyncExc``) is never delivered, so a thread would still need to
end its own process, and the reason would be lost with it. ``ray.kill`` ends the
process wherever it is stuck, on any node, and the driver keeps the reason. Inside
the trial, Tune's function trainable also blocks the trainable in ``report`` until
the driver asks for the next result, time that a watchdog there would count
against the trial.

The silence is measured on a clock that advances only while Tune's loop steps,
by at most :data:`MAX_STEP_S` per step. A driver that stalls (a long searcher
update, slow storage) does not process results meanwhile; without the cap the
results it has not yet read would look like silence, and healthy trials would be
killed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ray.tune import Callback

from distributed_bo.runner.results import ResultsWriter

logger = logging.getLogger(__name__)

#: Most seconds one step of Tune's loop adds to the watchdog's clock. Tune's loop
#: waits at most 0.1 s for an event per step; a step that takes longer is a stall.
MAX_STEP_S = 1.0
#: The Tune logger that prints a killed trial's actor-died traceback.
_TUNE_CONTROLLER_LOGGER = "ray.tune.execution.tune_controller"


def timeout_reason(timeout_s: float) -> str:
    """The error a timed-out trial is recorded with."""
    return f"trial reported nothing for {timeout_s:g} s (trainable.timeout_s)"


class TrialWatchdog(Callback):
    """Kills the actor of a trial that reported nothing for ``timeout_s`` seconds.

    Args:
        timeout_s: The spec's ``trainable.timeout_s``.
        writer: The study's results writer; it gets the reason of each kill.
    """

    def __init__(self, *, timeout_s: float, writer: ResultsWriter) -> None:
        self._timeout_s = timeout_s
        self._writer = writer
        self._clock = 0.0
        self._last_step: float | None = None
        #: Trial id to the clock's value at its start or its last report.
        self._since: dict[str, float] = {}
        self._quiet = _QuietKills()

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        """Advance the clock and kill the trials that have been silent too long."""
        now = time.monotonic()
        if self._last_step is not None:
            self._clock += min(now - self._last_step, MAX_STEP_S)
        self._last_step = now
        for trial in trials:
            since = self._since.get(trial.trial_id)
            if since is None or trial.status != "RUNNING":
                continue
            if self._clock - since >= self._timeout_s:
                self._kill(trial)

    def _kill(self, trial: Any) -> None:
        import ray

        actor = getattr(trial.temporary_state, "ray_actor", None)
        if actor is None:
            return  # not on a worker this moment; checked again next step
        del self._since[trial.trial_id]  # once; a restart starts the clock again
        reason = timeout_reason(self._timeout_s)
        logger.warning("trial %s: %s; ending it", trial.trial_id, reason)
        self._writer.note_failure(trial.trial_id, reason)
        self._quiet.add(str(trial))
        ray.kill(actor, no_restart=True)

    def _reset(self, trial: Any) -> None:
        self._since[trial.trial_id] = self._clock

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Start the trial's clock (also when it restarts)."""
        self._reset(trial)

    def on_trial_restore(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Restart the trial's clock after a restore from a checkpoint."""
        self._reset(trial)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        """Restart the trial's clock at each report."""
        self._reset(trial)

    def on_trial_save(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A saved checkpoint is a sign of life too."""
        self._reset(trial)

    def _forget(self, trial: Any) -> None:
        self._since.pop(trial.trial_id, None)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Stop watching a finished trial."""
        self._forget(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Stop watching a failed trial."""
        self._forget(trial)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Stop watching until the retry starts."""
        self._forget(trial)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Let Tune's logger be."""
        self._quiet.remove()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles callbacks into tuner.pkl; the filter is this run's only.
        return {**self.__dict__, "_quiet": _QuietKills()}


class _QuietKills(logging.Filter):
    """Drops Tune's traceback for the trials this watchdog ended; the warning says why.

    Installed on Tune's controller logger at the first kill, removed at the end.
    """

    def __init__(self) -> None:
        super().__init__()
        self._names: set[str] = set()

    def add(self, trial_name: str) -> None:
        if not self._names:
            logging.getLogger(_TUNE_CONTROLLER_LOGGER).addFilter(self)
        self._names.add(trial_name)

    def remove(self) -> None:
        logging.getLogger(_TUNE_CONTROLLER_LOGGER).removeFilter(self)
        self._names.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not (
            text.startswith("Trial task failed for trial ")
            and text.rsplit(" ", 1)[-1] in self._names
        )
