"""A fix for Ray Tune's actor reuse: an actor lost during a trial's reset ends that trial.

With ``reuse_actors=True`` (on, so that each worker process imports, loads data and
compiles once), Tune hands a finished trial's actor to the next trial and sends it
a ``reset`` task. If that actor dies meanwhile (its node is removed, the process is
killed), Ray reports one failure through two callbacks
(``ray.air.execution._internal.actor_manager.RayActorManager._actor_task_failed``):

1. the actor's own: Tune's ``_actor_failed`` counts the failure and requeues the
   trial (PENDING, no actor), as ``FailureConfig(max_failures=...)`` promises;
2. the ``reset`` task's: Tune's ``_trial_task_failure`` sees the same failure again,
   now for a PENDING trial, and ends it as ERROR, with retries left.

The trial is then lost: FAILED in Ax, spending one of the study's trials. The chaos
benchmark of 2026-12-04 lost one trial of 24 this way when a worker node was
removed (Ray 2.60; ``benchmarks/results/chaos.md``). :func:`drop_stale_actor_failures`
makes Tune ignore the second report: a task failure for a trial that is PENDING and
holds no actor comes from an actor whose failure Tune has already handled. The
trial also stops waiting for that reset, so that the next free actor takes it.
Every other failure goes through Tune's code unchanged.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger(__name__)

_MARK = "_distributed_bo_drops_stale_failures"


def drop_stale_actor_failures() -> bool:
    """Patch Ray Tune's controller (idempotent; call before ``Tuner.fit``).

    Returns:
        Whether the fix is in place. ``False`` when this Ray's Tune no longer has
        the method or attributes it relies on; Tune then runs as it is.
    """
    try:
        from ray.tune.execution.tune_controller import TuneController
        from ray.tune.experiment import Trial
    except ImportError:  # pragma: no cover - Tune moved its controller
        return False
    original = getattr(TuneController, "_trial_task_failure", None)
    if original is None:
        logger.debug("Tune has no TuneController._trial_task_failure; fix not applied")
        return False
    if getattr(original, _MARK, False):
        return True

    @functools.wraps(original)
    def _trial_task_failure(self: Any, trial: Any, exception: Exception) -> None:
        trial_to_actor = getattr(self, "_trial_to_actor", None)
        # Requeued with no actor: this failure's actor was already handled.
        stale = (
            trial_to_actor is not None
            and trial.status == Trial.PENDING
            and trial not in trial_to_actor
        )
        if not stale:
            return original(self, trial, exception)
        logger.debug("Trial %s: failure of an actor already handled: %s", trial, exception)
        # Its reset will never answer: without this the trial waits for it forever
        # (``_maybe_reuse_cached_actor``) and the study hangs.
        getattr(self, "_resetting_trials", set()).discard(trial)
        return None

    setattr(_trial_task_failure, _MARK, True)
    TuneController._trial_task_failure = _trial_task_failure  # type: ignore[method-assign]
    return True
