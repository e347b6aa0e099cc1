"""User trainables that fail the way real trainings do (tests name them module:function)."""

import math

from ray import tune


def raises(config):
    tune.report({"value": 1.0})
    raise RuntimeError("user code broke at step 2")


def nan_metric(config):
    for step in range(50):
        tune.report({"value": math.nan if step >= 1 else 1.0, "step": step})


def cuda_oom(config):
    import torch

    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def no_metric(config):
    tune.report({"something_else": 1.0})


def mixed(config):
    """Fails for x0 < 0.5 (as a NaN loss would), succeeds otherwise."""
    if config["x0"] < 0.5:
        raise FloatingPointError("loss is NaN")
    tune.report({"value": (config["x0"] - 0.8) ** 2})
