"""Asynchronous workers in simulated time: what every quality benchmark runs on."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from harness.methods import Method, Told

#: Regret floor for log plots; a float error can make regret ~1e-16 or slightly < 0.
REGRET_FLOOR = 1e-10


def exponential_durations(seed: int, index: int, budget: int) -> np.ndarray:
    """Evaluation durations in start order, Exponential(mean 1), shape ``(budget,)``.

    One sequence per (seed, function index), shared by every method compared.
    """
    return np.random.default_rng([seed, index, 7]).exponential(1.0, size=budget)


def simulate_async(
    method: Method,
    objective: Callable[[dict[str, Any]], float],
    budget: int,
    durations: Sequence[float],
    workers: int,
) -> tuple[list[float], list[dict[str, Any]]]:
    """Run ``budget`` evaluations on ``workers`` simulated asynchronous workers.

    Evaluation ``i`` (in start order) lasts ``durations[i]`` simulated seconds.
    Workers start busy; when one finishes, its result is told and a new point is
    asked for that worker. A method that answers ``None`` (it wants more data
    first, as Ax's default strategy does after its initial points) leaves the worker
    idle until the next completion, when every idle worker asks again.
    Generation time does not advance simulated time.

    Returns:
        Objective values and configs, both in completion order.
    """
    values, configs, _ = simulate_records(
        method,
        lambda index, config: float(durations[index]),
        lambda index, config: float(objective(config)),
        budget,
        workers,
    )
    return values, configs


def simulate_records(
    method: Method,
    duration: Callable[[int, dict[str, Any]], float],
    value: Callable[[int, dict[str, Any]], Told],
    budget: int,
    workers: int,
) -> tuple[list[Any], list[dict[str, Any]], list[int]]:
    """:func:`simulate_async` with each evaluation's duration chosen when it starts.

    ``duration(i, config)`` is called when evaluation ``i`` (in start order) starts,
    and ``value(i, config)`` when it completes; so a recorded training run can give
    both its own training time and its own result (``benchmarks/hpo_suite.py``).
    A ``value`` that returns a dict (metric -> value) tells the method that dict.

    Returns:
        Values told (floats or dicts), configs and start indices, all in completion
        order.
    """
    running: list[tuple[float, int, dict[str, Any]]] = []
    started = 0

    def fill(now: float) -> None:
        nonlocal started
        while len(running) < workers and started < budget:
            config = method.ask(f"t{started}")
            if config is None:
                return
            end = now + float(duration(started, config))
            heapq.heappush(running, (end, started, config))
            started += 1

    fill(0.0)
    values: list[Any] = []
    configs: list[dict[str, Any]] = []
    order: list[int] = []
    while running:
        now, index, config = heapq.heappop(running)
        told = value(index, config)
        result = dict(told) if isinstance(told, Mapping) else float(told)
        method.tell(f"t{index}", result)
        values.append(result)
        configs.append(config)
        order.append(index)
        fill(now)
        if not running and started < budget:
            raise RuntimeError("simulation: every worker idle and the method gives no point")
    return values, configs, order
