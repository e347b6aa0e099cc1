"""How a result row is written: ``trials.parquet`` plus the Ax and searcher JSON.

:class:`ResultsWriter` is a Ray Tune ``Callback``. It keeps one row per trial and
rewrites ``trials.parquet`` in the experiment directory whenever a trial starts,
finishes or fails. Each write goes to a temporary file that is then moved over
the old one, so a crash at any moment leaves the previous complete file. The
columns are :class:`distributed_bo.experiment.rows.TrialRow`'s.

A ``data`` warm start's observations are written first, one ``WARM`` row each
(trial id ``warm-<n>``), with their Ax index once the searcher attached them. They
are kept apart from :attr:`ResultsWriter.rows`, the study's own trials, which is
what progress, failure limits and the result count.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ray.tune import Callback

from distributed_bo.exceptions import SearcherStateError
from distributed_bo.experiment.layout import AX_FILE, PREV_SEARCHER_FILE, SEARCHER_FILE
from distributed_bo.experiment.rows import (
    BRANCH_PREFIX,
    CONFIG_PREFIX,
    METRIC_PREFIX,
    is_finished,
    mark_front,
    write_trials,
)
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.runner.warm_start import WarmPoint
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.search.space import flatten
from distributed_bo.types import TRIAL_ERROR_KEY, Row, TrialStatus


class ResultsWriter(Callback):
    """Keeps ``trials.parquet`` and ``ax_experiment.json`` current.

    Args:
        storage: The experiment directory.
        metric: The objective's key (the first objective's, with several).
        mode: ``"min"`` or ``"max"``.
        outcomes: The study's objectives and outcome constraints. With several
            objectives or any constraint, each row gets a ``metric/<name>`` column
            per tracked metric, ``feasible`` (constraints) and ``is_pareto``
            (several objectives), and a trial that ends without a finite value of
            every tracked metric FAILED.
        searcher: The study's ``BatchBOSearcher`` (for Ax indices and the Ax JSON).
        baseline: Baseline config (flat or nested), to flag the baseline trial.
        warm: ``SOURCE#TRIAL`` label -> flat config of each ``initial`` warm-start
            point, to mark the rows they became (``warm_start`` column).
        observations: A ``data`` warm start's points, written as ``WARM`` rows.
        rows: Rows from an earlier run of the same study (on resume), without
            ``WARM`` rows (they are rebuilt from ``observations``).
    """

    def __init__(
        self,
        *,
        storage: StorageDir,
        metric: str,
        mode: str,
        outcomes: Outcomes | None = None,
        searcher: Any = None,
        baseline: Mapping[str, Any] | None = None,
        warm: Mapping[str, Mapping[str, Any]] | None = None,
        observations: Sequence[WarmPoint] = (),
        rows: list[dict[str, Any]] | None = None,
    ) -> None:
        self._storage = storage
        self.metric = metric
        self.mode = mode
        #: Every metric a row records besides ``metric``; empty for one objective alone.
        self._tracked = outcomes.tracked if outcomes and len(outcomes.tracked) > 1 else ()
        #: The outcomes rows are marked by (``feasible``, ``is_pareto``), else ``None``.
        self._front = outcomes if self._tracked else None
        self._searcher = searcher
        self._baseline = flatten(baseline or {})
        self._warm = {label: dict(c) for label, c in (warm or {}).items()}
        #: This study's trials, by Tune trial id.
        self.rows: dict[str, Row] = {
            r["trial_id"]: dict(r) for r in rows or [] if r.get("status") != TrialStatus.WARM
        }
        #: One ``WARM`` row per warm observation, in order (no Ax index until attached).
        self.warm_rows: list[Row] = [
            self._observation_row(i, p) for i, p in enumerate(observations)
        ]
        self._staging_checked = False
        self._saved_state: bytes | None = None
        self._verify: Callable[[list], str | None] | None = None
        #: Why the restore did not happen (the run was stopped), else ``None``.
        self.restore_error: str | None = None
        #: Trial id to the reason the driver ended it (see :meth:`note_failure`).
        self._reasons: dict[str, str] = {}
        #: Tune's trials, as of the end of the run.
        self._trials: list = []

    def attach_searcher(self, searcher: Any) -> None:
        """Use ``searcher`` from now on (on resume: the one Tune restored)."""
        self._searcher = searcher

    def note_failure(self, trial_id: str, reason: str) -> None:
        """Record why the driver is ending a trial; its failure gets this reason.

        Ray reports the trial's end as a dead worker; the row's ``error`` says
        ``reason`` instead.
        """
        self._reasons[trial_id] = reason

    def set_verify(self, verify: Callable[[list], str | None]) -> None:
        """On resume: check, before the first step, that Tune's restore happened.

        ``verify`` gets Tune's trials and returns the reason the restore did not
        happen, or ``None``. A reason stops the run with :class:`SearcherStateError`
        before this writer writes anything.
        """
        self._verify = verify

    # ---------------------------------------------------------------- events
    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        """On a resumed run, drop the stale copies of our files from Tune's staging dir.

        ``Tuner.restore`` downloads every ``*.json`` of the experiment directory into
        the driver's staging directory and then uploads that directory at every
        snapshot. Left there, the copies of ``searcher_state.json`` and
        ``ax_experiment.json`` taken at resume time would overwrite the fresh ones
        every few seconds, and the next resume would start from a stale searcher.
        """
        self._check_restore(trials)
        self._drop_stale_copies(trials)

    def _check_restore(self, trials: list) -> None:
        verify, self._verify = self._verify, None
        if verify is not None:
            self.restore_error = verify(trials)
        if self.restore_error:
            raise SearcherStateError(self.restore_error)

    def _drop_stale_copies(self, trials: list) -> None:
        if self._staging_checked or not trials:
            return
        self._staging_checked = True
        import os

        staging = trials[0].storage.experiment_driver_staging_path
        if self._storage.is_local and os.path.realpath(staging) == os.path.realpath(
            self._storage.path
        ):
            return  # never the case with Ray 2.60, but then these are the real files
        for name in (SEARCHER_FILE, PREV_SEARCHER_FILE, AX_FILE):
            path = os.path.join(staging, name)
            if os.path.exists(path):
                os.remove(path)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Add a RUNNING row."""
        if self._finished(trial):
            return
        row = self._row(trial)
        row["status"] = TrialStatus.RUNNING
        row.setdefault("start_time", time.time())
        row["last_start_time"] = time.time()  # differs from start_time after a restart
        self.write(with_searcher=True)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        """Track the latest and best metric of a running trial (written at its end)."""
        if self._finished(trial):
            return
        row = self._row(trial)
        self._update_from_result(row, result)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Finish a row: COMPLETED with a finite metric, else FAILED with the reason.

        A trial the scheduler stopped early (the searcher was told) is EARLY_STOPPED.
        """
        if self._finished(trial):
            return
        row = self._row(trial)
        last = trial.last_result or {}
        self._update_from_result(row, last)
        value = row.get("metric")
        if last.get(TRIAL_ERROR_KEY):
            row["status"] = TrialStatus.FAILED
            row["error"] = str(last[TRIAL_ERROR_KEY])
        elif value is None or not math.isfinite(value):
            row["status"] = TrialStatus.FAILED
            row["error"] = row.get("error") or (
                f"reported no {self.metric!r}" if value is None else f"{self.metric} was {value!r}"
            )
        elif self._searcher is not None and self._searcher.is_early_stopped(trial.trial_id):
            row["status"] = TrialStatus.EARLY_STOPPED
        elif (missing := self._missing(row)) is not None:
            row["status"] = TrialStatus.FAILED
            row["error"] = row.get("error") or missing
        else:
            row["status"] = TrialStatus.COMPLETED
            if self._front is not None:  # only a completion changes the front
                mark_front(self.rows.values(), self._front)
        row["end_time"] = time.time()
        self.write(with_ax=True, with_searcher=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Finish a row as FAILED with the error's last line."""
        if self._finished(trial):
            return
        row = self._row(trial)
        self._update_from_result(row, trial.last_result or {})
        row["status"] = TrialStatus.FAILED
        row["error"] = self._reasons.pop(trial.trial_id, None) or _error_text(trial)
        row["end_time"] = time.time()
        self.write(with_ax=True, with_searcher=True)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """Count a restart of a trial whose worker died."""
        row = self._row(trial)
        row["restarts"] = int(trial.num_failures)
        row["error"] = self._reasons.pop(trial.trial_id, None) or _error_text(trial)
        self.write()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Final write, with the Ax experiment after every result is applied."""
        if self.restore_error:
            return  # the restore did not happen: nothing of this run is written
        self._trials = list(trials)
        self._check_restore(trials)
        self._drop_stale_copies(trials)  # a resumed run with nothing left to run
        if self._searcher is not None:
            self._searcher.wait_ready(timeout=120)
        self.write(with_ax=True, with_searcher=True)

    def stop_unfinished(self, reason: str) -> int:
        """Finish every trial the run left unfinished as EARLY_STOPPED, with ``reason``.

        For a study that ended before its trials did (its time budget ran out):
        Ray Tune stopped them without telling the searcher or this writer. Each
        becomes EARLY_STOPPED in Ax, entering the model as the spec's
        ``searcher.stopped_trials`` says, and in ``trials.parquet``.

        Returns:
            How many trials were finished here.
        """
        stopped = 0
        for trial in self._trials:
            if self._finished(trial) or not trial.config:
                continue
            if self._searcher is not None:
                self._searcher.on_trial_early_stopped(trial.trial_id)
                self._searcher.on_trial_complete(trial.trial_id, None)
            row = self._row(trial)
            row["status"] = TrialStatus.EARLY_STOPPED
            row["error"] = reason
            row["end_time"] = time.time()
            stopped += 1
        if stopped:
            if self._searcher is not None:
                self._searcher.wait_ready(timeout=120)
            self.write(with_ax=True, with_searcher=True)
        return stopped

    # ----------------------------------------------------------------- rows
    def finished_ids(self) -> set[str]:
        """Trial ids whose rows are already terminal."""
        return {tid for tid, r in self.rows.items() if is_finished(r)}

    def _finished(self, trial: Any) -> bool:
        # After a driver crash Tune may restart a trial that had already finished
        # (its state lagged ours); its row, and its result, stay as they were.
        row = self.rows.get(trial.trial_id)
        return row is not None and is_finished(row)

    def _warm_label(self, config: Mapping[str, Any]) -> str | None:
        """The ``SOURCE#TRIAL`` of the warm-start point ``config`` is, else ``None``."""
        for label, point in self._warm.items():
            if all(config.get(k) == v for k, v in point.items()):
                return label
        return None

    def _observation_row(self, n: int, point: WarmPoint) -> Row:
        """The ``WARM`` row of a ``data`` warm start's ``n``-th observation."""
        values = point.values or {}
        row: Row = {
            "trial_id": f"warm-{n}",
            "ax_index": None,
            "status": TrialStatus.WARM,
            "metric": values.get(self.metric),
            "warm_start": point.label,
        }
        row.update({f"{CONFIG_PREFIX}{k}": _scalar(v) for k, v in point.config.items()})
        row.update({f"{METRIC_PREFIX}{m}": values[m] for m in self._tracked if m in values})
        return row

    def _index_warm_rows(self) -> None:
        """Give the ``WARM`` rows their Ax indices once the searcher attached them."""
        if not self.warm_rows or self.warm_rows[-1]["ax_index"] is not None:
            return
        searcher = self._searcher
        indices = [] if searcher is None else searcher.warm_trial_indices()
        if searcher is None or len(indices) != len(self.warm_rows):
            return
        for row, index in zip(self.warm_rows, indices, strict=True):
            row["ax_index"] = index
            # Conditional spaces: the branch each observation is in (the space is
            # known now); its parameters of other branches stay null.
            config = {
                k[len(CONFIG_PREFIX) :]: v for k, v in row.items() if k.startswith(CONFIG_PREFIX)
            }
            for path, taken in searcher.branches(config).items():
                row[f"{BRANCH_PREFIX}{path}"] = taken

    def _row(self, trial: Any) -> Row:
        row = self.rows.get(trial.trial_id)
        new = row is None
        if row is None:
            row = {"trial_id": trial.trial_id, "status": TrialStatus.PENDING, "restarts": 0}
            self.rows[trial.trial_id] = row
        config = flatten(trial.config or {})
        for key, value in config.items():
            row[f"{CONFIG_PREFIX}{key}"] = _scalar(value)
        if self._searcher is not None and not any(k.startswith(BRANCH_PREFIX) for k in row):
            # Conditional spaces: the branch taken at each branch point (none if flat).
            for path, index in self._searcher.branches(trial.config or {}).items():
                row[f"{BRANCH_PREFIX}{path}"] = index
        if self._baseline:
            row["is_baseline"] = all(config.get(k) == v for k, v in self._baseline.items())
        if self._warm and new:  # a trial's config never changes: match it once
            row["warm_start"] = self._warm_label(config)
        if self._searcher is not None and row.get("ax_index") is None:
            row["ax_index"] = self._searcher.trial_index(trial.trial_id)
        row["restarts"] = max(int(row.get("restarts") or 0), int(trial.num_failures))
        return row

    def _missing(self, row: Row) -> str | None:
        """Why a finished row lacks a tracked metric (as the searcher says it), or ``None``."""
        for name in self._tracked:
            value = row.get(f"{METRIC_PREFIX}{name}")
            if value is None:
                return f"reported no {name!r}"
            if not math.isfinite(value):
                return f"{name} was {value!r}"
        return None

    def _update_from_result(self, row: Row, result: Mapping[str, Any]) -> None:
        if not result:
            return
        for name in self._tracked:
            if name in result:
                row[f"{METRIC_PREFIX}{name}"] = _number(result[name])
        value = result.get(self.metric)
        if value is not None and not isinstance(value, bool):
            value = _number(value)
            row["metric"] = value
            best = row.get("best_metric")
            if math.isfinite(value) and (
                best is None or (value < best if self.mode == "min" else value > best)
            ):
                row["best_metric"] = value
        row["iterations"] = int(result.get("training_iteration") or 0)
        row["wall_time_s"] = float(result.get("time_total_s") or 0.0)
        row["node"] = str(result.get("node") or result.get("node_ip") or "")
        if "device" in result:
            row["device"] = str(result["device"])
        if "gpu_ids" in result:
            row["gpu"] = _scalar(result["gpu_ids"])

    # ---------------------------------------------------------------- write
    def write(self, *, with_ax: bool = False, with_searcher: bool = False) -> None:
        """Rewrite ``trials.parquet`` (and the Ax and searcher JSON) atomically.

        The searcher state is written before ``trials.parquet``, so any trial that a
        row records is also known to the saved searcher. The state this writer saved
        before is kept as ``searcher_state.prev.json``, so a resume whose current
        state is damaged falls back to it.
        """
        searcher = self._searcher
        if (with_ax or with_searcher) and searcher is not None and searcher.ax_client is not None:
            state = searcher.get_state()
            if with_searcher:
                data = json.dumps(state).encode()
                if self._saved_state is not None:
                    self._storage.write_bytes(PREV_SEARCHER_FILE, self._saved_state)
                self._storage.write_bytes(SEARCHER_FILE, data)
                self._saved_state = data
            if with_ax:
                self._storage.write_bytes(AX_FILE, json.dumps(state["ax"]).encode())
        self._index_warm_rows()
        write_trials(self._storage, [*self.warm_rows, *self.rows.values()])


def _number(value: Any) -> float:
    """A reported value as a float; NaN for what is not a number."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, default=str)


def _error_text(trial: Any) -> str:
    try:
        error = trial.get_error()
    except Exception:  # the error file may be unreadable on remote storage
        error = None
    if error is None:
        return ""
    lines = [ln for ln in str(error).strip().splitlines() if ln.strip()]
    return lines[-1][:500] if lines else type(error).__name__
