"""The counting trainable: a checkpointing trainable whose marker files count its work.

Used by the fault-injection tests (``tests/runner``, as ``counting_trainables:counter``)
and by the soak test (``tests/soak/chaos.py``, as
``distributed_bo.testing.counting:counter``). Each trial runs ``steps`` epochs of
``step_s`` seconds, checkpoints after every epoch and writes, in ``marker_dir``:

- ``{trial_id}.start{step}.{ns}.{pid}``: a (re)start that resumed after ``step``
  (0 = from scratch), at ``time.time_ns()`` ``ns``, in process ``pid``; its content is
  JSON with the trial's ``x0``/``x1`` (so that a trial re-run under a new Tune trial
  id can be matched to its Ax trial), the Ray node id and the time in seconds;
- ``{trial_id}.e{step}.{ns}.{pid}``: epoch ``step`` was computed, once per
  computation (written after the epoch's work, before its result is reported);
- ``{trial_id}.step{step}``: epoch ``step``'s result and checkpoint were reported.

The objective is ``value = (x0 - 0.3)^2 + (x1 - 0.6)^2 + 1 / step`` (minimised); a
second, conflicting one, ``value2 = (x0 - 0.7)^2 + (x1 - 0.2)^2 + 1 / step``, is
reported too, for two-objective studies.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any


def _values(config: dict[str, Any], step: int) -> dict[str, float]:
    """Both objectives after ``step`` epochs."""
    x0, x1 = config["x0"], config["x1"]
    return {
        "value": float((x0 - 0.3) ** 2 + (x1 - 0.6) ** 2 + 1.0 / step),
        "value2": float((x0 - 0.7) ** 2 + (x1 - 0.2) ** 2 + 1.0 / step),
    }


def _mark_start(config: dict[str, Any], trial_id: str, start: int) -> None:
    """Write the start marker atomically (readers see all of its JSON or no file)."""
    import ray

    marker_dir = config["marker_dir"]
    base = f"{trial_id}.start{start}.{time.time_ns()}.{os.getpid()}"
    info = {
        "x0": config["x0"],
        "x1": config["x1"],
        "node": ray.get_runtime_context().get_node_id(),
        "t": time.time(),
    }
    tmp = os.path.join(marker_dir, f".{base}.tmp")  # hidden: no glob of trial_id.* sees it
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.replace(tmp, os.path.join(marker_dir, base))


def counter(config: dict[str, Any]) -> None:
    """``steps`` (default 8) epochs of ``step_s`` (default 0.4) seconds; see the module.

    Args:
        config: ``marker_dir`` (an existing folder), ``x0`` and ``x1`` (floats), and
            optionally ``steps`` and ``step_s``.
    """
    from ray import tune

    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "state.json")) as f:
            start = json.load(f)["step"]
    marker_dir = config["marker_dir"]
    trial_id = tune.get_context().get_trial_id()
    pid = os.getpid()
    _mark_start(config, trial_id, start)
    steps = config.get("steps", 8)
    if start >= steps:  # restored after the last step: report that step once more
        tune.report({**_values(config, steps), "step": steps, "pid": pid})
        return
    for step in range(start + 1, steps + 1):
        time.sleep(config.get("step_s", 0.4))
        open(os.path.join(marker_dir, f"{trial_id}.e{step}.{time.time_ns()}.{pid}"), "w").close()
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report(
                {**_values(config, step), "step": step, "pid": pid},
                checkpoint=tune.Checkpoint.from_directory(d),
            )
        open(os.path.join(marker_dir, f"{trial_id}.step{step}"), "w").close()
