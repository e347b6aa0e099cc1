"""A fast two-objective trainable with a constrained cost (named as module:function)."""

from ray import tune


def trade_off(config):
    """Report ``f1 = x0^2`` and ``f2 = (x0 - 1)^2 + x1`` (both minimised), ``cost = x1``.

    Every ``x0`` in [0, 1] with ``x1 = 0`` is Pareto-optimal; ``cost <= 0.5`` cuts
    the other half of the space.
    """
    x0, x1 = config["x0"], config["x1"]
    tune.report({"f1": x0**2, "f2": (x0 - 1.0) ** 2 + x1, "cost": x1})
