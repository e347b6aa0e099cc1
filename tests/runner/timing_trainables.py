"""Trainables that hang or never end (tests name them module:function)."""

import os
import time

from ray import tune


def hang(config):
    """Reports once, then hangs in native code (``time.sleep``) on its first attempt.

    With ``always: true`` in the config it hangs on every attempt.
    """
    trial_id = tune.get_context().get_trial_id()
    marker = os.path.join(config["marker_dir"], f"{trial_id}.hung")
    tune.report({"value": 1.0})
    if config.get("always") or not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(3600)
    tune.report({"value": config["x0"]})


def fast_or_endless(config):
    """Finishes at once for ``x0 < 0.5``; otherwise reports every 0.2 s forever."""
    if config["x0"] < 0.5:
        tune.report({"value": config["x0"]})
        return
    while True:
        tune.report({"value": 1.0 + config["x0"]})
        time.sleep(0.2)
