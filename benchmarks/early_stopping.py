"""Early stopping with BO: ASHA + BatchBOSearcher against FIFO + BO and ASHA + random.

Arms, each with 4 concurrent trials:

* ``fifo_bo``: no early stopping (FIFO) + ``BatchBOSearcher``;
* ``asha_random``: ASHA + random search (Ray Tune's own domain samplers);
* ``asha_bo_highest_rung``, ``asha_bo_last_value``: ASHA + ``BatchBOSearcher`` with
  each stopped-trial policy of :mod:`distributed_bo.search.stopped`.

ASHA is Ray Tune's ``ASHAScheduler`` as ``distributed-bo run`` builds it
(:func:`distributed_bo.runner.schedulers.build_scheduler`: grace period 1 epoch,
reduction factor 3, ``max_t`` 9 epochs), reporting its stops to the searcher.

**How it runs.** A discrete-event simulation of 4 identical workers drives the
real scheduler and the real searcher through the calls Ray Tune's controller makes
(``suggest``, ``on_trial_result``, ``on_trial_complete``; the scheduler's
``on_trial_add``/``on_trial_result``/``on_trial_complete``). One epoch takes one
time unit on every worker, so time is "wall clock of a 4-GPU cluster, in epochs";
the searcher's generation time does not advance it (it is reported separately:
on this 2-core machine, loaded by other work, one batch takes seconds, which
would swamp 1-second toy epochs but not real ones). Simulating avoids Ray's
start-up, which took about a minute per study here under load, and makes every arm
see the same clock. ``tests/runner/test_schedulers.py`` runs the same pieces
inside real Ray Tune studies.

Problems (epochs are the resource):

* ``hartmann``: BoTorch's ``AugmentedHartmann`` (6 inputs + fidelity), the
  fidelity after epoch ``e`` being ``e / max_t``. Minimised; quality is the regret
  at full fidelity.
* ``digits``: the built-in ``digits_cnn`` trained for real on scikit-learn's
  digits (CPU, one thread), epoch by epoch, resumed from its exact in-memory
  state; the quickstart job's search space. Maximised; quality is validation
  accuracy.

Quality at time ``t`` is the best value among trials that ran the full ``max_t``
epochs by ``t`` (a trial stopped at a low fidelity is no result). Target: the
median final quality of ``fifo_bo``; time-to-target is when a run first matches it
(in time units, and in epochs trained by all workers together).

Run: ``python benchmarks/early_stopping.py`` (``--quick`` for a smoke test).
Writes ``benchmarks/results/early_stopping.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import logging
import math
import os
import platform
import shlex
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    LoadSampler,
    hartmann6,
    header_lines,
    loadavg,
    new_header,
    pyplot,
    save,
)

WORKERS = 4
MAX_T = 9
GRACE = 1
REDUCTION = 3
ARMS = ("fifo_bo", "asha_random", "asha_bo_highest_rung", "asha_bo_last_value")
#: Acquisition and optimiser settings cheaper than the searcher's defaults (qLogNEI,
#: BoTorch's restarts), so that a batch takes seconds on 2 heavily shared cores.
ACQUISITION = "qLogEI"
OPTIMIZER_OPTIONS = {"num_restarts": 1, "raw_samples": 64}
#: Trials with data before the GP is used (the searcher's default is max(5, 2 d)).
NUM_INITIAL = 6
HARTMANN_OPTIMUM = -3.32236801141551
#: Time units (epochs per worker) per study: 3 and 2 full-length trials per worker.
BUDGETS = {"hartmann": 27.0, "digits": 18.0}


# ------------------------------------------------------------------ problems
def augmented_hartmann_value(x: list[float], fidelity: float) -> float:
    """BoTorch's ``AugmentedHartmann`` in numpy (no torch import in the workers).

    ``alpha_1`` is lowered by ``0.1 (1 - fidelity)``; at fidelity 1 it is Hartmann6.
    :func:`main` checks it against BoTorch before the first run.
    """
    return hartmann6(x, fidelity)


def _check_against_botorch() -> None:
    import torch
    from botorch.test_functions.multi_fidelity import AugmentedHartmann

    rng = np.random.default_rng(0)
    fn = AugmentedHartmann()
    for _ in range(5):
        x = rng.random(7)
        want = float(fn(torch.tensor(x[None, :], dtype=torch.double)).item())
        got = augmented_hartmann_value(list(x[:6]), float(x[6]))
        assert abs(want - got) < 1e-6, (want, got)


class DigitsTrial:
    """One ``digits_cnn`` trial trained an epoch at a time, resumed from its exact state."""

    def __init__(self, config: dict[str, Any]) -> None:
        from distributed_bo.trainables.digits import DigitsCNNConfig

        self.cfg = DigitsCNNConfig.from_config(config)
        self.state: Any = None

    def epoch(self) -> float:
        """Train one more epoch; return its validation accuracy."""
        from distributed_bo.trainables.digits import fit

        out: dict[str, Any] = {}

        class _Pause(Exception):
            pass

        def report(metrics: dict[str, Any], state: Any) -> None:
            out.update(metrics)
            out["state"] = state
            raise _Pause

        with contextlib.suppress(_Pause):
            fit(self.cfg, start_state=self.state, report=report)
        self.state = out["state"]
        return float(out["val_accuracy"])


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: search space, objective and how an epoch is computed."""

    name: str
    metric: str
    mode: str

    def space(self) -> dict[str, Any]:
        from ray import tune

        if self.name == "hartmann":
            return {f"x{i}": tune.uniform(0.0, 1.0) for i in range(6)}
        return {
            "lr": tune.loguniform(1e-4, 3e-1),
            "weight_decay": tune.loguniform(1e-6, 1e-2),
            "channels": tune.choice([4, 8, 16, 32]),
            "dropout": tune.uniform(0.0, 0.5),
        }

    def start(self, config: dict[str, Any], seed: int) -> Any:
        """Per-trial state: the inputs (hartmann) or a resumable training run (digits)."""
        if self.name == "hartmann":
            return [float(config[f"x{i}"]) for i in range(6)]
        return _CachedDigits(config, seed)

    def _digits(self, config: dict[str, Any], seed: int) -> DigitsTrial:
        fixed = {
            "epochs": MAX_T,
            "num_layers": 2,
            "checkpoint_frequency": 1,
            "torch_threads": 1,
            "seed": seed,
        }
        return DigitsTrial({**config, **fixed})

    def epoch(self, state: Any, epoch: int) -> float:
        """The metric after ``epoch`` (1-based)."""
        if self.name == "hartmann":
            return augmented_hartmann_value(state, epoch / MAX_T)
        return state.value(epoch)

    def quality(self, value: float) -> float:
        """Regret for hartmann (lower is better), accuracy for digits."""
        return value - HARTMANN_OPTIMUM if self.name == "hartmann" else value

    def better(self, a: float, b: float) -> bool:
        return a < b if self.name == "hartmann" else a > b


#: Learning curves of digits configurations already trained (training is
#: deterministic given config and seed, so arms proposing the same configuration,
#: e.g. the first Sobol points, share the work): key -> (run, values so far).
_DIGITS_CACHE: dict[tuple, tuple[DigitsTrial, list[float]]] = {}


class _CachedDigits:
    """A digits trial whose epochs are trained once per configuration and seed."""

    def __init__(self, config: dict[str, Any], seed: int) -> None:
        self.key = (seed, *sorted(config.items()))
        if self.key not in _DIGITS_CACHE:
            run = PROBLEMS["digits"]._digits(config, seed)
            _DIGITS_CACHE[self.key] = (run, [])

    def value(self, epoch: int) -> float:
        run, values = _DIGITS_CACHE[self.key]
        while len(values) < epoch:
            values.append(run.epoch())
        return values[epoch - 1]


PROBLEMS = {
    "hartmann": Problem("hartmann", "value", "min"),
    "digits": Problem("digits", "val_accuracy", "max"),
}


# ---------------------------------------------------------------------- runs
@dataclass
class RunRecord:
    """What one study did."""

    problem: str
    arm: str
    seed: int
    budget: float
    #: One per finished trial: [end time, epochs so far (all workers), epochs, value, full].
    trials: list[list[float]] = field(default_factory=list)
    ax_statuses: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    batch_seconds: float = 0.0
    wall_s: float = 0.0


@dataclass
class _Trial:
    """What Ray Tune's scheduler reads from a trial: its id and last result."""

    trial_id: str
    config: dict[str, Any]
    state: Any
    epoch: int = 0
    last_result: dict[str, Any] = field(default_factory=dict)


class RandomSearch:
    """Random search with Ray Tune's own domain samplers (as BasicVariantGenerator)."""

    def __init__(self, space: dict[str, Any], seed: int) -> None:
        self.space = space
        self.rng = np.random.RandomState(seed)

    def suggest(self, trial_id: str) -> dict[str, Any]:
        return {k: d.sample(random_state=self.rng) for k, d in self.space.items()}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        return None

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None) -> None:
        return None


def run_one(problem: Problem, arm: str, seed: int, budget: float) -> RunRecord:
    """Simulate one study of ``budget`` time units (epochs per worker)."""
    from ray.tune.schedulers import TrialScheduler

    from distributed_bo import BatchBOSearcher
    from distributed_bo.runner.schedulers import build_scheduler
    from distributed_bo.spec.schema import SchedulerSpec

    wall = time.perf_counter()
    record = RunRecord(problem=problem.name, arm=arm, seed=seed, budget=budget)
    space = problem.space()
    bo = None
    if arm == "asha_random":
        searcher: Any = RandomSearch(space, seed)
    else:
        policy = arm.removeprefix("asha_bo_") if arm.startswith("asha_bo_") else "highest_rung"
        bo = BatchBOSearcher(
            space=space,
            metric=problem.metric,
            mode=problem.mode,
            max_concurrent=WORKERS,
            num_initial=NUM_INITIAL,
            seed=seed,
            stopped_trials=policy,
            acquisition=ACQUISITION,
            optimizer_options=OPTIMIZER_OPTIONS,
        )
        searcher = bo
    scheduler = build_scheduler(
        SchedulerSpec(
            type="fifo" if arm == "fifo_bo" else "asha",
            max_t=MAX_T,
            grace_period=GRACE,
            reduction_factor=REDUCTION,
        ),
        full_length=MAX_T,
        listener=bo,
    )
    scheduler.set_search_properties(problem.metric, problem.mode)
    events: list[tuple[float, int, str]] = []  # (time an epoch ends, order, trial id)
    trials: dict[str, _Trial] = {}
    count, epochs_done, now = 0, 0, 0.0

    def start(at: float) -> None:
        nonlocal count
        trial_id = f"t{count:04d}"
        if bo is not None:
            bo.wait_ready()
        config = searcher.suggest(trial_id)
        if not isinstance(config, dict):
            raise RuntimeError(f"{arm}: no config for a free worker ({config!r})")
        trial = _Trial(trial_id, config, problem.start(config, seed))
        trials[trial_id] = trial
        scheduler.on_trial_add(None, trial)
        heapq.heappush(events, (at + 1.0, count, trial_id))
        count += 1

    def _step(now: float) -> int:
        nonlocal epochs_done
        freed = 0
        while events and events[0][0] == now:
            _, order, trial_id = heapq.heappop(events)
            trial = trials[trial_id]
            trial.epoch += 1
            epochs_done += 1
            value = problem.epoch(trial.state, trial.epoch)
            result = {problem.metric: value, "training_iteration": trial.epoch}
            trial.last_result = result
            decision = scheduler.on_trial_result(None, trial, result)
            if trial.epoch >= MAX_T:
                decision = TrialScheduler.STOP
            if decision == TrialScheduler.STOP:
                scheduler.on_trial_complete(None, trial, result)
                searcher.on_trial_complete(trial_id, result)
                full = float(trial.epoch >= MAX_T)
                record.trials.append([now, epochs_done, trial.epoch, value, full])
                trial.state = None
                freed += 1
            else:
                searcher.on_trial_result(trial_id, result)
                heapq.heappush(events, (now + 1.0, order, trial_id))
        return freed

    for _ in range(WORKERS):
        start(0.0)
    while events:
        now = events[0][0]
        if now > budget:
            break
        freed = 0
        # Deliver every result of this instant before the searcher's thread looks, so
        # trials freed together get one batch (the thread waits on this lock).
        instant = bo._cond if bo is not None else contextlib.nullcontext()
        with instant:
            freed = _step(now)
        if now < budget:  # a trial started at the budget could not report
            for _ in range(freed):
                start(now)
    if bo is not None:
        bo.wait_ready()
        stats = [s for s in bo.generation_stats if s.method not in ("sobol", "initial")]
        record.batches = len(stats)
        record.batch_seconds = float(sum(s.seconds for s in stats))
        for t in bo.ax_client._experiment.trials.values():
            name = t.status.name
            record.ax_statuses[name] = record.ax_statuses.get(name, 0) + 1
        bo.close()
    record.wall_s = time.perf_counter() - wall
    return record


# ------------------------------------------------------------------ analysis
def trace(problem: Problem, record: RunRecord) -> list[tuple[float, float, float]]:
    """Best full-length quality over time: ``(time, epochs so far, quality)``."""
    out: list[tuple[float, float, float]] = []
    best = None
    for end, cum, _, value, full in sorted(record.trials):
        if not full:
            continue
        q = problem.quality(value)
        if best is None or problem.better(q, best):
            best = q
            out.append((end, cum, best))
    return out


def final_quality(problem: Problem, record: RunRecord) -> float:
    steps = trace(problem, record)
    return steps[-1][2] if steps else math.nan


def time_to(problem: Problem, record: RunRecord, target: float) -> tuple[float, float]:
    """(time, epochs) until quality reached ``target``; inf if never."""
    for end, cum, q in trace(problem, record):
        if q == target or problem.better(q, target):
            return end, cum
    return math.inf, math.inf


def median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.median(finite)) if finite else math.nan


def summarise(problem: Problem, records: list[RunRecord]) -> dict[str, Any]:
    mine = [r for r in records if r.problem == problem.name]
    by_arm = {a: [r for r in mine if r.arm == a] for a in ARMS}
    target = median([final_quality(problem, r) for r in by_arm["fifo_bo"]])
    rows = {}
    for arm, runs in by_arm.items():
        if not runs:
            continue
        finals = [final_quality(problem, r) for r in runs]
        times = [time_to(problem, r, target) for r in runs]
        rows[arm] = {
            "final_median": median(finals),
            "final_iqr": [float(np.nanpercentile(finals, 25)), float(np.nanpercentile(finals, 75))]
            if not all(math.isnan(f) for f in finals)
            else [math.nan, math.nan],
            "final_all": finals,
            "time_to_target_median": float(np.median([t for t, _ in times])),
            "epochs_to_target_median": float(np.median([e for _, e in times])),
            "time_to_target_all": [t for t, _ in times],
            "reached": sum(math.isfinite(t) for t, _ in times),
            "runs": len(runs),
            "seeds": [r.seed for r in runs],
            "trials_median": float(np.median([len(r.trials) for r in runs])),
            "full_trials_median": float(
                np.median([sum(1 for t in r.trials if t[4]) for r in runs])
            ),
            "batch_seconds_median": float(np.median([r.batch_seconds for r in runs])),
            "batches_median": float(np.median([r.batches for r in runs])),
        }
    return {"target": target, "arms": rows}


def _fmt(value: float, digits: int = 3) -> str:
    if math.isinf(value):
        return "not reached"
    if math.isnan(value):
        return "n/a"
    return f"{value:.{digits}g}"


def plot(problems: list[Problem], records: list[RunRecord], summary: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(problems), figsize=(6 * len(problems), 4.2), squeeze=False)
    for ax, problem in zip(axes[0], problems, strict=True):
        runs = [r for r in records if r.problem == problem.name]
        if not runs:
            continue
        grid = np.linspace(0, max(r.budget for r in runs), 200)
        for arm in ARMS:
            curves = []
            for r in (r for r in runs if r.arm == arm):
                steps = trace(problem, r)
                curves.append(
                    [next((q for end, _, q in reversed(steps) if end <= t), np.nan) for t in grid]
                )
            if not curves:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(np.array(curves, dtype=float), axis=0)
            ax.plot(grid, med, label=f"{arm} ({len(curves)} seeds)", lw=2)
        ax.axhline(summary[problem.name]["target"], color="grey", ls="--", lw=1, label="target")
        ax.set_title(f"{problem.name}: median best full-length trial")
        ax.set_xlabel(f"time (epochs per worker; {WORKERS} workers)")
        ax.set_ylabel("regret (lower is better)" if problem.name == "hartmann" else "val accuracy")
        if problem.name == "hartmann":
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    save(fig, path, dpi=110)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_at_start": list(os.getloadavg()),
    }


TITLE = "Early stopping: ASHA + BO vs FIFO + BO vs ASHA + random"


def _header_lines(meta: dict[str, Any]) -> list[str]:
    """The report's header: the harness's, or for runs saved before it, their own lines."""
    minutes = meta.get("total_minutes", math.nan)
    if "header" in meta:
        return header_lines(
            TITLE,
            {**meta["header"], "command": meta["command"]},
            date=f"- Date (UTC): {meta['header']['date_utc']}; whole run {minutes:.0f} min",
        )
    m = meta["machine"]  # runs of 2026-11-25/26 recorded the machine in this form
    return [
        f"# {TITLE}",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, shared with other work (load average "
        f"{m['load_avg_at_start'][0]:.1f} at start), no GPU. Whole run: {minutes:.0f} minutes.",
    ]


def write_report(meta: dict[str, Any], records: list[RunRecord], out: Path) -> dict:
    problems = [PROBLEMS[p] for p in meta["settings"]["problems"]]
    summary = {p.name: summarise(p, records) for p in problems}
    png = out / "early_stopping.png"
    plot(problems, records, summary, png)
    (out / "early_stopping.json").write_text(
        json.dumps({**meta, "summary": summary, "runs": [asdict(r) for r in records]}, indent=1)
    )
    seeds = sorted({r.seed for r in records})
    lines = [
        *_header_lines(meta),
        "",
        f"{WORKERS} workers, simulated: one epoch = one time unit on every worker; a fixed "
        f"budget of time units per study (per problem, below); seeds {seeds}. ASHA "
        f"(Ray Tune's ASHAScheduler): grace period {GRACE} "
        f"epoch, reduction factor {REDUCTION}, max_t {MAX_T}. BO: {ACQUISITION}, "
        f"num_initial {NUM_INITIAL}, acquisition optimiser {OPTIMIZER_OPTIONS} (fewer "
        "restarts than the default, and qLogEI rather than the default qLogNEI, to keep "
        "a batch to seconds on this machine: the policies differ in the data the GP "
        "sees, not in the acquisition). The searcher's "
        "generation time does not advance the simulated clock (see the BO column: "
        "batches per study and their seconds on this machine). Budgets are small (2-3 "
        "full-length trials per worker) because the machine was heavily shared (load "
        "average 20-35 on 2 cores): the arms ran as parallel processes, and each BO "
        "study still took 5-20 minutes. With so few seeds the numbers show which way "
        "the arms lean, not precise gaps.",
        "",
        "Quality counts only trials that ran the full max_t epochs. Target: the median "
        "final quality of fifo_bo. Time to target: median over seeds, in time units "
        "(epochs per worker); a run that never reached it counts as infinite.",
        "",
    ]
    for p in problems:
        s = summary[p.name]
        unit = "regret, lower is better" if p.name == "hartmann" else "val accuracy"
        budget = max(r.budget for r in records if r.problem == p.name)
        lines += [
            f"## {p.name} ({unit}); target {_fmt(s['target'], 4)}",
            "",
            f"Budget {budget:g} time units per study ({WORKERS * budget:g} epochs in all, "
            f"the time of {budget / MAX_T:.1f} full-length trials per worker).",
            "",
            "| arm | final quality, median [IQR] | time to target | epochs to target | "
            "reached | trials (full length) | BO batches, s |",
            "|---|---|---|---|---|---|---|",
        ]
        for arm, row in s["arms"].items():
            lo, hi = row["final_iqr"]
            bo = (
                f"{row['batches_median']:.0f}, {row['batch_seconds_median']:.0f}"
                if arm != "asha_random"
                else "-"
            )
            lines.append(
                f"| {arm} | {_fmt(row['final_median'], 4)} [{_fmt(lo, 3)}, {_fmt(hi, 3)}] | "
                f"{_fmt(row['time_to_target_median'])} | "
                f"{_fmt(row['epochs_to_target_median'])} | {row['reached']}/{row['runs']} | "
                f"{row['trials_median']:.0f} ({row['full_trials_median']:.0f}) | {bo} |"
            )
        lines.append("")
    lines += [f"![early stopping]({png.name})", ""]
    notes = out / "early_stopping_notes.md"
    if notes.exists():
        lines += [notes.read_text()]
    (out / "early_stopping.md").write_text("\n".join(lines))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=["hartmann", "digits"])
    parser.add_argument("--arms", nargs="+", default=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help=f"time units per study (default per problem: {BUDGETS})",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--quick", action="store_true", help="1 seed, budget 12")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report from the runs saved so far",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.budget = [0], 12.0
    args.out.mkdir(parents=True, exist_ok=True)
    tag = f"{'-'.join(args.problems)}.{'-'.join(args.arms)}.seeds-{'-'.join(map(str, args.seeds))}"
    partial = args.out / f"early_stopping.partial.{tag}.json"
    if args.report_only:
        _report_from_saved(args.out)
        return
    _check_against_botorch()
    warnings.filterwarnings("ignore")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("ax", "botorch", "ray")):
            logging.getLogger(name).setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(1)
    meta = {
        "command": " ".join(
            ["python benchmarks/early_stopping.py", *map(shlex.quote, sys.argv[1:])]
        ),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "header": new_header(loadavg_start=loadavg()),
        "settings": {
            "problems": args.problems,
            "workers": WORKERS,
            "max_t": MAX_T,
            "grace_period": GRACE,
            "reduction_factor": REDUCTION,
            "budget": {
                name: args.budget if args.budget is not None else BUDGETS[name]
                for name in args.problems
            },
            "num_initial": NUM_INITIAL,
            "acquisition": ACQUISITION,
            "optimizer_options": OPTIMIZER_OPTIONS,
            "arms": args.arms,
        },
    }
    started = time.time()
    load = LoadSampler()
    records: list[RunRecord] = []
    # Seeds outermost, so that a run cut short still has every arm on the same seeds.
    for seed in args.seeds:
        for name in args.problems:
            for arm in args.arms:
                budget = args.budget if args.budget is not None else BUDGETS[name]
                record = run_one(PROBLEMS[name], arm, seed, budget)
                records.append(record)
                print(
                    f"{name} {arm} seed {seed}: {record.wall_s:.0f} s, {len(record.trials)} "
                    f"trials, final {final_quality(PROBLEMS[name], record):.4g}",
                    flush=True,
                )
                meta["total_minutes"] = (time.time() - started) / 60
                meta["header"].update(wall_min=meta["total_minutes"], load=load.summary())
                partial.write_text(json.dumps({**meta, "runs": [asdict(r) for r in records]}))
    _report_from_saved(args.out)


def _report_from_saved(out: Path) -> None:
    """Write the report from every partial file in ``out`` (one per process), else the JSON.

    Problems, arms and seeds may run in separate processes (e.g. ``--problems
    digits --arms fifo_bo --seeds 3 4``); each saves its runs as it goes, and the
    report merges them with the runs already in ``early_stopping.json``.
    """
    parts = sorted(out.glob("early_stopping.partial.*.json"))
    saved = [json.loads(p.read_text()) for p in parts]
    if (out / "early_stopping.json").exists():  # runs of earlier processes, kept
        saved.append(json.loads((out / "early_stopping.json").read_text()))
    meta = {k: v for k, v in saved[0].items() if k not in ("runs", "summary")}
    problems = [p for s in saved for p in s["settings"]["problems"]]
    meta["settings"] = {**meta["settings"], "problems": list(dict.fromkeys(problems))}
    meta["command"] = " && ".join(
        dict.fromkeys(c for s in saved for c in s["command"].split(" && "))
    )
    meta["total_minutes"] = max(s.get("total_minutes", math.nan) for s in saved)
    runs: dict[tuple, RunRecord] = {}
    for r in (RunRecord(**r) for s in saved for r in s["runs"]):
        runs.setdefault((r.problem, r.arm, r.seed), r)  # a seed run twice counts once
    meta["settings"]["budget"] = {r.problem: r.budget for r in runs.values()}
    write_report(meta, list(runs.values()), out)


if __name__ == "__main__":
    main()
