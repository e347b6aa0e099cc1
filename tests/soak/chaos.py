"""Chaos: random faults over longer studies; are trials lost, duplicated or recomputed?

Two phases, one seeded RNG (``--seed``) for every fault time and choice:

1. **Driver faults.** The CLI runs a study in a subprocess with its own local Ray
   (``python -m distributed_bo run JOB.yaml --quiet``). At a random moment the driver
   meets a fault, in a seeded random order: ``--driver-kills`` SIGKILLs,
   ``--sigterms`` SIGTERMs to the driver (as ``ray job stop`` and Kubernetes send;
   promised: a graceful stop, exit 143 and a ``distributed-bo resume DIR`` hint),
   ``--sigints`` Ctrl-Cs (SIGINT to the driver's whole process group, as a terminal
   sends it; promised: exit 130 and the hint), and ``--lock-tries`` second drivers
   (``resume DIR`` or ``run JOB`` on the running study; promised: refused with exit 3,
   naming the running driver's pid, while the running one goes on). After a stop,
   ``python -m distributed_bo resume EXPERIMENT_DIR --quiet`` runs, again and again,
   until every fault is done and a resume finishes the study. Each fault's moment is
   an anchor plus a random delay: ``launch`` (seconds after
   the process started: Ray/Tune start-up and restore), ``epoch`` (after the first
   epoch computed under this driver: trials mid-run) or ``completion`` (just after a
   trial completed in ``trials.parquet``: results being recorded, the searcher
   generating the next batch). The driver runs in its own process group; after each
   kill, whatever of its process tree is still alive 5 s later is recorded, watched
   until it exits (its lifetime is reported) and SIGKILLed by pid after 120 s.
2. **Node kills.** A ``ray.cluster_utils.Cluster`` on 127.0.0.1 (a head with no GPUs
   and ``--nodes`` worker nodes with 2 logical GPUs each) runs a study in this process
   with ``distributed_bo.runner.study.run_study`` (on a background thread; it joins the
   running Ray). The main thread removes a random worker node (SIGKILL of its raylet
   and workers, preferring a node that hosts a running trial) at random times and
   adds a fresh node a few seconds later, so capacity comes back and the study can
   always finish. (``Cluster.add_node`` must run on the main thread.)

The trainable is ``distributed_bo.testing.counting:counter`` (the one the
fault-injection tests use): ``--steps`` epochs of ``--step-s`` seconds, a checkpoint
after every epoch, and a marker file for every (re)start and every computed epoch.

Per phase, after the study finished:

- **faults survived**: faults after which the study still finished (every Ax trial of
  the budget COMPLETED, without manual repair) and the CLI did what it promises for
  that fault (exit code and message, see phase 1);
- **trials lost**: budget minus distinct COMPLETED Ax trials in ``ax_experiment.json``;
  also budget minus distinct ``ax_index`` of COMPLETED rows in ``trials.parquet``;
- **trials duplicated**: an Ax index in more than one COMPLETED row, a ``trial_id`` in
  more than one row, more COMPLETED Ax trials than the budget, more than one data row
  per Ax trial, or an Ax trial whose last epoch was computed (and reported) twice;
- **epochs recomputed**: over Ax trials, epochs computed (marker files, under every
  Tune trial id that ran the Ax trial's parameters) minus the trial's final epoch count;
- **three-way agreement**: ``trials.parquet`` vs the Ax JSON vs Ray Tune's
  ``ExperimentAnalysis`` (as ``tests/runner/test_resume.py`` checks it).

Run from the repository root (``python tests/soak/chaos.py`` takes the same flags;
``tests/soak/test_chaos.py`` runs ``--quick`` under pytest when slow tests are asked
for, see ``tests/soak/conftest.py``)::

    python benchmarks/chaos.py            # 18 driver faults + 4 node kills
    python benchmarks/chaos.py --quick    # 4 driver faults (one of each) + 1 node kill
    python benchmarks/chaos.py --replot   # rewrite chaos.md from chaos.json only

Writes ``chaos.json`` (raw) and ``chaos.md`` (report) to ``--out``
(default ``benchmarks/results``). The "Reading" section of the report is the
``reading`` field of ``chaos.json``, written by hand after a run (then ``--replot``);
a new run leaves it empty. The scratch directory (experiments, markers, driver logs)
is kept and printed. Exit status 1 if a study did not finish.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from distributed_bo.experiment.layout import TRIALS_FILE
from distributed_bo.types import TrialStatus

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
TRAINABLE = "distributed_bo.testing.counting:counter"
NAME = "chaos"
POLL_S = 0.05

SPEC = """\
name: {name}
objective: {{metric: value, mode: min}}
trainable:
  name: {trainable}
  config: {{marker_dir: {markers}, steps: {steps}, step_s: {step_s}}}
space:
  x0: {{type: uniform, lower: 0.0, upper: 1.0}}
  x1: {{type: uniform, lower: 0.0, upper: 1.0}}
budget: {{num_trials: {trials}, max_concurrent: {concurrent}}}
searcher: {{num_initial: {concurrent}}}
resources: {{cpus_per_trial: 0.5, gpus_per_trial: {gpus}}}
checkpoint: {{frequency: 1, num_to_keep: 2}}
retries: {retries}
storage: {storage}
seed: {seed}
"""


def log(msg: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- markers
def read_markers(markers: Path) -> dict[str, dict[str, list]]:
    """Trial id -> ``runs`` (start markers) and ``epochs`` (computed-epoch markers)."""
    out: dict[str, dict[str, list]] = defaultdict(lambda: {"runs": [], "epochs": []})
    for name in os.listdir(markers):
        if name.startswith(".") or name.endswith(".tmp"):
            continue
        parts = name.split(".")  # trial_id.kind.ns.pid (distributed_bo.testing.counting)
        if len(parts) != 4:
            continue
        trial_id, kind, ns, pid = parts[0], parts[1], int(parts[2]), int(parts[3])
        if kind.startswith("start"):
            try:
                info = json.loads((markers / name).read_text())
            except (OSError, ValueError):
                info = {}
            out[trial_id]["runs"].append({"start": int(kind[5:]), "pid": pid, "ns": ns, **info})
        elif kind.startswith("e"):
            out[trial_id]["epochs"].append({"step": int(kind[1:]), "pid": pid, "ns": ns})
    for m in out.values():
        m["runs"].sort(key=lambda r: r["ns"])
        m["epochs"].sort(key=lambda e: e["ns"])
    return dict(out)


def active_trials(markers: Path, steps: int, window_s: float = 2.5) -> list[dict[str, Any]]:
    """Trials computing right now: a start or an epoch in the last ``window_s``, unfinished."""
    now = time.time_ns()
    active = []
    for trial_id, m in read_markers(markers).items():
        if not m["runs"]:
            continue
        run = m["runs"][-1]
        epochs = [e for e in m["epochs"] if e["pid"] == run["pid"] and e["ns"] >= run["ns"]]
        last = epochs[-1]["step"] if epochs else run["start"]
        last_ns = epochs[-1]["ns"] if epochs else run["ns"]
        if last < steps and now - last_ns < window_s * 1e9:
            active.append(
                {
                    "trial_id": trial_id,
                    "epoch": last,
                    "resumed_from": run["start"],
                    "pid": run["pid"],
                    "node": run.get("node"),
                    "x": (run.get("x0"), run.get("x1")),
                }
            )
    return sorted(active, key=lambda a: a["trial_id"])


def epochs_after(markers: Path, ns: int) -> list[str]:
    """Computed-epoch markers written after ``ns`` (``time.time_ns()``)."""
    out = []
    for n in os.listdir(markers):
        parts = n.split(".")
        if len(parts) == 4 and parts[1].startswith("e") and int(parts[2]) > ns:
            out.append(n)
    return out


# ------------------------------------------------------------------------- results
def read_rows(exp: Path) -> list[dict[str, Any]]:
    """Rows of ``trials.parquet`` ([] if there is none; a failed read is tried again)."""
    import pyarrow.parquet as pq

    for attempt in range(5):
        if not (exp / TRIALS_FILE).exists():
            return []
        try:
            return pq.read_table(exp / TRIALS_FILE).to_pylist()
        except (OSError, ValueError):
            time.sleep(0.05 * (attempt + 1))
    return []


def completed_rows(exp: Path) -> int:
    return sum(r.get("status") == TrialStatus.COMPLETED for r in read_rows(exp))


def pkey(x0: Any, x1: Any) -> tuple[float, float] | None:
    if x0 is None or x1 is None:
        return None
    return (round(float(x0), 9), round(float(x1), 9))


def analyse(exp: Path, markers: Path, budget: int, steps: int) -> dict[str, Any]:
    """Lost / duplicated / recomputed, and the three-way agreement, of a finished study."""
    import math

    from ray.tune import ExperimentAnalysis

    from distributed_bo.search.generator import BatchGenerator

    rows = read_rows(exp)
    checks: list[dict[str, Any]] = []

    def check(source: str, name: str, ok: bool, detail: str = "") -> None:
        checks.append({"source": source, "check": name, "ok": bool(ok), "detail": detail})

    # trials.parquet
    statuses = Counter(r["status"] for r in rows)
    ids = Counter(r["trial_id"] for r in rows)
    done_rows = [r for r in rows if r["status"] == TrialStatus.COMPLETED]
    ax_in_rows = Counter(r["ax_index"] for r in done_rows if r["ax_index"] is not None)
    check("parquet", f"{budget} rows", len(rows) == budget, f"{len(rows)} rows")
    check(
        "parquet",
        "each trial_id once",
        all(c == 1 for c in ids.values()),
        f"repeated: {[k for k, c in ids.items() if c > 1]}",
    )
    check(
        "parquet",
        f"ax_index = 0..{budget - 1}, once each",
        sorted(r["ax_index"] for r in rows if r["ax_index"] is not None) == list(range(budget)),
        f"ax_index: {sorted((r['ax_index'] for r in rows), key=lambda v: (v is None, v or 0))}",
    )
    check(
        "parquet",
        "all COMPLETED",
        set(statuses) == {TrialStatus.COMPLETED},
        dict(statuses).__repr__(),
    )
    check(
        "parquet",
        f"every row {steps} iterations (one more when restored after the last step)",
        all(r.get("iterations") in (steps, steps + 1) for r in rows),
        f"iterations: {sorted(Counter(r.get('iterations') for r in rows).items(), key=str)}",
    )

    # Ax JSON
    experiment = BatchGenerator.client_from_json(
        json.loads((exp / "ax_experiment.json").read_text())
    )._experiment
    ax_status = {i: t.status.name for i, t in experiment.trials.items()}
    ax_done = {i for i, t in experiment.trials.items() if t.status.is_completed}
    df = experiment.lookup_data().df
    data_rows = Counter(int(i) for i in df["trial_index"])
    means = df.groupby("trial_index")["mean"].first().to_dict()
    params = {}
    for i, t in experiment.trials.items():
        arm = t.arm
        if arm is not None:
            params[pkey(arm.parameters.get("x0"), arm.parameters.get("x1"))] = i
    check("ax", f"{budget} trials", len(experiment.trials) == budget, f"{len(ax_status)} trials")
    check(
        "ax",
        "all COMPLETED",
        len(ax_done) == len(ax_status),
        f"{dict(Counter(ax_status.values()))}",
    )
    check(
        "ax",
        "one data row per trial",
        all(c == 1 for c in data_rows.values()),
        f"trials with >1 row: {[i for i, c in data_rows.items() if c > 1]}",
    )
    mismatch = [
        r["ax_index"]
        for r in done_rows
        if r["ax_index"] not in means
        or not math.isclose(means[r["ax_index"]], r["metric"], rel_tol=1e-9, abs_tol=1e-12)
    ]
    check("ax vs parquet", "metric equal, trial for trial", not mismatch, f"differ: {mismatch}")
    row_params = {
        r["ax_index"]: pkey(r.get("config/x0"), r.get("config/x1"))
        for r in rows
        if r["ax_index"] is not None
    }
    bad_params = [i for i, k in row_params.items() if params.get(k) != i]
    check("ax vs parquet", "parameters equal", not bad_params, f"differ: {bad_params}")

    # Ray Tune's own view
    analysis = ExperimentAnalysis(str(exp))
    tune_trials = {t.trial_id: t for t in analysis.trials}
    by_id = {r["trial_id"]: r for r in rows}
    extra = sorted(set(tune_trials) - set(by_id))
    check("tune vs parquet", "every Tune trial is a row", not extra, f"not in parquet: {extra}")
    tune_status = Counter(t.status for t in tune_trials.values())
    wrong = []
    for tid, t in tune_trials.items():
        r = by_id.get(tid)
        if r is None:
            continue
        last = t.last_result or {}
        if t.status != "TERMINATED" or last.get("step", steps) != steps:
            wrong.append(f"{tid}: {t.status} it={last.get('training_iteration')}")
        elif not math.isclose(float(last.get("value", math.nan)), r["metric"], rel_tol=1e-9):
            wrong.append(f"{tid}: value {last.get('value')} != {r['metric']}")
    check(
        "tune vs parquet",
        f"TERMINATED at step {steps} with the row's metric",
        not wrong,
        "; ".join(wrong),
    )
    missing_in_tune = sorted(set(by_id) - set(tune_trials))
    check(
        "tune vs parquet",
        "every row is a Tune trial",
        not missing_in_tune,
        f"rows Tune does not know: {missing_in_tune}",
    )

    # Markers: every epoch ever computed, attributed to Ax trials by parameters (a
    # trial re-run under a new Tune trial id has the same parameters).
    m = read_markers(markers)
    end_of = {r["ax_index"]: r.get("end_time") for r in done_rows if r["ax_index"] is not None}
    grouped: dict[int, list[str]] = defaultdict(list)
    orphan_epochs = 0
    orphan_ids = []
    for tid, mk in m.items():
        key = None
        for run in mk["runs"]:
            key = pkey(run.get("x0"), run.get("x1")) or key
        index = params.get(key)
        if index is None:
            orphan_epochs += len(mk["epochs"])
            orphan_ids.append(tid)
        else:
            grouped[index].append(tid)
    per_ax: dict[int, dict[str, Any]] = {}
    for index, tids in sorted(grouped.items()):
        runs = sorted(({**r, "tid": t} for t in tids for r in m[t]["runs"]), key=lambda r: r["ns"])
        epochs = [{**e, "tid": t} for t in tids for e in m[t]["epochs"]]
        final = steps if index in ax_done else 0
        a = {
            "trial_ids": tids,
            "runs": len(runs),
            "from_ckpt": sum(r["start"] > 0 for r in runs[1:]),
            "from_scratch": sum(
                r["start"] == 0 and any(e["ns"] < r["ns"] for e in epochs) for r in runs[1:]
            ),
            "computed": len(epochs),
            "final": final,
            "recomputed": max(0, len(epochs) - final) if final else 0,
            "last_epoch_computed": sum(e["step"] == steps for e in epochs),
        }
        # Runs that started after the trial's row was already COMPLETED: Tune's
        # snapshot lagged, so a resumed Tune ran a finished trial again.
        done_at = end_of.get(index)
        rerun = [r for r in runs if done_at is not None and r.get("t", 0) > done_at]
        a["runs_after_completed"] = len(rerun)
        a["epochs_after_completed"] = sum(
            1
            for r in rerun
            for e in epochs
            if e["tid"] == r["tid"] and e["pid"] == r["pid"] and e["ns"] > r["ns"]
        )
        per_ax[index] = a
    # Seconds between a run's start and its first epoch, and between its epochs: the
    # trainable sleeps step_s; the rest is reporting, checkpointing and waiting for the
    # driver (a function trainable's report blocks until the driver takes the result).
    gaps = []
    for mk in m.values():
        for k, run in enumerate(mk["runs"]):
            nxt = mk["runs"][k + 1]["ns"] if k + 1 < len(mk["runs"]) else float("inf")
            seq = [run["ns"]] + [
                e["ns"]
                for e in mk["epochs"]
                if e["pid"] == run["pid"] and run["ns"] < e["ns"] < nxt
            ]
            gaps += [(b - a) / 1e9 for a, b in zip(seq, seq[1:], strict=False)]
    gaps.sort()

    def q(p: float) -> float | None:
        return round(gaps[min(len(gaps) - 1, int(p * len(gaps)))], 2) if gaps else None

    recomputed = sum(a["recomputed"] for a in per_ax.values())
    unfinished_epochs = sum(a["computed"] for a in per_ax.values() if not a["final"])
    restarts = sum(max(0, a["runs"] - 1) for a in per_ax.values())
    reran_finished = sorted(i for i, a in per_ax.items() if a["runs_after_completed"])

    # Rows that did not complete, with Tune's own error file (error.txt in the trial dir).
    failed = []
    for r in rows:
        if r["status"] == TrialStatus.COMPLETED:
            continue
        files = sorted(exp.glob(f"*_{r['trial_id']}_*/error.txt"))
        failed.append(
            {
                "trial_id": r["trial_id"],
                "ax_index": r["ax_index"],
                "status": r["status"],
                "ax_status": ax_status.get(r["ax_index"]),
                "restarts": r.get("restarts"),
                "iterations": r.get("iterations"),
                "row_error": r.get("error"),
                "end_time": r.get("end_time"),
                "tune_error_txt": files[0].read_text()[-1500:] if files else None,
            }
        )

    # A COMPLETED row without an ax_index ran some Ax trial's parameters all the same.
    no_index = [
        {
            "trial_id": r["trial_id"],
            "params_of_ax": params.get(pkey(r.get("config/x0"), r.get("config/x1"))),
        }
        for r in done_rows
        if r["ax_index"] is None
    ]
    runs_of_ax = Counter(ax_in_rows)
    for r in no_index:
        if r["params_of_ax"] is not None:
            runs_of_ax[r["params_of_ax"]] += 1

    lost_ax = max(0, budget - len(ax_done))
    lost_rows = max(0, budget - len(ax_in_rows))
    dup = {
        "ax_index_in_several_completed_rows": sorted(i for i, c in ax_in_rows.items() if c > 1),
        "completed_rows_without_ax_index": no_index,
        "ax_trials_completed_in_several_rows": {
            i: c for i, c in sorted(runs_of_ax.items()) if c > 1
        },
        "trial_id_in_several_rows": sorted(k for k, c in ids.items() if c > 1),
        "completed_ax_trials_over_budget": max(0, len(ax_done) - budget),
        "ax_trials_with_several_data_rows": sorted(i for i, c in data_rows.items() if c > 1),
    }
    # Extra COMPLETED rows for one Ax trial (by index, or by parameters where the row
    # has no index), a trial id twice, more than one data row, or over the budget.
    duplicated = (
        sum(c - 1 for c in runs_of_ax.values() if c > 1)
        + len(set(dup["ax_trials_with_several_data_rows"]) - set(runs_of_ax))
        + len(dup["trial_id_in_several_rows"])
        + dup["completed_ax_trials_over_budget"]
    )
    return {
        "budget": budget,
        "rows": len(rows),
        "row_status": dict(statuses),
        "ax_trials": len(ax_status),
        "ax_completed": len(ax_done),
        "tune_trials": len(tune_trials),
        "tune_status": dict(tune_status),
        "trials_lost": lost_ax,
        "rows_missing": lost_rows,
        "trials_duplicated": duplicated,
        "duplicates": dup,
        "epochs_computed": sum(a["computed"] for a in per_ax.values()) + orphan_epochs,
        "epochs_final": sum(a["final"] for a in per_ax.values()),
        "epochs_recomputed": recomputed,
        "finished_trials_rerun": reran_finished,
        "epochs_rerun_after_completed": sum(a["epochs_after_completed"] for a in per_ax.values()),
        "epochs_of_unfinished_ax_trials": unfinished_epochs,
        "orphan_epochs": orphan_epochs,
        "orphan_trial_ids": orphan_ids,
        "restarts": restarts,
        "restarts_from_checkpoint": sum(a["from_ckpt"] for a in per_ax.values()),
        "restarts_from_scratch_after_progress": sum(a["from_scratch"] for a in per_ax.values()),
        "per_ax": {str(i): {k: v for k, v in a.items()} for i, a in sorted(per_ax.items())},
        "tune_ids_per_ax": {str(i): a["trial_ids"] for i, a in sorted(per_ax.items())},
        "failed_rows": failed,
        "epoch_gap_s": {"p50": q(0.5), "p90": q(0.9), "max": q(1.0), "n": len(gaps)},
        "checks": checks,
        "agree": all(c["ok"] for c in checks),
    }


# --------------------------------------------------------------------- processes
def _proc_table() -> dict[int, tuple[int, int, str, int]]:
    """pid -> (ppid, pgid, name, start time in clock ticks) from /proc; zombies left out."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        table[int(entry)] = (int(fields[1]), int(fields[2]), name, int(fields[19]))
    return table


def descendants(pid: int) -> dict[int, tuple[str, int]]:
    """The process tree under ``pid`` plus its process group, as pid -> (name, start)."""
    table = _proc_table()
    children = defaultdict(list)
    for p, row in table.items():
        children[row[0]].append(p)
    out = {p: (row[2], row[3]) for p, row in table.items() if row[1] == pid and p != pid}
    todo = [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out[c] = (table[c][2], table[c][3])
            todo.append(c)
    return out


def survivors(tracked: dict[int, tuple[str, int]]) -> dict[int, tuple[str, int]]:
    """Tracked processes still alive: same pid, name and start time (no reused pids)."""
    table = _proc_table()
    return {p: ident for p, ident in tracked.items() if p in table and table[p][2:] == ident}


# ------------------------------------------------------------------ phase 1: driver
def _cli(args: list[str], logfile: Path) -> subprocess.Popen:
    env = dict(os.environ)
    out = open(logfile, "w")  # noqa: SIM115 - closed when the process ends
    return subprocess.Popen(
        [sys.executable, "-m", "distributed_bo", *args, "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: leftovers can be found after a kill
    )


def _wait(pred, proc: subprocess.Popen | None, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(POLL_S)
    return False


def driver_phase(args: argparse.Namespace, work: Path, rng: random.Random) -> dict[str, Any]:
    base = work / "driver"
    markers, storage, logs = base / "markers", base / "exp", base / "logs"
    for d in (markers, storage, logs):
        d.mkdir(parents=True)
    exp = storage / NAME
    spec_path = base / "job.yaml"
    spec_path.write_text(
        SPEC.format(
            name=NAME,
            trainable=TRAINABLE,
            markers=markers,
            steps=args.steps,
            step_s=args.step_s,
            trials=args.trials,
            concurrent=args.concurrent,
            gpus=0,
            retries=args.retries,
            storage=storage,
            seed=args.seed,
        )
    )
    plan = driver_plan(args, rng)
    log(f"driver phase: {args.trials} trials, fault plan {plan}")

    t0 = time.monotonic()
    faults: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    command = ["run", str(spec_path)]
    retries_left = 2
    finished = False
    while True:
        n = len(attempts)
        logfile = logs / f"attempt{n}_{command[0]}.log"
        launch_ns = time.time_ns()
        launch = time.monotonic()
        done_at_launch = completed_rows(exp)
        proc = _cli(command, logfile)
        attempt = {"n": n, "command": command[0], "t_launch": round(launch - t0, 1)}
        attempts.append(attempt)
        log(f"attempt {n}: {command[0]} (pid {proc.pid})")
        stopped = False
        while len(faults) < len(plan) and not stopped:
            kind, anchor, delay = plan[len(faults)]
            since_ns, done_before = launch_ns, done_at_launch
            if attempt.get("contended"):  # this driver already met a fault: anchor anew
                since_ns, done_before = time.time_ns(), completed_rows(exp)
            if anchor == "launch":
                hit = True
            elif anchor == "epoch":
                hit = _wait(lambda ns=since_ns: bool(epochs_after(markers, ns)), proc, 900)
            else:
                hit = _wait(lambda n=done_before: completed_rows(exp) > n, proc, 900)
            if hit:
                _wait(lambda: False, proc, delay)
            if proc.poll() is not None:
                log(f"  the driver exited before fault {len(faults) + 1} ({anchor} + {delay} s)")
                break
            where = (proc, args, exp, markers, t0, anchor, delay, n)
            if kind == "lock":
                faults.append(contend(*where, spec_path=spec_path, logs=logs))
                attempt["contended"] = attempt.get("contended", 0) + 1
                continue
            faults.append(stop_driver(*where, how=kind, logfile=logfile))
            attempt["rc"] = faults[-1]["rc"]
            stopped = True
        if stopped:
            attempt["wall_s"] = round(time.monotonic() - launch, 1)
            # Stopped before the experiment directory existed: `run` again.
            started = (exp / "spec.yaml").exists()
            command = ["resume", str(exp)] if started else ["run", str(spec_path)]
            continue
        try:
            rc = proc.wait(timeout=args.attempt_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
        attempt["rc"] = rc
        attempt["wall_s"] = round(time.monotonic() - launch, 1)
        attempt["log_tail"] = logfile.read_text()[-1500:]
        log(f"attempt {n} exited {rc} after {attempt['wall_s']} s")
        if rc == 0:
            finished = True
            break
        if command[0] == "resume" and rc == 2 and not (exp / "tuner.pkl").exists():
            command = ["run", str(spec_path)]  # what the CLI's message says to do
            continue
        if retries_left == 0:
            break
        retries_left -= 1
        command = ["resume", str(exp)]
    wall = time.monotonic() - t0
    for f in faults:  # survived: the study finished after it, and the CLI acted as promised
        f["survived"] = finished and f.get("as_promised", True)
    result = {
        "wall_s": round(wall, 1),
        "finished": finished,
        "plan": plan,
        "faults": faults,
        "attempts": attempts,
        "experiment": str(exp),
    }
    if (exp / "ax_experiment.json").exists():
        result["analysis"] = analyse(exp, markers, args.trials, args.steps)
        _zombie_epochs(result, markers)
    attribute_failures(result)
    return result


def resume_inputs(exp: Path) -> dict[str, Any]:
    """What the next ``resume`` will read, checked against what really happened.

    - ``searcher_state.json`` vs ``trials.parquet``: trials the results file has and
      the saved searcher does not know, and COMPLETED trials the searcher still has live;
    - Ray Tune's newest ``experiment_state-*.json``: unfinished trials whose latest
      checkpoint there no longer exists in the trial directory (Tune cannot restore
      them).
    """
    out: dict[str, Any] = {}
    rows = read_rows(exp)
    try:
        state = json.loads((exp / "searcher_state.json").read_text())
    except (OSError, ValueError):
        state = None
    if state is not None:
        known = set(state.get("ax_of", {}))
        done = {r["trial_id"] for r in rows if r["status"] == TrialStatus.COMPLETED}
        out["rows_unknown_to_searcher_state"] = sorted(
            r["trial_id"] for r in rows if r["trial_id"] not in known
        )
        out["completed_rows_live_in_searcher_state"] = sorted(
            t for t in state.get("live", {}) if t in done
        )
    snapshots = sorted(exp.glob("experiment_state-*.json"))
    missing = []
    try:
        data = json.loads(snapshots[-1].read_text()) if snapshots else {"trial_data": []}
        for entry in data["trial_data"]:
            trial = json.loads(entry[0])
            if trial["status"] in ("TERMINATED", "ERROR"):
                continue
            manager = json.loads(entry[1]).get("checkpoint_manager") or {}
            raw = (
                bytes.fromhex(manager["value"])
                if isinstance(manager, dict) and isinstance(manager.get("value"), str)
                else json.dumps(manager).encode()
            )
            found = [int(x) for x in re.findall(rb"checkpoint_(\d{6})", raw)]
            dirs = sorted(exp.glob(f"*_{trial['trial_id']}_*"))
            if not found or not dirs:
                continue
            latest = f"checkpoint_{max(found):06d}"
            if not (dirs[0] / latest).exists():
                missing.append(
                    {
                        "trial_id": trial["trial_id"],
                        "snapshot_checkpoint": latest,
                        "on_disk": sorted(p.name for p in dirs[0].glob("checkpoint_*")),
                    }
                )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
        out["snapshot_error"] = repr(err)
    out["snapshot"] = snapshots[-1].name if snapshots else None
    out["snapshot_checkpoint_missing"] = missing
    return out


def driver_plan(args: argparse.Namespace, rng: random.Random) -> list[tuple[str, str, float]]:
    """``(fault, anchor, delay)`` per driver-phase fault, in a seeded random order."""
    kinds = ["SIGKILL"] * args.driver_kills + ["SIGTERM"] * args.sigterms
    kinds += ["SIGINT"] * args.sigints + ["lock"] * args.lock_tries
    rng.shuffle(kinds)
    anchors = ["launch", "epoch", "epoch", "completion", "completion"]
    plan = []
    for kind in kinds:
        anchor = rng.choice(anchors)
        delay = {
            "launch": lambda: rng.uniform(4.0, 20.0),
            "epoch": lambda: rng.uniform(0.5, 8.0),
            "completion": lambda: rng.uniform(0.0, 1.0),
        }[anchor]()
        plan.append((kind, anchor, round(delay, 2)))
    return plan


#: The exit code the CLI promises after a graceful stop by each signal (README, Failures).
SIGNAL_EXIT = {"SIGTERM": 143, "SIGINT": 130}
#: How long a signalled driver may take to stop gracefully before it is SIGKILLed.
GRACEFUL_S = 120.0


def _signal(proc: subprocess.Popen, how: str) -> Any:
    """Send ``how``; returns the exit code (or why there is none)."""
    if how == "SIGKILL":
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return "SIGKILL"
    if how == "SIGINT":  # Ctrl-C: the terminal signals the driver's whole process group
        os.killpg(proc.pid, signal.SIGINT)
    else:  # `ray job stop`, Kubernetes and `kill` signal the driver process itself
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=GRACEFUL_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return f"no exit in {GRACEFUL_S:.0f} s (SIGKILLed)"


def stop_driver(
    proc, args, exp, markers, t0, anchor, delay, attempt, *, how: str, logfile: Path
) -> dict[str, Any]:
    """Stop the driver by ``how`` (SIGKILL, SIGTERM or SIGINT) and record the state left."""
    tracked = descendants(proc.pid)
    active = active_trials(markers, args.steps)
    rows = read_rows(exp)
    kill_ns = time.time_ns()
    t = time.monotonic() - t0
    rc = _signal(proc, how)
    stop_s = round(time.monotonic() - t0 - t, 1)
    files = [f for f in ("spec.yaml", "tuner.pkl") if (exp / f).exists()]
    left = resume_inputs(exp)
    # Does the driver's local Ray (GCS, raylet, workers, agents) go away with it?
    _wait(lambda: not survivors(tracked), None, 5.0)
    alive = survivors(tracked)
    watch: dict[str, Any] = {}
    if alive:
        watch["thread"] = threading.Thread(
            target=_watch_leftovers, args=(alive, time.monotonic() - 5.0, watch), daemon=True
        )
        watch["thread"].start()
    statuses = Counter(r["status"] for r in rows)
    text = logfile.read_text(errors="replace") if how != "SIGKILL" else ""
    promised = how == "SIGKILL" or (rc == SIGNAL_EXIT[how] and f"resume {exp}" in text)
    fault = {
        "phase": "driver",
        "type": f"driver {how}",
        "rc": rc,
        "stop_s": stop_s,
        "as_promised": promised,
        "attempt": attempt,
        "t_s": round(t, 1),
        "anchor": anchor,
        "delay_s": delay,
        "kill_ns": kill_ns,
        "active": active,
        "rows_at_kill": dict(statuses),
        "files_at_kill": files,
        "left_for_resume": left,
        "tracked_processes": len(tracked),
        "tracked_pids": sorted(tracked),
        "alive_5s_after_kill": sorted(f"{n}:{p}" for p, (n, _) in alive.items()),
        "_watch": watch,
    }
    log(
        f"  {how} driver at t={t:.1f}s ({anchor}+{delay}s): {len(active)} trials computing, "
        f"rows {dict(statuses)}, exit {rc} after {stop_s} s, alive 5 s later: "
        f"{sorted(n for n, _ in alive.values())}"
    )
    return fault


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def contend(
    proc, args, exp, markers, t0, anchor, delay, attempt, *, spec_path: Path, logs: Path
) -> dict[str, Any]:
    """Start a second driver on the running study's directory; it must be refused (exit 3).

    Alternates ``resume DIR`` and ``run JOB``. The refused driver must name the holder
    (the running driver's pid) and change nothing: the running one goes on. The
    running driver is paused (SIGSTOP, its trials run on) until the second one has
    exited, so the study cannot end, and free the lock, while the second one starts.
    """
    n = len(list(logs.glob("contender*.log")))
    command = ["resume", str(exp)] if n % 2 == 0 else ["run", str(spec_path)]
    # The second driver comes once the first holds the lock (it takes it after its
    # imports, which a loaded machine can stretch past the planned moment).
    _wait(lambda: f'"pid": {proc.pid}' in _read(exp / "driver.lock"), proc, 300)
    logfile = logs / f"contender{n}_{command[0]}.log"
    active = active_trials(markers, args.steps)
    rows = read_rows(exp)
    kill_ns = time.time_ns()
    t = time.monotonic() - t0
    proc.send_signal(signal.SIGSTOP)
    try:
        second = _cli(command, logfile)
        try:
            rc: Any = second.wait(timeout=GRACEFUL_S)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            rc = f"no exit in {GRACEFUL_S:.0f} s (SIGKILLed)"
    finally:
        proc.send_signal(signal.SIGCONT)
    text = logfile.read_text(errors="replace")
    promised = rc == 3 and f"pid {proc.pid}" in text and proc.poll() is None
    log(f"  second driver `{command[0]}` at t={t:.1f}s: exit {rc}; {text.strip()[-200:]!r}")
    return {
        "phase": "driver",
        "type": f"lock contention ({command[0]})",
        "rc": rc,
        "stop_s": None,
        "as_promised": promised,
        "attempt": attempt,
        "t_s": round(t, 1),
        "anchor": anchor,
        "delay_s": delay,
        "kill_ns": kill_ns,
        "active": active,
        "rows_at_kill": dict(Counter(r["status"] for r in rows)),
        "message": text.strip()[-500:],
        "tracked_pids": [],
        "_watch": {},
    }


LEFTOVER_LIMIT_S = 120.0


def attribute_failures(result: dict[str, Any]) -> None:
    """Each failed row goes to the last fault before it ended (within 120 s)."""
    failed = (result.get("analysis") or {}).get("failed_rows") or []
    for f in result["faults"]:
        f["trials_failed_after"] = []
    for row in failed:
        end = row.get("end_time")
        if end is None:
            continue
        before = [
            f for f in result["faults"] if f["kill_ns"] / 1e9 <= end <= f["kill_ns"] / 1e9 + 120
        ]
        if before:
            before[-1]["trials_failed_after"].append(row["ax_index"])


def _watch_leftovers(alive: dict[int, tuple[str, int]], since: float, out: dict[str, Any]) -> None:
    """Record how long each process outlives the killed driver; SIGKILL it after 120 s."""
    lifetimes: dict[str, float | None] = {}
    pending = dict(alive)
    while pending and time.monotonic() - since < LEFTOVER_LIMIT_S:
        time.sleep(1.0)
        still = survivors(pending)
        for pid, (name, _) in list(pending.items()):
            if pid not in still:
                lifetimes[f"{name}:{pid}"] = round(time.monotonic() - since, 1)
                del pending[pid]
    for pid, (name, _) in survivors(pending).items():  # same process, checked again
        lifetimes[f"{name}:{pid}"] = None  # still alive at the limit: killed here
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    out["lifetimes"] = lifetimes


def _zombie_epochs(result: dict[str, Any], markers: Path) -> None:
    """Epochs computed by a killed driver's processes after the kill."""
    m = read_markers(markers)
    for f in result["faults"]:
        watch = f.pop("_watch")
        if "thread" in watch:
            watch["thread"].join(LEFTOVER_LIMIT_S + 10)
        f["outlived_driver_s"] = watch.get("lifetimes", {})
        pids = set(f.pop("tracked_pids"))
        f["epochs_after_kill_by_its_workers"] = sum(
            1
            for mk in m.values()
            for e in mk["epochs"]
            if e["pid"] in pids and e["ns"] > f["kill_ns"]
        )


# --------------------------------------------------------------------- phase 2: nodes
def _quiet() -> None:
    """Ray Tune and Ax log levels as the CLI sets them (this process is the driver)."""
    import logging

    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    for name in ("ray", "ray.tune", "ray.train", "ax", "botorch", "gpytorch"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.disable(logging.INFO)  # Ax logs at INFO while it is imported
    try:
        from ax.utils.common.logger import set_ax_logger_levels, set_stderr_log_level
    finally:
        logging.disable(logging.NOTSET)
    set_ax_logger_levels(logging.WARNING)
    set_stderr_log_level(logging.WARNING)


def node_phase(args: argparse.Namespace, work: Path, rng: random.Random) -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster

    from distributed_bo.runner.study import run_study
    from distributed_bo.spec import StudySpec

    _quiet()
    base = work / "nodes"
    markers, storage = base / "markers", base / "exp"
    markers.mkdir(parents=True)
    exp = storage / NAME
    plan = [
        (round(rng.uniform(2.0, 8.0), 2), round(rng.uniform(0.5, 3.0), 2))
        for _ in range(args.node_kills)
    ]
    log(f"node phase: {args.node_trials} trials on {args.nodes} worker nodes, plan {plan}")

    t0 = time.monotonic()
    local = {"node_ip_address": "127.0.0.1"}
    node_args = {"num_cpus": 1, "num_gpus": 2, **local}
    cluster = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 1, "num_gpus": 0, "include_dashboard": False, **local},
    )
    workers = [cluster.add_node(**node_args) for _ in range(args.nodes)]
    cluster.wait_for_nodes()
    # ray.init rewrites 127.0.0.1 to the host's routable IP, where nothing listens.
    services = ray._private.services
    saved = services.resolve_ip_for_localhost
    services.resolve_ip_for_localhost = lambda host: host
    try:
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    finally:
        services.resolve_ip_for_localhost = saved
    log(f"cluster up in {time.monotonic() - t0:.1f} s")

    spec = StudySpec.from_dict(
        {
            "name": NAME,
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {
                "name": TRAINABLE,
                "config": {"marker_dir": str(markers), "steps": args.steps, "step_s": args.step_s},
            },
            "space": {
                "x0": {"type": "uniform", "lower": 0.0, "upper": 1.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 1.0},
            },
            "budget": {"num_trials": args.node_trials, "max_concurrent": args.concurrent},
            "searcher": {"num_initial": args.concurrent},
            "resources": {"cpus_per_trial": 0.5, "gpus_per_trial": 1},
            "checkpoint": {"frequency": 1, "num_to_keep": 2},
            "retries": args.retries,
            "storage": str(storage),
            "seed": args.seed,
        }
    )
    outcome: dict[str, Any] = {}

    def study() -> None:
        try:
            result = run_study(spec, progress=None)
            outcome["best"] = result.best
        except BaseException as err:  # reported
            outcome["error"] = f"{type(err).__name__}: {err}"

    study_start = time.monotonic()
    thread = threading.Thread(target=study, daemon=True)
    thread.start()
    faults: list[dict[str, Any]] = []
    _wait(lambda: bool(epochs_after(markers, 0)), None, 600)
    for k, (delay, replace_after) in enumerate(plan):
        thread.join(delay)
        if not thread.is_alive():
            log(f"study finished before node kill {k + 1}")
            break
        active = active_trials(markers, args.steps)
        busy = {a["node"] for a in active}
        hosting = [w for w in workers if w.node_id in busy]
        victim = rng.choice(hosting or workers)
        on_victim = [a for a in active if a["node"] == victim.node_id]
        rows = read_rows(exp)
        kill_ns = time.time_ns()
        t = time.monotonic() - t0
        cluster.remove_node(victim, allow_graceful=False)
        workers.remove(victim)
        log(
            f"  removed node {victim.node_id[:8]} at t={t:.1f}s: {len(on_victim)} of "
            f"{len(active)} computing trials were on it"
        )
        fault = {
            "phase": "nodes",
            "type": "worker node removed",
            "t_s": round(t, 1),
            "anchor": "first epoch" if k == 0 else "previous replacement",
            "delay_s": delay,
            "kill_ns": kill_ns,
            "victim": victim.node_id,
            "active": active,
            "on_victim": on_victim,
            "rows_at_kill": dict(Counter(r["status"] for r in rows)),
            "replaced_after_s": replace_after,
        }
        time.sleep(replace_after)
        added = time.monotonic()
        workers.append(cluster.add_node(**node_args))
        fault["replacement_up_s"] = round(time.monotonic() - added, 1)
        faults.append(fault)
    thread.join(args.attempt_timeout)
    hung = thread.is_alive()
    study_s = time.monotonic() - study_start
    log(f"node-phase study {'HUNG' if hung else 'ended'} after {study_s:.1f} s: {outcome}")
    ray.shutdown()
    cluster.shutdown()
    finished = not hung and "error" not in outcome
    for f in faults:
        f["survived"] = finished
    result = {
        "wall_s": round(time.monotonic() - t0, 1),
        "study_s": round(study_s, 1),
        "finished": finished,
        "error": outcome.get("error"),
        "plan": plan,
        "faults": faults,
        "experiment": str(exp),
    }
    if (exp / "ax_experiment.json").exists():
        result["analysis"] = analyse(exp, markers, args.node_trials, args.steps)
        m = read_markers(markers)
        for f in faults:
            pids = {a["pid"] for a in f["on_victim"]}
            f["epochs_after_kill_by_its_workers"] = sum(
                1
                for mk in m.values()
                for e in mk["epochs"]
                if e["pid"] in pids and e["ns"] > f["kill_ns"]
            )
        attribute_failures(result)
    return result


# ----------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    import ax
    import ray

    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) / 2**20
    gpu = "none"
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        gpu = out or "none"
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem, 1),
        "gpu": gpu,
        "python": platform.python_version(),
        "ray": ray.__version__,
        "ax": ax.__version__,
        "platform": platform.platform(),
    }


def ax_of(analysis: dict[str, Any] | None, trial_id: str) -> str:
    if not analysis:
        return trial_id
    for index, tids in analysis["tune_ids_per_ax"].items():
        if trial_id in tids:
            return index
    return f"?{trial_id}"


def running_text(f: dict[str, Any], analysis: dict[str, Any] | None) -> str:
    done = f["rows_at_kill"].get(TrialStatus.COMPLETED, 0)
    parts = [
        f"ax {ax_of(analysis, a['trial_id'])} @ e{a['epoch']}"
        + (f" (from ckpt {a['resumed_from']})" if a["resumed_from"] else "")
        for a in f["active"]
    ]
    where = f"{len(f['active'])} computing" + (f": {', '.join(parts)}" if parts else "")
    if f["phase"] == "driver" and not f["active"]:
        where = "no trial computing (start-up / restore / between trials)"
    if f["phase"] == "nodes":
        victims = [ax_of(analysis, a["trial_id"]) for a in f["on_victim"]]
        where += f"; on the removed node: {', '.join('ax ' + v for v in victims) or 'none'}"
    queued = f["rows_at_kill"].get("RUNNING", 0)
    return f"{where}; parquet: {done} COMPLETED, {queued} RUNNING"


def left_text(left: dict[str, Any] | None, analysis: dict[str, Any] | None) -> str:
    if left is None:
        return "n/a"
    parts = []
    unknown = left.get("rows_unknown_to_searcher_state") or []
    live_done = left.get("completed_rows_live_in_searcher_state") or []
    if unknown or live_done:
        what = []
        if unknown:
            what.append(
                f"{len(unknown)} trial(s) it does not know "
                f"({', '.join('ax ' + ax_of(analysis, t) for t in unknown)})"
            )
        if live_done:
            what.append(f"{len(live_done)} COMPLETED trial(s) it still has running")
        parts.append(f"searcher_state.json behind trials.parquet: {' and '.join(what)}")
    for m in left.get("snapshot_checkpoint_missing") or []:
        parts.append(
            f"Tune's snapshot restores ax {ax_of(analysis, m['trial_id'])} from "
            f"{m['snapshot_checkpoint']}, deleted (on disk: {', '.join(m['on_disk'])})"
        )
    return "; ".join(parts) or "consistent"


def totals(phases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, p in phases.items():
        a = p.get("analysis") or {}
        out[name] = {
            "faults": len(p["faults"]),
            "survived": sum(f["survived"] for f in p["faults"]),
            "trials_lost": a.get("trials_lost"),
            "rows_missing": a.get("rows_missing"),
            "trials_duplicated": a.get("trials_duplicated"),
            "epochs_recomputed": a.get("epochs_recomputed"),
            "finished_trials_rerun": len(a.get("finished_trials_rerun") or []),
            "epochs_of_unfinished_ax_trials": a.get("epochs_of_unfinished_ax_trials"),
            "epochs_rerun_after_completed": a.get("epochs_rerun_after_completed"),
            "epochs_computed": a.get("epochs_computed"),
            "epochs_final": a.get("epochs_final"),
            "restarts_from_checkpoint": a.get("restarts_from_checkpoint"),
            "restarts_from_scratch_after_progress": a.get("restarts_from_scratch_after_progress"),
            "orphan_epochs": a.get("orphan_epochs"),
            "epoch_gap": (lambda g: f"{g['p50']} / {g['p90']} / {g['max']}" if g else None)(
                a.get("epoch_gap_s")
            ),
            "agree": a.get("agree"),
            "finished": p["finished"],
            "wall_s": p["wall_s"],
        }
    keys = ["faults", "survived", "trials_lost", "rows_missing", "trials_duplicated"]
    keys += ["epochs_recomputed", "finished_trials_rerun", "epochs_rerun_after_completed"]
    keys += ["epochs_of_unfinished_ax_trials", "epochs_computed", "epochs_final"]
    keys += ["restarts_from_checkpoint", "restarts_from_scratch_after_progress", "orphan_epochs"]
    out["total"] = {
        k: sum((v[k] or 0) for v in out.values() if isinstance(v.get(k), int)) for k in keys
    }
    out["total"]["agree"] = all(v.get("agree") for v in list(out.values())[:-1])
    out["total"]["finished"] = all(p["finished"] for p in phases.values())
    out["total"]["wall_s"] = round(sum(p["wall_s"] for p in phases.values()), 1)
    return out


def _load(report: dict[str, Any], when: str) -> str:
    return " / ".join(f"{v:.2f}" for v in report["loadavg_1_5_15"][when])


def render(report: dict[str, Any]) -> str:
    m, t, phases = report["machine"], report["totals"], report["phases"]
    names = list(phases)
    lines = [
        "# Chaos: driver kills, signals, lock contention and node losses over longer studies",
        "",
        "Written by `benchmarks/chaos.py` (see its docstring for the method).",
        "",
        f"- Command: `{report['command']}`",
        f"- Date (UTC): {report['date']}; total run time {report['wall_s']:.0f} s",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, GPU: {m['gpu']}"
        " (the node phase uses logical GPUs); "
        f"Python {m['python']}, Ray {m['ray']}, Ax {m['ax']}",
        f"- Settings: { {k: v for k, v in report['settings'].items() if k != 'replot'} }",
        f"- Load average (1, 5, 15 min) before: {_load(report, 'before')}, after: "
        f"{_load(report, 'after')} (the machine has {m['nproc']} CPUs; other jobs "
        "running at the same time show up here)",
        "",
        "## Totals",
        "",
        "| | " + " | ".join(names) + " | total |",
        "|---|" + "---|" * (len(names) + 1),
    ]

    def row(label: str, key: str, fmt=str) -> None:
        cells = [fmt(t[n].get(key)) for n in names] + [fmt(t["total"].get(key))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("faults injected", "faults")
    kinds = Counter(f["type"].split(" (")[0] for p in phases.values() for f in p["faults"])
    lines.append(
        f"| fault kinds | {len(kinds)}: "
        + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))
        + " |"
        + " |" * len(names)
    )
    row("faults survived (study finished; exit code and message as promised)", "survived")
    row("trials lost (budget - COMPLETED Ax trials)", "trials_lost")
    row("COMPLETED rows missing from trials.parquet", "rows_missing")
    row("trials duplicated", "trials_duplicated")
    row("epochs recomputed (completed trials: computed - needed)", "epochs_recomputed")
    row("... of which re-runs of trials already COMPLETED", "epochs_rerun_after_completed")
    row("trials run again after their row was COMPLETED", "finished_trials_rerun")
    row("epochs of Ax trials that did not complete", "epochs_of_unfinished_ax_trials")
    row("epochs computed in all", "epochs_computed")
    row("epochs needed (completed trials x steps)", "epochs_final")
    row("restarts from a checkpoint", "restarts_from_checkpoint")
    row("restarts from epoch 0 after progress", "restarts_from_scratch_after_progress")
    row("epochs of configs not in the Ax experiment", "orphan_epochs")
    row(
        f"seconds per epoch p50 / p90 / max (sleep {report['settings']['step_s']} s)",
        "epoch_gap",
        lambda v: "" if v is None else str(v),
    )
    row("three-way agreement (parquet / Ax / Tune)", "agree", lambda v: "yes" if v else "**no**")
    row("study finished", "finished", lambda v: "yes" if v else "**no**")
    row("wall time (s)", "wall_s")
    lines += ["", "## Faults", ""]
    lines += [
        "| # | phase | fault | t (s) | moment | what was running "
        "| processes alive 5 s after the kill (s until they exited) "
        "| epochs computed by the killed processes after the kill "
        "| Ax trials that FAILED after it | state left for the next resume | survived |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    i = 0
    for n in names:
        p = phases[n]
        for f in p["faults"]:
            i += 1
            moment = f"{f['anchor']} + {f['delay_s']} s"
            if n == "nodes":
                moment += f"; node {f['victim'][:8]}, replaced after {f['replaced_after_s']} s"
            lives = f.get("outlived_driver_s")
            if lives is None:
                leaked_text = "n/a"
            else:
                leaked_text = (
                    ", ".join(
                        f"{k.rsplit(':', 1)[0]} ({'killed at 120' if v is None else v})"
                        for k, v in sorted(lives.items())
                    )
                    or "none"
                )
            fault = f["type"]
            if f.get("rc") not in (None, "SIGKILL"):
                fault += f" → exit {f['rc']}" + (f" after {f['stop_s']} s" if f["stop_s"] else "")
            lines.append(
                f"| {i} | {n} | {fault} | {f['t_s']} | {moment} | "
                f"{running_text(f, p.get('analysis'))} | {leaked_text} | "
                f"{f.get('epochs_after_kill_by_its_workers', '?')} | "
                f"{', '.join(map(str, f.get('trials_failed_after') or [])) or 'none'} | "
                f"{left_text(f.get('left_for_resume'), p.get('analysis'))} | "
                f"{'yes' if f['survived'] else '**no**'} |"
            )
    for n in names:
        p = phases[n]
        a = p.get("analysis")
        lines += ["", f"## Phase `{n}`", ""]
        if n == "driver":
            lines.append(
                "Attempts: "
                + "; ".join(
                    f"{x['n']}: `{x['command']}` at {x['t_launch']} s, {x['wall_s']} s, "
                    f"exit {x['rc']}"
                    for x in p["attempts"]
                )
                + "."
            )
        else:
            lines.append(
                f"Study {p['study_s']} s; error: {p['error'] or 'none'}; node kill plan "
                f"(delay, replace after): {p['plan']}."
            )
        if not a:
            lines.append("\nNo analysis: the study left no Ax experiment.")
            continue
        lines += [
            "",
            f"Ax trials {a['ax_trials']} ({a['ax_completed']} completed), parquet rows "
            f"{a['rows']} {a['row_status']}, Tune trials {a['tune_trials']} {a['tune_status']}; "
            f"{a['restarts']} restarts; duplicates: {a['duplicates']}.",
            "",
            "| source | check | ok | detail |",
            "|---|---|---|---|",
        ]
        for c in a["checks"]:
            detail = c["detail"] if not c["ok"] else ""
            lines.append(
                f"| {c['source']} | {c['check']} | {'yes' if c['ok'] else '**no**'} | {detail} |"
            )
        if a.get("failed_rows"):
            lines += ["", "Trials that did not complete:", ""]
            for r in a["failed_rows"]:
                errors = [
                    ln.strip()
                    for ln in (r["tune_error_txt"] or "").splitlines()
                    if "Error" in ln and ":" in ln and not ln.strip().startswith("File")
                ]
                tune_err = (errors[-1] if errors else "none")[:300].replace("`", "'")
                row_err = (r["row_error"] or "")[:300].replace("`", "'")
                lines.append(
                    f"- ax {r['ax_index']} (Tune trial {r['trial_id']}): parquet {r['status']}, "
                    f"Ax {r['ax_status']}, {r['iterations']} iterations, restarts "
                    f"{r['restarts']}, error in the row: `{row_err}`; Tune's "
                    f"error.txt, last error: `{tune_err}`"
                )
        multi = {k: v for k, v in a["per_ax"].items() if v["recomputed"] or v["runs"] > 1}
        if multi:
            lines += ["", "Ax trials that ran more than once:", ""]
            lines += [
                "| ax | Tune trial ids | starts | from ckpt | from 0 after progress "
                "| epochs computed | recomputed | starts after COMPLETED (epochs) |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for k, v in multi.items():
                lines.append(
                    f"| {k} | {', '.join(v['trial_ids'])} | {v['runs']} | {v['from_ckpt']} | "
                    f"{v['from_scratch']} | {v['computed']} | {v['recomputed']} | "
                    f"{v['runs_after_completed']} ({v['epochs_after_completed']}) |"
                )
    lines += [
        "",
        "## Reading",
        "",
        report.get("reading")
        or '(not written yet: put it in chaos.json\'s "reading", then `--replot`)',
        "",
    ]
    return "\n".join(lines)


def _on_sigterm(signum: int, frame: Any) -> None:
    log("the benchmark itself got SIGTERM from outside; stopping")
    raise SystemExit(143)


def _script() -> str:
    """The script as the user ran it (``benchmarks/chaos.py`` runs this file with runpy,
    which puts this file's path in ``sys.argv[0]``)."""
    ran = sys.orig_argv[1] if len(sys.orig_argv) > 1 else ""
    return ran if ran.endswith(".py") else sys.argv[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--driver-kills", type=int, default=6, help="driver SIGKILLs")
    p.add_argument("--sigterms", type=int, default=4, help="driver SIGTERMs (graceful)")
    p.add_argument("--sigints", type=int, default=4, help="Ctrl-C to the driver's group")
    p.add_argument("--lock-tries", type=int, default=4, help="second drivers on the study")
    p.add_argument("--node-kills", type=int, default=4)
    p.add_argument("--trials", type=int, default=64, help="driver-phase budget")
    p.add_argument("--node-trials", type=int, default=24, help="node-phase budget")
    p.add_argument("--concurrent", type=int, default=4)
    p.add_argument("--nodes", type=int, default=3, help="worker nodes (2 logical GPUs each)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--step-s", type=float, default=0.5)
    p.add_argument("--retries", type=int, default=10, help="spec.retries (per trial)")
    p.add_argument("--attempt-timeout", type=float, default=600.0)
    p.add_argument("--phases", default="driver,nodes")
    p.add_argument(
        "--quick", action="store_true", help="4 driver faults (one of each) + 1 node kill"
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--work", type=Path, default=None, help="scratch dir (default: a new tmp)")
    p.add_argument(
        "--replot",
        action="store_true",
        help="only rewrite chaos.md from --out's chaos.json (keeps its hand-written 'reading')",
    )
    args = p.parse_args(argv)
    if args.replot:
        report = json.loads((args.out / "chaos.json").read_text())
        report["totals"] = totals(report["phases"])
        (args.out / "chaos.md").write_text(render(report))
        return 0
    if args.quick:
        args.driver_kills, args.node_kills, args.trials, args.node_trials = 1, 1, 16, 8
        args.sigterms, args.sigints, args.lock_tries = 1, 1, 1
    work = args.work or Path(tempfile.mkdtemp(prefix="chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"scratch dir {work}")
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    phases: dict[str, dict[str, Any]] = {}
    wanted = args.phases.split(",")
    load_before = os.getloadavg()
    signal.signal(signal.SIGTERM, _on_sigterm)
    if "driver" in wanted:
        phases["driver"] = driver_phase(args, work, rng)
        (work / "driver_phase.json").write_text(json.dumps(phases["driver"], default=str))
    if "nodes" in wanted:
        phases["nodes"] = node_phase(args, work, rng)
        (work / "nodes_phase.json").write_text(json.dumps(phases["nodes"], default=str))
    report = {
        "command": "python " + " ".join(shlex.quote(a) for a in [_script(), *sys.argv[1:]]),
        "date": date,
        "wall_s": round(time.monotonic() - t0, 1),
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "work", "quick")},
        "work": str(work),
        "loadavg_1_5_15": {"before": load_before, "after": os.getloadavg()},
        "phases": phases,
    }
    report["totals"] = totals(phases)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chaos.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (args.out / "chaos.md").write_text(render(report))
    tt = report["totals"]
    print()
    print(f"{'':<22}" + "".join(f"{n:>10}" for n in tt))
    for key in (
        "faults",
        "survived",
        "trials_lost",
        "rows_missing",
        "trials_duplicated",
        "epochs_recomputed",
        "agree",
    ):
        print(f"{key:<22}" + "".join(f"{str(v.get(key)):>10}" for v in tt.values()))
    print(f"\nwrote {args.out / 'chaos.md'} and chaos.json; scratch {work}")
    return 0 if tt["total"]["finished"] else 1


if __name__ == "__main__":
    sys.exit(main())
