"""Optimizer quality at the usual budgets, noise-free and noisy: the default against its peers.

``optimizer_quality.py`` compared searcher variants at budgets cut to 14-24
evaluations, where most points are the initial design. This script runs issue 13's
protocol on the same functions (its ``PROBLEMS``) at the budgets such studies use:
Branin 50, Hartmann6 100, Ackley 5-D, Levy and Rosenbrock 100, Ackley 10-D 150, the
mixed space 60, and Ackley 5-D and Levy with their optima moved off the centre 100.
Every function runs noise-free and noisy (``<name>_noisy``). The methods are the
default ``BatchBOSearcher`` and the five peers of ``optimizer_quality.py``, each at
its library defaults: random search, Ax's scrambled Sobol sequence, Optuna TPE,
Optuna ``GPSampler`` and Ax's ``Client`` alone.

* **Workers.** Four asynchronous workers in simulated time; evaluation ``i`` (in start
  order) lasts an Exponential(mean 1) duration drawn once per (seed, function) and
  shared by every method (``harness.simulate_records``). Generation takes no
  simulated time.
* **Noise.** A noisy function's evaluation ``i`` returns its noise-free value plus
  ``noise_std * e_i``, with ``e_i`` standard normal, drawn once per (seed, function,
  ``i``) and shared by every method. ``noise_std`` is 10 % of the median regret of a
  uniformly random point of the box (4,096 points, fixed seed), so the noise is
  large against the differences between good points and small against the
  function's range, as validation metrics are.
* **Regret.** The lowest noise-free value among the evaluated points minus the known
  minimum. The noise-free value of the *incumbent*, the point with the best
  observation so far (the one a user would pick), is kept as well and reported for
  the noisy functions.
* **Order.** Seed, then function, then method: every (function, seed) block runs all
  methods before the next, so a run cut by ``--deadline-min`` leaves paired seeds.

Run: ``python benchmarks/optimizer_quality_usual.py --jobs 2 --resume`` (split a
long run with ``--deadline-min``; ``--quick`` for a smoke test; ``--report-only``
to rewrite the report). Results: ``benchmarks/results/optimizer_quality_usual.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from harness.conditions import loadavg, open_record, parse_names, run_grid
from harness.markdown import (
    cost_table,
    fraction_table,
    header_lines,
    lead_table,
    peer_table,
    reading,
)
from harness.methods import TimedMethod
from harness.plots import median_band, pyplot, save
from harness.simulate import REGRET_FLOOR, exponential_durations, simulate_records
from harness.stats import final_by
from optimizer_quality import DEFAULT, FULL_BUDGETS, METHODS, PEERS, PROBLEMS, STYLES

NAME = "optimizer_quality_usual"
NOTES_FILE = f"{NAME}_notes.md"
WORKERS = 4
LABELS = [DEFAULT, *PEERS]
NOISY = "_noisy"
#: Noise standard deviation as a share of a random point's median regret.
NOISE_SHARE = 0.1
#: Every function noise-free, then noisy, at its usual budget.
FUNCTIONS: dict[str, int] = {
    **FULL_BUDGETS,
    **{f"{name}{NOISY}": budget for name, budget in FULL_BUDGETS.items()},
}
QUICK_FUNCTIONS = {"branin": 12, f"branin{NOISY}": 12}


def base_name(function: str) -> str:
    """The noise-free function under ``function``."""
    return function.removesuffix(NOISY)


@functools.cache
def noise_std(function: str) -> float:
    """:data:`NOISE_SHARE` of a random point's median regret (4,096 points); 0 if noise-free."""
    if not function.endswith(NOISY):
        return 0.0
    problem = PROBLEMS[base_name(function)]
    rng = np.random.default_rng(0)
    columns = {k: d.sample(size=4096, random_state=rng) for k, d in problem.space().items()}
    points = [{k: v[i] for k, v in columns.items()} for i in range(4096)]
    regrets = [problem.value(p) - problem.optimum for p in points]
    return NOISE_SHARE * float(np.median(regrets))


def noise(seed: int, function: str, budget: int) -> np.ndarray:
    """Standard normal draws, one per evaluation in start order; shared by every method."""
    index = list(FUNCTIONS).index(function)
    return np.random.default_rng([seed, index, 29]).standard_normal(budget)


def durations(seed: int, function: str, budget: int) -> np.ndarray:
    """Evaluation durations in start order (the noise-free function's, as in optimizer_quality)."""
    return exponential_durations(seed, list(PROBLEMS).index(base_name(function)), budget)


@dataclass(frozen=True)
class BenchConfig:
    """Everything a run depends on.

    Attributes:
        seeds: Seeds 0 .. seeds-1, paired across methods.
        budgets: Function -> evaluations per run.
        methods: Method labels (a subset of :data:`LABELS`).
        jobs: Worker processes (each runs one method on one function and seed).
        torch_threads: ``torch.set_num_threads`` in every process.
        deadline_min: Start no new run after this many minutes (runs in flight finish).
        out: Output folder.
        resume: Keep the runs already in the JSON and run only the missing ones.
    """

    seeds: int
    budgets: dict[str, int]
    methods: tuple[str, ...]
    jobs: int = 2
    torch_threads: int = 1
    deadline_min: float | None = None
    out: str = "benchmarks/results"
    resume: bool = False


def replay(
    method: TimedMethod, function: str, seed: int, budget: int
) -> tuple[list[Any], list[dict[str, Any]], list[int]]:
    """``method`` through one run: this (seed, function)'s durations and noise draws.

    Returns:
        ``simulate_records``' observed values and configurations (completion order)
        and start order. The method is not closed.
    """
    problem = PROBLEMS[base_name(function)]
    std = noise_std(function)
    eps = noise(seed, function, budget)
    times = durations(seed, function, budget)
    return simulate_records(
        method,
        lambda i, config: float(times[i]),
        lambda i, config: problem.value(config) + std * float(eps[i]),
        budget,
        WORKERS,
    )


def run_one(label: str, function: str, seed: int, budget: int) -> dict[str, Any]:
    """One method on one function with one seed; the raw record for the JSON file."""
    problem = PROBLEMS[base_name(function)]
    std = noise_std(function)
    start = time.perf_counter()
    method = TimedMethod(METHODS[label](problem, seed, budget))
    try:
        values, configs, order = replay(method, function, seed, budget)
    finally:
        extra = method.close()
    true = np.array([problem.value(c) for c in configs]) - problem.optimum
    incumbent = true[[int(np.argmin(values[: n + 1])) for n in range(len(values))]]
    return {
        "method": label,
        "function": function,
        "seed": seed,
        "budget": budget,
        "noise_std": std,
        "values": values,
        "true_regret": true.tolist(),
        "start_index": order,
        "regret_curve": np.minimum.accumulate(true).tolist(),
        "incumbent_regret_curve": incumbent.tolist(),
        "final_regret": float(np.min(true)),
        "final_incumbent_regret": float(incumbent[-1]),
        "wall_s": time.perf_counter() - start,
        **extra,
    }


def plan(config: BenchConfig, done: set[tuple[str, str, int]]) -> list[tuple[Any, ...]]:
    """The runs to do, in order: seed, then function, then method."""
    return [
        (label, function, seed, budget)
        for seed in range(config.seeds)
        for function, budget in config.budgets.items()
        for label in config.methods
        if (label, function, seed) not in done
    ]


# --------------------------------------------------------------------- report
def coverage(runs: list[dict[str, Any]], seeds: int) -> tuple[bool, str]:
    """Whether every (function, method) cell has ``seeds`` seeds, and a line saying how many do."""
    counts = [
        sum(1 for r in runs if (r["method"], r["function"]) == (m, f))
        for m in LABELS
        for f in FUNCTIONS
    ]
    line = (
        f"{sum(counts)} of {len(counts) * seeds} runs ({len(FUNCTIONS)} functions x "
        f"{len(LABELS)} methods x {seeds} seeds); seeds per (function, method) cell: "
        f"min {min(counts)}, max {max(counts)}"
    )
    return min(counts) >= seeds, line


def plot(runs: list[dict[str, Any]], functions: Sequence[str], title: str, path: Path) -> Path:
    """Median and IQR of regret against evaluations, one panel per function."""
    plt = pyplot()
    cols = min(3, len(functions))
    rows = math.ceil(len(functions) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax, function in zip(axes.flat, functions, strict=False):
        for label in LABELS:
            curves = [
                r["regret_curve"]
                for r in runs
                if r["method"] == label and r["function"] == function
            ]
            if not curves:
                continue
            color, ls, lw = STYLES[label]
            y = np.maximum(np.asarray(curves), REGRET_FLOOR)
            median_band(ax, y, label=f"{label} (n={len(curves)})", color=color, ls=ls, lw=lw)
        ax.set_yscale("log")
        ax.set_title(function, fontsize=9)
        ax.set_xlabel("evaluations completed", fontsize=8)
        ax.set_ylabel("simple regret (noise-free)", fontsize=8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(functions) :]:
        ax.axis("off")
    fig.suptitle(f"{title}: median (line) and IQR (band), {WORKERS} async workers", fontsize=11)
    return save(fig, path, dpi=90)


def noise_section(runs: list[dict[str, Any]], noisy: Sequence[str]) -> list[str]:
    """The noise levels, and the incumbent's regret on the noisy functions."""
    if not noisy:
        return []
    levels = ", ".join(f"{f} {noise_std(f):.3g}" for f in noisy)
    incumbent = final_by(runs, value="final_incumbent_regret")
    return [
        "",
        "### The incumbent on the noisy functions",
        "",
        f"Noise standard deviations: {levels}. The point a user would pick is the one "
        "with the best *observation*; its noise-free regret after the whole budget, "
        "median [IQR]; bold: lowest median:",
        "",
        *lead_table(incumbent, LABELS, noisy, row_title="Function"),
        "",
        *peer_table(incumbent, DEFAULT, PEERS, noisy),
    ]


def section(
    runs: list[dict[str, Any]], functions: Sequence[str], title: str, png: str
) -> list[str]:
    """Final regret, regret at 25/50/100 %, the default against each peer, and a plot."""
    final = final_by(runs)
    return [
        "",
        f"## {title}",
        "",
        "### Final regret",
        "",
        "Median [25th, 75th percentile] over seeds of the lowest noise-free value found "
        "minus the known minimum; lower is better; bold: lowest median.",
        "",
        *lead_table(final, LABELS, functions, row_title="Function"),
        "",
        "### Regret after 25 %, 50 % and 100 % of the budget (medians)",
        "",
        *fraction_table(runs, LABELS, functions, key="function", row_title="Function"),
        "",
        "### The default against each peer (W-T-L)",
        "",
        "Paired by seed on final regret: wins-ties-losses and a two-sided exact sign "
        "test per function; **win**/**loss**: p < 0.05; the last column sums the functions.",
        "",
        *peer_table(final, DEFAULT, PEERS, functions),
        "",
        f"![{Path(png).stem}]({png})",
    ]


def write_report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown report and its two PNGs from the raw record."""
    header, runs = raw["header"], raw["runs"]
    cfg = header["config"]
    complete, count = coverage(runs, max(cfg["seeds"], 10))
    ran = [f for f in FUNCTIONS if any(r["function"] == f for r in runs)]
    plain = [f for f in ran if not f.endswith(NOISY)]
    noisy = [f for f in ran if f.endswith(NOISY)]
    status = (
        "Complete: every function and method has its seeds."
        if complete
        else "**Partial**: not every (function, method) cell has its seeds yet, so these "
        "numbers are not the benchmark's result. Continue with `--resume`."
    )
    lines = header_lines(
        "Optimizer quality at the usual budgets, noise-free and noisy",
        header,
        setup=[
            f"- Processes: {cfg['jobs']}, torch.set_num_threads({cfg['torch_threads']})",
            *[f"- Earlier invocation (continued with `--resume`): {e}" for e in header["earlier"]],
        ],
        after=[
            "- Budgets: " + ", ".join(f"{f} {b}" for f, b in FULL_BUDGETS.items()),
        ],
    )
    lines += ["", "## Status", "", status, "", f"- {count}", "", "## Protocol", ""]
    for paragraph in __doc__.split("\n\n")[1:3]:
        lines += [paragraph.replace("``", "`"), ""]
    lines += ["Functions: " + "; ".join(PROBLEMS[f].description for f in plain) + "."]
    for functions, title, png in (
        (plain, "Noise-free", f"{NAME}.png"),
        (noisy, "Noisy", f"{NAME}_noisy.png"),
    ):
        if functions:
            picked = [r for r in runs if r["function"] in functions]
            plot(picked, functions, f"{title} functions", out / png)
            lines += section(picked, functions, f"{title} functions", png)
    lines += noise_section(runs, noisy)
    lines += [
        "",
        "## Real seconds per proposal",
        "",
        "Per run: real seconds in the method's `ask` and `tell` together, divided by the "
        "configurations it gave; median [IQR] over runs, all methods in the same "
        "invocations on the same machine (see the load above).",
        "",
        *cost_table(runs, LABELS),
    ]
    lines += reading(out, NOTES_FILE)
    (out / f"{NAME}.md").write_text("\n".join(lines))


# ------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchConfig, bool]:
    """Command line -> (:class:`BenchConfig`, report_only)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--functions", default=",".join(FUNCTIONS), help="comma-separated subset")
    parser.add_argument(
        "--methods",
        default=";".join(LABELS),
        help="semicolon-separated subset (labels hold commas)",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--deadline-min", type=float, default=None, help="no new run after")
    parser.add_argument("--quick", action="store_true", help="smoke test (Branin, 2 seeds)")
    parser.add_argument("--out", default=None, help="default: benchmarks/results")
    parser.add_argument("--resume", action="store_true", help="run only runs missing in --out")
    parser.add_argument("--report-only", action="store_true", help="rewrite report from JSON")
    args = parser.parse_args(argv)
    if args.quick:
        budgets = dict(QUICK_FUNCTIONS)
    else:
        names = parse_names(args.functions, FUNCTIONS, "functions", parser)
        budgets = {f: FUNCTIONS[f] for f in names}
    methods = [m.strip() for m in args.methods.split(";") if m.strip()]
    bad = [m for m in methods if m not in LABELS]
    if bad:
        parser.error(f"--methods: {'; '.join(bad)}; use names from {'; '.join(LABELS)}")
    config = BenchConfig(
        seeds=2 if args.quick else args.seeds,
        budgets=budgets,
        methods=tuple(methods),
        jobs=args.jobs,
        torch_threads=args.torch_threads,
        deadline_min=args.deadline_min,
        out=args.out
        or ("/tmp/optimizer_quality_usual_quick" if args.quick else "benchmarks/results"),
        resume=args.resume,
    )
    return config, args.report_only


def main(argv: Sequence[str] | None = None) -> None:
    """Run the missing runs and write JSON, Markdown and PNGs to ``--out``."""
    config, report_only = parse_args(argv)
    raw_path = Path(config.out) / f"{NAME}.json"
    if not report_only:
        run_missing(config, raw_path)
    write_report(json.loads(raw_path.read_text()), raw_path.parent)


def run_missing(config: BenchConfig, raw_path: Path) -> None:
    """Run what the JSON at ``raw_path`` lacks, rewriting it (atomically) after each run."""
    runs, record = open_record(raw_path, config)
    header = record.raw["header"]
    todo = plan(config, {(r["method"], r["function"], r["seed"]) for r in runs})
    print(f"{len(todo)} runs to do ({len(runs)} kept)", flush=True)
    total = len(runs) + len(todo)

    def on_result(r: dict[str, Any]) -> None:
        runs.append(r)
        record.dump()
        print(
            f"[{len(runs)}/{total}] seed {r['seed']} {r['function']:22s} {r['method'][:40]:40s} "
            f"regret {r['final_regret']:.3e} {r['seconds_per_proposal']:.2f} s/prop "
            f"({r['wall_s']:.0f} s, total {record.minutes():.1f} min, load {loadavg()})",
            flush=True,
        )

    left = run_grid(run_one, todo, config, record, on_result)
    header["not_started"] = [list(t) for t in left]
    record.finish(finished=not left)
    print(f"done in {record.minutes():.1f} min; {len(left)} runs not started", flush=True)


if __name__ == "__main__":
    main()
