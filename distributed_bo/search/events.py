"""The searcher's events: what happened to a Tune trial, in the order it was reported.

Tune's callbacks (``suggest``, ``on_trial_complete``, a trial Tune resumes) append
events; the searcher's background thread applies them to the Ax experiment in one
batch before it generates. Events reported since the last Ax snapshot are saved
with it and replayed on restore, and the runner describes the trials that the
results file records as finished with the same classes.

On disk an event is ``{"event": <kind>, "trial_id": ..., <field>: ...}``. States
written before these classes existed hold lists (``["run", id]``,
``["complete", id, value]``, ``["fail", id, reason]``, ``["early_stop", id, value]``,
``["attach", id, parameters]``); :func:`event_from_json` reads both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from distributed_bo.exceptions import SearcherStateError
from distributed_bo.types import TRIAL_ERROR_KEY


class _Event:
    """``to_json``/``from_json`` shared by the event classes (fields after ``trial_id``)."""

    kind: ClassVar[str]
    trial_id: str

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-safe data, ``{"event": kind, "trial_id": ..., ...}``."""
        data: dict[str, Any] = {"event": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            data[f.name] = dict(value) if isinstance(value, Mapping) else value
        return data


@dataclass(frozen=True, kw_only=True)
class Run(_Event):
    """Tune started ``trial_id`` on its Ax trial (it was suggested or re-bound)."""

    kind: ClassVar[str] = "run"
    trial_id: str


@dataclass(frozen=True, kw_only=True)
class Complete(_Event):
    """``trial_id`` finished with a finite objective ``value``: it is data.

    ``others`` holds the other tracked metrics (further objectives, constrained
    metrics) by the names the trainable reports; empty for one objective.
    """

    kind: ClassVar[str] = "complete"
    trial_id: str
    value: float
    others: Mapping[str, float] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, kw_only=True)
class Fail(_Event):
    """``trial_id`` failed (``reason``, one line); Ax marks it FAILED, never data."""

    kind: ClassVar[str] = "fail"
    trial_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class EarlyStop(_Event):
    """A scheduler stopped ``trial_id`` early, at its last ``value`` (``None``: unknown).

    An unknown value is taken from the trial's learning curve when it has one.
    """

    kind: ClassVar[str] = "early_stop"
    trial_id: str
    value: float | None = None
    others: Mapping[str, float] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, kw_only=True)
class Attach(_Event):
    """Tune resumed ``trial_id``, unknown to the searcher, with Ax ``parameters``.

    The thread attaches a new Ax trial for it (status RUNNING).
    """

    kind: ClassVar[str] = "attach"
    trial_id: str
    parameters: Mapping[str, Any] = field(default_factory=dict, hash=False)


Event = Run | Complete | Fail | EarlyStop | Attach
#: A finished trial's event, as the results file records it.
Finished = Complete | Fail | EarlyStop

_BY_KIND: dict[str, type[Event]] = {c.kind: c for c in (Run, Complete, Fail, EarlyStop, Attach)}


def event_from_json(data: Any) -> Event:
    """Read an event written by ``to_json`` or the older list form.

    Args:
        data: ``{"event": kind, "trial_id": ..., ...}`` or ``[kind, trial_id, *fields]``.

    Raises:
        SearcherStateError: If ``data`` is neither.
    """
    try:
        if isinstance(data, Mapping):
            return _BY_KIND[data["event"]](**{k: v for k, v in data.items() if k != "event"})
        kind, *values = data
        cls = _BY_KIND[kind]
        return cls(**dict(zip([f.name for f in fields(cls)], values, strict=False)))
    except (KeyError, TypeError, ValueError) as err:
        raise SearcherStateError(
            f"searcher state: got the event {data!r}; the file is corrupt"
        ) from err


def finished_event(
    trial_id: str,
    result: Mapping[str, Any] | None,
    *,
    metric: str,
    others: tuple[str, ...] = (),
    error: bool = False,
    early_stopped: bool = False,
    last_value: float | None = None,
    last_others: Mapping[str, Any] | None = None,
) -> Finished:
    """How a finished trial enters the model, from Tune's ``on_trial_complete``.

    Args:
        trial_id: The Tune trial id.
        result: Its last result, or ``None`` (Tune ended a paused trial).
        metric: The (first) objective's key.
        others: The other tracked metrics' keys (further objectives, constrained
            metrics); each must be reported, finite, as ``metric`` must.
        error: Whether the trial raised.
        early_stopped: Whether a scheduler stopped it early.
        last_value: Its learning curve's last value, used when ``result`` is ``None``.
        last_others: Its last reported values of ``others``, likewise.

    Returns:
        :class:`Fail` on an error, a reported ``trial_error``, a missing or
        non-finite metric (unless stopped early without one); else
        :class:`EarlyStop` or :class:`Complete`.
    """
    value = last_value if result is None and not error else None
    source: Mapping[str, Any] = last_others or {}
    if result is not None:
        value, source = result.get(metric), result
    reason = None if result is None else result.get(TRIAL_ERROR_KEY)
    if error:
        return Fail(trial_id=trial_id, reason="the trial raised an error")
    if reason:
        return Fail(trial_id=trial_id, reason=str(reason))
    extra: dict[str, Any] = {m: source.get(m) for m in others}
    if early_stopped and (value is None or is_finite_number(value)):
        if value is None or not all(is_finite_number(v) for v in extra.values()):
            # Stopped before it reported every tracked metric: its outcome is unknown.
            return EarlyStop(trial_id=trial_id, value=None)
        done = {m: float(v) for m, v in extra.items()}
        return EarlyStop(trial_id=trial_id, value=float(value), others=done)
    for name, v in ((metric, value), *extra.items()):
        if v is None:
            return Fail(trial_id=trial_id, reason=f"the trial reported no {name!r} metric")
        if not is_finite_number(v):
            return Fail(trial_id=trial_id, reason=f"{name} was {v!r}")
    done = {m: float(v) for m, v in extra.items()}
    return Complete(trial_id=trial_id, value=float(value), others=done)  # type: ignore[arg-type]  # checked above


def is_finite_number(value: Any) -> bool:
    """True for anything ``float()`` takes to a finite number, bools excluded.

    Wider than :func:`distributed_bo.validation.is_real` on purpose: trainables
    report numpy and torch scalars.
    """
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
