"""Utilization: how busy BatchBOSearcher keeps 4 logical GPUs, against random search.

One local Ray instance on 127.0.0.1 (``loopback_only``) with 4 logical GPUs. Three
``tune.Tuner`` runs in the same process, one after the other: ``BatchBOSearcher``
with its defaults (one spare point kept ready, ``prefetch=1``), ``BatchBOSearcher``
generating only when a slot frees (``prefetch=0``), and Tune's random search
(``BasicVariantGenerator``), each with
``--trials`` trials, ``max_concurrent_trials = 4`` and one GPU per trial. A trial
sleeps for a known duration: uniform in ``[--min-s, --max-s]``, from a hash of its
config, so the durations do not depend on where the searcher looks. It then
reports Hartmann6 of its config (numpy, no imports) and its wall-clock start and end.

Busy fraction = sum of the trials' run times / (4 x makespan), the makespan from
``Tuner.fit()`` being called to the last trial's end (also from the first trial's
start). First-round fill: how long after ``fit()`` all 4 GPUs were busy, and how
many trials started before the first one finished.

Run: ``python benchmarks/utilization.py``. Results: ``benchmarks/results/utilization.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    Recorder,
    hartmann6,
    header_lines,
    loadavg,
    new_header,
    pyplot,
    quiet,
    reading,
    save,
)

NAME = "utilization"
GPUS = 4
RANDOM = "Random search (BasicVariantGenerator)"


def duration_of(config: dict[str, Any], lo: float, hi: float) -> float:
    """A duration in ``[lo, hi]`` from a hash of the config's rounded values."""
    key = ",".join(f"{config[f'x{i}']:.6f}" for i in range(6)).encode()
    frac = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return lo + (hi - lo) * frac


def sleep_trial(config: dict[str, Any]) -> None:
    """The trainable: sleep for the config's duration, then report Hartmann6."""
    from ray import tune

    start = time.time()
    duration = duration_of(config, config["min_s"], config["max_s"])
    time.sleep(duration)
    value = hartmann6([config[f"x{i}"] for i in range(6)])
    tune.report({"value": value, "start": start, "end": time.time(), "duration": duration})


def run_tuner(
    label: str, search_alg: Any, trials: int, lo: float, hi: float, storage: str
) -> dict[str, Any]:
    """One ``tune.Tuner`` run; the trials' start/end times and the fit() call's times."""
    from ray import tune

    space: dict[str, Any] = {f"x{i}": tune.uniform(0.0, 1.0) for i in range(6)}
    space.update(min_s=lo, max_s=hi)
    tuner = tune.Tuner(
        tune.with_resources(sleep_trial, {"cpu": 0.5, "gpu": 1}),
        param_space=space,
        tune_config=tune.TuneConfig(
            search_alg=search_alg,
            metric="value",
            mode="min",
            num_samples=trials,
            max_concurrent_trials=GPUS,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(name=label.replace(" ", "_"), storage_path=storage, verbose=0),
    )
    fit_start = time.time()
    grid = tuner.fit()
    fit_end = time.time()
    rows = []
    for result in grid:
        m = result.metrics or {}
        if "start" in m:
            rows.append(
                {
                    "start": m["start"],
                    "end": m["end"],
                    "duration": m["duration"],
                    "value": m["value"],
                }
            )
    return {"label": label, "fit_start": fit_start, "fit_end": fit_end, "trials": rows}


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """Busy fraction, makespan and first-round fill of one run."""
    trials = sorted(run["trials"], key=lambda t: t["start"])
    if not trials:
        return {"trials": 0}
    t0, first = run["fit_start"], trials[0]["start"]
    last_end = max(t["end"] for t in trials)
    busy = sum(t["end"] - t["start"] for t in trials)
    first_end = min(t["end"] for t in trials)
    started_before_first_end = sum(t["start"] < first_end for t in trials)
    all_busy_at = trials[GPUS - 1]["start"] if len(trials) >= GPUS else float("nan")
    # While work remained: up to the last trial's start. After it, GPUs drain as the
    # last trials end, which depends on the durations drawn, not on the searcher.
    last_start = trials[-1]["start"]
    busy_open = sum(max(0.0, min(t["end"], last_start) - t["start"]) for t in trials)
    # Idle gaps: for each trial after the first round, the time its GPU stood empty
    # (from the earliest free slot to the trial's start), by replaying the slots.
    slots = [t0] * GPUS
    gaps = []
    for t in trials:
        i = int(np.argmin(slots))
        gaps.append(max(0.0, t["start"] - slots[i]))
        slots[i] = t["end"]
    return {
        "trials": len(trials),
        "makespan_s": last_end - t0,
        "makespan_from_first_start_s": last_end - first,
        "busy_s": busy,
        "busy_fraction": busy / (GPUS * (last_end - t0)),
        "busy_fraction_from_first_start": busy / (GPUS * (last_end - first)),
        "ideal_makespan_s": busy / GPUS,
        "busy_fraction_while_work_remained": busy_open / (GPUS * (last_start - t0)),
        "first_start_after_fit_s": first - t0,
        "all_gpus_busy_after_fit_s": all_busy_at - t0,
        "started_before_first_end": started_before_first_end,
        "gap_p50_s": float(np.median(gaps[GPUS:])) if len(gaps) > GPUS else 0.0,
        "gap_max_s": float(max(gaps[GPUS:])) if len(gaps) > GPUS else 0.0,
        "gap_total_s": float(sum(gaps[GPUS:])),
        "best_value": min(t["value"] for t in trials),
        "fit_wall_s": run["fit_end"] - run["fit_start"],
    }


def plot(runs: list[dict[str, Any]], out: Path) -> Path:
    """Timeline per GPU slot for each run: bars are trials, white is idle."""
    plt = pyplot()
    fig, axes = plt.subplots(len(runs), 1, figsize=(12, 2.2 * len(runs)), dpi=100, sharex=True)
    axes = np.atleast_1d(axes)
    for ax, run in zip(axes, runs, strict=True):
        t0 = run["fit_start"]
        slots = [t0] * GPUS
        for t in sorted(run["trials"], key=lambda t: t["start"]):
            i = int(np.argmin(slots))
            ax.barh(
                i,
                t["end"] - t["start"],
                left=t["start"] - t0,
                color="tab:blue",
                alpha=0.8,
                edgecolor="black",
                linewidth=0.4,
            )
            slots[i] = t["end"]
        s = summarise(run)
        ax.set_title(
            f"{run['label']}: busy fraction {s['busy_fraction']:.3f}, "
            f"all {GPUS} GPUs busy {s['all_gpus_busy_after_fit_s']:.1f} s after fit()",
            fontsize=9,
        )
        ax.set_yticks(range(GPUS), [f"GPU {i}" for i in range(GPUS)])
    axes[-1].set_xlabel("seconds since Tuner.fit()")
    axes[-1].set_xlim(left=0)
    return save(fig, out / f"{NAME}_timeline.png")


def write_markdown(raw: dict[str, Any], out: Path, png: Path) -> None:
    """Write ``utilization.md``."""
    header = raw["header"]
    cfg = header["config"]
    sums = {r["label"]: summarise(r) for r in raw["runs"]}
    lines = header_lines(
        "Utilization benchmark",
        header,
        date=f"- Date (UTC): {header['date_utc']}; whole script {header['wall_min']:.1f} min",
        setup=[
            f"- Ray: local instance on 127.0.0.1, num_cpus={cfg['num_cpus']}, "
            f"num_gpus={GPUS} (logical GPUs: Ray only accounts them, nothing runs on a GPU)"
        ],
        after=[
            f"- Protocol: {cfg['trials']} trials per searcher, 1 GPU each, "
            f"max_concurrent_trials={GPUS}, reuse_actors=True; trial durations uniform in "
            f"[{cfg['min_s']:g}, {cfg['max_s']:g}] s from a hash of the config; "
            f"TUNE_MAX_PENDING_TRIALS_PG={GPUS} as `distributed-bo run` sets it; "
            f"torch.set_num_threads({cfg.get('torch_threads', 'default')}) in the driver, "
            "where the searcher generates. Order of the "
            "runs: " + " then ".join(r["label"] for r in raw["runs"]) + "."
        ],
    )
    lines += [
        "",
        "Reduced settings: the issue does not fix a size. Real GPU trials take minutes; "
        f"these take {cfg['min_s']:g}-{cfg['max_s']:g} s so that both runs fit in a few "
        "minutes, which makes the searcher's generation time (about a second or more per "
        "point on a 2-core CPU machine) a far larger share of a trial than in a real study.",
        "",
        "Busy fraction: the trials' run time / (4 x makespan from `fit()`); also from the "
        "first trial's start, and while work remained (from `fit()` to the last trial's "
        "start, after which GPUs drain as the last trials end). Idle gap: how long a "
        "freed GPU stood empty before its next trial started (after the first round).",
        "",
        "| Searcher | trials | makespan s | ideal s | busy fraction | busy from 1st start | "
        "busy while work remained | idle gap p50 s | idle gap max s | idle gaps total s | "
        "all GPUs busy after s | started before 1st end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, s in sums.items():
        lines.append(
            f"| {label} | {s['trials']} | {s['makespan_s']:.1f} | {s['ideal_makespan_s']:.1f} | "
            f"{s['busy_fraction']:.3f} | {s['busy_fraction_from_first_start']:.3f} | "
            f"{s['busy_fraction_while_work_remained']:.3f} | "
            f"{s['gap_p50_s']:.2f} | {s['gap_max_s']:.2f} | {s['gap_total_s']:.1f} | "
            f"{s['all_gpus_busy_after_fit_s']:.2f} | {s['started_before_first_end']} |"
        )
    if RANDOM in sums:
        rnd = sums[RANDOM]
        lines.append("")
        for label, ours in sums.items():
            if label == RANDOM:
                continue
            ratio = ours["busy_fraction"] / rnd["busy_fraction"]
            ratio1 = ours["busy_fraction_from_first_start"] / rnd["busy_fraction_from_first_start"]
            ratio2 = (
                ours["busy_fraction_while_work_remained"] / rnd["busy_fraction_while_work_remained"]
            )
            lines.append(
                f"- **Ratio of busy fractions, {label} / {RANDOM}: {ratio:.3f}** "
                f"(target >= 0.97: {'met' if ratio >= 0.97 else 'NOT met'}); from each run's "
                f"first trial start: {ratio1:.3f}; while work remained: {ratio2:.3f}. "
                f"First round: all {GPUS} GPUs busy "
                f"{ours['all_gpus_busy_after_fit_s']:.2f} s after `fit()` "
                f"({ours['started_before_first_end']} trials started before the first "
                f"finished; random search: {rnd['all_gpus_busy_after_fit_s']:.2f} s, "
                f"{rnd['started_before_first_end']})."
            )
    lines += ["", f"![{png.stem}]({png.name})", *reading(out, f"{NAME}_notes.md")]
    (out / f"{NAME}.md").write_text("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> None:
    """Run both Tuners on one Ray instance and write JSON, Markdown and a PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=48)
    parser.add_argument("--min-s", type=float, default=10.0)
    parser.add_argument("--max-s", type=float, default=30.0)
    parser.add_argument("--num-cpus", type=int, default=4, help="logical CPUs for Ray")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1, help="in this driver")
    parser.add_argument("--quick", action="store_true", help="8 trials of 1-2 s")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--replot", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    raw_path = out / f"{NAME}.json"
    if args.replot:
        raw = json.loads(raw_path.read_text())
        write_markdown(raw, out, plot(raw["runs"], out))
        return
    if args.quick:
        args.trials, args.min_s, args.max_s = 8, 1.0, 2.0
    quiet()
    import ray
    import torch

    # One torch thread for the searcher's generation thread in this driver: on this
    # loaded 2-core machine two threads made a batch 10-15x slower (measured on
    # 2026-11-25 by the retired searcher_quality benchmark); a GPU node has cores
    # to spare.
    torch.set_num_threads(args.torch_threads)
    from ray.tune.search import BasicVariantGenerator

    from distributed_bo import BatchBOSearcher
    from distributed_bo.runner.cluster import loopback_only

    out.mkdir(parents=True, exist_ok=True)
    header = new_header(
        config={
            "trials": args.trials,
            "min_s": args.min_s,
            "max_s": args.max_s,
            "num_cpus": args.num_cpus,
            "seed": args.seed,
            "torch_threads": args.torch_threads,
        },
        loadavg_start=loadavg(),
    )
    raw: dict[str, Any] = {"header": header, "runs": []}
    record = Recorder(raw_path, raw)
    # As distributed-bo run does: let Tune have a placement group pending per slot.
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(GPUS)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    for attempt in range(4):
        # Ray waits 30 s for its raylet; a loaded machine can need longer, so retry.
        try:
            with loopback_only():
                ray.init(
                    address="local",
                    _node_ip_address="127.0.0.1",
                    include_dashboard=False,
                    num_cpus=args.num_cpus,
                    num_gpus=GPUS,
                    log_to_driver=False,
                    configure_logging=False,
                )
            break
        except Exception as err:  # Ray raises a bare Exception on a startup timeout
            ray.shutdown()
            if attempt == 3:
                raise
            print(f"ray.init failed ({err}); retrying", flush=True)
    runs = []
    try:
        with tempfile.TemporaryDirectory() as storage:
            for label, alg in (
                ("BatchBOSearcher (defaults: prefetch=1)", BatchBOSearcher(seed=args.seed)),
                (
                    "BatchBOSearcher (prefetch=0: on demand)",
                    BatchBOSearcher(seed=args.seed, prefetch=0),
                ),
                (
                    RANDOM,
                    BasicVariantGenerator(max_concurrent=GPUS, random_state=args.seed),
                ),
            ):
                run = run_tuner(label, alg, args.trials, args.min_s, args.max_s, storage)
                runs.append(run)
                s = summarise(run)
                print(
                    f"{label}: {s['trials']} trials, busy fraction {s['busy_fraction']:.3f}, "
                    f"all GPUs busy after {s['all_gpus_busy_after_fit_s']:.2f} s "
                    f"(load {loadavg()})",
                    flush=True,
                )
    finally:
        ray.shutdown()
    raw.update(runs=runs, summary={r["label"]: summarise(r) for r in runs})
    record.finish()
    write_markdown(raw, out, plot(runs, out))
    print(f"done in {header['wall_min']:.1f} min", flush=True)


if __name__ == "__main__":
    main()
