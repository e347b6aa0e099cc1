"""Stopping a study on SIGINT (Ctrl-C) or SIGTERM, gracefully, through Ray Tune's own stop.

Ray Tune's ``tune.run`` installs a SIGINT handler (and a SIGUSR1 one) that sets an
event its loop checks: the loop ends, the experiment state is saved once more with
the running trials still RUNNING (so ``Tuner.restore`` continues them from their
checkpoints), and ``fit()`` returns normally, as if the study had ended. Nothing
tells the caller that it was interrupted, and a SIGTERM (``ray job stop``,
Kubernetes) reaches Ray's own handler instead, which aborts the process.

:class:`GracefulStop` takes both signals while the study runs. The first one is
recorded and handed to Tune's SIGUSR1 handler, the same graceful stop as Ctrl-C;
``TUNE_DISABLE_SIGINT_HANDLER`` keeps Tune from taking SIGINT itself. A second
signal, or one before Tune's loop started, raises ``KeyboardInterrupt`` at once.
Handlers can only be installed from the main thread: elsewhere (a notebook's worker
thread) nothing is installed and Tune behaves as it does without this module. On
exit every handler and the environment variable are restored.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

#: Signals that stop a study gracefully.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
#: Tune's switch for its own SIGINT handler (read each time ``tune.run`` starts).
TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"
#: Tune's logger, which prints ``Tuner.restore(...)`` as the way to continue.
_TUNE_LOGGER = "ray.tune.tune"

SIGNAL_TEXT = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGTERM: "SIGTERM"}


class Terminated(KeyboardInterrupt):
    """SIGTERM before :class:`GracefulStop` took over (start-up, checks, Ray starting)."""


#: The stop signal :func:`stop_start_up_on_signals`' handler saw first, if any.
_early: dict[str, int] = {}


def stop_start_up_on_signals() -> None:
    """Make SIGINT and SIGTERM stop start-up at the next safe point.

    For the CLI's main thread. The handler only records the signal: an exception
    raised from a handler can land anywhere, and Python drops (and prints) one raised
    inside a finaliser or a logging lock's release; a Ctrl-C during start-up was seen
    lost that way, the study then running to its end. :func:`raise_if_terminated`
    raises it where that is safe: before and after ``ray.init``, and when the graceful
    stop takes over. A second signal raises at once.
    """
    _early.clear()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_early_signal)


def _on_early_signal(signum: int, frame: FrameType | None) -> None:
    if "signum" in _early:
        raise_if_terminated()  # a second signal: stop at once, as the first asked
    _early["signum"] = signum


def raise_if_terminated() -> None:
    """Raise if a stop signal came during start-up.

    Raises:
        Terminated: After a SIGTERM.
        KeyboardInterrupt: After a SIGINT.
    """
    signum = _early.get("signum")
    if signum == signal.SIGTERM:
        raise Terminated
    if signum is not None:
        raise KeyboardInterrupt


class GracefulStop:
    """Context manager: SIGINT and SIGTERM stop Ray Tune's loop as Ctrl-C does.

    Attributes:
        signum: The first stop signal received, else ``None``.
        active: Whether the handlers were installed (only in the main thread).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.active = False
        self._saved: dict[int, Any] = {}
        self._usr1: Any = None
        self._env: str | None = None
        self._filter = _DropAfterStop(self)

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is not threading.main_thread():
            return self
        raise_if_terminated()
        self.active = True
        self._env = os.environ.get(TUNE_SIGINT_ENV)
        os.environ[TUNE_SIGINT_ENV] = "1"
        self._usr1 = signal.getsignal(signal.SIGUSR1)
        for signum in STOP_SIGNALS:
            self._saved[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)
        logging.getLogger(_TUNE_LOGGER).addFilter(self._filter)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        self.active = False
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        # Tune leaves its SIGUSR1 handler installed after the run.
        signal.signal(signal.SIGUSR1, self._usr1)
        if self._env is None:
            os.environ.pop(TUNE_SIGINT_ENV, None)
        else:
            os.environ[TUNE_SIGINT_ENV] = self._env
        logging.getLogger(_TUNE_LOGGER).removeFilter(self._filter)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # a second signal: stop at once
        self.signum = signum
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if tune_stop is self._usr1 or not callable(tune_stop):
            raise KeyboardInterrupt  # Tune's loop has not started: nothing to save yet
        tune_stop(signal.SIGUSR1, frame)  # sets the event Tune's loop checks


def signal_text(signum: int) -> str:
    """``SIGINT (Ctrl-C)``, ``SIGTERM``, or the signal's name."""
    try:
        return SIGNAL_TEXT.get(signal.Signals(signum), signal.Signals(signum).name)
    except ValueError:
        return f"signal {signum}"


class _DropAfterStop(logging.Filter):
    """Drops Tune's own lines once a stop signal came.

    They would say to continue with ``Tuner.restore(...)`` and list the unfinished
    trials; the caller says how to continue (``distributed-bo resume DIR``) instead.
    """

    def __init__(self, stop: GracefulStop) -> None:
        super().__init__()
        self._stop = stop

    def filter(self, record: logging.LogRecord) -> bool:
        return self._stop.signum is None
