"""Conditional spaces (issue 15): our conditional kernel against the flat encoding and peers.

Three problems with parameters that exist only in some branch (``--problems``):

* ``synthetic``: "neurons per layer when the number of layers is tuned". ``arch``
  picks depth 1, 2 or 3 and each depth has its own widths (``width_1 ..
  width_depth``, each in [0, 1], a log-width) with its own optimum; ``act`` picks
  ``relu`` or ``softplus``, whose ``beta`` exists only with softplus; ``lr`` (in
  [0, 1], a log-lr) is always there. Minimised, noise-free::

      f = c[depth] + sum_i (w_i - t[depth][i])^2 + act_term + (lr - 0.35)^2
      act_term = 0.15 (relu), 2 (beta - 0.7)^2 (softplus)

  with ``c = (0.6, 0.3, 0)`` and per-depth targets ``t``; the minimum is 0 (depth 3,
  softplus with beta 0.7). Widths of missing layers have no effect.
* ``fashion_mnist`` and ``mnist``: Ax's bundled hierarchical-space surrogates
  (``ax.benchmark.problems.surrogate.hss``; four XGBoost regressors each, one per
  combination of the on/off flags, shipped in the ax-platform wheel; needs
  ``xgboost``). fashion_mnist: ``lr`` (log, 1e-5..0.1), ``two-more-blocks``
  (bool), ``use_softplus_activation`` -> ``softplus_beta`` (0.5..2),
  ``use_weight_decay`` -> ``weight_decay`` (log, 1e-8..1e-2). mnist: ``lr`` (log,
  1e-5..1), ``use_dropout`` -> ``dropout`` (0.1..0.5), ``use_weight_decay`` ->
  ``weight_decay`` (log, 1e-5..1). Each flag with dependents becomes a branch point
  (``tune.choice`` of ``{flag: False}`` and ``{flag: True, child: domain}``). The
  value minimised is 1 - predicted accuracy; regret is the module's optimal value
  (``*_SURROGATE_OPTIMAL_VALUE``, "obtained by a dense grid search") minus the best
  predicted accuracy found. Both are the XGBoost models' predictions, not
  accuracies: mnist's optimum is 1.079, above any accuracy, so regret there is a
  distance in the model's output, and a value above it would give negative regret.

Methods (``--methods``), 4 asynchronous workers in simulated time, as
``optimizer_quality.py`` (evaluation durations Exponential(mean 1), one sequence per
(seed, problem) shared by every method; generation takes no simulated time):

* ``conditional``: ``BatchBOSearcher`` on the conditional space (``tune.choice`` of
  dicts): BoTorch's ``HierarchicalConditionalKernelGP``
  (``distributed_bo.search.conditional``).
* ``conditional_saas``: the same with the kernel's SAAS lengthscale prior
  (BoTorch's default; ``USE_SAAS_PRIOR = True``), an ablation.
* ``flat``: the same searcher on the flat encoding: every parameter always searched
  (synthetic: ``depth`` an ordered choice, ``width_1 .. width_3``, ``act``,
  ``beta``, ``lr``; the surrogates: every flag and every child), Ax's default GP; the
  objective ignores inactive parameters.
* ``random``: independent samples of the conditional space, branch first.
* ``tpe``: Optuna ``TPESampler(multivariate=True, group=True, constant_liar=True)``
  (Optuna's documented settings for conditional spaces and parallel workers), the
  space written define-by-run (the branch, then only its parameters), ask/tell with
  the running trials pending.
* ``ax``: Ax's ``Client`` with its default generation strategy on the same
  hierarchical space (each selector's branch parameters as its
  ``dependent_parameters``), asked for one trial per free worker with the running
  ones pending.

Both searchers get the same ``num_initial`` (Sobol trials before the model) and the
same acquisition-optimiser settings (``--restarts``, ``--raw-samples``); the peers run
at their defaults. Regret after ``n`` evaluations is the best value among the first
``n`` completed, minus the optimum; the 30-evaluation figures are read from the
50-evaluation runs (the first 30 completions, while the next 4 run).

Run: ``python benchmarks/conditional.py --problems synthetic,fashion_mnist,mnist
--seeds 20 --budget 50 --resume``; results in ``benchmarks/results/conditional.md``
(raw: ``conditional.json``; hand-written reading: ``conditional_notes.md``).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.conditions import (  # noqa: E402
    loadavg,
    open_record,
    parse_names,
    run_grid,
)
from harness.markdown import header_lines, peer_table, reading, table  # noqa: E402
from harness.methods import (  # noqa: E402
    AxClientMethod,
    Method,
    OptunaMethod,
    RandomMethod,
    SearcherMethod,
    TimedMethod,
)
from harness.simulate import exponential_durations, simulate_async  # noqa: E402
from harness.stats import fmt, median_iqr, pct  # noqa: E402

NAME = "conditional"
RESULTS = Path(__file__).resolve().parent / "results"
OFFSET = {1: 0.6, 2: 0.3, 3: 0.0}
TARGETS = {1: (0.2,), 2: (0.8, 0.3), 3: (0.25, 0.75, 0.6)}
RELU_COST = 0.15
BETA_BEST = 0.7
LR_BEST = 0.35
CHECKPOINTS = (10, 20, 30, 40, 50)
#: The budgets the issue reports (read from the same runs).
REPORTED = (30, 50)


def value(depth: int, widths: list[float], act: str, beta: float | None, lr: float) -> float:
    """The objective of one configuration (minimum 0)."""
    f = OFFSET[depth] + sum((w - t) ** 2 for w, t in zip(widths, TARGETS[depth], strict=True))
    f += RELU_COST if act == "relu" else 2.0 * (float(beta or 0.0) - BETA_BEST) ** 2
    return f + (lr - LR_BEST) ** 2


def conditional_space() -> dict[str, Any]:
    """The space written with branch points."""
    from ray import tune

    arch = [
        {"depth": d, **{f"width_{i}": tune.uniform(0.0, 1.0) for i in range(1, d + 1)}}
        for d in (1, 2, 3)
    ]
    return {
        "arch": tune.choice(arch),
        "act": tune.choice(
            [{"name": "relu"}, {"name": "softplus", "beta": tune.uniform(0.0, 1.0)}]
        ),
        "lr": tune.uniform(0.0, 1.0),
    }


def flat_space() -> dict[str, Any]:
    """The old encoding: every parameter always searched."""
    from ray import tune

    return {
        "depth": tune.choice([1, 2, 3]),
        **{f"width_{i}": tune.uniform(0.0, 1.0) for i in (1, 2, 3)},
        "act": tune.choice(["relu", "softplus"]),
        "beta": tune.uniform(0.0, 1.0),
        "lr": tune.uniform(0.0, 1.0),
    }


def conditional_value(c: dict[str, Any]) -> float:
    """The objective of a conditional-space config."""
    d = c["arch"]["depth"]
    widths = [c["arch"][f"width_{i}"] for i in range(1, d + 1)]
    return value(d, widths, c["act"]["name"], c["act"].get("beta"), c["lr"])


def flat_value(c: dict[str, Any]) -> float:
    """The objective of a flat config: missing layers' widths and relu's beta ignored."""
    d = int(c["depth"])
    widths = [c[f"width_{i}"] for i in range(1, d + 1)]
    return value(d, widths, c["act"], c["beta"] if c["act"] == "softplus" else None, c["lr"])


@dataclass(frozen=True)
class Problem:
    """A conditional problem in both encodings; ``value`` functions are minimised.

    Attributes:
        conditional_space: The Ray Tune space with branch points.
        flat_space: Every parameter always searched.
        conditional_value: Objective of a conditional-space config.
        flat_value: Objective of a flat config (inactive parameters ignored).
        optimum: The minimum of the objective (regret = value - optimum).
    """

    conditional_space: Callable[[], dict[str, Any]]
    flat_space: Callable[[], dict[str, Any]]
    conditional_value: Callable[[dict[str, Any]], float]
    flat_value: Callable[[dict[str, Any]], float]
    optimum: float


#: Ax's surrogate problems: name -> (module in ``ax.benchmark.problems.surrogate.hss``,
#: its benchmark-problem factory).
HSS = {
    "fashion_mnist": ("fashion_mnist_surrogate", "get_fashion_mnist_surrogate_benchmark"),
    "mnist": ("mnist_surrogate", "get_mnist_surrogate_benchmark"),
}


@functools.cache
def hss_problem(name: str) -> Any:
    """Ax's ``BenchmarkProblem`` for surrogate ``name`` (loads its XGBoost models once)."""
    import importlib

    module, factory = HSS[name]
    return getattr(
        importlib.import_module(f"ax.benchmark.problems.surrogate.hss.{module}"), factory
    )()


def _tune_domain(parameter: Any) -> Any:
    """An Ax range or choice parameter as a Ray Tune domain."""
    from ax.core.parameter import RangeParameter
    from ray import tune

    if isinstance(parameter, RangeParameter):
        lo, hi = float(parameter.lower), float(parameter.upper)
        return tune.loguniform(lo, hi) if parameter.log_scale else tune.uniform(lo, hi)
    return tune.choice(list(parameter.values))


def _hss_parameters(name: str) -> tuple[dict[str, Any], set[str]]:
    """The searched Ax parameters of surrogate ``name`` (the fixed root left out) and
    the names of those that are some flag's dependents."""
    from ax.core.parameter import FixedParameter

    params = {
        p.name: p
        for p in hss_problem(name).search_space.parameters.values()
        if not isinstance(p, FixedParameter)
    }
    children = {
        c for p in params.values() if p.is_hierarchical for cs in p.dependents.values() for c in cs
    }
    return params, children


def hss_conditional_space(name: str) -> dict[str, Any]:
    """Surrogate ``name``'s hierarchical space with branch points: a flag with
    dependents is ``choice([{flag: False}, {flag: True, child: domain, ...}])``."""
    from ray import tune

    params, children = _hss_parameters(name)
    space: dict[str, Any] = {}
    for key, p in params.items():
        if key in children:
            continue
        if p.is_hierarchical:
            branches = [
                {key: v, **{c: _tune_domain(params[c]) for c in p.dependents.get(v, [])}}
                for v in p.values
            ]
            space[key] = tune.choice(branches)
        else:
            space[key] = _tune_domain(p)
    return space


def hss_flat_space(name: str) -> dict[str, Any]:
    """Surrogate ``name``'s parameters, every one always searched."""
    params, _ = _hss_parameters(name)
    return {key: _tune_domain(p) for key, p in params.items()}


def hss_value(name: str, config: Mapping[str, Any]) -> float:
    """1 - the surrogate's predicted accuracy; a branch's dict is merged into the
    parameters (the surrogate reads only the active ones)."""
    params: dict[str, Any] = {}
    for key, v in config.items():
        params.update(v) if isinstance(v, Mapping) else params.__setitem__(key, v)
    accuracy = hss_problem(name).test_function.evaluate_true(params)
    return 1.0 - float(accuracy.reshape(-1)[0])


def problem(name: str) -> Problem:
    """The problem called ``name`` (a key of :data:`PROBLEMS`)."""
    if name == "synthetic":
        return Problem(conditional_space, flat_space, conditional_value, flat_value, 0.0)
    value = functools.partial(hss_value, name)
    return Problem(
        functools.partial(hss_conditional_space, name),
        functools.partial(hss_flat_space, name),
        value,
        value,
        1.0 - float(hss_problem(name).optimal_value),
    )


PROBLEMS = ("synthetic", *HSS)

# --------------------------------------------------------------------- methods
Factory = Callable[[Problem, int, "BenchConfig"], Method]


def _searcher(space: dict[str, Any], seed: int, config: BenchConfig) -> Method:
    return SearcherMethod(
        space,
        seed,
        config.budget,
        config.workers,
        num_initial=config.num_initial,
        optimizer_options={"num_restarts": config.restarts, "raw_samples": config.raw_samples},
    )


METHODS: dict[str, Factory] = {
    "conditional": lambda p, seed, c: _searcher(p.conditional_space(), seed, c),
    "flat": lambda p, seed, c: _searcher(p.flat_space(), seed, c),
    "random": lambda p, seed, c: RandomMethod(p.conditional_space(), seed),
    "tpe": lambda p, seed, c: OptunaMethod(
        p.conditional_space(), seed, "tpe", multivariate=True, group=True, constant_liar=True
    ),
    "ax": lambda p, seed, c: AxClientMethod(p.conditional_space(), seed),
    # The ablation: the kernel with BoTorch's default SAAS prior (run_one sets it).
    "conditional_saas": lambda p, seed, c: _searcher(p.conditional_space(), seed, c),
}
PEERS = ("flat", "random", "tpe", "ax", "conditional_saas")


@dataclass(frozen=True)
class BenchConfig:
    """Everything a run depends on.

    Attributes:
        seeds: Seeds 0 .. seeds-1, paired across methods.
        budget: Evaluations per run.
        workers: Simulated asynchronous workers.
        problems: Problem names (a subset of :data:`PROBLEMS`).
        methods: Method names (a subset of :data:`METHODS`).
        num_initial: Sobol trials before the model, both searchers.
        restarts: Acquisition-optimiser restarts, both searchers.
        raw_samples: Acquisition-optimiser raw samples, both searchers.
        jobs: Worker processes (each runs one method on one problem and seed).
        torch_threads: ``torch.set_num_threads`` in every process.
        deadline_min: Start no new run after this many minutes (runs in flight finish).
        out: The Markdown report; the raw JSON beside it.
        resume: Keep the runs already in the JSON and run only the missing ones.
    """

    seeds: int = 20
    budget: int = 50
    workers: int = 4
    problems: tuple[str, ...] = PROBLEMS
    methods: tuple[str, ...] = ("conditional", "flat", "random", "tpe", "ax")
    num_initial: int = 8
    restarts: int = 4
    raw_samples: int = 128
    jobs: int = 1
    torch_threads: int = 1
    deadline_min: float | None = None
    out: str = str(RESULTS / f"{NAME}.md")
    resume: bool = False


def run_one(method: str, name: str, seed: int, config: BenchConfig) -> dict[str, Any]:
    """One method on one problem with one seed: regret after each evaluation."""
    from distributed_bo.search import conditional as kernel

    p = problem(name)
    objective = p.flat_value if method == "flat" else p.conditional_value
    saas, kernel.USE_SAAS_PRIOR = kernel.USE_SAAS_PRIOR, method == "conditional_saas"
    start = time.perf_counter()
    m = TimedMethod(METHODS[method](p, seed, config))
    try:
        durations = exponential_durations(seed, PROBLEMS.index(name), config.budget)
        values, _ = simulate_async(m, objective, config.budget, durations, config.workers)
    finally:
        extra = m.close()
        kernel.USE_SAAS_PRIOR = saas
    regret = np.minimum.accumulate(np.asarray(values) - p.optimum)
    return {
        "method": method,
        "problem": name,
        "seed": seed,
        "budget": config.budget,
        "values": values,
        "regret_curve": regret.tolist(),
        "final_regret": float(regret[-1]),
        "wall_s": time.perf_counter() - start,
        "seconds_per_proposal": extra["seconds_per_proposal"],
        "generation_methods": sorted({s["method"] for s in extra.get("generation_stats", [])}),
        "empty_asks": extra.get("empty_asks", 0),
        "ax_sobol_fallbacks": extra.get("ax_sobol_fallbacks", 0),
    }


def plan(config: BenchConfig, done: set[tuple[str, str, int]]) -> list[tuple[Any, ...]]:
    """The runs to do: seed, then problem, then method (a cut run leaves paired blocks)."""
    return [
        (method, name, seed, config)
        for seed in range(config.seeds)
        for name in config.problems
        for method in config.methods
        if (method, name, seed) not in done
    ]


# --------------------------------------------------------------------- report
def regret_at(runs: Sequence[Mapping[str, Any]], n: int) -> dict[str, dict[str, dict[int, float]]]:
    """method -> problem -> seed -> regret after ``n`` evaluations (runs that reached n)."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    for r in runs:
        if len(r["regret_curve"]) >= n:
            out.setdefault(r["method"], {}).setdefault(r["problem"], {})[r["seed"]] = r[
                "regret_curve"
            ][n - 1]
    return out


def paired(by: Mapping[str, Mapping[int, float]], methods: Sequence[str]) -> list[int]:
    """Seeds every one of ``methods`` ran (on one problem)."""
    sets = [set(by.get(m, {})) for m in methods]
    return sorted(set.intersection(*sets)) if sets else []


def problem_section(
    runs: list[dict[str, Any]], name: str, budget: int
) -> tuple[list[str], bool | None]:
    """Regret table, the conditional kernel against each peer, and whether it leads
    (``None`` without peers to lead)."""
    mine = [r for r in runs if r["problem"] == name]
    methods = [m for m in METHODS if any(r["method"] == m for r in mine)]
    checkpoints = [n for n in CHECKPOINTS if n <= budget]
    at = {n: regret_at(mine, n) for n in checkpoints}
    seeds = paired({m: at[checkpoints[-1]].get(m, {}).get(name, {}) for m in methods}, methods)
    leads = True
    rows = []
    meds = {
        n: {m: pct([at[n][m][name][s] for s in seeds], 50) for m in methods if seeds}
        for n in checkpoints
    }
    main = [m for m in methods if m != "conditional_saas"]
    for m in methods:
        cells = []
        for n in checkpoints:
            cell = median_iqr([at[n][m][name][s] for s in seeds]) if seeds else "-"
            best = seeds and meds[n][m] <= min(meds[n][o] for o in main) + 1e-15
            cells.append(f"**{cell}**" if best and m in main and n in REPORTED else cell)
        rows.append([m, *cells])
    for n in REPORTED:
        if n in checkpoints and seeds and "conditional" in main:
            leads = leads and meds[n]["conditional"] <= min(meds[n][o] for o in main) + 1e-15
    columns = [f"after {n}" for n in REPORTED if n in checkpoints]
    final = {
        m: {f"after {n}": {s: at[n][m][name][s] for s in seeds} for n in REPORTED if n in at}
        for m in methods
    }
    lines = [
        "",
        f"## {name}: regret, median [25th, 75th percentile] over {len(seeds)} paired seeds",
        "",
        "Bold: lowest median after 30 and 50 evaluations among the main methods "
        "(the ablation `conditional_saas` excluded).",
        "",
        *table(["method", *[f"after {n}" for n in checkpoints]], rows),
    ]
    if "conditional" in methods:
        lines += [
            "",
            f"### {name}: `conditional` against each (paired by seed, lower regret wins; "
            "W-T-L and two-sided exact sign test)",
            "",
            *peer_table(final, "conditional", [m for m in PEERS if m in methods], columns),
        ]
    if "conditional" not in main or len(main) < 2 or not seeds or not columns:
        return lines, None
    return lines, leads


def cost_table(runs: list[dict[str, Any]], problems: Sequence[str]) -> list[str]:
    """Real seconds per proposal (ask + tell / configs given), per method and problem."""
    methods = [m for m in METHODS if any(r["method"] == m for r in runs)]
    rows = []
    for m in methods:
        row = [m]
        for name in problems:
            sp = [
                r["seconds_per_proposal"] for r in runs if (r["method"], r["problem"]) == (m, name)
            ]
            wall = [r["wall_s"] for r in runs if (r["method"], r["problem"]) == (m, name)]
            row.append(
                f"{fmt(pct(sp, 50))} [{fmt(pct(sp, 25))}, {fmt(pct(sp, 75))}]; "
                f"run {pct(wall, 50):.0f} s; n={len(sp)}"
                if sp
                else "-"
            )
        rows.append(row)
    return table(["method", *[f"{p}: s/proposal median [IQR]" for p in problems]], rows)


def fallbacks(runs: list[dict[str, Any]], problems: Sequence[str]) -> str:
    """Per problem: Ax's Sobol fallbacks summed over its runs, and the number of runs."""
    parts = []
    for name in problems:
        ax = [r for r in runs if (r["method"], r["problem"]) == ("ax", name)]
        parts.append(f"{name} {sum(r.get('ax_sobol_fallbacks', 0) for r in ax)} in {len(ax)} runs")
    return "; ".join(parts)


def write_report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown report from the raw record."""
    header, runs = raw["header"], raw["runs"]
    cfg = header["config"]
    problems = [p for p in PROBLEMS if any(r["problem"] == p for r in runs)]
    budget = max((r["budget"] for r in runs), default=cfg["budget"])
    lines = header_lines(
        "Conditional spaces: conditional kernel vs flat encoding vs peers",
        header,
        setup=[
            f"- Processes: {cfg['jobs']}, torch.set_num_threads({cfg['torch_threads']})",
            *[f"- Earlier invocation (continued with `--resume`): {e}" for e in header["earlier"]],
        ],
        after=[
            f"- Protocol: {cfg['workers']} asynchronous workers in simulated time, "
            f"{budget} evaluations per run (regret after 30 read from the same runs), "
            f"num_initial {cfg['num_initial']}, acquisition optimiser {cfg['restarts']} "
            f"restarts / {cfg['raw_samples']} raw samples (both searchers), seeds paired "
            "across methods; problems and methods in the docstring of "
            "`benchmarks/conditional.py`.",
        ],
    )
    verdicts = []
    for name in problems:
        section, leads = problem_section(runs, name, budget)
        lines += section
        verdicts.append(leads)
    if verdicts and None not in verdicts:
        lines += [
            "",
            "## Target: lowest median regret of all methods on every conditional problem",
            "",
            "Met (after 30 and after 50 evaluations, on every problem run)."
            if all(verdicts)
            else "**Not met** on these seeds: see the bold cells above.",
        ]
    lines += [
        "",
        "## Real seconds per proposal",
        "",
        "Per run: real seconds in the method's `ask` and `tell` together, divided by the "
        "configurations it gave; median [IQR] over runs, all in the same invocations on "
        "the same machine (see the load above); and the median wall seconds of a run.",
        "",
        *cost_table(runs, problems),
        *(
            [
                "",
                "Ax's fallback to Sobol (`exceeded MAX_GEN_ATTEMPTS` while generating a unique "
                "point, logged by Ax), total over the `ax` runs: "
                + fallbacks(runs, problems)
                + ".",
            ]
            if any(r["method"] == "ax" for r in runs)
            else []
        ),
    ]
    lines += reading(out.parent, out.stem + "_notes.md")
    out.write_text("\n".join(lines))


# ------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchConfig, bool]:
    """Command line -> (:class:`BenchConfig`, report_only)."""
    d = BenchConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=d.seeds)
    p.add_argument("--budget", type=int, default=d.budget)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--problems", default=",".join(d.problems), help="comma-separated")
    p.add_argument("--methods", default=",".join(d.methods), help=f"of {', '.join(METHODS)}")
    p.add_argument("--num-initial", type=int, default=d.num_initial)
    p.add_argument("--restarts", type=int, default=d.restarts)
    p.add_argument("--raw-samples", type=int, default=d.raw_samples)
    p.add_argument("--jobs", type=int, default=d.jobs)
    p.add_argument("--torch-threads", type=int, default=d.torch_threads)
    p.add_argument("--deadline-min", type=float, default=None, help="no new run after")
    p.add_argument("--out", default=d.out, help="the Markdown report; JSON beside it")
    p.add_argument("--resume", action="store_true", help="run only runs missing in the JSON")
    p.add_argument("--report-only", action="store_true", help="rewrite report from JSON")
    a = p.parse_args(argv)
    config = BenchConfig(
        seeds=a.seeds,
        budget=a.budget,
        workers=a.workers,
        problems=tuple(parse_names(a.problems, PROBLEMS, "problems", p)),
        methods=tuple(parse_names(a.methods, METHODS, "methods", p)),
        num_initial=a.num_initial,
        restarts=a.restarts,
        raw_samples=a.raw_samples,
        jobs=a.jobs,
        torch_threads=a.torch_threads,
        deadline_min=a.deadline_min,
        out=a.out,
        resume=a.resume,
    )
    return config, a.report_only


def main(argv: Sequence[str] | None = None) -> None:
    """Run the missing runs (resumable) and write the JSON and the report."""
    config, report_only = parse_args(argv)
    out = Path(config.out)
    raw_path = out.with_suffix(".json")
    if not report_only:
        run_missing(config, raw_path)
    write_report(json.loads(raw_path.read_text()), out)


def run_missing(config: BenchConfig, raw_path: Path) -> None:
    """Run what the JSON at ``raw_path`` lacks, rewriting it (atomically) after each run."""
    runs, record = open_record(raw_path, config)
    header = record.raw["header"]
    todo = plan(config, {(r["method"], r["problem"], r["seed"]) for r in runs})
    print(f"{len(todo)} runs to do ({len(runs)} kept)", flush=True)

    def on_result(r: dict[str, Any]) -> None:
        runs.append(r)
        record.dump()
        write_report(record.raw, raw_path.with_suffix(".md"))
        print(
            f"seed {r['seed']} {r['problem']:13s} {r['method']:16s} regret "
            f"{r['final_regret']:.3e} {r['seconds_per_proposal']:.2f} s/prop ({r['wall_s']:.0f} s, "
            f"total {record.minutes():.1f} min, load {loadavg()})",
            flush=True,
        )

    left = run_grid(run_one, todo, config, record, on_result)
    header["not_started"] = [list(t[:3]) for t in left]
    record.finish(finished=not left)
    print(f"done in {record.minutes():.1f} min; {len(left)} runs not started", flush=True)


if __name__ == "__main__":
    main()
