"""One driver per experiment directory: ``driver.lock``, held with a heartbeat.

``run`` and ``resume`` take the lock before they write anything into
``STORAGE/NAME/`` and delete it when they end (success, error or Ctrl-C). The lock
is JSON: the holder's host, pid, start time (``since``) and last ``heartbeat``
(ISO 8601, UTC), which a daemon thread refreshes every :data:`HEARTBEAT_S` seconds.

A held lock is one of three kinds (:func:`judge`):

- **live**: its holder runs on this machine (same host name, boot and pid
  namespace) and its process is alive (pid and process start time match), or it
  runs elsewhere and its heartbeat is at most :data:`STALE_AFTER_S` seconds old.
  Nobody takes it over, not even ``resume --force``.
- **dead**: its holder ran on this machine and its process is gone (killed,
  crashed; a reused pid is told apart by its start time). A plain ``run`` or
  ``resume`` takes it over.
- **stale**: its holder runs elsewhere and its heartbeat is older than
  :data:`STALE_AFTER_S`. Only ``resume --force`` takes it over: whether that host's
  driver is gone cannot be checked from here. A lock from before a reboot counts
  as another machine's (another boot id): a host name alone may be shared.

Exclusive creation is atomic on local paths (``O_EXCL``) and on S3 (a conditional
``PutObject``); on other ``pyarrow.fs`` schemes (``gs://``, ...) the lock is best
effort and a warning says so (:mod:`distributed_bo.experiment.lock_stores`). Ages
of a foreign lock are read against this machine's clock: hosts' clocks must agree
to well within :data:`STALE_AFTER_S`.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Final, TextIO

from distributed_bo.exceptions import DistributedBOError, ExperimentLockedError
from distributed_bo.experiment.layout import LOCK_FILE
from distributed_bo.experiment.lock_owner import alive, machine, process_start
from distributed_bo.experiment.lock_stores import LockStore, open_store
from distributed_bo.experiment.storage import StorageDir

_log = logging.getLogger(__name__)

#: A lock whose heartbeat is older than this (seconds) and whose holder is on
#: another machine is stale: ``resume --force`` may take it over.
STALE_AFTER_S: Final = 60.0
#: How often (seconds) the holder refreshes its heartbeat.
HEARTBEAT_S: Final = 10.0
#: How long a lock that is still being written (empty) is read again before it
#: counts as unreadable (seconds).
_UNREADABLE_GRACE_S: Final = 1.0


class Verdict(enum.Enum):
    """What a held lock is (see the module docstring)."""

    LIVE = "live"
    DEAD = "dead"
    STALE = "stale"


@dataclass(frozen=True, kw_only=True)
class LockRecord:
    """The contents of ``driver.lock``.

    Attributes:
        host: The holder's host name.
        pid: The holder's process id (0 for an unreadable lock).
        since: When the holder took the lock (ISO 8601, UTC).
        heartbeat: The holder's last heartbeat (ISO 8601, UTC).
        token: Unique per acquisition.
        machine: The holder's boot id and pid namespace (``None`` where unknown).
        pid_start: The holder process's start time as the kernel counts it
            (``None`` where unknown); tells a reused pid from the holder.
    """

    host: str
    pid: int
    since: str
    heartbeat: str
    token: str
    machine: str | None = None
    pid_start: str | None = None

    @classmethod
    def mine(cls) -> LockRecord:
        """A new record for this process, timed now."""
        now = _iso(time.time())
        pid = os.getpid()
        return cls(
            host=socket.gethostname(),
            pid=pid,
            since=now,
            heartbeat=now,
            token=uuid.uuid4().hex,
            machine=machine(),
            pid_start=process_start(pid),
        )

    def encode(self) -> bytes:
        """The JSON bytes written to storage."""
        return (json.dumps(self.__dict__, sort_keys=True) + "\n").encode()

    @classmethod
    def decode(cls, data: bytes, *, mtime: float) -> LockRecord:
        """Parse a lock; an unreadable one becomes a record dated by ``mtime``."""
        try:
            raw = json.loads(data)
            return cls(
                host=str(raw["host"]),
                pid=int(raw["pid"]),
                since=str(raw["since"]),
                heartbeat=str(raw["heartbeat"]),
                token=str(raw.get("token", "")),
                machine=raw.get("machine"),
                pid_start=raw.get("pid_start"),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            when = _iso(mtime)
            return cls(host="unknown", pid=0, since=when, heartbeat=when, token="")

    def age_s(self, now: float) -> float:
        """Seconds since the last heartbeat (by this machine's clock)."""
        try:
            beat = datetime.datetime.fromisoformat(self.heartbeat.replace("Z", "+00:00"))
        except ValueError:
            return float("inf")
        return now - beat.timestamp()

    def describe(self, now: float) -> str:
        """``host H, pid P, since S, last heartbeat N s ago``, for messages."""
        if self.pid == 0:
            return f"an unreadable {LOCK_FILE}, last written {self.heartbeat}"
        return (
            f"host {self.host}, pid {self.pid}, since {self.since}, "
            f"last heartbeat {_ago(self.age_s(now))} ago"
        )


def judge(record: LockRecord, *, now: float) -> Verdict:
    """Whether a held lock is live, dead (this machine) or stale (heartbeat too old)."""
    if _on_this_machine(record):
        return Verdict.LIVE if alive(record.pid, record.pid_start) else Verdict.DEAD
    return Verdict.STALE if record.age_s(now) > STALE_AFTER_S else Verdict.LIVE


def _on_this_machine(record: LockRecord) -> bool:
    return record.pid > 0 and record.host == socket.gethostname() and record.machine == machine()


class DriverLock:
    """A held ``driver.lock``: its heartbeat thread, and :meth:`release`.

    Attributes:
        record: What this driver wrote.
        replaced: The dead or stale lock this one took over, if any.
        replaced_verdict: What that lock was: :attr:`Verdict.DEAD` or
            :attr:`Verdict.STALE`.
        lost: Set when another driver took the lock away (a heartbeat found it gone).
    """

    def __init__(
        self,
        *,
        store: LockStore,
        record: LockRecord,
        version: object,
        replaced: LockRecord | None = None,
        replaced_verdict: Verdict | None = None,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.record = record
        self.replaced = replaced
        self.replaced_verdict = replaced_verdict
        self.lost = threading.Event()
        self._store = store
        self._version = version
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(heartbeat_s,), name="driver-lock-heartbeat", daemon=True
        )
        self._thread.start()

    @property
    def exclusive(self) -> bool:
        """Whether the storage created the lock atomically (local paths and S3)."""
        return self._store.exclusive

    def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours (never raises)."""
        self._stop.set()
        self._thread.join()
        if self.lost.is_set():
            return
        try:
            with self._guard:
                self._store.delete(self._version)
        except (OSError, DistributedBOError) as err:
            _log.warning("could not delete %s (%s); the next driver takes it over", LOCK_FILE, err)

    def _beat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            fresh = replace(self.record, heartbeat=_iso(time.time()))
            try:
                with self._guard:
                    version = self._store.replace(fresh.encode(), self._version)
                    if version is not None:
                        self._version, self.record = version, fresh
            except (OSError, DistributedBOError) as err:  # storage blips: try again later
                _log.warning("could not refresh the heartbeat of %s: %s", LOCK_FILE, err)
                continue
            if version is None:
                self.lost.set()
                _log.warning("another driver took over %s; this one no longer holds it", LOCK_FILE)
                return


def acquire(
    exp: StorageDir, *, force: bool = False, heartbeat_s: float = HEARTBEAT_S
) -> DriverLock:
    """Take ``exp``'s ``driver.lock``, or say who holds it.

    Args:
        exp: The experiment directory (made if missing, locally; removed again on
            release if it is still empty).
        force: Also take over a stale lock (a foreign host's, heartbeat older than
            :data:`STALE_AFTER_S`). A live lock is never taken.
        heartbeat_s: Seconds between heartbeats.

    Returns:
        The held lock; call :meth:`DriverLock.release` when done.

    Raises:
        ExperimentLockedError: If another driver holds it (live, or stale without
            ``force``); the message names the holder and the fix.
        SpecError: If the object store cannot be reached.
    """
    store = open_store(exp)
    mine = LockRecord.mine()
    for _ in range(10):  # a lock released between our create and our read: again
        version = store.create(mine.encode())
        if version is not None:
            return DriverLock(store=store, record=mine, version=version, heartbeat_s=heartbeat_s)
        held = _read_held(store)
        if held is None:
            continue
        record, held_version = held
        verdict = judge(record, now=time.time())
        if verdict is Verdict.LIVE or (verdict is Verdict.STALE and not force):
            raise ExperimentLockedError(refusal(exp, record, verdict, force=force))
        version = store.take_over(mine.encode(), held_version)
        if version is not None:
            return DriverLock(
                store=store,
                record=mine,
                version=version,
                replaced=record,
                replaced_verdict=verdict,
                heartbeat_s=heartbeat_s,
            )
    raise ExperimentLockedError(
        f"experiment_dir: {exp.shown}: other drivers keep taking and releasing its "
        f"{LOCK_FILE}; make sure only one `run` or `resume` of it runs, then try again"
    )


@contextlib.contextmanager
def driver_lock(
    exp: StorageDir, *, force: bool = False, notes: TextIO | None = None
) -> Iterator[DriverLock]:
    """Hold ``exp``'s ``driver.lock`` for a ``with`` block (see :func:`acquire`).

    Args:
        exp: The experiment directory.
        force: As for :func:`acquire`.
        notes: Where a take-over of a dead or stale lock is reported; ``None`` for
            silence. A best-effort lock (storage without exclusive creation) is
            logged as a warning either way.
    """
    lock = acquire(exp, force=force)
    if not lock.exclusive:
        _log.warning(
            "%s: this storage has no exclusive create, so %s is best effort: start only one "
            "`run` or `resume` of this experiment at a time",
            exp.shown,
            LOCK_FILE,
        )
    try:
        if notes is not None and lock.replaced is not None:
            print(_take_over_note(lock.replaced, lock.replaced_verdict), file=notes, flush=True)
        yield lock
    finally:
        lock.release()


def refusal(exp: StorageDir, record: LockRecord, verdict: Verdict, *, force: bool) -> str:
    """The one-line message for a lock this driver may not take."""
    now = time.time()
    who = record.describe(now)
    fix = f"`distributed-bo resume {exp.shown} --force`"
    if verdict is Verdict.STALE:
        return (
            f"experiment_dir: {exp.shown} is locked by a driver whose heartbeat stopped "
            f"({who}); if that driver is gone, take over with {fix}"
        )
    if force:
        return (
            f"experiment_dir: {exp.shown} is in use by a live driver ({who}); --force takes "
            f"over only a stale lock (no heartbeat for {STALE_AFTER_S:.0f} s), so wait for "
            "that driver to end"
        )
    if _on_this_machine(record):
        return (
            f"experiment_dir: {exp.shown} is in use by another driver ({who}), still running "
            "on this machine; wait for it to end, or stop it: then `distributed-bo resume "
            f"{exp.shown}` takes over its lock"
        )
    return (
        f"experiment_dir: {exp.shown} is in use by another driver ({who}); wait for it to "
        f"end, or, if it is gone, take over with {fix} once its heartbeat is "
        f"{STALE_AFTER_S:.0f} s old"
    )


def _take_over_note(replaced: LockRecord, verdict: Verdict | None) -> str:
    why = "whose heartbeat stopped" if verdict is Verdict.STALE else "that ended"
    return f"note: took over the {LOCK_FILE} of a driver {why} ({replaced.describe(time.time())})"


def _read_held(store: LockStore) -> tuple[LockRecord, object] | None:
    """The held lock and its version; an empty one (being written) is read again."""
    deadline = time.monotonic() + _UNREADABLE_GRACE_S
    while True:
        stored = store.read()
        if stored is None:
            return None
        if stored.data.strip() or time.monotonic() > deadline:
            return LockRecord.decode(stored.data, mtime=stored.mtime), stored.version
        time.sleep(0.02)


def _ago(seconds: float) -> str:
    """``42 s``, ``12 min``, ``5 h`` or ``3 days``."""
    if seconds == float("inf"):
        return "an unknown time"
    seconds = max(seconds, 0.0)
    for unit, size, below in (("s", 1, 120), ("min", 60, 120), ("h", 3600, 48)):
        if seconds < size * below:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds // 86400)} days"


def _iso(seconds: float) -> str:
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
