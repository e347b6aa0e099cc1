"""Which Tune trial holds which Ax trial: the searcher's bookkeeping and its event log.

:class:`TrialBook` is plain data, guarded by the searcher's condition lock. Tune's
callbacks change it and append :mod:`~distributed_bo.search.events`; the
searcher's background thread hands those events to :func:`apply_events`, the only
code that turns them into changes of the Ax experiment.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.search.events import (
    Attach,
    Complete,
    EarlyStop,
    Event,
    Fail,
    Run,
    event_from_json,
    is_finite_number,
)
from distributed_bo.search.stopped import StoppedTrialGenerator

#: A trial's learning curve: ``[time_attr value, metric]`` pairs in report order.
Points = list[list[float]]


@dataclass(kw_only=True, eq=False)
class TrialBook:
    """The slot queue's state.

    Attributes:
        ready: Ax indices of generated candidates not yet handed to Tune, in order.
        cands: Ax parameters of each ready candidate, by index.
        live: Tune trial id -> Ax index of each trial holding a slot (``None``
            until the thread attaches a resumed trial).
        ax_of: Tune trial id -> Ax index of every trial ever handed out.
        awaiting: Ax index -> parameters of trials live at save time that Tune has
            not reported again since a restore; they hold no slot until it does.
        events: Events reported since the thread's last cycle.
        curves: Tune trial id -> learning curve.
        stopped: Tune trial ids a scheduler stopped early.
    """

    ready: deque[int] = field(default_factory=deque)
    cands: dict[int, dict[str, Any]] = field(default_factory=dict)
    live: dict[str, int | None] = field(default_factory=dict)
    ax_of: dict[str, int | None] = field(default_factory=dict)
    awaiting: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    curves: dict[str, Points] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)

    def assigned(self) -> int:
        """Ax trials handed to Tune so far (each counts once, even if re-dispatched)."""
        bound = {i for i in self.ax_of.values() if i is not None}
        return len(bound) + sum(1 for i in self.ax_of.values() if i is None)

    def bind(self, trial_id: str, index: int) -> None:
        """Give Tune trial ``trial_id`` the Ax trial ``index``; it holds a slot."""
        self.ax_of[trial_id] = index
        self.live[trial_id] = index
        self.events.append(Run(trial_id=trial_id))

    def ensure_known(self, trial_id: str, params: Mapping[str, Any] | None) -> None:
        """Re-attach a trial that Tune knows and the book does not (after a restore).

        Args:
            trial_id: The Tune trial id.
            params: Its config as Ax parameters, or ``None`` if Tune gave none.
        """
        if trial_id in self.ax_of:
            index = self.ax_of[trial_id]
            if index is not None and index in self.awaiting:
                self.awaiting.pop(index)
                self.live[trial_id] = index
            return
        if params is None:
            return
        # A queued or awaiting candidate with these parameters is this trial.
        for index in list(self.ready):
            if self.cands.get(index) == params:
                self.ready.remove(index)
                self.cands.pop(index)
                self.bind(trial_id, index)
                return
        for index, awaiting in list(self.awaiting.items()):
            if awaiting == params:
                self.awaiting.pop(index)
                self.bind(trial_id, index)
                return
        self.ax_of[trial_id] = None  # resolved when the thread attaches it
        self.live[trial_id] = None
        self.events.append(Attach(trial_id=trial_id, parameters=dict(params)))

    def add_to_curve(self, trial_id: str, t: Any, value: Any) -> None:
        """Append ``(t, value)`` to the trial's learning curve; non-numbers are skipped."""
        if not (is_finite_number(t) and is_finite_number(value)):
            return
        curve = self.curves.setdefault(trial_id, [])
        if curve and float(t) <= curve[-1][0]:
            if float(t) < curve[-1][0]:
                return  # an older result replayed after a restart
            curve.pop()
        curve.append([float(t), float(value)])

    def to_json(self) -> dict[str, Any]:
        """The book as JSON-safe data (the keys of the saved searcher state)."""
        return {
            "ready": list(self.ready),
            "live": dict(self.live),
            "ax_of": dict(self.ax_of),
            "awaiting": {str(k): v for k, v in self.awaiting.items()},
            "curves": {k: [list(p) for p in v] for k, v in self.curves.items()},
            "stopped": sorted(self.stopped),
            "events": [e.to_json() for e in self.events],
        }


def saved_events(state: Mapping[str, Any]) -> list[Event]:
    """The events of a saved state, in either on-disk form."""
    return [event_from_json(e) for e in state.get("events", ())]


def apply_events(
    gen: StoppedTrialGenerator, book: TrialBook, events: Iterable[Event], lock: threading.Condition
) -> None:
    """Apply events to the Ax experiment, in order.

    Args:
        gen: The generator (the caller holds its lock).
        book: The book; read and changed under ``lock``.
        events: The events.
        lock: The searcher's condition lock.
    """
    for event in events:
        if isinstance(event, Attach):
            index = gen.attach(event.parameters)
            with lock:
                book.ax_of[event.trial_id] = index
                if event.trial_id in book.live:
                    book.live[event.trial_id] = index
            continue
        with lock:
            found = book.ax_of.get(event.trial_id)
            curve = list(book.curves.get(event.trial_id, []))
        if found is None:
            continue
        if isinstance(event, Run):
            gen.mark_running(found)
        elif isinstance(event, Fail):
            gen.fail(found, event.reason)
        elif isinstance(event, Complete):
            gen.record_curve(found, curve)
            gen.complete(found, event.value, event.others)
        elif isinstance(event, EarlyStop):
            gen.record_curve(found, curve)
            value = event.value
            if value is None and curve and not gen.outcomes.tracked[1:]:
                value = curve[-1][1]  # one tracked metric: its curve is the whole outcome
            gen.early_stop(found, value, event.others)
