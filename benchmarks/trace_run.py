"""Trace one run of ``optimizer_quality_usual.py``: where each evaluated point went.

A diagnostic, not a benchmark: it replays one (method, function, seed) run with
``optimizer_quality_usual.replay``, exactly as ``run_one`` does (same durations, same
noise draws, 4 workers in simulated time), and prints the noise-free regret of every
evaluation in completion order, then every fifth point. It was written to see why the
default ends behind random search on noisy Ackley 5-D (its points go to the corners of
the box; see ``results/optimizer_quality_usual_notes.md``). ``--center-first`` runs the default
with the centre of the box as its first point (``points_to_evaluate``), as Ax's
``Client`` starts.

Run: ``python benchmarks/trace_run.py ackley5_shifted_noisy --seed 1 [--center-first]``
(``--method`` takes a label of ``optimizer_quality_usual.LABELS``; default: the
default searcher).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch
from harness.methods import SearcherMethod, TimedMethod
from optimizer_quality_usual import (
    FUNCTIONS,
    LABELS,
    METHODS,
    PROBLEMS,
    WORKERS,
    base_name,
    noise_std,
    replay,
)


def main(argv: Sequence[str] | None = None) -> None:
    """Replay one run and print its regrets and points."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("function", choices=list(FUNCTIONS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", default=LABELS[0], choices=LABELS)
    parser.add_argument("--center-first", action="store_true", help="default + centre first")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    fn, seed = args.function, args.seed
    problem, budget = PROBLEMS[base_name(fn)], FUNCTIONS[fn]
    if args.center_first:
        label = f"{LABELS[0]} + centre first"
        method = TimedMethod(
            SearcherMethod(problem.space(), seed, budget, WORKERS, center_first=True)
        )
    else:
        label, method = args.method, TimedMethod(METHODS[args.method](problem, seed, budget))
    try:
        _, configs, _ = replay(method, fn, seed, budget)
    finally:
        method.close()
    regret = np.array([problem.value(c) for c in configs]) - problem.optimum
    names = sorted(configs[0])
    std, best = noise_std(fn), regret.min()
    print(f"{label} on {fn}, seed {seed}: noise std {std:.3g}, final regret {best:.4g}")
    print("noise-free regret of each evaluation, in completion order:")
    for i in range(0, len(regret), 10):
        print(f"  {i:3d}: " + " ".join(f"{r:6.2f}" for r in regret[i : i + 10]))
    print(f"every fifth point ({', '.join(names)}):")
    for i in range(0, len(configs), 5):
        print(f"  {i:3d}: " + " ".join(f"{float(configs[i][k]):7.2f}" for k in names))


if __name__ == "__main__":
    main()
