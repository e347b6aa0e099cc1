"""How a failing trial is recorded: fail fast on errors in user code, retry crashes.

An exception raised by the trainable (a bug, a NaN check, CUDA out-of-memory) is
deterministic more often than not, so retrying it from the last checkpoint burns
budget. :func:`guard_trainable` turns such an exception into a final report with
``trial_error`` set: the trial ends at once, FAILED with a readable reason, and is
never used as data. A worker process or node that dies is different: Ray Tune
retries that trial (``retries`` in the spec) from its last checkpoint, on any node
with free resources.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any

from distributed_bo.types import TRIAL_ERROR_KEY as TRIAL_ERROR_KEY  # importable here, as before


def guard_trainable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a function trainable so that its exceptions end the trial as FAILED.

    Args:
        fn: A Ray Tune function trainable ``fn(config, **shared)``.

    Returns:
        A trainable with the same name (and ``study_setup`` hook, if any).
    """

    @functools.wraps(fn)
    def guarded(config: dict[str, Any], **shared: Any) -> Any:
        from ray import tune

        try:
            return fn(config, **shared)
        except Exception as err:
            reason = _reason(err)
            try:
                tune.report({TRIAL_ERROR_KEY: reason})
            except Exception:
                raise err from None  # the session is gone; let Tune see the error
            return None

    return guarded


def _reason(err: BaseException) -> str:
    lines = traceback.format_exception_only(type(err), err)
    text = " ".join(line.strip() for line in lines if line.strip())
    return text[:1000]
