"""Reconciling a restored searcher with what Tune and the results file know.

The searcher's saved state (:meth:`BatchBOSearcher.save`) is a consistent cut of its
own: the Ax snapshot of the thread's last cycle plus the events reported since.
Tune's snapshot and the results file are written at other moments, so on resume
the three can disagree:

* a trial the results file records as finished may still be running in the saved
  state: its :class:`~distributed_bo.search.events.Finished` event is applied;
* a trial live in the saved state that Tune never recorded will not come back: its
  Ax trial is queued again, to run under a new Tune trial id, so the study still
  runs exactly its budget;
* a trial Tune will resume that the saved state does not know is bound to its Ax
  trial by parameters before anything new is suggested.

:class:`ResumeInfo` carries what the runner knows; :func:`reconcile` applies it.
:class:`SaveRestore` is the searcher's save/restore API, which Tune calls.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.exceptions import SearcherStateError
from distributed_bo.search.book import TrialBook, apply_events, saved_events
from distributed_bo.search.events import Complete, EarlyStop, Fail, Finished, event_from_json
from distributed_bo.search.settings import (
    DEFAULT_MAX_OBSERVATIONS,
    DEFAULT_STOPPED_TRIALS,
    SearcherSettings,
)
from distributed_bo.search.snapshot import client_from_json
from distributed_bo.search.space import MappedSpace
from distributed_bo.search.stopped import StoppedTrialGenerator
from distributed_bo.search.worker import BatchWorker

#: Version of the saved state; 2 writes events as objects and no ``history``.
STATE_VERSION = 2
#: Versions :func:`check_state` accepts (1: events as lists, plus an unused history).
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True, kw_only=True, eq=False)
class ResumeInfo:
    """What Tune and the results file hold, for a searcher about to be restored.

    Attributes:
        tune_trials: Trial ids in Tune's last snapshot; ``None`` if unknown.
        finished: Trial id -> its event, for trials the results file records as
            finished.
        unfinished_configs: Trial id -> config of the trials Tune will resume.
    """

    tune_trials: frozenset[str] | None = None
    finished: Mapping[str, Finished] = field(default_factory=dict)
    unfinished_configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        tune_trials: set[str] | frozenset[str] | None,
        finished: Mapping[str, Finished | tuple[str, Any]] | None = None,
        unfinished_configs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ResumeInfo:
        """Build it from the runner's data; see :meth:`BatchBOSearcher.set_resume_info`.

        Args:
            tune_trials: Trial ids in Tune's last snapshot. Trials live in the saved
                searcher state but unknown to Tune (started after Tune's snapshot)
                are re-queued instead of waiting forever, so the study still runs
                exactly its budget.
            finished: Trial id -> :class:`Complete`, :class:`Fail` or :class:`EarlyStop`
                (or the older tuples ``("complete", value)``, ``("fail", reason)``,
                ``("early_stop", value)``) for trials the results file records as
                finished; applied where the saved searcher state lags behind it.
            unfinished_configs: Trial id -> config of the trials Tune will resume;
                one the saved state does not know is bound to its Ax trial (by
                parameters) before anything new is suggested.
        """
        events: dict[str, Finished] = {}
        for trial_id, item in (finished or {}).items():
            if isinstance(item, (Complete, Fail, EarlyStop)):
                events[trial_id] = dataclasses.replace(item, trial_id=trial_id)
            else:
                kind, value = item
                events[trial_id] = event_from_json([kind, trial_id, value])  # type: ignore[assignment]
        return cls(
            tune_trials=None if tune_trials is None else frozenset(tune_trials),
            finished=events,
            unfinished_configs={k: dict(v) for k, v in (unfinished_configs or {}).items()},
        )


def read_state(path: str) -> dict[str, Any]:
    """Read a state file written by :func:`write_state`.

    Raises:
        SearcherStateError: If the file is missing or not JSON.
    """
    try:
        with open(path) as f:
            state: dict[str, Any] = json.load(f)
            return state
    except FileNotFoundError as err:
        raise SearcherStateError(
            f"searcher state: {path} does not exist; resume from the "
            "experiment directory the study wrote"
        ) from err
    except (OSError, ValueError) as err:
        raise SearcherStateError(
            f"searcher state: {path} is not valid JSON ({err}); the file is corrupt"
        ) from err


def write_state(path: str, state: Mapping[str, Any]) -> None:
    """Write ``state`` as JSON, atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_state(state: Any, names: list[str] | None = None) -> None:
    """Check a saved state's version and, given ``names``, its parameters.

    Raises:
        SearcherStateError: On an unknown version or other parameter names.
    """
    if not isinstance(state, Mapping) or state.get("version") not in READABLE_VERSIONS:
        raise SearcherStateError(
            "searcher state: unknown format or version; it was not written by this "
            "version of distributed-bo"
        )
    if names is not None and names != state["parameters"]:
        raise SearcherStateError(
            f"searcher state: saved parameters {state['parameters']} differ from "
            f"this search space {names}; restore with the same space"
        )


def reconcile(
    state: Mapping[str, Any],
    info: ResumeInfo,
    *,
    gen: StoppedTrialGenerator,
    book: TrialBook,
    space: MappedSpace,
    lock: threading.Condition,
) -> None:
    """Fill an empty ``book`` from ``state`` and bring ``gen`` up to date.

    Trials that were live at save time wait in ``book.awaiting`` to be re-attached:
    when Tune reports one of them again it resumes its Ax trial; they hold no slot
    until then.

    Args:
        state: The saved state (checked by :func:`check_state`).
        info: What Tune and the results file know.
        gen: The generator, its client already decoded from ``state["ax"]``.
        book: A new, empty book.
        space: The mapped search space.
        lock: The searcher's condition lock.
    """
    trials = gen.experiment.trials
    book.ax_of = dict(state["ax_of"])
    book.curves = {k: [list(p) for p in v] for k, v in state.get("curves", {}).items()}
    book.stopped = set(state.get("stopped", ()))
    gen.curves = {}
    for trial_id, curve in book.curves.items():
        index = book.ax_of.get(trial_id)
        if index is not None and trials[index].status.is_terminal:
            gen.record_curve(index, curve)
    apply_events(gen, book, saved_events(state), lock)
    apply_events(gen, book, info.finished.values(), lock)
    book.ready = deque(i for i in state["ready"] if not trials[i].status.is_terminal)
    book.cands.update({i: gen.parameters(i) for i in book.ready})
    for trial_id, found in state["live"].items():
        index = book.ax_of.get(trial_id) if found is None else found
        if index is None or trial_id in info.finished:
            continue
        if info.tune_trials is not None and trial_id not in info.tune_trials:
            # Tune never recorded this trial, so it will not come back: run the
            # same Ax trial again under a new Tune trial id.
            book.ax_of.pop(trial_id, None)
            book.ready.appendleft(index)
            book.cands[index] = gen.parameters(index)
        else:
            book.awaiting[index] = gen.parameters(index)
    for key, params in state.get("awaiting", {}).items():
        book.awaiting[int(key)] = params
    # Every trial Tune will resume is live from the start: it holds a slot, and one
    # that Tune snapshotted before this state was saved with its binding is bound
    # now, by its parameters, before suggest() could hand the same candidate out.
    for trial_id, config in info.unfinished_configs.items():
        if trial_id not in info.finished:
            book.ensure_known(trial_id, space.to_ax(config))


def upgrade_pickled(state: dict[str, Any]) -> dict[str, Any]:
    """A searcher's pickled attributes (``tuner.pkl``) from before SearcherSettings.

    Older versions pickled each setting as its own attribute and the resume data as
    ``_tune_known``, ``_finished_on_resume`` and ``_tune_unfinished``; newer ones
    pickle ``_settings`` and ``_resume``. Attributes of either kind are returned in
    the newer form.
    """
    if "_settings" in state:
        return state
    old = dict(state)
    settings = SearcherSettings(
        acquisition=old.pop("_acquisition"),
        batch_strategy=old.pop("_batch_strategy"),
        batch_size=old.pop("_batch_size"),
        num_initial=old.pop("_num_initial"),
        parameter_constraints=tuple(old.pop("_constraints")),
        optimizer_options=old.pop("_optimizer_options"),
        stopped_trials=old.pop("_stopped_trials", DEFAULT_STOPPED_TRIALS),
        max_observations=old.pop("_max_observations", DEFAULT_MAX_OBSERVATIONS),
        # Searchers pickled before prefetch existed generated on demand only.
        prefetch=old.pop("_prefetch", 0),
        path="",
    )
    resume = ResumeInfo.build(
        tune_trials=old.pop("_tune_known", None),
        finished=old.pop("_finished_on_resume", None),
        unfinished_configs=old.pop("_tune_unfinished", None),
    )
    old.setdefault("_time_attr", "training_iteration")
    return {**old, "_settings": settings, "_resume": resume}


class SaveRestore:
    """The save/restore half of :class:`~distributed_bo.search.searcher.BatchBOSearcher`.

    The state file (:meth:`save`, :meth:`restore`) and its reconciliation with what
    Tune and the results file know (:meth:`set_resume_info`). Tune calls these; the
    searcher class supplies the attributes and the three methods declared here.
    """

    _cond: threading.Condition
    _book: TrialBook
    _worker: BatchWorker | None
    _space: MappedSpace | None
    _raw_space: dict[str, Any] | None
    _metric: str | None
    _mode: str | None
    _max_concurrent: int | None
    _budget: int | None
    _resume: ResumeInfo

    def _setup(self) -> None:
        raise NotImplementedError

    def _init_runtime(self) -> None:
        raise NotImplementedError

    def _start_worker(self, gen: StoppedTrialGenerator) -> BatchWorker:
        raise NotImplementedError

    def get_state(self) -> dict[str, Any]:
        """A JSON-safe, consistent copy of the whole searcher state."""
        if self._worker is None or self._space is None:
            raise SearcherStateError("searcher: nothing to save before the space is set")
        with self._cond:
            state = {
                "version": STATE_VERSION,
                "metric": self._metric,
                "mode": self._mode,
                "parameters": [p.ax_name for p in self._space.parameters],
                **self._book.to_json(),
                "max_concurrent": self._max_concurrent,
                "budget": self._budget,
            }
        state["ax"] = self._worker.current_snapshot()
        return state

    def save(self, checkpoint_path: str) -> None:
        """Write the state as JSON, atomically (temporary file, then rename)."""
        write_state(checkpoint_path, self.get_state())

    def restore(self, checkpoint_path: str) -> None:
        """Load state written by :meth:`save` (JSON only: nothing is unpickled).

        Raises:
            SearcherStateError: If the file is missing, corrupt, or from another space.
        """
        self.set_state(read_state(checkpoint_path))

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`get_state`, reconciled by :func:`reconcile`.

        Raises:
            SearcherStateError: If the state is of another version or space.
        """
        check_state(state)
        self._metric, self._mode = state["metric"], state["mode"]
        if self._max_concurrent is None:
            self._max_concurrent = state.get("max_concurrent")
        # The saved budget is the study's; Tune passes num_samples=1 on restore.
        self._budget = state.get("budget") or self._budget
        if self._raw_space is None:
            raise SearcherStateError(
                "searcher state: restore needs the search space; construct the "
                "searcher with space= (or let the Tuner set it) before restore()"
            )
        if self._worker is None:
            self._setup()
        old, space = self._worker, self._space
        if old is None or space is None:
            raise SearcherStateError("searcher state: the search space could not be set up")
        check_state(state, [p.ax_name for p in space.parameters])
        old.close()
        gen = old.gen
        gen.client = client_from_json(state["ax"])
        self._init_runtime()
        self._space = space
        worker = self._start_worker(gen)
        with worker.ax_lock:
            # Warm data lives in the saved experiment; one saved before the first
            # batch has none yet, and gets it now.
            gen.attach_warm()
            reconcile(state, self._resume, gen=gen, book=self._book, space=space, lock=self._cond)
            worker.snapshot = gen.to_json()

    def set_resume_info(
        self,
        *,
        tune_trials: set[str] | None,
        finished: Mapping[str, Finished | tuple[str, Any]] | None = None,
        unfinished_configs: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Tell a searcher about to be restored what Tune and the results file hold.

        The arguments are :meth:`ResumeInfo.build`'s; :func:`reconcile` applies them
        in :meth:`set_state`. ``finished`` takes events or the older tuples.
        """
        self._resume = ResumeInfo.build(
            tune_trials=tune_trials, finished=finished, unfinished_configs=unfinished_configs
        )
