"""The searcher's background thread: apply the reported events, then generate a batch.

Each cycle takes the events reported since the last one and the number of points
wanted (the searcher's ``demand``), applies the events to the Ax experiment, runs
one generation for all the points, and takes the Ax JSON snapshot that
``save()`` writes. Only this thread (or a caller holding :attr:`BatchWorker.ax_lock`
while the thread is stopped) touches the generator.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from distributed_bo.exceptions import GenerationError
from distributed_bo.search.book import TrialBook, apply_events
from distributed_bo.search.generator import GenerationStats
from distributed_bo.search.stopped import StoppedTrialGenerator

logger = logging.getLogger(__name__)

#: :class:`GenerationStats` methods that fit no model.
FREE_METHODS = frozenset({"sobol", "initial"})


class BatchWorker:
    """One background thread per searcher, started on demand.

    Args:
        gen: The generator.
        book: The searcher's book, guarded by ``cond``.
        cond: The searcher's condition lock.
        demand: Points to generate now; called with ``cond`` held.
    """

    def __init__(
        self,
        *,
        gen: StoppedTrialGenerator,
        book: TrialBook,
        cond: threading.Condition,
        demand: Callable[[], int],
    ) -> None:
        self.gen, self.book, self.cond, self._demand = gen, book, cond, demand
        #: Held while the generator is in use.
        self.ax_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.stopping = False
        self.busy = False
        #: The error that stopped the thread; raised to the caller of ``suggest()``.
        self.error: BaseException | None = None
        #: The Ax JSON snapshot of the last cycle.
        self.snapshot: dict[str, Any] | None = None
        self.stats: list[GenerationStats] = []
        #: Whether the last cycle drew Sobol or user-given points, which cost no
        #: model fit: refills then reach the queue at once (see SpareCount).
        self.refills_free = True
        #: Whether a spare would be a design or model point, not a Sobol point
        #: beyond the start (see :meth:`BatchGenerator.spares_drawable`).
        self.spares_drawable = True

    def wake(self) -> None:
        """Start the thread if it is not running, and notify it (caller holds ``cond``)."""
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="BatchBOSearcher", daemon=True)
            self.thread.start()
            _stop_at_exit(self)
        self.cond.notify_all()

    def idle(self) -> bool:
        """Nothing to apply or generate, and no cycle running (caller holds ``cond``)."""
        return not self.busy and not self.book.events and self._demand() == 0

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the thread is idle or failed; True unless timed out."""
        with self.cond:
            if self.book.events or self._demand() > 0:
                self.wake()
            return self.cond.wait_for(lambda: self.error is not None or self.idle(), timeout)

    def current_snapshot(self) -> dict[str, Any]:
        """The last cycle's snapshot, or a new one if no cycle ran yet."""
        with self.cond:
            snapshot = self.snapshot
        if snapshot is None:
            with self.ax_lock:
                snapshot = self.gen.to_json()
        return snapshot

    def close(self) -> None:
        """Stop the thread (waits up to 30 s for the cycle in progress)."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=30)

    def _run(self) -> None:
        book = self.book
        while True:
            with self.cond:
                while not self.stopping and not book.events and self._demand() == 0:
                    self.cond.wait()
                if self.stopping:
                    return
                events, book.events = book.events, []
                demand = self._demand()
                self.busy = True
            try:
                with self.ax_lock:
                    apply_events(self.gen, book, events, self.cond)
                    new = self.gen.generate(demand) if demand else []
                    params = {i: self.gen.parameters(i) for i in new}
                    snapshot = self.gen.to_json()
                    stats = self.gen.last_stats if new else None
                    drawable = self.gen.spares_drawable()
            except Exception as err:  # surfaced to the caller of suggest()
                logger.debug("BatchBOSearcher: batch generation failed", exc_info=True)
                with self.cond:
                    self.error = GenerationError(
                        f"searcher: batch generation failed ({type(err).__name__}: {err}); "
                        "rerun with --debug for the traceback"
                    )
                    self.busy = False
                    self.cond.notify_all()
                return
            with self.cond:
                book.ready.extend(new)
                book.cands.update(params)
                self.snapshot = snapshot
                self.spares_drawable = drawable
                if stats is not None:
                    self.stats.append(stats)
                    self.refills_free = stats.method in FREE_METHODS
                self.busy = False
                self.cond.notify_all()


def _stop_at_exit(worker: BatchWorker) -> None:
    """Stop the thread before the interpreter (and torch's pools) shut down."""
    ref = weakref.ref(worker)

    def stop() -> None:
        obj = ref()
        if obj is not None:
            obj.close()

    atexit.register(stop)
