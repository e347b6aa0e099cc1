"""A checkpointing trainable for ``benchmarks/chaos.py`` (named as ``module:function``).

A copy of ``tests/runner/counting_trainables.py:counter`` whose marker files let the
benchmark count every epoch that was computed, not only the last one:

- ``{trial_id}.start{step}.{pid}.{ns}``: a (re)start that resumed after ``step`` (0 = from
  scratch); its content is JSON with the trial's ``x0``/``x1`` (so that a trial re-run
  under a new Tune trial id can be matched to its Ax trial), the Ray node id and the time.
- ``{trial_id}.e{step}.{pid}.{ns}``: epoch ``step`` was computed, once per computation
  (written after the epoch's work and before its result and checkpoint are reported).
"""

import json
import os
import tempfile
import time

import ray
from ray import tune


def counter(config):
    """``steps`` epochs of ``step_s`` seconds; checkpoints every epoch; writes markers."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "state.json")) as f:
            start = json.load(f)["step"]
    marker_dir = config["marker_dir"]
    trial_id = tune.get_context().get_trial_id()
    pid = os.getpid()
    node = ray.get_runtime_context().get_node_id()
    name = os.path.join(marker_dir, f"{trial_id}.start{start}.{pid}.{time.time_ns()}")
    with open(f"{name}.tmp", "w") as f:  # renamed when complete: readers see all or nothing
        json.dump({"x0": config["x0"], "x1": config["x1"], "node": node, "t": time.time()}, f)
    os.replace(f"{name}.tmp", name)
    steps = config.get("steps", 10)
    if start >= steps:  # restored after the last step: report that step once more
        value = (config["x0"] - 0.3) ** 2 + (config["x1"] - 0.6) ** 2 + 1.0 / steps
        tune.report({"value": value, "step": steps, "pid": pid})
        return
    for step in range(start + 1, steps + 1):
        time.sleep(config.get("step_s", 0.3))
        open(os.path.join(marker_dir, f"{trial_id}.e{step}.{pid}.{time.time_ns()}"), "w").close()
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            value = (config["x0"] - 0.3) ** 2 + (config["x1"] - 0.6) ** 2 + 1.0 / step
            tune.report(
                {"value": value, "step": step, "pid": pid},
                checkpoint=tune.Checkpoint.from_directory(d),
            )
