"""Searcher overhead: batch-generation time and memory, suggest() latency, bounded model.

1. Batch generation: ``BatchGenerator.generate(q)`` after n noise-free Sobol
   observations of Levy-d (on ``[-10, 10]^d``), default acquisition (qLogNEI) and
   batch strategy (sequential; ``--sequential`` times joint beside it),
   one factor at a time around (n = 200, q = 4, d = 6): n in 50/200/500/1000 with
   the model fitted on all observations and on ``max_observations`` of them, q in
   1/4/8/16, d in 2/6/10/20. Wall seconds and peak extra resident memory (the
   process's high-water mark during the call, reset just before it through
   ``/proc/self/clear_refs``, minus the resident memory before it).
2. A long study's tail: Hartmann6 pre-filled with ``--prefill`` Sobol observations,
   then ``--tail`` more trials proposed by ``BatchBOSearcher`` for 4 simulated
   asynchronous workers, with ``max_observations`` = none, the default, and half
   the default. Per arm: generation seconds per batch, ``suggest()`` latency, the
   time a worker waited for its point, and final simple regret (the cost of the
   bound in quality).

3. Several objectives (issue 14): one q = 4 batch after 100 observations of k
   shifted copies of Levy-6, with qLogNEHVI (k = 2 to 4) and qLogNParEGO (2 to 5):
   what the choice between them at :data:`MAX_HVI_OBJECTIVES` rests on.
   ``--reduced`` also times the 2-objective cells with :data:`REDUCED_OPTIMIZER`.
   ``--objectives`` runs only these cells and merges them into the existing JSON;
   with ``--max-objectives k`` it re-times only the cells of at most k objectives,
   and the others keep the stamp (command, date, CPU, load) of the run that timed them.

Run: ``python benchmarks/searcher_overhead.py`` (``--quick`` for a smoke test).
Results: ``benchmarks/results/searcher_overhead.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    Recorder,
    SearcherMethod,
    fmt,
    header_lines,
    loadavg,
    new_header,
    pct,
    pyplot,
    quiet,
    reading,
    save,
    simulate_async,
    worker_pool,
    wtl,
)

NAME = "searcher_overhead"
#: Half of Ax's ``optimize_acqf`` effort (20 restarts from 1,024 raw samples), as
#: BoTorch's tutorials set it; ``--reduced`` times it beside the defaults.
REDUCED_OPTIMIZER = {"num_restarts": 10, "raw_samples": 512}
NOTES_FILE = f"{NAME}_notes.md"
WORKERS = 4


@dataclass(frozen=True)
class BenchConfig:
    """Everything one run depends on.

    Attributes:
        cells: (n observations, q, d, max_observations or None) per timing cell.
        repeats: Repeats per timing cell (median reported).
        prefill: Sobol observations before the long-study tail.
        tail: Trials proposed by the searcher after the pre-fill.
        bounds: ``max_observations`` arms of the long-study tail.
        seeds: Seeds of the long-study tail (paired across arms).
        jobs: Processes for the long-study tail (the timing cells run alone).
        torch_threads: ``torch.set_num_threads`` in every process.
        out: Output folder.
        strategies: ``batch_strategy`` values each timing cell is measured with
            (the default strategy; ``--sequential`` times "joint" and "sequential").
        objective_cells: (objectives, acquisition) per several-objective cell
            (n = 100, q = 4, d = 6, sequential).
        reduced_cells: Those of ``objective_cells`` also timed with
            :data:`REDUCED_OPTIMIZER`, right after the same cell, same seed.
    """

    cells: tuple[tuple[int, int, int, int | None], ...] = ()
    repeats: int = 1
    prefill: int = 300
    tail: int = 12
    bounds: tuple[int | None, ...] = (None, 200, 100)
    seeds: int = 5
    jobs: int = 2
    torch_threads: int = 1
    out: str = "benchmarks/results"
    strategies: tuple[str, ...] = ("sequential",)
    objective_cells: tuple[tuple[int, str], ...] = ()
    reduced_cells: tuple[tuple[int, str], ...] = ()


def default_cells(bound: int) -> tuple[tuple[int, int, int, int | None], ...]:
    """The sparse grid: one factor at a time around (n=200, q=4, d=6)."""
    cells: list[tuple[int, int, int, int | None]] = []
    for n in (50, 200, 500, 1000):
        cells.append((n, 4, 6, None))
        for b in sorted({bound, 200}):
            if n > b:
                cells.append((n, 4, 6, b))
    for q in (1, 8, 16):
        cells.append((200, q, 6, None))
    for d in (2, 10, 20):
        cells.append((200, 4, d, None))
    return tuple(cells)


# ------------------------------------------------------------ timing cells
@functools.cache
def _levy(d: int) -> Any:
    from botorch.test_functions.synthetic import Levy

    return Levy(dim=d)


def levy_space(d: int) -> dict[str, Any]:
    """Levy-d's Ray Tune space, ``x0 .. x{d-1}`` uniform on [-10, 10]."""
    from ray import tune

    return {f"x{i}": tune.uniform(-10.0, 10.0) for i in range(d)}


def levy_value(d: int, params: dict[str, Any]) -> float:
    """Noise-free Levy-d."""
    import torch

    x = torch.tensor([[float(params[f"x{i}"]) for i in range(d)]], dtype=torch.float64)
    return float(_levy(d).evaluate_true(x).item())


def _rss_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return -1


def shifted_levy(d: int, k: int, params: dict[str, Any]) -> dict[str, float]:
    """``k`` objectives: Levy-d at x, x - 3, x - 6, ... (optima apart, so they conflict).

    A shifted point is wrapped back into the box [-10, 10]^d.
    """
    return {
        f"value{j}": levy_value(
            d, {n: (v - 3.0 * j + 10.0) % 20.0 - 10.0 for n, v in params.items()}
        )
        for j in range(k)
    }


def time_cell(
    n_obs: int,
    q: int,
    d: int,
    bound: int | None,
    repeat: int,
    strategy: str = "joint",
    objectives: int = 1,
    acquisition: str | None = None,
    optimizer_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One timing cell in this process: fill n observations, time one q-point batch.

    ``optimizer_options`` go to the generator as a user's would (``None``: the defaults).
    """
    from distributed_bo.search.generator import BatchGenerator
    from distributed_bo.search.outcomes import Outcomes
    from distributed_bo.search.settings import DEFAULT_ACQUISITION
    from distributed_bo.search.space import map_space

    space = map_space(levy_space(d))
    names = [f"value{j}" for j in range(objectives)] if objectives > 1 else ["value"]
    acquisition = acquisition or DEFAULT_ACQUISITION
    gen = BatchGenerator(
        space=space,
        metric=names[0],
        mode="min",
        acquisition=acquisition,
        batch_strategy=strategy,
        num_initial=max(5, 2 * d),
        seed=1000 + repeat,
        max_observations=bound,
        optimizer_options=optimizer_options,
        outcomes=Outcomes.build(
            names if objectives > 1 else names[0], ["min"] * len(names) if objectives > 1 else "min"
        ),
    )

    def observe(index: int) -> None:
        params = gen.parameters(index)
        if objectives == 1:
            gen.complete(index, levy_value(d, params))
            return
        values = shifted_levy(d, objectives, params)
        gen.complete(index, values[names[0]], values)

    start = time.perf_counter()
    for index in gen.generate(n_obs):
        observe(index)
    fill_s = time.perf_counter() - start
    rss_before = _rss_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (Linux >= 4.0)
        hwm_reset = True
    except OSError:
        hwm_reset = False
    start, cpu_start = time.perf_counter(), time.process_time()
    new = gen.generate(q)
    seconds = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    peak = _rss_kib("VmHWM")
    stats = gen.last_stats
    if len(new) != q or stats is None or stats.method != gen.acquisition_name:
        raise RuntimeError(f"timing cell: expected {q} BO points, got {len(new)} ({stats})")
    # The searcher snapshots the experiment after every generation cycle: Ax's own
    # encoder, against BatchGenerator.to_json after one more result (cache warm).
    start = time.perf_counter()
    gen.client._to_json_snapshot()
    snapshot_ax_s = time.perf_counter() - start
    gen.to_json()
    observe(new[0])
    start = time.perf_counter()
    gen.to_json()
    snapshot_s = time.perf_counter() - start
    return {
        "observations": n_obs,
        "q": q,
        "d": d,
        "max_observations": bound,
        "batch_strategy": strategy,
        "objectives": objectives,
        "acquisition": gen.acquisition_name,
        "repeat": repeat,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "optimizer": _optimizer_label(optimizer_options),
        "fill_s": fill_s,
        "snapshot_ax_s": snapshot_ax_s,
        "snapshot_s": snapshot_s,
        "num_fitted": stats.num_fitted,
        "rss_before_mib": rss_before / 1024,
        "peak_extra_mib": (peak - rss_before) / 1024 if hwm_reset else None,
        "peak_rss_mib": peak / 1024,
        "loadavg": loadavg(),
    }


# ---------------------------------------------------------- long-study tail
def tail_run(bound: int | None, seed: int, prefill: int, tail: int) -> dict[str, Any]:
    """Hartmann6: ``prefill`` Sobol observations, then ``tail`` searcher trials."""
    from distributed_bo.trainables.synthetic import (
        SYNTHETIC_PROBLEMS,
        evaluate,
        synthetic_space,
    )

    problem = SYNTHETIC_PROBLEMS["hartmann6"]

    def objective(config: dict[str, Any]) -> float:
        return evaluate("hartmann6", x=[float(config[k]) for k in problem.keys])

    start = time.perf_counter()
    method = SearcherMethod(
        synthetic_space("hartmann6"), seed, prefill + tail, WORKERS, max_observations=bound
    )
    # Pre-fill the Ax experiment before the searcher's thread exists (it owns the
    # experiment afterwards): the same Sobol points for every arm of this seed.
    gen = method.searcher._gen
    prefill_values = []
    for index in gen.generate(prefill):
        value = objective(gen.parameters(index))
        gen.complete(index, value)
        prefill_values.append(value)
    method.searcher.set_search_properties(None, None, {}, num_samples=tail)
    durations = np.random.default_rng([seed, 99]).exponential(1.0, size=tail)
    values, _ = simulate_async(method, objective, tail, durations, WORKERS)
    extra = method.close()
    best_prefill = min(prefill_values) - problem.optimum
    best = min(min(values) - problem.optimum, best_prefill)
    bo = [s for s in extra["generation_stats"] if s["num_fitted"] is not None]
    return {
        "max_observations": bound,
        "seed": seed,
        "prefill": prefill,
        "tail": tail,
        "prefill_regret": best_prefill,
        "final_regret": best,
        "tail_values": values,
        "gen_seconds": [s["seconds"] for s in bo],
        "num_fitted": [s["num_fitted"] for s in bo],
        "suggest_latency_s": extra["suggest_latency_s"],
        "wait_s": extra["wait_s"],
        "none_returns": extra["none_returns"],
        "wall_s": time.perf_counter() - start,
    }


# --------------------------------------------------------------------- report
def _strategy(row: dict[str, Any]) -> str:
    """A timing row's ``batch_strategy`` (rows before the field existed: "joint")."""
    return str(row.get("batch_strategy", "joint"))


def _bound(b: int | None) -> str:
    return "all" if b is None else str(b)


def plot(raw: dict[str, Any], out: Path) -> list[Path]:
    """Generation seconds against n (all vs bounded), q and d."""
    plt = pyplot()
    # The plot shows the default strategy (joint in runs before 2026-12-05).
    have = {_strategy(r) for r in raw["timing"]}
    shown = "sequential" if "sequential" in have else "joint"
    rows = [r for r in raw["timing"] if _strategy(r) == shown]

    def med(sel: list[dict[str, Any]], key: str) -> float:
        return pct([r[key] for r in sel], 50)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), dpi=100)
    for bound, style in ((None, "o-"), (raw["header"]["bound"], "s--")):
        xs = sorted(
            {
                r["observations"]
                for r in rows
                if r["q"] == 4 and r["d"] == 6 and r["max_observations"] in (None, bound)
            }
        )
        ys = []
        for n in xs:
            sel = [
                r
                for r in rows
                if r["observations"] == n
                and r["q"] == 4
                and r["d"] == 6
                and (
                    r["max_observations"] == bound
                    or (n <= (bound or 0) and r["max_observations"] is None)
                )
            ]
            ys.append(med(sel, "seconds") if sel else np.nan)
        axes[0].plot(xs, ys, style, label=f"max_observations={_bound(bound)}")
    axes[0].set_xlabel("observations n (q=4, d=6)")
    axes[0].set_ylabel("seconds per batch")
    axes[0].legend()
    for ax, key, label in ((axes[1], "q", "q (n=200, d=6)"), (axes[2], "d", "d (n=200, q=4)")):
        other = {"q": ("d", 6), "d": ("q", 4)}[key]
        sel = [
            r
            for r in rows
            if r["observations"] == 200
            and r[other[0]] == other[1]
            and r["max_observations"] is None
        ]
        xs = sorted({r[key] for r in sel})
        ax.plot(xs, [med([r for r in sel if r[key] == x], "seconds") for x in xs], "o-")
        ax.set_xlabel(label)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.suptitle("BatchGenerator.generate(q): wall seconds (median over repeats), Levy-d")
    paths = [save(fig, out / f"{NAME}_generation.png")]
    tails = raw["tail"]
    if tails:
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
        for b in raw["header"]["config"]["bounds"]:
            sel = [t for t in tails if t["max_observations"] == b]
            if not sel:
                continue
            g = [x for t in sel for x in t["gen_seconds"]]
            f = [x for t in sel for x in t["num_fitted"]]
            ax.scatter(f, g, s=12, label=f"max_observations={_bound(b)}")
        ax.set_xlabel("observations fitted")
        ax.set_ylabel("seconds per batch (q = 1, 3 pending)")
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title("Long-study tail on Hartmann6")
        paths.append(save(fig, out / f"{NAME}_tail.png"))
    return paths


def write_markdown(raw: dict[str, Any], out: Path, plots: Sequence[Path]) -> None:
    """Write ``searcher_overhead.md``."""
    header = raw["header"]
    cfg = header["config"]
    n_cells = len(
        {(r["observations"], r["q"], r["d"], r["max_observations"]) for r in raw["timing"]}
    )
    both = len({_strategy(r) for r in raw["timing"]}) > 1
    lines = header_lines(
        "Searcher overhead benchmark",
        header,
        setup=[
            f"- torch.set_num_threads({cfg['torch_threads']}) in every process; timing cells "
            f"one at a time in one worker process; long-study arms in {cfg['jobs']} processes"
        ],
    )
    lines += [
        "",
        "## Reduced settings",
        "",
        "The issue asks for the full grid (n in 50-1,000 x q in 1-16 x d in 2-20) and "
        "a 1,000-trial study. On 2 shared cores this run instead measures:",
        "",
        "- a sparse grid, one factor at a time around n = 200, q = 4, d = 6 "
        f"({n_cells} cells, {cfg['repeats']} repeat(s) each, median shown);",
        f"- instead of a 1,000-trial study, its tail: {cfg['prefill']} Sobol observations "
        f"then {cfg['tail']} searcher trials on 4 simulated asynchronous workers, "
        f"{cfg['seeds']} seeds, for each `max_observations` arm; the time a 1,000-trial "
        "study spends in generation is extrapolated from the n sweep below.",
        "",
        "## Batch generation time and memory",
        "",
        "`BatchGenerator.generate(q)` on Levy-d after n noise-free Sobol observations, "
        "qLogNEI, "
        + ("" if both else f"{_strategy(raw['timing'][0])}, " if raw["timing"] else "")
        + "default optimizer options, no pending points. Seconds: median "
        "[min, max] over repeats. Peak extra MiB: resident-memory high-water mark "
        "during the call minus resident memory before it (max over repeats). Snapshot: "
        "the experiment's JSON the searcher takes after every generation cycle, with "
        "Ax's own encoder (`Client._to_json_snapshot`) and with `BatchGenerator.to_json` "
        "(the same dict, each trial's encoded data cached) after one more result; "
        "median seconds.",
        "",
        "| n | q | d | max_observations | "
        + ("strategy | " if both else "")
        + "fitted on | seconds | peak extra MiB | "
        "RSS before MiB | snapshot s, Ax | snapshot s, cached |",
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if both else ""),
    ]
    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in raw["timing"]:
        key = (r["observations"], r["q"], r["d"], r["max_observations"], _strategy(r))
        cells.setdefault(key, []).append(r)
    for key in sorted(cells, key=lambda k: (k[2] != 6, k[1] != 4, k[0], k[1], k[2], k[3] or 0)):
        rs = cells[key]
        secs = [r["seconds"] for r in rs]
        peaks = [r["peak_extra_mib"] for r in rs if r["peak_extra_mib"] is not None]
        snaps = [
            f"{pct([r[k] for r in rs], 50):.2f}" if all(k in r for r in rs) else "-"
            for k in ("snapshot_ax_s", "snapshot_s")
        ]
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {_bound(key[3])} | "
            + (f"{key[4]} | " if both else "")
            + f"{rs[0]['num_fitted']} | "
            f"{pct(secs, 50):.2f} [{min(secs):.2f}, {max(secs):.2f}] | "
            + (
                f"{max(peaks):.0f} | {pct([r['rss_before_mib'] for r in rs], 50):.0f} | "
                if peaks
                else "- | - | "
            )
            + " | ".join(snaps)
            + " |"
        )
    lines += [""] + [f"![{p.stem}]({p.name})" for p in plots[:1]]
    tails = raw["tail"]
    if tails:
        lines += [
            "",
            "## Long-study tail: time and regret by `max_observations`",
            "",
            f"Hartmann6 (d = 6), {cfg['prefill']} Sobol observations, then {cfg['tail']} "
            "trials from `BatchBOSearcher` (default acquisition) for 4 asynchronous "
            "workers (q = 1 batches with 3 pending points). Final regret: best of "
            "pre-fill and tail minus the optimum, median [IQR] over seeds; W-T-L against "
            "fitting on all observations, paired by seed. `suggest()` latency over every "
            "call; wait: wall time a worker spent in `wait_ready()` for its point.",
            "",
            "| max_observations | seeds | fitted on | gen s median | gen s p90 | "
            "suggest p50 ms | suggest p99 ms | wait p50 s | wait p99 s | "
            "pre-fill regret | final regret | vs all |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        base = {t["seed"]: t["final_regret"] for t in tails if t["max_observations"] is None}
        for b in cfg["bounds"]:
            sel = [t for t in tails if t["max_observations"] == b]
            if not sel:
                continue
            g = [x for t in sel for x in t["gen_seconds"]]
            lat = [x for t in sel for x in t["suggest_latency_s"]]
            waits = [x for t in sel for x in t["wait_s"]]
            fitted = sorted({x for t in sel for x in t["num_fitted"]})
            fin = [t["final_regret"] for t in sel]
            pre = [t["prefill_regret"] for t in sel]
            mine = {t["seed"]: t["final_regret"] for t in sel}
            lines.append(
                f"| {_bound(b)} | {len(sel)} | {fitted[0]}-{fitted[-1]} | {pct(g, 50):.2f} | "
                f"{pct(g, 90):.2f} | {pct(lat, 50) * 1e3:.3f} | {pct(lat, 99) * 1e3:.2f} | "
                f"{pct(waits, 50):.2f} | {pct(waits, 99):.2f} | {fmt(pct(pre, 50))} | "
                f"{fmt(pct(fin, 50))} [{fmt(pct(fin, 25))}, {fmt(pct(fin, 75))}] | "
                + ("-" if b is None else wtl(mine, base))
                + " |"
            )
        lines += [""] + [f"![{p.stem}]({p.name})" for p in plots[1:]]
    lines += objective_lines(raw.get("objectives"))
    lines += reading(out, NOTES_FILE)
    (out / f"{NAME}.md").write_text("\n".join(lines))


def objective_lines(part: dict[str, Any] | None) -> list[str]:
    """The several-objective section (its own command, date and load)."""
    if not part or not part.get("cells"):
        return []
    h = part["header"]
    load = h.get("load") or {}
    lines = [
        "",
        "## Several objectives: qLogNEHVI against qLogNParEGO",
        "",
        f"- Command of the latest run: `{h['command']}` (merged into this file's JSON under "
        "`objectives`; the run that timed each cell is listed below the table)",
        f"- Date (UTC): {h['date_utc']}; {h.get('wall_min', 0):.1f} min; "
        f"load median {load.get('median', float('nan')):.1f} on 2 cores",
        "",
        "One q = 4 batch (sequential) after 100 Sobol observations of k objectives, Levy-6 "
        "at x, x - 3, x - 6, ... wrapped into the box (conflicting optima), all minimised, "
        "no pending points; "
        "seconds of `BatchGenerator.generate(4)` (fit plus optimisation), median [min, max] "
        "over repeats. The default switches from qLogNEHVI to qLogNParEGO above "
        "`MAX_HVI_OBJECTIVES` objectives (`distributed_bo/search/acquisition.py`). "
        "Optimiser: `optimize_acqf`'s restarts / raw samples (20/1024 are Ax's defaults); "
        "a cell timed with both ran them one after the other, same seed. CPU seconds are "
        "the process's (one torch thread), less inflated than wall seconds on a loaded "
        "machine.",
        "",
        "| objectives | acquisition | optimiser | seconds | CPU seconds | run |",
        "|---|---|---|---|---|---|",
    ]
    cells: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for r in part["cells"]:
        # Rows from before the field existed used Ax's defaults.
        key = (r["objectives"], r["acquisition"], r.get("optimizer", "20/1024"))
        cells.setdefault(key, []).append(r)
    runs = h.get("runs") or {h["date_utc"]: _run_stamp(h)}
    letters = {date: chr(ord("A") + i) for i, date in enumerate(sorted(runs))}
    for (k, acq, opt), rows in sorted(cells.items()):
        run = letters[rows[0].get("run", h["date_utc"])]
        lines.append(
            f"| {k} | {acq} | {opt} | {_spread(rows, 'seconds')} | "
            f"{_spread(rows, 'cpu_s')} | {run} |"
        )
    lines.append("")
    for date, letter in letters.items():
        r = runs[date]
        load = r["load_median"]
        lines.append(
            f"- Run {letter}: `{r['command']}`, {date} UTC, {r['cpu']}, load median "
            + ("?" if load is None else f"{load:.1f}")
        )
    return lines


def _optimizer_label(options: dict[str, Any] | None) -> str:
    """``"restarts/raw samples"`` in effect: the given options over Ax's defaults."""
    from ax.generators.torch.botorch_modular.optimizer_defaults import (
        NUM_RESTARTS,
        RAW_SAMPLES,
    )

    options = options or {}
    return f"{options.get('num_restarts', NUM_RESTARTS)}/{options.get('raw_samples', RAW_SAMPLES)}"


def _spread(rows: list[dict[str, Any]], key: str) -> str:
    """Median [min, max] of ``key`` over rows, or "-" where no row has it."""
    xs = [r[key] for r in rows if r.get(key) is not None]
    return f"{pct(xs, 50):.2f} [{min(xs):.2f}, {max(xs):.2f}]" if xs else "-"


def report(raw: dict[str, Any], out: Path) -> None:
    """Write the Markdown and PNGs."""
    write_markdown(raw, out, plot(raw, out))


# ------------------------------------------------------------------------ main
def parse_args(argv: Sequence[str] | None = None) -> tuple[BenchConfig, bool]:
    """Command line -> (:class:`BenchConfig`, replot)."""
    from distributed_bo.search.settings import DEFAULT_MAX_OBSERVATIONS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--prefill", type=int, default=300)
    parser.add_argument("--tail", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--skip-tail", action="store_true", help="timing cells only")
    parser.add_argument("--skip-cells", action="store_true", help="long-study tail only")
    parser.add_argument(
        "--sequential", action="store_true", help="time every cell joint and sequential"
    )
    parser.add_argument(
        "--objectives",
        action="store_true",
        help="only the several-objective cells, merged into the JSON in --out",
    )
    parser.add_argument(
        "--reduced",
        action="store_true",
        help="with --objectives: also time the 2-objective cells with REDUCED_OPTIMIZER",
    )
    parser.add_argument(
        "--max-objectives",
        type=int,
        default=None,
        help="with --objectives: time only cells of at most this many objectives; the "
        "JSON keeps the other cells from their own run",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--replot", action="store_true")
    args = parser.parse_args(argv)
    if args.objectives:
        # qLogNEHVI took 164 s at 4 objectives (2026-12-05), so 5 is not timed.
        hvi, parego = ((2,), (2,)) if args.quick else ((2, 3, 4), (2, 3, 4, 5))
        cells = [(k, "qLogNEHVI") for k in hvi] + [(k, "qLogNParEGO") for k in parego]
        if args.max_objectives is not None:
            cells = [c for c in cells if c[0] <= args.max_objectives]
        return (
            BenchConfig(
                repeats=args.repeats,
                seeds=0,
                torch_threads=args.torch_threads,
                out=args.out,
                objective_cells=tuple(sorted(cells)),
                reduced_cells=tuple(sorted(c for c in cells if c[0] == 2)) if args.reduced else (),
            ),
            args.replot,
        )
    bound = DEFAULT_MAX_OBSERVATIONS or 200
    strategies = ("joint", "sequential") if args.sequential else ("sequential",)
    if args.quick:
        return (
            BenchConfig(
                cells=((50, 2, 2, None), (60, 2, 2, 20)),
                prefill=30,
                tail=6,
                bounds=(None, 20),
                seeds=1,
                jobs=args.jobs,
                torch_threads=args.torch_threads,
                out=args.out,
                strategies=strategies,
            ),
            args.replot,
        )
    return (
        BenchConfig(
            cells=() if args.skip_cells else default_cells(bound),
            repeats=args.repeats,
            prefill=args.prefill,
            tail=args.tail,
            bounds=(None, bound, bound // 2),
            seeds=0 if args.skip_tail else args.seeds,
            jobs=args.jobs,
            torch_threads=args.torch_threads,
            out=args.out,
            strategies=strategies,
        ),
        args.replot,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the timing cells, then the long-study tail; write JSON, Markdown, PNGs."""
    config, replot = parse_args(argv)
    out = Path(config.out)
    raw_path = out / f"{NAME}.json"
    if replot:
        report(json.loads(raw_path.read_text()), out)
        return
    quiet()
    out.mkdir(parents=True, exist_ok=True)
    if config.objective_cells:
        run_objective_cells(config, raw_path)
        return
    from distributed_bo.search.settings import DEFAULT_MAX_OBSERVATIONS

    header = new_header(config=asdict(config), bound=DEFAULT_MAX_OBSERVATIONS, finished=False)
    raw: dict[str, Any] = {"header": header, "timing": [], "tail": []}
    record = Recorder(raw_path, raw)
    with worker_pool(1, config.torch_threads) as pool:
        if config.cells:
            pool.submit(time_cell, 20, 1, 2, None, 99).result()  # warm-up, untimed
        for rep in range(config.repeats):
            for n, q, d, bound in config.cells:
                for strategy in config.strategies:
                    r = pool.submit(time_cell, n, q, d, bound, rep, strategy).result()
                    raw["timing"].append(r)
                    print(
                        f"n={n} q={q} d={d} bound={_bound(bound)} {strategy} rep={rep}: "
                        f"{r['seconds']:.2f} s, peak +{r['peak_extra_mib']} MiB "
                        f"(load {r['loadavg']})",
                        flush=True,
                    )
                    record.dump()
    if config.seeds:
        with worker_pool(config.jobs, config.torch_threads) as pool:
            futures = [
                pool.submit(tail_run, b, s, config.prefill, config.tail)
                for s in range(config.seeds)
                for b in config.bounds
            ]
            for future in futures:
                t = future.result()
                raw["tail"].append(t)
                print(
                    f"tail bound={_bound(t['max_observations'])} seed={t['seed']}: regret "
                    f"{t['prefill_regret']:.3g} -> {t['final_regret']:.3g}, gen median "
                    f"{np.median(t['gen_seconds']):.2f} s ({t['wall_s']:.0f} s)",
                    flush=True,
                )
                record.dump()
    record.finish()
    report(raw, out)
    print(f"done in {header['wall_min']:.1f} min", flush=True)


def _run_stamp(header: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs to weigh a run's seconds: command, date, CPU, load."""
    return {
        "command": header["command"],
        "date_utc": header["date_utc"],
        "cpu": header.get("machine", {}).get("cpu", "?"),
        "load_median": (header.get("load") or {}).get("median"),
    }


def merge_objective_runs(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new``'s cells, plus ``old``'s cells of objective counts ``new`` did not time.

    Every cell keeps the date of the run that timed it (``run``), and the header lists
    each run's stamp under ``runs``, so a partial re-time (``--max-objectives``) never
    passes old seconds off as new ones.
    """
    runs = {new["header"]["date_utc"]: _run_stamp(new["header"])}
    for cell in new["cells"]:
        cell["run"] = new["header"]["date_utc"]
    timed = {c["objectives"] for c in new["cells"]}
    if old and old.get("cells"):
        old_runs = old["header"].get("runs") or {
            old["header"]["date_utc"]: _run_stamp(old["header"])
        }
        for cell in old["cells"]:
            if cell["objectives"] not in timed:
                cell.setdefault("run", old["header"]["date_utc"])
                new["cells"].append(cell)
                runs[cell["run"]] = old_runs[cell["run"]]
    new["header"]["runs"] = runs
    return new


def run_objective_cells(config: BenchConfig, raw_path: Path) -> None:
    """Time the several-objective cells; keep the rest of the JSON as it is."""
    raw = json.loads(raw_path.read_text()) if raw_path.exists() else {"timing": [], "tail": []}
    part: dict[str, Any] = {"header": new_header(config=asdict(config), finished=False)}
    part["cells"] = []
    record = Recorder(raw_path.with_suffix(".objectives.json"), part)
    with worker_pool(1, config.torch_threads) as pool:
        pool.submit(time_cell, 20, 1, 2, None, 99, "sequential", 2).result()  # warm-up
        for rep in range(config.repeats):
            for k, acquisition in config.objective_cells:
                arms = [None] + [REDUCED_OPTIMIZER] * ((k, acquisition) in config.reduced_cells)
                for options in arms:
                    r = pool.submit(
                        time_cell, 100, 4, 6, None, rep, "sequential", k, acquisition, options
                    ).result()
                    part["cells"].append(r)
                    print(
                        f"{k} objectives {acquisition} {r['optimizer']} rep={rep}: "
                        f"{r['seconds']:.2f} s ({r['cpu_s']:.2f} cpu s, load {r['loadavg']})",
                        flush=True,
                    )
                    record.dump()
    record.finish()
    raw_path.with_suffix(".objectives.json").unlink()
    raw["objectives"] = merge_objective_runs(raw.get("objectives"), part)
    raw_path.write_text(json.dumps(raw, indent=1))
    if "header" in raw:  # the Markdown needs a timing run's JSON to merge into
        report(raw, raw_path.parent)
    print(f"done in {part['header']['wall_min']:.1f} min", flush=True)


if __name__ == "__main__":
    main()
