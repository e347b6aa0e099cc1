"""A checkpointing trainable for fault-injection tests (named as module:function)."""

import json
import os
import tempfile
import time

from ray import tune


def counter(config):
    """Eight 0.4 s steps; checkpoints every step; logs where each start resumed from."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "state.json")) as f:
            start = json.load(f)["step"]
    marker_dir = config["marker_dir"]
    trial_id = tune.get_context().get_trial_id()
    open(os.path.join(marker_dir, f"{trial_id}.start{start}.{os.getpid()}"), "w").close()
    steps = config.get("steps", 8)
    if start >= steps:  # restored after the last step: report that step once more
        value = (config["x0"] - 0.3) ** 2 + (config["x1"] - 0.6) ** 2 + 1.0 / steps
        tune.report({"value": value, "step": steps, "pid": os.getpid()})
        return
    for step in range(start + 1, steps + 1):
        time.sleep(config.get("step_s", 0.4))
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            value = (config["x0"] - 0.3) ** 2 + (config["x1"] - 0.6) ** 2 + 1.0 / step
            tune.report(
                {"value": value, "step": step, "pid": os.getpid()},
                checkpoint=tune.Checkpoint.from_directory(d),
            )
        open(os.path.join(marker_dir, f"{trial_id}.step{step}"), "w").close()
