"""Optimizer quality: BatchBOSearcher against five peers on seven functions, 4 async workers.

Log simple regret (best noise-free value found minus the known minimum) against
evaluations, median and IQR over seeds, for

* ``BatchBOSearcher`` with its defaults (q = 1 per freed worker, qLogNEI, joint,
  one spare point kept ready), and variants: generating only on demand
  (``prefetch=0``), qLogEI, qUCB and qEI (on demand), and batches of q = 4 and q = 8
  points per acquisition optimisation, joint and sequential;
* peers: random search, Ax's scrambled Sobol sequence, Optuna's default sampler
  (``TPESampler``), Optuna's ``GPSampler`` and Ax's ``Client`` alone with its
  default generation strategy, asked for one trial whenever a worker frees;

on Branin (2-D), Hartmann6, Ackley 5-D and 10-D, Levy (4-D), Rosenbrock (4-D) and a
mixed space (two floats, an integer and a categorical; Hartmann3 underneath), plus
Ackley 5-D and Levy with their optima moved off the centre of the same boxes (Ax's
default evaluates the centre first, where Ackley's optimum lies and near Levy's).

Four asynchronous workers are simulated in simulated time (see
``harness.simulate_async``): evaluation ``i`` lasts ``durations[i]``, drawn once
per (seed, function) from an exponential with mean 1 and shared by every method.

The q = 4 / q = 8 variants drive the searcher's own ``BatchGenerator``: when a
worker frees and no generated point is waiting, one acquisition optimisation makes
q points (conditioned on every running or queued point); workers take them in
order as they free. With 4 workers, q = 8 means half of each batch starts after
results it could not see. ``BatchBOSearcher`` itself generates one point per free
slot, so q = 1 is what it does with asynchronous workers. With its default spare,
the point a freed worker takes was generated before that worker's result (it was
pending then); generation is taken to finish before the next completion.

Run: ``python benchmarks/optimizer_quality.py`` (``--quick`` for a smoke test,
``--replot`` to rewrite the report from the JSON). Results:
``benchmarks/results/optimizer_quality.md``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    REGRET_FLOOR,
    AxClientMethod,
    Method,
    OptunaMethod,
    QBatchMethod,
    RandomMethod,
    Recorder,
    SearcherMethod,
    SobolMethod,
    exponential_durations,
    final_by,
    fmt,
    header_lines,
    loadavg,
    mean_ranks,
    median_band,
    new_header,
    pct,
    peer_table,
    pyplot,
    quiet,
    reading,
    run_grid,
    save,
    seed_range,
    simulate_async,
    table,
    wtl,
)

WORKERS = 4
NAME = "optimizer_quality"
NOTES_FILE = f"{NAME}_notes.md"

#: Evaluations per function the issue's protocol would use, and the default here.
FULL_BUDGETS = {
    "branin": 50,
    "hartmann6": 100,
    "ackley5": 100,
    "ackley10": 150,
    "levy": 100,
    "rosenbrock": 100,
    "mixed": 60,
    "ackley5_shifted": 100,
    "levy_shifted": 100,
}
DEFAULT_BUDGETS = {
    "branin": 15,
    "hartmann6": 20,
    "ackley5": 16,
    "ackley10": 24,
    "levy": 16,
    "rosenbrock": 16,
    "mixed": 14,
    "ackley5_shifted": 16,
    "levy_shifted": 16,
}


# -------------------------------------------------------------------- problems
#: Offsets of the mixed problem's categorical; "b" is best.
MIXED_OFFSETS = {"a": 0.8, "b": 0.0, "c": 0.4}


def _mixed_value(config: Mapping[str, Any]) -> float:
    """Hartmann3 at (x0, x1, n / 10) plus the categorical's offset."""
    return _hartmann3([config["x0"], config["x1"], config["n"] / 10]) + MIXED_OFFSETS[config["c"]]


@functools.cache
def _hartmann3_fn() -> Any:
    from botorch.test_functions.synthetic import Hartmann

    return Hartmann(dim=3)


def _hartmann3(x: Sequence[float]) -> float:
    import torch

    return float(_hartmann3_fn().evaluate_true(torch.tensor([x], dtype=torch.float64)).item())


@functools.cache
def mixed_optimum() -> float:
    """Minimum of the mixed problem: c = "b" (offset 0), best n in 0..10, best (x0, x1).

    A 201 x 201 grid of (x0, x1) for every n in one batched BoTorch call, then
    L-BFGS-B from the best grid point of each n.
    """
    import torch
    from scipy.optimize import minimize

    grid = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
    a, b = torch.meshgrid(grid, grid, indexing="ij")
    best = np.inf
    for n in range(11):
        x = torch.stack([a.flatten(), b.flatten(), torch.full_like(a.flatten(), n / 10)], -1)
        values = _hartmann3_fn().evaluate_true(x)
        start = x[int(values.argmin())][:2].numpy()
        res = minimize(
            lambda v, n=n: _hartmann3([v[0], v[1], n / 10]),
            x0=start,
            bounds=[(0.0, 1.0), (0.0, 1.0)],
            method="L-BFGS-B",
        )
        best = min(best, float(res.fun), float(values.min()))
    return best + MIXED_OFFSETS["b"]


@functools.cache
def _shifted_fn(base: str, shift: float) -> Any:
    """BoTorch's ``base`` function on its box moved by ``-shift`` (its bounds check)."""
    from botorch import test_functions

    from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS

    problem = SYNTHETIC_PROBLEMS[base]
    cls = getattr(test_functions, problem.botorch_class)
    bounds = [(lo - shift, hi - shift) for lo, hi in problem.bounds]
    return cls(dim=problem.dim, bounds=bounds)


@dataclass(frozen=True)
class Problem:
    """One benchmark function: its Ray Tune space, objective and known minimum."""

    name: str
    description: str
    #: For a shifted copy of a synthetic function: its name and the shift added to
    #: every input, which moves the optimum away from the centre of the same box.
    base: str | None = None
    shift: float = 0.0

    @property
    def synthetic(self) -> str:
        """Name of the synthetic function underneath."""
        return self.base or self.name

    def space(self) -> dict[str, Any]:
        """Ray Tune domains."""
        from ray import tune

        if self.name == "mixed":
            return {
                "x0": tune.uniform(0.0, 1.0),
                "x1": tune.uniform(0.0, 1.0),
                "n": tune.randint(0, 11),
                "c": tune.choice(list(MIXED_OFFSETS)),
            }
        from distributed_bo.trainables.synthetic import synthetic_space

        return synthetic_space(self.synthetic)

    def value(self, config: Mapping[str, Any]) -> float:
        """Noise-free objective (minimised)."""
        if self.name == "mixed":
            return _mixed_value(config)
        from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS, evaluate

        keys = SYNTHETIC_PROBLEMS[self.synthetic].keys
        x = [float(config[k]) for k in keys]
        if self.base is None:
            return evaluate(self.name, x=x)
        import torch

        fn = _shifted_fn(self.base, self.shift)
        shifted = torch.tensor([[v - self.shift for v in x]], dtype=torch.float64)
        return float(fn.evaluate_true(shifted).item())

    @property
    def optimum(self) -> float:
        """Known global minimum."""
        if self.name == "mixed":
            return mixed_optimum()
        from distributed_bo.trainables.synthetic import SYNTHETIC_PROBLEMS

        return SYNTHETIC_PROBLEMS[self.synthetic].optimum


PROBLEMS = {
    p.name: p
    for p in (
        Problem("branin", "Branin, 2-D"),
        Problem("hartmann6", "Hartmann, 6-D"),
        Problem("ackley5", "Ackley, 5-D on [-32.768, 32.768]^5"),
        Problem("ackley10", "Ackley, 10-D"),
        Problem("levy", "Levy, 4-D on [-10, 10]^4"),
        Problem("rosenbrock", "Rosenbrock, 4-D on [-5, 10]^4"),
        Problem(
            "mixed",
            "mixed: x0, x1 uniform(0, 1), n randint(0, 11), c choice(a, b, c); "
            "Hartmann3(x0, x1, n/10) + offset(c)",
        ),
        Problem(
            "ackley5_shifted",
            "Ackley 5-D shifted by +10 in every input (optimum at x = 10, not the centre "
            "of the same box)",
            base="ackley5",
            shift=10.0,
        ),
        Problem(
            "levy_shifted",
            "Levy 4-D shifted by +4 in every input (optimum at x = 5 in the same box)",
            base="levy",
            shift=4.0,
        ),
    )
}


# --------------------------------------------------------------------- methods
Factory = Callable[[Problem, int, int], Method]

DEFAULT = "BatchBO (default: qLogNEI, sequential, adaptive spares)"
JOINT = "BatchBO joint (adaptive spares)"
ONE_SPARE = "BatchBO one spare (prefetch=1)"
ON_DEMAND = "BatchBO on demand (prefetch=0)"
#: Labels the runs of earlier versions of this script carry in the JSON, and the
#: label of the same method now. Before ``prefetch`` existed the searcher generated
#: only on demand, so its old default runs are the on-demand method's.
RENAMED = {
    "BatchBO (default: q=1, qLogNEI, joint)": ON_DEMAND,
    # The default from 2026-11-26 to 2026-12-04 kept one spare.
    "BatchBO (default: q=1, qLogNEI, joint, 1 spare)": ONE_SPARE,
    # The default of 2026-12-05, before batches became sequential by default.
    "BatchBO (default: q=1, qLogNEI, joint, adaptive spares)": JOINT,
    "BatchBO qLogEI": "BatchBO qLogEI (on demand)",
    "BatchBO qUCB": "BatchBO qUCB (on demand)",
}
METHODS: dict[str, Factory] = {
    DEFAULT: lambda p, s, b: SearcherMethod(p.space(), s, b, WORKERS),
    JOINT: lambda p, s, b: SearcherMethod(p.space(), s, b, WORKERS, batch_strategy="joint"),
    ONE_SPARE: lambda p, s, b: SearcherMethod(
        p.space(), s, b, WORKERS, prefetch=1, batch_strategy="joint"
    ),
    ON_DEMAND: lambda p, s, b: SearcherMethod(
        p.space(), s, b, WORKERS, prefetch=0, batch_strategy="joint"
    ),
    "BatchBO qLogEI (on demand)": lambda p, s, b: SearcherMethod(
        p.space(), s, b, WORKERS, acquisition="qLogEI", prefetch=0, batch_strategy="joint"
    ),
    "BatchBO qUCB (on demand)": lambda p, s, b: SearcherMethod(
        p.space(), s, b, WORKERS, acquisition="qUCB", prefetch=0, batch_strategy="joint"
    ),
    "BatchBO qEI (on demand)": lambda p, s, b: SearcherMethod(
        p.space(), s, b, WORKERS, acquisition="qEI", prefetch=0, batch_strategy="joint"
    ),
    "BatchBO q=4 joint": lambda p, s, b: QBatchMethod(p.space(), s, b, 4, "joint"),
    "BatchBO q=4 sequential": lambda p, s, b: QBatchMethod(p.space(), s, b, 4, "sequential"),
    "BatchBO q=8 joint": lambda p, s, b: QBatchMethod(p.space(), s, b, 8, "joint"),
    "BatchBO q=8 sequential": lambda p, s, b: QBatchMethod(p.space(), s, b, 8, "sequential"),
    "Random search": lambda p, s, b: RandomMethod(p.space(), s),
    "Sobol (Ax, scrambled)": lambda p, s, b: SobolMethod(p.space(), s, b),
    "Optuna TPE (default)": lambda p, s, b: OptunaMethod(p.space(), s, "tpe"),
    "Optuna GPSampler": lambda p, s, b: OptunaMethod(p.space(), s, "gp"),
    "Ax Client (default)": lambda p, s, b: AxClientMethod(p.space(), s),
}
PEERS = [
    "Random search",
    "Sobol (Ax, scrambled)",
    "Optuna TPE (default)",
    "Optuna GPSampler",
    "Ax Client (default)",
]
VARIANTS = [m for m in METHODS if m.startswith("BatchBO")]
AX = "Ax Client (default)"
GP = "Optuna GPSampler"
CHEAP = ["Random search", "Sobol (Ax, scrambled)", "Optuna TPE (default)"]
FIRST = ["branin", "hartmann6"]
REST = ["levy", "rosenbrock", "ackley5", "mixed", "ackley10"]
SHIFTED = ["ackley5_shifted", "levy_shifted"]

#: Priority order of (methods, functions) cells; every cell runs all seeds before the
#: next starts, so a run stopped by ``--deadline-min`` leaves complete cells.
QUCB = "BatchBO qUCB (on demand)"
QLOGEI = "BatchBO qLogEI (on demand)"
QEI = "BatchBO qEI (on demand)"
PLAN: list[tuple[list[str], list[str]]] = [
    (CHEAP, FIRST + REST),
    ([ON_DEMAND], FIRST),
    ([GP], ["branin"]),
    ([AX], ["branin"]),
    ([ON_DEMAND], ["levy"]),
    ([QUCB, "BatchBO q=4 joint", "BatchBO q=4 sequential"], ["branin"]),
    ([ON_DEMAND], ["rosenbrock", "mixed"]),
    ([QUCB], ["hartmann6"]),
    ([ON_DEMAND], ["ackley5", "ackley10"]),
    ([AX, GP], ["hartmann6"]),
    (["BatchBO q=8 joint", "BatchBO q=8 sequential", QLOGEI], ["branin"]),
    ([GP], REST),
    ([AX], REST),
    ([DEFAULT], FIRST + REST),
    ([QUCB], REST),
    (["BatchBO q=4 joint", "BatchBO q=4 sequential", "BatchBO q=8 joint"], ["hartmann6"]),
    ([QLOGEI, "BatchBO q=8 sequential"], ["hartmann6"]),
    # Ackley's optimum is the centre of its box and Levy's is near it; Ax's default
    # evaluates the centre first. The same functions with the optimum moved:
    ([DEFAULT, *CHEAP, GP, AX], SHIFTED),
    ([ONE_SPARE], SHIFTED),
    ([JOINT], FIRST + REST),
    # The last acquisition the retired searcher_quality.py compared.
    ([QEI], FIRST),
]


@dataclass(frozen=True)
class BenchConfig:
    """Everything one run depends on.

    Attributes:
        seeds: Seeds 0 .. seeds-1, paired across methods.
        budgets: Function -> evaluations.
        deadline_min: Start no new run after this many minutes (``None``: run the
            whole :data:`PLAN`); runs in flight finish.
        jobs: Worker processes (each runs one method on one function and seed).
        torch_threads: ``torch.set_num_threads`` in every process.
        out: Output folder.
        resume: Keep the runs already in ``out``'s JSON and run only the missing ones.
        methods: Labels of the methods to run (a subset of :data:`METHODS`).
    """

    seeds: int = 10
    budgets: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_BUDGETS))
    deadline_min: float | None = None
    jobs: int = 2
    torch_threads: int = 1
    out: str = "benchmarks/results"
    resume: bool = False
    methods: tuple[str, ...] = tuple(METHODS)


def durations_for(seed: int, name: str, budget: int) -> np.ndarray:
    """Evaluation durations in start order; the same for every method."""
    return exponential_durations(seed, list(PROBLEMS).index(name), budget)


def run_one(label: str, name: str, seed: int, budget: int) -> dict[str, Any]:
    """One method on one function with one seed; the raw record for the JSON file."""
    problem = PROBLEMS[name]
    start = time.perf_counter()
    method = METHODS[label](problem, seed, budget)
    try:
        values, _ = simulate_async(
            method, problem.value, budget, durations_for(seed, name, budget), WORKERS
        )
    finally:
        extra = method.close()
    best = np.minimum.accumulate(np.asarray(values)) - problem.optimum
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


# --------------------------------------------------------------------- report
STYLES = {
    DEFAULT: ("tab:blue", "-", 2.8),
    ON_DEMAND: ("tab:blue", ":", 2.0),
    ONE_SPARE: ("tab:blue", "--", 2.0),
    JOINT: ("tab:cyan", "-", 2.0),
    QLOGEI: ("tab:cyan", "--", 1.5),
    QUCB: ("tab:olive", "--", 1.8),
    QEI: ("tab:pink", "--", 1.5),
    "BatchBO q=4 joint": ("tab:green", "-.", 1.5),
    "BatchBO q=4 sequential": ("tab:green", ":", 1.5),
    "BatchBO q=8 joint": ("tab:purple", "-.", 1.5),
    "BatchBO q=8 sequential": ("tab:purple", ":", 1.5),
    "Random search": ("tab:gray", "-", 1.8),
    "Sobol (Ax, scrambled)": ("black", ":", 1.8),
    "Optuna TPE (default)": ("tab:orange", "-", 1.8),
    "Optuna GPSampler": ("tab:red", "-", 1.8),
    "Ax Client (default)": ("tab:brown", "-", 1.8),
}


def plot(runs: list[dict[str, Any]], functions: Sequence[str], out: Path) -> list[Path]:
    """One PNG per function: log10 simple regret vs evaluations, median and IQR band."""
    plt = pyplot()
    paths = []
    for name in functions:
        fn_runs = [r for r in runs if r["function"] == name]
        if not fn_runs:
            continue
        budget = max(r["budget"] for r in fn_runs)
        have_variants = any(r["method"] in VARIANTS and r["method"] != DEFAULT for r in fn_runs)
        panels = [("against the peers", [DEFAULT, *PEERS])]
        if have_variants:
            panels.append(("searcher variants", VARIANTS))
        fig, axes = plt.subplots(
            1, len(panels), figsize=(6.5 * len(panels), 5.2), dpi=100, sharey=True, squeeze=False
        )
        for ax, (title, labels) in zip(axes[0], panels, strict=True):
            for label in labels:
                curves = [r["regret_curve"] for r in fn_runs if r["method"] == label]
                if not curves:
                    continue
                y = np.log10(np.maximum(np.asarray(curves), REGRET_FLOOR))
                color, ls, lw = STYLES[label]
                median_band(ax, y, label=f"{label} (n={len(curves)})", color=color, ls=ls, lw=lw)
            ax.set_xlim(1, budget)
            ax.set_xlabel("evaluations completed")
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower left")
        axes[0][0].set_ylabel("log10 simple regret (best so far)")
        sep = "; " if len(panels) > 1 else "\n"
        fig.suptitle(
            f"{name}: median (line) and IQR (band) over seeds{sep}{WORKERS} async workers, "
            f"{budget} evaluations",
            fontsize=11 if len(panels) > 1 else 10,
        )
        paths.append(save(fig, out / f"{NAME}_{name}.png"))
    return paths


def write_markdown(raw: dict[str, Any], out: Path, plots: Sequence[Path]) -> None:
    """Write ``optimizer_quality.md`` from the raw record."""
    header, runs = raw["header"], raw["runs"]
    cfg = header["config"]
    budgets = cfg["budgets"]
    functions = [f for f in budgets if any(r["function"] == f for r in runs)]
    final = final_by(runs)
    earlier = [
        f"- Earlier invocation, continued with `--resume`: `{e['command']}`, started "
        f"{e['date_utc']} UTC, ran {e['wall_min']:.1f} min (stopped to reorder the "
        f"plan, or at its deadline); the JSON held {e['runs_at_end']} runs when it "
        f"ended (load median {e['load'].get('median', float('nan')):.1f})"
        for e in header.get("earlier", [])
    ]
    total_min = header["wall_min"] + sum(e["wall_min"] for e in header.get("earlier", []))
    date = f"- Date (UTC): started {header['date_utc']}; " + (
        f"finished after {header['wall_min']:.1f} min"
        if header.get("finished")
        else f"stopped at `--deadline-min` after {header['wall_min']:.1f} min with "
        f"{len(runs)} of the {header['tasks']} runs in `PLAN` done; all invocations "
        f"together: {total_min:.1f} min"
    )
    lines = header_lines(
        "Optimizer quality benchmark",
        header,
        date=date,
        setup=[
            f"- Processes: {cfg['jobs']} side by side, "
            f"torch.set_num_threads({cfg['torch_threads']})",
            *earlier,
        ],
        after=[
            f"- Simulation: {WORKERS} asynchronous workers in simulated time; durations "
            "Exponential(mean 1), one sequence per (seed, function) shared by all methods; "
            "noise-free objectives; every method at its library defaults."
        ],
    )
    lines += [
        "",
        "## What was run, and what was cut",
        "",
        "The machine has 2 CPU cores shared with other people's test suites (see the "
        "load above), and this benchmark had to fit well under an hour of wall time. "
        "The issue's protocol (every method on every function, budgets of the usual "
        "size, 10+ seeds) would take many hours here. What was kept and cut:",
        "",
        f"- Seeds: {cfg['seeds']} per (method, function) cell, seeds 0-{cfg['seeds'] - 1}, "
        "paired across methods. Cells run in a fixed priority order "
        "(`PLAN` in the script), each with all its seeds before the next starts"
        + (
            f"; no new run was started after {cfg['deadline_min']:g} min"
            if cfg.get("deadline_min")
            else ""
        )
        + ".",
        "- Evaluation budgets cut to: "
        + ", ".join(f"{f} {budgets[f]} (usual: {FULL_BUDGETS.get(f, '-')})" for f in budgets)
        + ". The searcher's default `num_initial = max(5, 2d)` Sobol points are part "
        "of the budget: on Ackley 10-D only 4 of 24 points are model-based, so that "
        "column measures the initial design more than the model.",
        "- Method grid: the table below marks cells that did not run with '-'. "
        + (
            "Not run, or not on all seeds (cut for time): "
            + ", ".join(sorted({f"{t[0]} on {t[1]}" for t in header.get("skipped", [])}))
            + "."
            if header.get("skipped")
            else ""
        ),
        "- No noisy objectives, no wall-clock axis (simulated time only).",
        "",
        "Functions: " + "; ".join(PROBLEMS[f].description for f in functions) + ".",
        "",
        "## Final simple regret",
        "",
        "Median [25th, 75th percentile] over seeds of (best value found - known "
        "minimum) after the whole budget; lower is better.",
        "",
    ]
    lines += _regret_table(final, functions, budgets)
    lines += [
        "",
        "## Where the default searcher wins or loses",
        "",
        "Default searcher against each peer, paired by seed: wins-ties-losses in final "
        "regret and a two-sided exact sign test. **win**/**loss**: p < 0.05; "
        "'ahead/behind, n.s.': more wins/losses but not significant.",
        "",
    ]
    lines += peer_table(final, DEFAULT, PEERS, functions)
    lines += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    lines += _variant_section(runs, final, functions)
    lines += [
        "",
        "## Wall time per run",
        "",
        "Median wall seconds of one run (all its evaluations), by method and function. "
        "Inflated by the machine's load (see above); compare within this table only.",
        "",
    ]
    lines += table(
        ["Method", *functions],
        (
            [label] + [_median_wall(runs, label, f) for f in functions]
            for label in [DEFAULT, *PEERS, *[v for v in VARIANTS if v != DEFAULT]]
            if label in final
        ),
    )
    empty = [r.get("empty_asks", 0) for r in runs if r["method"] == "Ax Client (default)"]
    if empty:
        lines += [
            "",
            f"Ax Client alone returned no trial {sum(empty)} times over {len(empty)} runs "
            "(it waits for data after its initial points); the simulated worker idled "
            "until the next completion.",
        ]
    lines += reading(out, NOTES_FILE)
    (out / f"{NAME}.md").write_text("\n".join(lines))


Final = dict[str, dict[str, dict[int, float]]]


def _median_wall(runs: list[dict[str, Any]], label: str, name: str) -> str:
    """Median wall seconds of ``label``'s runs on ``name``, or "-"."""
    w = [r["wall_s"] for r in runs if r["method"] == label and r["function"] == name]
    return f"{pct(w, 50):.1f}" if w else "-"


def _regret_table(final: Final, functions: Sequence[str], budgets: Mapping[str, int]) -> list[str]:
    """Median [IQR] final regret, one row per method that ran."""
    rows = []
    for label in [DEFAULT, *PEERS, *[v for v in VARIANTS if v != DEFAULT]]:
        if label not in final:
            continue
        row = [label]
        for f in functions:
            vals = list(final[label].get(f, {}).values())
            row.append(
                f"{fmt(pct(vals, 50))} [{fmt(pct(vals, 25))}, {fmt(pct(vals, 75))}] n={len(vals)}"
                if vals
                else "-"
            )
        rows.append(row)
    return table(["Method"] + [f"{f} ({budgets[f]})" for f in functions], rows)


def _variant_section(
    runs: list[dict[str, Any]], final: Final, functions: Sequence[str]
) -> list[str]:
    """Searcher variants against the default (W-T-L) and their mean ranks."""
    vfuncs = [
        f
        for f in functions
        if any(r["function"] == f and r["method"] in VARIANTS[1:] for r in runs)
    ]
    ran = [v for v in VARIANTS if v in final]
    ours = final.get(DEFAULT, {})
    lines = [
        "",
        "## Searcher variants (choice of defaults)",
        "",
        "Against the default, paired by seed (W-T-L, sign test), and mean rank among "
        "the variants that ran (1 = best; ties share ranks), on the seeds where all ran:",
        "",
    ]
    cols = ["Variant"] + [f"{f} vs default" for f in vfuncs] + [f"{f} rank" for f in vfuncs]
    rank_tables = {f: mean_ranks(runs, ran, f) for f in vfuncs}
    overall, rows = {}, []
    for v in ran:
        row = [v]
        for f in vfuncs:
            row.append("-" if v == DEFAULT else wtl(final[v].get(f, {}), ours.get(f, {})))
        rs = [rank_tables[f][1][v] for f in vfuncs]
        row += ["-" if np.isnan(r) else f"{r:.2f}" for r in rs]
        overall[v] = float(np.nanmean(rs)) if rs else float("nan")
        row.append(f"{overall[v]:.2f}")
        rows.append(row)
    lines += table([*cols, "mean rank"], rows)
    if overall:
        best = min(overall, key=lambda k: overall[k])
        lines += [
            "",
            "Seeds used for ranks: "
            + ", ".join(f"{f} {seed_range(rank_tables[f][0])}" for f in vfuncs)
            + f". Computed: lowest mean rank **{best}** ({overall[best]:.2f}); the default "
            f"has {overall.get(DEFAULT, float('nan')):.2f}.",
        ]
    return lines


def load_raw(path: Path) -> dict[str, Any]:
    """The JSON record, with runs of earlier versions under today's labels (:data:`RENAMED`)."""
    raw = json.loads(path.read_text())
    for r in raw["runs"]:
        r["method"] = RENAMED.get(r["method"], r["method"])
    return raw


def report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown file and PNGs from the raw record."""
    functions = list(raw["header"]["config"]["budgets"])
    plots = plot(raw["runs"], functions, out)
    write_markdown(raw, out, plots)


# ------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchConfig, bool]:
    """Command line -> (:class:`BenchConfig`, replot)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument(
        "--functions", default=",".join(DEFAULT_BUDGETS), help="comma-separated subset"
    )
    parser.add_argument(
        "--budget", action="append", default=[], help="NAME=N, overrides one budget"
    )
    parser.add_argument(
        "--deadline-min", type=float, default=None, help="start no new run after this"
    )
    parser.add_argument(
        "--methods", default="", help="comma-separated subset of the methods (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke test")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--resume", action="store_true", help="run only runs missing in --out")
    parser.add_argument("--replot", action="store_true", help="rewrite the report from the JSON")
    args = parser.parse_args(argv)
    functions = [f for f in args.functions.split(",") if f]
    for f in functions:
        if f not in PROBLEMS:
            parser.error(f"--functions: {f!r}; use names from {', '.join(PROBLEMS)}")
    budgets = {f: DEFAULT_BUDGETS[f] for f in functions}
    for item in args.budget:
        name, _, n = item.partition("=")
        if name not in budgets or not n.isdigit():
            parser.error(f"--budget: got {item!r}; use NAME=N with NAME in --functions")
        budgets[name] = int(n)
    if args.quick:
        budgets = {f: min(b, 12) for f, b in budgets.items()}
    # Labels contain commas ("Sobol (Ax, scrambled)"): join pieces until one matches.
    methods, piece = [], ""
    for part in args.methods.split(","):
        piece = f"{piece},{part}" if piece else part.strip()
        if piece in METHODS:
            methods.append(piece)
            piece = ""
    if piece:
        parser.error(f"--methods: {piece!r}; use names from {'; '.join(METHODS)}")
    methods = methods or list(METHODS)
    return (
        BenchConfig(
            seeds=1 if args.quick else args.seeds,
            budgets=budgets,
            deadline_min=args.deadline_min,
            jobs=args.jobs,
            torch_threads=args.torch_threads,
            out=args.out,
            resume=args.resume,
            methods=tuple(methods),
        ),
        args.replot,
    )


def _earlier(raw_path: Path, resume: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """With ``resume``: the runs already in the JSON, and its invocations so far."""
    if not (resume and raw_path.exists()):
        return [], []
    previous = load_raw(raw_path)
    runs, h = previous["runs"], previous["header"]
    return runs, h.get("earlier", []) + [
        {
            "command": h["command"],
            "date_utc": h["date_utc"],
            "wall_min": h.get("wall_min"),
            "runs_at_end": len(runs),
            "load": h.get("load", {}),
        }
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the grid and write JSON, Markdown and PNGs to ``--out``."""
    config, replot = parse_args(argv)
    out = Path(config.out)
    raw_path = out / f"{NAME}.json"
    if replot:
        report(load_raw(raw_path), out)
        return
    quiet()
    import torch

    torch.set_num_threads(config.torch_threads)
    out.mkdir(parents=True, exist_ok=True)
    runs, earlier = _earlier(raw_path, config.resume)
    done_keys = {(r["method"], r["function"], r["seed"]) for r in runs}
    tasks = [
        (label, name, seed, config.budgets[name])
        for labels, names in PLAN
        for name in names
        if name in config.budgets
        for label in labels
        if label in config.methods
        for seed in range(config.seeds)
        if (label, name, seed) not in done_keys
    ]
    header = new_header(
        config=asdict(config),
        loadavg_start=loadavg(),
        tasks=len(tasks) + len(runs),
        finished=False,
        earlier=earlier,
    )
    record = Recorder(raw_path, {"header": header, "runs": runs})
    print(f"{len(tasks)} runs to do ({len(runs)} kept)", flush=True)
    done = itertools.count(1)

    def on_result(r: dict[str, Any]) -> None:
        n = next(done)
        runs.append(r)
        print(
            f"[{n}/{len(tasks)}] seed {r['seed']} {r['function']:10s} "
            f"{r['method']:40s} regret {r['final_regret']:.3e} ({r['wall_s']:.1f} s, "
            f"total {record.minutes():.1f} min, load {loadavg()})",
            flush=True,
        )
        record.dump()
        if n % 10 == 0:
            report(json.loads(raw_path.read_text()), out)

    pending = run_grid(run_one, tasks, config, record, on_result)
    header["skipped"] = [list(t) for t in pending]
    record.finish(finished=not pending)
    report(json.loads(raw_path.read_text()), out)
    print(f"done in {header['wall_min']:.1f} min; results in {out}", flush=True)


if __name__ == "__main__":
    main()
