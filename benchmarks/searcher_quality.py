"""Searcher quality: BatchBOSearcher vs random search and Optuna TPE, 4 async workers.

Measures, in one run so that every number shares the machine's noise:

1. Final simple regret (best noise-free value found minus the known minimum) on
   Branin (30 evaluations) and Hartmann6 (50 evaluations), median and IQR over
   seeds, for the searcher's default (qLogNEI, joint), random search, Optuna's
   default ``TPESampler`` and the acquisition/batch-strategy variants.
2. ``suggest()`` latency: wall clock of every call made during those runs.
3. Time to generate one batch of q = 4 and q = 8 points on Hartmann6 with 20 and
   50 observations, joint and sequential (``BatchGenerator.generate`` directly).

Asynchronous workers are simulated in simulated time: evaluation ``i`` (in start
order) lasts ``durations[i]``, drawn once per (seed, function) from an exponential
with mean 1 and shared by every method. Four workers start busy; when one finishes,
its result is reported and a new point is asked for that worker, until the budget
of evaluations has been started. Generation time does not advance simulated time.

Run: ``python benchmarks/searcher_quality.py`` (``--quick`` for a smoke test).
Results: ``benchmarks/results/searcher_quality.md`` (see that file's header for
the machine and load they were measured under).

Last result (2026-11-25, 2-core AMD EPYC, 10 seeds; median final regret):
default searcher 0.047 on Branin and 0.097 on Hartmann6, against 0.60 and 1.82
for random search and 1.13 and 0.75 for Optuna TPE. On 5 paired seeds, qUCB
reached 1.2e-3 on Branin, where the default reached 0.038, and tied with it on
Hartmann6 (0.193 against 0.197). ``suggest()`` took 0.028 ms at p50 and 1.2 ms
at p99.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import math
import multiprocessing
import os
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import fmt as _fmt
from _common import loadavg as _loadavg
from _common import machine as _machine
from _common import machine_line
from _common import pct as _q
from _common import seed_range as _seed_range
from _common import versions as _versions
from _common import wtl as _wtl

WORKERS = 4
#: Hand-written reading of a run, appended to the report if present in ``--out``.
NOTES_FILE = "searcher_quality_notes.md"
#: Regret floor for log plots; a float error can make regret ~1e-16 or slightly < 0.
REGRET_FLOOR = 1e-10


@dataclass(frozen=True)
class BenchConfig:
    """Everything one benchmark run depends on.

    Attributes:
        seeds: Seeds (0 .. seeds-1) for the default searcher, random search and Optuna.
        ablation_seeds: Seeds for the acquisition / batch-strategy variants.
        budgets: Function name -> number of evaluations.
        gen_observations: Observation counts for the batch-generation timing.
        gen_batch_sizes: Batch sizes ``q`` for the batch-generation timing.
        gen_repeats: Repeats per batch-generation cell (median reported).
        jobs: Worker processes for the quality runs (each runs one method on one
            function with one seed at a time).
        torch_threads: ``torch.set_num_threads`` in every process. 1 by default: with
            2 threads on a loaded 2-core machine, torch's OpenMP workers wait for each
            other and one BO batch took 10-15x longer than with 1 thread.
        out: Output folder.
        replot: Only rewrite the report from ``out``'s JSON; run nothing.
        timing_only: Re-measure only the batch-generation timing into ``out``'s JSON
            (keeping its quality runs) and rewrite the report.
    """

    seeds: int = 10
    ablation_seeds: int = 5
    budgets: dict[str, int] = field(default_factory=lambda: {"branin": 30, "hartmann6": 50})
    gen_observations: tuple[int, ...] = (20, 50)
    gen_batch_sizes: tuple[int, ...] = (4, 8)
    gen_repeats: int = 3
    jobs: int = 2
    torch_threads: int = 1
    out: str = "benchmarks/results"
    replot: bool = False
    timing_only: bool = False


# --------------------------------------------------------------------- methods
class Method:
    """Ask/tell interface every compared method implements."""

    def ask(self, trial_id: str) -> list[float]:
        """Return the next point (one value per input) for ``trial_id``."""
        raise NotImplementedError

    def tell(self, trial_id: str, value: float) -> None:
        """Report the objective ``value`` of ``trial_id`` (minimised)."""
        raise NotImplementedError

    def close(self) -> dict[str, Any]:
        """Release resources; return method-specific measurements."""
        return {}


class SearcherMethod(Method):
    """``BatchBOSearcher`` standalone, as Tune would drive it (``num_samples`` = budget)."""

    def __init__(
        self, name: str, seed: int, budget: int, acquisition: str, batch_strategy: str
    ) -> None:
        from distributed_bo import BatchBOSearcher
        from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS, synthetic_space

        self.keys = SYNTHETIC_PROBLEMS[name].keys
        self.searcher = BatchBOSearcher(
            space=synthetic_space(name),
            metric="value",
            mode="min",
            max_concurrent=WORKERS,
            seed=seed,
            acquisition=acquisition,
            batch_strategy=batch_strategy,
            # On demand, as when the committed results were recorded (before spares
            # existed); optimizer_quality.py measures the default against it.
            prefetch=0,
        )
        # What tune.Tuner passes: lets the searcher stop generating at the budget.
        self.searcher.set_search_properties(None, None, {}, num_samples=budget)
        self.latencies: list[float] = []
        self.waits: list[float] = []
        self.none_returns = 0

    def ask(self, trial_id: str) -> list[float]:
        waited = 0.0
        for _ in range(1000):
            start = time.perf_counter()
            config = self.searcher.suggest(trial_id)
            self.latencies.append(time.perf_counter() - start)
            if config is not None:
                self.waits.append(waited)
                return [config[k] for k in self.keys]
            self.none_returns += 1
            start = time.perf_counter()
            if not self.searcher.wait_ready(timeout=600):
                raise RuntimeError("searcher: wait_ready timed out after 600 s")
            waited += time.perf_counter() - start
        raise RuntimeError("searcher: suggest() kept returning None after wait_ready()")

    def tell(self, trial_id: str, value: float) -> None:
        self.searcher.on_trial_complete(trial_id, {"value": value})

    def close(self) -> dict[str, Any]:
        stats = [asdict(s) for s in self.searcher.generation_stats]
        self.searcher.close()
        return {
            "suggest_latency_s": self.latencies,
            "wait_s": self.waits,
            "none_returns": self.none_returns,
            "generation_stats": stats,
        }


class RandomMethod(Method):
    """Uniform sampling of the Ray Tune domains with a seeded numpy RNG."""

    def __init__(self, name: str, seed: int) -> None:
        from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS, synthetic_space

        self.keys = SYNTHETIC_PROBLEMS[name].keys
        self.space = synthetic_space(name)
        self.rng = np.random.default_rng([seed, 1])

    def ask(self, trial_id: str) -> list[float]:
        return [float(self.space[k].sample(random_state=self.rng)) for k in self.keys]

    def tell(self, trial_id: str, value: float) -> None:
        pass


class OptunaMethod(Method):
    """Optuna's default sampler (``TPESampler(seed=seed)``), ask/tell with 4 in flight."""

    def __init__(self, name: str, seed: int) -> None:
        import optuna

        from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS

        problem = SYNTHETIC_PROBLEMS[name]
        self.keys = problem.keys
        self.dists = {
            k: optuna.distributions.FloatDistribution(lo, hi)
            for k, (lo, hi) in zip(problem.keys, problem.bounds, strict=True)
        }
        self.study = optuna.create_study(
            direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
        self.trials: dict[str, Any] = {}

    def ask(self, trial_id: str) -> list[float]:
        trial = self.study.ask(self.dists)
        self.trials[trial_id] = trial
        return [trial.params[k] for k in self.keys]

    def tell(self, trial_id: str, value: float) -> None:
        self.study.tell(self.trials.pop(trial_id), value)


#: Method label -> (factory(name, seed, budget), is_ablation).
METHODS: dict[str, tuple[Callable[[str, int, int], Method], bool]] = {
    "BatchBO qLogNEI joint (default)": (
        lambda n, s, b: SearcherMethod(n, s, b, "qLogNEI", "joint"),
        False,
    ),
    "BatchBO qLogEI joint": (lambda n, s, b: SearcherMethod(n, s, b, "qLogEI", "joint"), True),
    "BatchBO qEI joint": (lambda n, s, b: SearcherMethod(n, s, b, "qEI", "joint"), True),
    "BatchBO qUCB joint": (lambda n, s, b: SearcherMethod(n, s, b, "qUCB", "joint"), True),
    "BatchBO qLogNEI sequential": (
        lambda n, s, b: SearcherMethod(n, s, b, "qLogNEI", "sequential"),
        True,
    ),
    "Random search": (lambda n, s, b: RandomMethod(n, s), False),
    "Optuna TPE (default)": (lambda n, s, b: OptunaMethod(n, s), False),
}
DEFAULT = "BatchBO qLogNEI joint (default)"
VARIANTS = [label for label in METHODS if label.startswith("BatchBO")]
RANDOM = "Random search"
OPTUNA = "Optuna TPE (default)"


# ------------------------------------------------------------------ simulation
def durations_for(seed: int, name: str, budget: int) -> np.ndarray:
    """Evaluation durations in start order; the same for every method."""
    from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS

    index = list(SYNTHETIC_PROBLEMS).index(name)
    return np.random.default_rng([seed, index, 0]).exponential(1.0, size=budget)


def simulate(method: Method, name: str, budget: int, durations: np.ndarray) -> list[float]:
    """Run ``budget`` evaluations on ``WORKERS`` simulated async workers.

    Returns:
        Objective values in completion order.
    """
    from distributed_bo.trainables.synthetic import evaluate

    running: list[tuple[float, int, list[float]]] = []
    started = 0

    def start(now: float) -> None:
        nonlocal started
        x = method.ask(f"t{started}")
        heapq.heappush(running, (now + float(durations[started]), started, x))
        started += 1

    for _ in range(min(WORKERS, budget)):
        start(0.0)
    values = []
    while running:
        now, index, x = heapq.heappop(running)
        value = evaluate(name, x=x)
        method.tell(f"t{index}", value)
        values.append(value)
        if started < budget:
            start(now)
    return values


def run_one(label: str, name: str, seed: int, budget: int) -> dict[str, Any]:
    """One method on one function with one seed; the raw record for the JSON file."""
    from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS

    factory, _ = METHODS[label]
    optimum = SYNTHETIC_PROBLEMS[name].optimum
    start = time.perf_counter()
    method = factory(name, seed, budget)
    try:
        values = simulate(method, name, budget, durations_for(seed, name, budget))
    finally:
        extra = method.close()
    best = np.minimum.accumulate(np.asarray(values)) - optimum
    return {
        "method": label,
        "function": name,
        "seed": seed,
        "budget": budget,
        "values": values,
        "regret_curve": best.tolist(),
        "final_regret": float(best[-1]),
        "wall_s": time.perf_counter() - start,
        **extra,
    }


# ------------------------------------------------------- batch generation time
def time_generation(config: BenchConfig) -> list[dict[str, Any]]:
    """Seconds for ``BatchGenerator.generate(q)`` on Hartmann6 with n observations.

    Each repeat builds a fresh generator, fills it with n Sobol points evaluated
    without noise, then times one BO batch with no pending points. Repeat ``r`` uses
    seed ``1000 + r`` for every cell, so cells differ only in n, q and strategy.
    """
    from distributed_bo.search.generator import BatchGenerator
    from distributed_bo.search.searcher import DEFAULT_ACQUISITION
    from distributed_bo.search.space import map_space
    from distributed_bo.trainables.synthetic import evaluate, synthetic_space

    space = map_space(synthetic_space("hartmann6"))
    keys = [p.ax_name for p in space.parameters]

    def filled(n_obs: int, strategy: str, seed: int) -> BatchGenerator:
        gen = BatchGenerator(
            space=space,
            metric="value",
            mode="min",
            acquisition=DEFAULT_ACQUISITION,
            batch_strategy=strategy,
            num_initial=max(5, 2 * space.dim),
            seed=seed,
        )
        for index in gen.generate(n_obs):
            params = gen.parameters(index)
            gen.complete(index, evaluate("hartmann6", x=[params[k] for k in keys]))
        return gen

    # Untimed warm-up: the first BO batch in a process pays for imports and caches.
    filled(min(config.gen_observations), "joint", 999).generate(1)
    rows = []
    for n_obs in config.gen_observations:
        for q in config.gen_batch_sizes:
            for strategy in ("joint", "sequential"):
                for rep in range(config.gen_repeats):
                    gen = filled(n_obs, strategy, 1000 + rep)
                    start = time.perf_counter()
                    new = gen.generate(q)
                    seconds = time.perf_counter() - start
                    stats = gen.last_stats
                    if len(new) != q or stats is None or stats.method != DEFAULT_ACQUISITION:
                        raise RuntimeError(f"generation timing: expected {q} BO points, got {new}")
                    rows.append(
                        {
                            "observations": n_obs,
                            "q": q,
                            "batch_strategy": strategy,
                            "repeat": rep,
                            "seconds": seconds,
                            "stats_seconds": stats.seconds,
                        }
                    )
                    print(
                        f"  gen n={n_obs} q={q} {strategy:10s} rep={rep}: {seconds:6.2f} s",
                        flush=True,
                    )
    return rows


# --------------------------------------------------------------------- report
def summarise(runs: list[dict[str, Any]], functions: Sequence[str]) -> dict[str, Any]:
    """Regret and latency summaries from the raw run records."""
    final: dict[str, dict[str, dict[int, float]]] = {}
    for r in runs:
        final.setdefault(r["method"], {}).setdefault(r["function"], {})[r["seed"]] = r[
            "final_regret"
        ]
    regret = {}
    for label in METHODS:
        if label not in final:
            continue
        regret[label] = {}
        for name in functions:
            per_seed = final[label].get(name, {})
            if not per_seed:
                continue
            vals = list(per_seed.values())
            regret[label][name] = {
                "n": len(vals),
                "median": _q(vals, 50),
                "q25": _q(vals, 25),
                "q75": _q(vals, 75),
                "vs_random": _wtl(per_seed, final.get(RANDOM, {}).get(name, {})),
                "vs_optuna": _wtl(per_seed, final.get(OPTUNA, {}).get(name, {})),
                "vs_default": _wtl(per_seed, final.get(DEFAULT, {}).get(name, {})),
            }
    latency = {}
    for label in METHODS:
        lat = [x for r in runs if r["method"] == label for x in r.get("suggest_latency_s", [])]
        if not lat:
            continue
        waits = [x for r in runs if r["method"] == label for x in r.get("wait_s", [])]
        latency[label] = {
            "calls": len(lat),
            "none_returns": sum(r.get("none_returns", 0) for r in runs if r["method"] == label),
            "p50_ms": _q(lat, 50) * 1e3,
            "p99_ms": _q(lat, 99) * 1e3,
            "max_ms": max(lat) * 1e3,
            "wait_p50_s": _q(waits, 50),
            "wait_p99_s": _q(waits, 99),
        }
    all_lat = [x for r in runs for x in r.get("suggest_latency_s", [])]
    if all_lat:
        latency["all searcher runs"] = {
            "calls": len(all_lat),
            "none_returns": sum(r.get("none_returns", 0) for r in runs),
            "p50_ms": _q(all_lat, 50) * 1e3,
            "p99_ms": _q(all_lat, 99) * 1e3,
            "max_ms": max(all_lat) * 1e3,
            "wait_p50_s": _q([x for r in runs for x in r.get("wait_s", [])], 50),
            "wait_p99_s": _q([x for r in runs for x in r.get("wait_s", [])], 99),
        }
    variants = {}
    for name in functions:
        seeds = paired_seeds(runs, name)
        for label in VARIANTS:
            vals = [final[label][name][s] for s in seeds]
            variants.setdefault(label, {})[name] = {
                "seeds": seeds,
                "median": _q(vals, 50) if vals else math.nan,
                "q25": _q(vals, 25) if vals else math.nan,
                "q75": _q(vals, 75) if vals else math.nan,
                "vs_default": _wtl(
                    {s: final[label][name][s] for s in seeds},
                    {s: final[DEFAULT][name][s] for s in seeds},
                ),
            }
    return {"regret": regret, "latency": latency, "variants": variants}


def paired_seeds(runs: list[dict[str, Any]], name: str) -> list[int]:
    """Seeds on which every searcher variant ran on function ``name``."""
    per = [
        {r["seed"] for r in runs if r["method"] == v and r["function"] == name} for v in VARIANTS
    ]
    return sorted(set.intersection(*per))


def variant_ranks(runs: list[dict[str, Any]], functions: Sequence[str]) -> dict[str, Any]:
    """Mean per-seed rank (1 = lowest final regret) of the searcher variants.

    Only seeds on which every searcher variant ran are used, so ranks are paired.
    """
    variants = VARIANTS
    final = {(r["method"], r["function"], r["seed"]): r["final_regret"] for r in runs}
    out: dict[str, Any] = {"variants": variants, "seeds": {}, "mean_rank": {}}
    for name in functions:
        seeds = paired_seeds(runs, name)
        out["seeds"][name] = seeds
        ranks: dict[str, list[float]] = {v: [] for v in variants}
        for seed in seeds:
            vals = [final[(v, name, seed)] for v in variants]
            for v, val in zip(variants, vals, strict=True):
                below = sum(x < val - 1e-12 for x in vals)
                equal = sum(abs(x - val) <= 1e-12 for x in vals)
                ranks[v].append(below + (equal + 1) / 2)
        out["mean_rank"][name] = {v: float(np.mean(r)) if r else math.nan for v, r in ranks.items()}
    return out


def summarise_generation(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median seconds per (observations, q, strategy) cell."""
    cells: dict[tuple[int, int, str], list[float]] = {}
    for r in rows:
        cells.setdefault((r["observations"], r["q"], r["batch_strategy"]), []).append(r["seconds"])
    return [
        {
            "observations": n,
            "q": q,
            "batch_strategy": s,
            "repeats": len(v),
            "median_s": _q(v, 50),
            "min_s": min(v),
            "max_s": max(v),
        }
        for (n, q, s), v in sorted(cells.items())
    ]


def in_run_generation(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median BO-batch seconds seen inside the quality runs, by method and batch size."""
    cells: dict[tuple[str, str, int], list[float]] = {}
    for r in runs:
        for s in r.get("generation_stats", []):
            if s["method"] in ("sobol", "initial"):
                continue
            cells.setdefault((r["method"], r["function"], s["num_points"]), []).append(s["seconds"])
    return [
        {
            "method": m,
            "function": f,
            "q": q,
            "batches": len(v),
            "median_s": _q(v, 50),
            "p90_s": _q(v, 90),
        }
        for (m, f, q), v in sorted(cells.items())
    ]


def plot(runs: list[dict[str, Any]], functions: Sequence[str], out: Path) -> list[Path]:
    """One PNG per function: log10 simple regret vs evaluations, median and IQR band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        DEFAULT: ("tab:blue", "-", 2.6),
        "BatchBO qLogEI joint": ("tab:cyan", "--", 1.5),
        "BatchBO qEI joint": ("tab:purple", "--", 1.5),
        "BatchBO qUCB joint": ("tab:olive", "--", 1.5),
        "BatchBO qLogNEI sequential": ("tab:green", ":", 2.0),
        RANDOM: ("tab:gray", "-", 2.0),
        OPTUNA: ("tab:orange", "-", 2.0),
    }
    panels = (
        ("against the baselines", [DEFAULT, RANDOM, OPTUNA]),
        ("searcher variants", VARIANTS),
    )
    paths = []
    for name in functions:
        budget = max(r["budget"] for r in runs if r["function"] == name)
        fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), dpi=110, sharey=True)
        paired = set(paired_seeds(runs, name))
        for ax, (title, labels) in zip(axes, panels, strict=True):
            if labels is VARIANTS:
                title = f"{title}, same seeds ({_seed_range(sorted(paired))})"
            for label in labels:
                curves = [
                    r["regret_curve"]
                    for r in runs
                    if r["method"] == label
                    and r["function"] == name
                    and (labels is not VARIANTS or r["seed"] in paired)
                ]
                if not curves:
                    continue
                y = np.log10(np.maximum(np.asarray(curves), REGRET_FLOOR))
                x = np.arange(1, y.shape[1] + 1)
                color, ls, lw = styles[label]
                med, lo, hi = (np.percentile(y, p, axis=0) for p in (50, 25, 75))
                ax.plot(x, med, color=color, ls=ls, lw=lw, label=f"{label} (n={len(curves)})")
                ax.fill_between(x, lo, hi, color=color, alpha=0.15)
            ax.set_xlim(1, budget)
            ax.set_xlabel("evaluations completed")
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="lower left")
        axes[0].set_ylabel("log10 simple regret (best so far)")
        fig.suptitle(
            f"{name}: median (line) and IQR (band) over seeds; {WORKERS} async workers, "
            f"{budget} evaluations"
        )
        fig.tight_layout()
        path = out / f"searcher_quality_{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def write_markdown(
    path: Path,
    *,
    header: dict[str, Any],
    summary: dict[str, Any],
    generation: list[dict[str, Any]],
    in_run: list[dict[str, Any]],
    ranks: dict[str, Any],
    functions: Sequence[str],
    budgets: dict[str, int],
    plots: Sequence[Path],
) -> None:
    """Write the human-readable results file.

    The reading of the numbers is written by hand after a run, in ``NOTES_FILE`` next
    to ``path``, and appended verbatim; delete or update it after a new run.
    """
    lines = ["# Searcher quality benchmark", ""]
    lines += [f"- Command: `{header['command']}`"]
    lines += [f"- Date (UTC): {header['date_utc']}; whole script {header['wall_min']:.1f} min"]
    m = header["machine"]
    lines += [machine_line(m)]
    timing = header.get("timing_run")
    lines += [
        f"- Threads: quality runs in {header['config']['jobs']} processes side by side, "
        f"torch.set_num_threads({header['worker_torch_threads']}) each; batch-generation "
        "timing alone in the main process, torch.set_num_threads("
        f"{(timing or header)['torch_threads']})"
    ]
    if timing:
        lines += [
            f"- Batch-generation timing re-measured by `{timing['command']}` at "
            f"{timing['date_utc']} UTC ({timing['wall_min']:.1f} min; load average "
            + "; ".join(f"{k} {v}" for k, v in timing["loadavg"].items())
            + "); it replaced the timing of the run above, the quality runs are unchanged"
        ]
    if header.get("loadavg"):
        lines += [
            "- Load average (1/5/15 min): "
            + "; ".join(f"{k} {v}" for k, v in header["loadavg"].items())
            + f" (the machine has {m['nproc']} cores; more than that means other processes "
            "competed for the CPU and the timings are inflated)"
        ]
    lines += ["- Versions: " + ", ".join(f"{k} {v}" for k, v in header["versions"].items())]
    lines += [
        f"- Seeds: {header['seeds']} for the default searcher, random search and Optuna; "
        f"{header['ablation_seeds']} for the other searcher variants (seeds 0..n-1, paired)",
        "- Budgets: " + ", ".join(f"{n} {budgets[n]} evaluations" for n in functions),
        f"- Simulation: {WORKERS} asynchronous workers in simulated time; durations "
        "Exponential(mean 1), one sequence per (seed, function) shared by all methods; "
        "noise-free objective; optimizer_options at their defaults.",
        "",
        "## Final simple regret",
        "",
        "Median [25th, 75th percentile] of (best value found - known minimum) after the "
        "full budget; lower is better. W-T-L: wins-ties-losses, paired by seed.",
        "",
    ]
    cols = ["Method"]
    for name in functions:
        cols += [f"{name} regret", f"{name} n", f"{name} vs random", f"{name} vs Optuna"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for label, per_fn in summary["regret"].items():
        row = [label]
        for name in functions:
            s = per_fn.get(name)
            if s is None:
                row += ["-"] * 4
                continue
            row += [
                f"{_fmt(s['median'])} [{_fmt(s['q25'])}, {_fmt(s['q75'])}]",
                str(s["n"]),
                s["vs_random"] if label != RANDOM else "-",
                s["vs_optuna"] if label != OPTUNA else "-",
            ]
        lines.append("| " + " | ".join(row) + " |")
    variants = summary["variants"]
    lines += [
        "",
        "Searcher variants on the same seeds (those every variant ran: "
        + ", ".join(f"{n} {_seed_range(variants[DEFAULT][n]['seeds'])}" for n in functions)
        + "); median [IQR] final regret and W-T-L against the default, paired by seed:",
        "",
    ]
    cols = ["Variant"]
    for name in functions:
        cols += [f"{name} regret", f"{name} vs default"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for label, per_fn in variants.items():
        row = [label]
        for name in functions:
            v = per_fn[name]
            row += [
                f"{_fmt(v['median'])} [{_fmt(v['q25'])}, {_fmt(v['q75'])}]",
                v["vs_default"] if label != DEFAULT else "-",
            ]
        lines.append("| " + " | ".join(row) + " |")
    lines += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    lines += [
        "",
        "## `suggest()` latency",
        "",
        "Wall clock of every `suggest()` call made during the quality runs (calls that "
        "returned `None` included). `wait` is the wall time a simulated worker spent in "
        "`wait_ready()` before its `suggest()` returned a config, i.e. how long a real "
        "worker would idle while the batch is generated.",
        "",
        "| Searcher | calls | None returns | p50 ms | p99 ms | max ms | wait p50 s | wait p99 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, s in summary["latency"].items():
        lines.append(
            f"| {label} | {s['calls']} | {s['none_returns']} | {s['p50_ms']:.3f} | "
            f"{s['p99_ms']:.3f} | {s['max_ms']:.2f} | {s['wait_p50_s']:.2f} | "
            f"{s['wait_p99_s']:.2f} |"
        )
    lines += [
        "",
        "## Batch generation time",
        "",
        "`BatchGenerator.generate(q)` on Hartmann6 (d = 6), default acquisition "
        "(qLogNEI), default optimizer options, no pending points, after n noise-free "
        "Sobol observations; a fresh generator per repeat. Seconds, median [min, max].",
        "",
        "| observations | q | joint s | sequential s |",
        "|---|---|---|---|",
    ]
    cells = {(g["observations"], g["q"], g["batch_strategy"]): g for g in generation}
    for n_obs, q in sorted({(g["observations"], g["q"]) for g in generation}):
        row = [str(n_obs), str(q)]
        for strategy in ("joint", "sequential"):
            g = cells.get((n_obs, q, strategy))
            row.append(
                "-"
                if g is None
                else f"{g['median_s']:.2f} [{g['min_s']:.2f}, {g['max_s']:.2f}] (n={g['repeats']})"
            )
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Inside the quality runs (from `generation_stats`, BO batches only, one torch "
        "thread per process, two processes side by side). With 4 asynchronous workers a "
        "batch is generated whenever one worker frees up, so BO batches have q = 1 and "
        "3 pending points:",
        "",
        "| Searcher | function | q | batches | median s | p90 s |",
        "|---|---|---|---|---|---|",
    ]
    for g in in_run:
        lines.append(
            f"| {g['method']} | {g['function']} | {g['q']} | {g['batches']} | "
            f"{g['median_s']:.2f} | {g['p90_s']:.2f} |"
        )
    lines += ["", "## Default acquisition", ""]
    variants = ranks["variants"]
    lines += [
        "Mean rank of final regret among the searcher variants, per seed (1 = best of "
        f"{len(variants)}; ties share ranks), on the seeds where every variant ran:",
        "",
        "| Variant | "
        + " | ".join(f"{n} (seeds {len(ranks['seeds'][n])})" for n in functions)
        + " | mean |",
        "|---|" + "---|" * (len(functions) + 1),
    ]
    overall = {}
    for v in variants:
        per = [ranks["mean_rank"][n][v] for n in functions]
        overall[v] = float(np.mean(per))
        lines.append(f"| {v} | " + " | ".join(f"{x:.2f}" for x in per) + f" | {overall[v]:.2f} |")
    low = min(overall.values())
    best = [v for v in variants if overall[v] <= low + 1e-9]
    lines += [
        "",
        f"Computed: lowest mean rank {low:.2f}: **{' and '.join(best)}**; the default "
        f"({DEFAULT}) has {overall[DEFAULT]:.2f}.",
        "",
    ]
    notes = path.with_name(NOTES_FILE)
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    else:
        lines += [f"Reading: _none yet; write it in `{NOTES_FILE}` next to this file._", ""]
    path.write_text("\n".join(lines))


# ----------------------------------------------------------------------- main
def _quiet() -> None:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    from ax.utils.common.logger import set_ax_logger_levels

    set_ax_logger_levels(logging.WARNING)
    for name in ("ax", "botorch", "distributed_bo", "optuna", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _init_worker(torch_threads: int) -> None:
    _quiet()
    import torch

    torch.set_num_threads(torch_threads)


def parse_args(argv: Sequence[str] | None = None) -> BenchConfig:
    """Command line -> :class:`BenchConfig`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds for the main methods")
    parser.add_argument(
        "--ablation-seeds",
        type=int,
        default=None,
        help="seeds for the acquisition/strategy variants (default: min(seeds, 5))",
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="processes for the quality runs (default 2)"
    )
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="torch.set_num_threads per process"
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test run")
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument(
        "--replot",
        action="store_true",
        help="only rewrite the Markdown and PNGs from --out's searcher_quality.json",
    )
    parser.add_argument(
        "--timing-only",
        action="store_true",
        help="re-measure only the batch-generation timing into --out's JSON",
    )
    args = parser.parse_args(argv)
    for flag in ("seeds", "jobs", "torch_threads"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag}: got {getattr(args, flag)}; use a positive integer")
    ablation = args.ablation_seeds if args.ablation_seeds is not None else min(args.seeds, 5)
    if args.quick:
        return BenchConfig(
            seeds=1,
            ablation_seeds=1,
            budgets={"branin": 12, "hartmann6": 20},
            gen_observations=(20,),
            gen_batch_sizes=(4,),
            gen_repeats=1,
            jobs=args.jobs,
            torch_threads=args.torch_threads,
            out=args.out,
            replot=args.replot,
            timing_only=args.timing_only,
        )
    return BenchConfig(
        seeds=args.seeds,
        ablation_seeds=max(0, min(ablation, args.seeds)),
        jobs=args.jobs,
        torch_threads=args.torch_threads,
        out=args.out,
        replot=args.replot,
        timing_only=args.timing_only,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run everything and write JSON, Markdown and PNGs to ``--out``."""
    config = parse_args(argv)
    if config.replot:
        out = Path(config.out)
        report(json.loads((out / "searcher_quality.json").read_text()), out)
        return
    _quiet()
    import torch

    torch.set_num_threads(config.torch_threads)
    if config.timing_only:
        retime(config)
        return
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    date = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    header: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date_utc": date,
        "machine": _machine(),
        "versions": _versions(),
        "torch_threads": torch.get_num_threads(),
        "seeds": config.seeds,
        "ablation_seeds": config.ablation_seeds,
        "config": asdict(config),
        "loadavg": {"start": _loadavg()},
    }
    functions = list(config.budgets)
    runs: list[dict[str, Any]] = []
    raw_path = out / "searcher_quality.json"

    def dump(generation_rows: list[dict[str, Any]]) -> None:
        header["wall_min"] = (time.perf_counter() - t0) / 60
        raw = {"header": header, "runs": runs, "generation_timing": generation_rows}
        raw_path.write_text(json.dumps(raw))

    # Seed-major order: every method sees the same stretch of machine noise.
    tasks = [
        (label, name, seed, config.budgets[name])
        for seed in range(config.seeds)
        for name in functions
        for label, (_, ablation) in METHODS.items()
        if not (ablation and seed >= config.ablation_seeds)
    ]
    worker_threads = config.torch_threads
    header["worker_torch_threads"] = worker_threads
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=config.jobs,
        mp_context=context,
        initializer=_init_worker,
        initargs=(worker_threads,),
    ) as pool:
        futures = [pool.submit(run_one, *task) for task in tasks]
        for done, future in enumerate(as_completed(futures), 1):
            record = future.result()
            runs.append(record)
            print(
                f"[{done}/{len(tasks)}] seed {record['seed']} {record['function']:9s} "
                f"{record['method']:32s} regret {record['final_regret']:.3e} "
                f"({record['wall_s']:.1f} s, total {(time.perf_counter() - t0) / 60:.1f} min)",
                flush=True,
            )
            dump([])
    order = {task[:3]: i for i, task in enumerate(tasks)}
    runs.sort(key=lambda r: order[(r["method"], r["function"], r["seed"])])
    header["loadavg"]["after quality runs"] = _loadavg()
    print("batch generation timing", flush=True)
    generation_rows = time_generation(config)
    header["loadavg"]["after generation timing"] = _loadavg()
    dump(generation_rows)
    report(json.loads(raw_path.read_text()), out)
    print(f"done in {header['wall_min']:.1f} min; results in {out}", flush=True)


def retime(config: BenchConfig) -> None:
    """Replace the batch-generation timing in ``out``'s JSON; keep its quality runs."""
    import torch

    out = Path(config.out)
    raw_path = out / "searcher_quality.json"
    raw = json.loads(raw_path.read_text())
    t0 = time.perf_counter()
    timing: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "torch_threads": torch.get_num_threads(),
        "loadavg": {"start": _loadavg()},
    }
    rows = time_generation(config)
    timing["loadavg"]["end"] = _loadavg()
    timing["wall_min"] = (time.perf_counter() - t0) / 60
    raw["generation_timing"] = rows
    raw["header"]["timing_run"] = timing
    raw_path.write_text(json.dumps(raw))
    report(raw, out)
    print(f"timing done in {timing['wall_min']:.1f} min; results in {out}", flush=True)


def report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown file and the PNGs from the raw JSON record."""
    header, runs = raw["header"], raw["runs"]
    budgets = header["config"]["budgets"]
    functions = list(budgets)
    plots = plot(runs, functions, out)
    write_markdown(
        out / "searcher_quality.md",
        header=header,
        summary=summarise(runs, functions),
        generation=summarise_generation(raw["generation_timing"]),
        in_run=in_run_generation(runs),
        ranks=variant_ranks(runs, functions),
        functions=functions,
        budgets=budgets,
        plots=plots,
    )


if __name__ == "__main__":
    main()
