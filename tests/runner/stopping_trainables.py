"""A fast learning-curve trainable for scheduler tests (named as module:function)."""

import json
import os
import tempfile
import time

from ray import tune


def curve(config):
    """``steps`` reports of ``10 (x0 - 0.3)^2 + 1 / step`` (minimised), checkpointing each.

    Poor ``x0`` are poor at every step, so a scheduler stops them early. The
    checkpoints let HyperBand pause and resume a trial where it left off.
    """
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "state.json")) as f:
            start = json.load(f)["step"]
    for step in range(start + 1, config.get("steps", 9) + 1):
        time.sleep(config.get("step_s", 0.02))
        value = 10.0 * (config["x0"] - 0.3) ** 2 + 1.0 / step
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report(
                {"value": value, "step": step}, checkpoint=tune.Checkpoint.from_directory(d)
            )
