"""Utilization: how busy BatchBOSearcher keeps 4 and 16 logical GPUs, against random search.

One local Ray instance on 127.0.0.1 (``loopback_only``) per GPU count, with that many
logical GPUs. For each trial-length pattern, three ``tune.Tuner`` runs one after the
other in the same process: ``BatchBOSearcher`` with its defaults (spares adapted to
the slots that free at once, ``prefetch=None``), ``BatchBOSearcher`` with one spare
(``prefetch=1``, the default before 2026-12-04), and Tune's random search
(``BasicVariantGenerator``), each with ``max_concurrent_trials`` = GPUs and one GPU per
trial. A trial sleeps for a known duration, then reports Hartmann6 of its config
(numpy, no imports) and its wall-clock start and end:

* ``equal``: every trial lasts ``--equal-s`` (fixed epochs and model, only the
  optimiser tuned: trials started together end together);
* ``staggered``: uniform in ``[--min-s, --max-s]``, drawn from a hash of the seed and
  the trial's start order (the k-th trial to start gets the same duration under
  every searcher). Every searcher then runs the same work, in the same order, and
  differences in makespan come from the searcher, not from which durations its
  configs happened to draw (in the first version the duration hashed the config,
  and the end-of-study drain differed by up to 10% of the makespan between
  searchers).

Busy fraction = sum of the trials' run times / (GPUs x makespan), the makespan from
``Tuner.fit()`` being called to the last trial's end (also from the first trial's
start). First-round fill: how long after ``fit()`` all GPUs were busy.

``--objectives 2`` (issue 14) runs the default searcher with two objectives instead
(Hartmann6 at x and at 1 - x, both minimised: qLogNEHVI batches), against random
search, and writes ``utilization_two_objectives.*`` beside the one-objective files.

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
RANDOM = "Random search (BasicVariantGenerator)"
DEFAULT = "BatchBOSearcher (defaults)"
ONE_SPARE = "BatchBOSearcher (prefetch=1)"
TWO = "BatchBOSearcher (defaults, two objectives)"
#: Trials per (GPUs, durations): the issue's 24 equal 10-s trials on 4 GPUs, 48
#: staggered ones (the earlier committed run), and 128 evaluations on 16 GPUs.
TRIALS = {(4, "equal"): 24, (4, "staggered"): 48, (16, "equal"): 128, (16, "staggered"): 128}


def duration_of(order: int, seed: int, lo: float, hi: float) -> float:
    """A duration in ``[lo, hi]`` from a hash of the seed and the trial's start order."""
    key = f"{seed},{order}".encode()
    frac = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return lo + (hi - lo) * frac


def start_order(counter: str) -> int:
    """How many trials of this run started before this one (a file on this machine)."""
    import fcntl

    with open(counter, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        order = f.seek(0, os.SEEK_END)
        f.write(b".")
    return order


def sleep_trial(config: dict[str, Any]) -> None:
    """The trainable: sleep for the config's duration, then report Hartmann6 at x, 1 - x."""
    from ray import tune

    start = time.time()
    order = start_order(config["counter"])
    duration = duration_of(order, config["seed"], config["min_s"], config["max_s"])
    time.sleep(duration)
    x = [config[f"x{i}"] for i in range(6)]
    tune.report(
        {
            "value": hartmann6(x),
            "value2": hartmann6([1.0 - v for v in x]),
            "start": start,
            "end": time.time(),
            "duration": duration,
            "order": order,
        }
    )


def run_tuner(
    label: str,
    search_alg: Any,
    *,
    trials: int,
    gpus: int,
    lo: float,
    hi: float,
    seed: int,
    storage: str,
) -> dict[str, Any]:
    """One ``tune.Tuner`` run; the trials' start/end times and the fit() call's times."""
    from ray import tune

    space: dict[str, Any] = {f"x{i}": tune.uniform(0.0, 1.0) for i in range(6)}
    fd, counter = tempfile.mkstemp(prefix="utilization-order-", dir=storage)
    os.close(fd)
    space.update(min_s=lo, max_s=hi, seed=seed, counter=counter)
    tuner = tune.Tuner(
        tune.with_resources(sleep_trial, {"cpu": 0.5, "gpu": 1}),
        param_space=space,
        tune_config=tune.TuneConfig(
            search_alg=search_alg,
            metric="value",
            mode="min",
            num_samples=trials,
            max_concurrent_trials=gpus,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=f"{label}_{gpus}_{lo:g}_{hi:g}".replace(" ", "_"), storage_path=storage, verbose=0
        ),
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
                    "order": m["order"],
                    "value": m["value"],
                }
            )
    return {
        "label": label,
        "gpus": gpus,
        "fit_start": fit_start,
        "fit_end": fit_end,
        "trials": rows,
    }


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """Busy fraction, makespan and first-round fill of one run."""
    gpus = run["gpus"]
    trials = sorted(run["trials"], key=lambda t: t["start"])
    if not trials:
        return {"trials": 0}
    t0, first = run["fit_start"], trials[0]["start"]
    last_end = max(t["end"] for t in trials)
    busy = sum(t["end"] - t["start"] for t in trials)
    all_busy_at = trials[gpus - 1]["start"] if len(trials) >= gpus else float("nan")
    # While work remained: up to the last trial's start. After it, GPUs drain as the
    # last trials end, which depends on the durations drawn, not on the searcher.
    last_start = trials[-1]["start"]
    busy_open = sum(max(0.0, min(t["end"], last_start) - t["start"]) for t in trials)
    # Idle gaps: for each trial after the first round, the time its GPU stood empty
    # (from the earliest free slot to the trial's start), by replaying the slots.
    slots = [t0] * gpus
    gaps = []
    for t in trials:
        i = int(np.argmin(slots))
        gaps.append(max(0.0, t["start"] - slots[i]))
        slots[i] = t["end"]
    later = gaps[gpus:]
    return {
        "trials": len(trials),
        "makespan_s": last_end - t0,
        "busy_s": busy,
        "busy_fraction": busy / (gpus * (last_end - t0)),
        "busy_fraction_from_first_start": busy / (gpus * (last_end - first)),
        "ideal_makespan_s": busy / gpus,
        "busy_fraction_while_work_remained": busy_open / (gpus * (last_start - t0)),
        "all_gpus_busy_after_fit_s": all_busy_at - t0,
        "gap_p50_s": float(np.median(later)) if later else 0.0,
        "gap_max_s": float(max(later)) if later else 0.0,
        "gap_total_s": float(sum(later)),
        "best_value": min(t["value"] for t in trials),
        "fit_wall_s": run["fit_end"] - run["fit_start"],
    }


def plot(runs: list[dict[str, Any]], gpus: int, out: Path, objectives: int = 1) -> Path:
    """Timeline per GPU slot for each run with ``gpus`` GPUs: bars are trials, white is idle."""
    runs = [r for r in runs if r["gpus"] == gpus]
    plt = pyplot()
    height = 0.5 + 0.16 * gpus
    fig, axes = plt.subplots(
        len(runs), 1, figsize=(12, height * len(runs)), dpi=100, sharex=True, squeeze=False
    )
    for ax, run in zip(axes[:, 0], runs, strict=True):
        t0 = run["fit_start"]
        slots = [t0] * gpus
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
            f"{run['durations']} durations, {run['label']}: busy fraction {s['busy_fraction']:.3f}",
            fontsize=9,
        )
        ax.set_yticks([])
        ax.set_ylabel(f"{gpus} GPUs", fontsize=8)
    axes[-1, 0].set_xlabel("seconds since Tuner.fit()")
    axes[-1, 0].set_xlim(left=0)
    return save(fig, out / f"{file_stem(objectives)}_timeline_{gpus}.png")


def scenario_label(run: dict[str, Any], cfg: dict[str, Any]) -> str:
    """E.g. ``4 GPUs, equal 10 s``."""
    if run["durations"] == "equal":
        return f"{run['gpus']} GPUs, equal {cfg['equal_s']:g} s"
    return f"{run['gpus']} GPUs, staggered {cfg['min_s']:g}-{cfg['max_s']:g} s"


def file_stem(objectives: int) -> str:
    """``utilization``, or ``utilization_two_objectives`` for ``--objectives 2``."""
    return NAME if objectives == 1 else f"{NAME}_two_objectives"


def write_markdown(raw: dict[str, Any], out: Path, pngs: Sequence[Path]) -> None:
    """Write ``utilization.md`` (or ``utilization_two_objectives.md``)."""
    header = raw["header"]
    cfg = header["config"]
    runs = raw["runs"]
    stem = file_stem(cfg.get("objectives", 1))
    ours = [lb for lb in (DEFAULT, ONE_SPARE, TWO) if any(r["label"] == lb for r in runs)]
    order = " then ".join(dict.fromkeys(r["label"] for r in runs))
    lines = header_lines(
        "Utilization benchmark" + (", two objectives" if stem != NAME else ""),
        header,
        date=f"- Date (UTC): {header['date_utc']}; whole script {header['wall_min']:.1f} min",
        setup=[
            "- Ray: one local instance on 127.0.0.1 per GPU count, num_cpus = GPUs, "
            "num_gpus = GPUs (logical GPUs: Ray only accounts them, nothing runs on a GPU)"
        ],
        after=[
            "- Protocol: per scenario, the searchers one after the other ("
            + order
            + "), 1 GPU per trial, max_concurrent_trials = GPUs, reuse_actors=True, "
            "TUNE_MAX_PENDING_TRIALS_PG = GPUs as `distributed-bo run` sets it; "
            f"torch.set_num_threads({cfg.get('torch_threads', 'default')}) in the driver, "
            "where the searcher generates."
        ],
    )
    lines += [
        "",
        "Reduced settings: real GPU trials take minutes; these take "
        f"{cfg['equal_s']:g} s (equal) or {cfg['min_s']:g}-{cfg['max_s']:g} s (staggered), "
        "which makes the searcher's generation time (a second or more per point on a "
        "2-core CPU machine) a far larger share of a trial than in a real study.",
        "",
        "Busy fraction: the trials' run time / (GPUs x makespan from `fit()`); also while "
        "work remained (from `fit()` to the last trial's start, after which GPUs drain as "
        "the last trials end). Idle gap: how long a freed GPU stood empty before its next "
        "trial started (after the first round).",
        "",
        "## Ratio of busy fractions to random search's, same run (target >= 0.97)",
        "",
        "| Scenario | trials | "
        + " | ".join(f"{lb} / random" for lb in ours)
        + " | target met by the default |",
        "|---|---|" + "---|" * len(ours) + "---|",
    ]
    scenarios = list(dict.fromkeys((r["gpus"], r["durations"]) for r in runs))
    sums = {(r["gpus"], r["durations"], r["label"]): summarise(r) for r in runs}
    for gpus, durations in scenarios:
        rnd = sums.get((gpus, durations, RANDOM))
        first = next(r for r in runs if (r["gpus"], r["durations"]) == (gpus, durations))
        cells = []
        for label in ours:
            one = sums.get((gpus, durations, label))
            if one is None or rnd is None:
                cells.append("-")
                continue
            ratio = one["busy_fraction"] / rnd["busy_fraction"]
            open_ratio = (
                one["busy_fraction_while_work_remained"] / rnd["busy_fraction_while_work_remained"]
            )
            cells.append(f"**{ratio:.3f}** (while work remained {open_ratio:.3f})")
        default = sums.get((gpus, durations, ours[0])) if ours else None
        met = "-"
        if default is not None and rnd is not None:
            met = "yes" if default["busy_fraction"] / rnd["busy_fraction"] >= 0.97 else "**no**"
        lines.append(
            f"| {scenario_label(first, cfg)} | {first_trials(sums, gpus, durations)} | "
            + " | ".join(cells)
            + f" | {met} |"
        )
    lines += [
        "",
        "## Each run",
        "",
        "| Scenario | Searcher | trials | makespan s | ideal s | busy fraction | "
        "busy while work remained | idle gap p50 s | idle gap max s | idle gaps total s | "
        "all GPUs busy after s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        s = sums[(run["gpus"], run["durations"], run["label"])]
        lines.append(
            f"| {scenario_label(run, cfg)} | {run['label']} | {s['trials']} | "
            f"{s['makespan_s']:.1f} | {s['ideal_makespan_s']:.1f} | {s['busy_fraction']:.3f} | "
            f"{s['busy_fraction_while_work_remained']:.3f} | {s['gap_p50_s']:.2f} | "
            f"{s['gap_max_s']:.2f} | {s['gap_total_s']:.1f} | "
            f"{s['all_gpus_busy_after_fit_s']:.2f} |"
        )
    lines.append("")
    lines += [f"![{png.stem}]({png.name})" for png in pngs]
    lines += reading(out, f"{stem}_notes.md")
    (out / f"{stem}.md").write_text("\n".join(lines))


def first_trials(
    sums: dict[tuple[int, str, str], dict[str, Any]], gpus: int, durations: str
) -> int:
    """Trials per run of a scenario (the same for every searcher)."""
    return max(s["trials"] for (g, d, _), s in sums.items() if (g, d) == (gpus, durations))


def init_ray(gpus: int) -> None:
    """A local Ray on 127.0.0.1 with ``gpus`` logical GPUs (retried on a slow start)."""
    import ray

    from distributed_bo.runner.cluster import loopback_only

    for attempt in range(4):
        # Ray waits 30 s for its raylet; a loaded machine can need longer, so retry.
        try:
            with loopback_only():
                ray.init(
                    address="local",
                    _node_ip_address="127.0.0.1",
                    include_dashboard=False,
                    num_cpus=gpus,
                    num_gpus=gpus,
                    log_to_driver=False,
                    configure_logging=False,
                )
            return
        except Exception as err:  # Ray raises a bare Exception on a startup timeout
            ray.shutdown()
            if attempt == 3:
                raise
            print(f"ray.init failed ({err}); retrying", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run every scenario's Tuners and write JSON, Markdown and a PNG per GPU count."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", default="4,16", help="comma-separated GPU counts")
    parser.add_argument("--durations", default="equal,staggered", help="equal, staggered")
    parser.add_argument("--equal-s", type=float, default=10.0)
    parser.add_argument("--min-s", type=float, default=10.0)
    parser.add_argument("--max-s", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1, help="in this driver")
    parser.add_argument("--quick", action="store_true", help="2 trials per GPU of 1-2 s")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--replot", action="store_true")
    parser.add_argument(
        "--objectives", type=int, choices=(1, 2), default=1, help="2: value and value2"
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    raw_path = out / f"{file_stem(args.objectives)}.json"
    if args.replot:
        raw = json.loads(raw_path.read_text())
        counts = sorted({r["gpus"] for r in raw["runs"]})
        objectives = raw["header"]["config"].get("objectives", 1)
        write_markdown(raw, out, [plot(raw["runs"], g, out, objectives) for g in counts])
        return
    gpu_counts = [int(g) for g in args.gpus.split(",")]
    patterns = [d.strip() for d in args.durations.split(",")]
    if args.quick:
        args.equal_s, args.min_s, args.max_s = 1.0, 1.0, 2.0
    quiet()
    import ray
    import torch

    # One torch thread for the searcher's generation thread in this driver: on this
    # loaded 2-core machine two threads made a batch 10-15x slower (measured on
    # 2026-11-25 by the retired searcher_quality benchmark); a GPU node has cores
    # to spare.
    torch.set_num_threads(args.torch_threads)
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from distributed_bo import BatchBOSearcher

    # Import what the searcher imports lazily (Ax, BoTorch: about 3.5 s here) before
    # any run is timed, so the first run does not pay it alone.
    BatchBOSearcher(space={"x": tune.uniform(0, 1)}, metric="value", mode="min").close()
    out.mkdir(parents=True, exist_ok=True)
    header = new_header(
        config={
            "gpus": gpu_counts,
            "durations": patterns,
            "equal_s": args.equal_s,
            "min_s": args.min_s,
            "max_s": args.max_s,
            "trials": {f"{g} {d}": TRIALS[(g, d)] for g in gpu_counts for d in patterns},
            "seed": args.seed,
            "torch_threads": args.torch_threads,
            "quick": args.quick,
            "objectives": args.objectives,
        },
        loadavg_start=loadavg(),
    )
    raw: dict[str, Any] = {"header": header, "runs": []}
    record = Recorder(raw_path, raw)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as storage:
        for gpus in gpu_counts:
            # As distributed-bo run does: let Tune have a placement group pending per slot.
            os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(gpus)
            init_ray(gpus)
            try:
                for durations in patterns:
                    lo, hi = (
                        (args.equal_s, args.equal_s)
                        if durations == "equal"
                        else (args.min_s, args.max_s)
                    )
                    trials = 2 * gpus if args.quick else TRIALS[(gpus, durations)]
                    random = BasicVariantGenerator(max_concurrent=gpus, random_state=args.seed)
                    searchers = (
                        (DEFAULT, BatchBOSearcher(seed=args.seed)),
                        (ONE_SPARE, BatchBOSearcher(seed=args.seed, prefetch=1)),
                        (RANDOM, random),
                    )
                    if args.objectives == 2:
                        two = BatchBOSearcher(
                            metric=["value", "value2"], mode=["min", "min"], seed=args.seed
                        )
                        searchers = ((TWO, two), (RANDOM, random))
                    for label, alg in searchers:
                        run = run_tuner(
                            label,
                            alg,
                            trials=trials,
                            gpus=gpus,
                            lo=lo,
                            hi=hi,
                            seed=args.seed,
                            storage=storage,
                        )
                        run.update(durations=durations, loadavg_after=loadavg())
                        runs.append(run)
                        raw["runs"] = runs
                        record.dump()
                        s = summarise(run)
                        print(
                            f"{gpus} GPUs, {durations}, {label}: {s['trials']} trials, busy "
                            f"fraction {s['busy_fraction']:.3f} (load {loadavg()})",
                            flush=True,
                        )
            finally:
                ray.shutdown()
    record.finish()
    write_markdown(raw, out, [plot(runs, g, out, args.objectives) for g in gpu_counts])
    print(f"done in {header['wall_min']:.1f} min", flush=True)


if __name__ == "__main__":
    main()
