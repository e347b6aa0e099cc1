"""Synthetic benchmark trainables built on :mod:`botorch.test_functions`.

Every function is a minimisation problem evaluated as BoTorch defines it (not
negated). A trainable reads ``x0 .. x{d-1}`` from ``config`` and reports ``value``
(the observation, plus Gaussian noise of ``noise_std``), ``regret`` (noise-free
value minus the known optimum, so >= 0 up to float error) and ``step`` (1-based)
through ``ray.tune.report``. Optional keys simulate training time: ``duration_s``
seconds (default 0) are spread evenly over ``steps`` reports (default 1); an
int ``seed`` makes the noise reproducible.

BoTorch is imported on the first evaluation and its test-function instances are
cached per process, so a call costs well under a millisecond after the first.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from distributed_bo.exceptions import SpecError
from distributed_bo.validation import fail, is_integer, is_real, join

if TYPE_CHECKING:
    from botorch.test_functions.synthetic import SyntheticTestFunction
    from ray.tune.search.sample import Domain

__all__ = [
    "SYNTHETIC_OPTIMA",
    "SYNTHETIC_PROBLEMS",
    "SyntheticProblem",
    "ackley5",
    "ackley10",
    "branin",
    "evaluate",
    "hartmann6",
    "levy",
    "rosenbrock",
    "synthetic_space",
]


@dataclass(frozen=True)
class SyntheticProblem:
    """Metadata of one synthetic benchmark.

    Attributes:
        name: Built-in trainable name, e.g. ``"hartmann6"``.
        botorch_class: Class name in :mod:`botorch.test_functions`.
        dim: Number of inputs ``d``; the config keys are ``x0 .. x{d-1}``.
        bounds: ``d`` pairs ``(lower, upper)``, one per input.
        optimum: Known global minimum of the noise-free function.

    """

    name: str
    botorch_class: str
    dim: int
    bounds: tuple[tuple[float, float], ...]
    optimum: float

    @property
    def keys(self) -> tuple[str, ...]:
        """Config keys ``("x0", ..., "x{d-1}")``."""
        return tuple(f"x{i}" for i in range(self.dim))


def _box(lo: float, hi: float, dim: int) -> tuple[tuple[float, float], ...]:
    return ((lo, hi),) * dim


_PROBLEMS = (
    # Branin's minimum is 5 / (4 pi); BoTorch rounds it to 0.397887.
    SyntheticProblem("branin", "Branin", 2, ((-5.0, 10.0), (0.0, 15.0)), 5.0 / (4.0 * math.pi)),
    # Hartmann6 minimum as given by Surjanovic & Bingham's Virtual Library.
    SyntheticProblem("hartmann6", "Hartmann", 6, _box(0.0, 1.0, 6), -3.32236801141551),
    SyntheticProblem("ackley5", "Ackley", 5, _box(-32.768, 32.768, 5), 0.0),
    SyntheticProblem("ackley10", "Ackley", 10, _box(-32.768, 32.768, 10), 0.0),
    SyntheticProblem("levy", "Levy", 4, _box(-10.0, 10.0, 4), 0.0),
    SyntheticProblem("rosenbrock", "Rosenbrock", 4, _box(-5.0, 10.0, 4), 0.0),
)

SYNTHETIC_PROBLEMS: Mapping[str, SyntheticProblem] = MappingProxyType(
    {p.name: p for p in _PROBLEMS}
)
"""Built-in name -> :class:`SyntheticProblem` (dim, bounds, optimum)."""

SYNTHETIC_OPTIMA: Mapping[str, float] = MappingProxyType({p.name: p.optimum for p in _PROBLEMS})
"""Built-in name -> known global minimum."""


def _problem(name: str) -> SyntheticProblem:
    problem = SYNTHETIC_PROBLEMS.get(name)
    if problem is None:
        fail("synthetic name", name, f"use one of {', '.join(SYNTHETIC_PROBLEMS)}")
    return problem


def synthetic_space(name: str) -> dict[str, Domain]:
    """Return the Ray Tune search space of a synthetic benchmark.

    Args:
        name: A key of :data:`SYNTHETIC_PROBLEMS`.

    Returns:
        ``{"x0": tune.uniform(lo0, hi0), ...}`` with one entry per input.

    Raises:
        SpecError: If ``name`` is not a synthetic benchmark.

    """
    from ray import tune

    problem = _problem(name)
    pairs = zip(problem.keys, problem.bounds, strict=True)
    return {key: tune.uniform(lo, hi) for key, (lo, hi) in pairs}


@functools.cache
def _test_function(name: str) -> SyntheticTestFunction:
    from botorch import test_functions

    problem = SYNTHETIC_PROBLEMS[name]
    cls = getattr(test_functions, problem.botorch_class)
    if problem.botorch_class == "Branin":
        return cls()
    return cls(dim=problem.dim)


def _inputs(problem: SyntheticProblem, config: Mapping[str, Any]) -> list[float]:
    xs = []
    for key, (lo, hi) in zip(problem.keys, problem.bounds, strict=True):
        if key not in config:
            raise SpecError(
                f"{problem.name}.{key}: missing from config; "
                f"use synthetic_space({problem.name!r}) as the search space"
            )
        value = config[key]
        if not (is_real(value) and lo <= value <= hi):
            fail(join(problem.name, key), value, f"pass a float in [{lo}, {hi}]")
        xs.append(float(value))
    return xs


def evaluate(name: str, *, x: list[float]) -> float:
    """Evaluate a synthetic benchmark without noise.

    Args:
        name: A key of :data:`SYNTHETIC_PROBLEMS`.
        x: ``d`` input values inside the problem's bounds.

    Returns:
        The function value (to be minimised).

    """
    import torch

    fn = _test_function(_problem(name).name)
    return float(fn.evaluate_true(torch.tensor([x], dtype=torch.float64)).item())


def _number(config: Mapping[str, Any], key: str, default: float, *, minimum: float) -> float:
    value = config.get(key, default)
    if not (is_real(value) and value >= minimum):
        fail(join("config", key), value, f"pass a number >= {minimum}")
    return float(value)


def _run(name: str, config: Mapping[str, Any]) -> None:
    import numpy as np
    from ray import tune

    problem = SYNTHETIC_PROBLEMS[name]
    x = _inputs(problem, config)
    duration_s = _number(config, "duration_s", 0.0, minimum=0.0)
    noise_std = _number(config, "noise_std", 0.0, minimum=0.0)
    steps = config.get("steps", 1)
    if not (is_integer(steps) and steps >= 1):
        fail("config.steps", steps, "pass an int >= 1")
    seed = config.get("seed")
    rng = np.random.default_rng(int(seed) if isinstance(seed, numbers.Integral) else None)

    true_value = evaluate(name, x=x)
    regret = true_value - problem.optimum
    for step in range(1, int(steps) + 1):
        if duration_s > 0:
            time.sleep(duration_s / steps)
        noise = float(rng.normal(0.0, noise_std)) if noise_std > 0 else 0.0
        tune.report({"value": true_value + noise, "regret": regret, "step": step})


def branin(config: dict[str, Any]) -> None:
    """Branin, 2-D on ``[-5, 10] x [0, 15]``; minimum 0.397887 at three points."""
    _run("branin", config)


def hartmann6(config: dict[str, Any]) -> None:
    """Hartmann, 6-D on ``[0, 1]^6``; minimum -3.32237."""
    _run("hartmann6", config)


def ackley5(config: dict[str, Any]) -> None:
    """Ackley, 5-D on ``[-32.768, 32.768]^5``; minimum 0 at the origin."""
    _run("ackley5", config)


def ackley10(config: dict[str, Any]) -> None:
    """Ackley, 10-D on ``[-32.768, 32.768]^10``; minimum 0 at the origin."""
    _run("ackley10", config)


def levy(config: dict[str, Any]) -> None:
    """Levy, 4-D on ``[-10, 10]^4``; minimum 0 at ``(1, 1, 1, 1)``."""
    _run("levy", config)


def rosenbrock(config: dict[str, Any]) -> None:
    """Rosenbrock, 4-D on ``[-5, 10]^4``; minimum 0 at ``(1, 1, 1, 1)``."""
    _run("rosenbrock", config)
