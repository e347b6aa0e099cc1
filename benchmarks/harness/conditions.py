"""Run conditions: machine, versions, load; worker processes; the raw JSON record.

Other people's jobs share the benchmark machine, so every report records the load
average sampled during the run beside the exact command.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import numpy as np


def machine() -> dict[str, str]:
    """CPU count and model, RAM, GPU (or none), Python version, platform."""

    def cpu_model() -> str:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or "unknown"

    def ram() -> str:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal"):
                    return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
        except OSError:
            pass
        return "unknown"

    try:
        import torch

        gpu = "none" if not torch.cuda.is_available() else torch.cuda.get_device_name(0)
    except Exception:  # the report must not fail on a broken CUDA install
        gpu = "unknown"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "ram": ram(),
        "gpu": gpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def loadavg() -> str:
    """1/5/15-minute load averages: other processes on the machine skew the timings."""
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of the packages a benchmark depends on, plus the project's commit."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("distributed-bo", "ray", "ax-platform", "botorch", "gpytorch", "torch", "optuna"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "distributed_bo"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        out["distributed-bo commit"] = commit + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        out["distributed-bo commit"] = "unknown"
    return out


class LoadSampler:
    """Samples the 1-minute load average every ``period_s`` seconds on a daemon thread."""

    def __init__(self, period_s: float = 30.0) -> None:
        self.period_s = period_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="LoadSampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.samples.append(os.getloadavg()[0])
            except OSError:
                return
            if self._stop.wait(self.period_s):
                return

    def summary(self) -> dict[str, float]:
        """Median, min and max of the samples so far (1-minute load average)."""
        if not self.samples:
            return {}
        s = np.asarray(self.samples)
        return {
            "samples": len(s),
            "median": float(np.median(s)),
            "min": float(s.min()),
            "max": float(s.max()),
        }

    def stop(self) -> dict[str, float]:
        """Stop sampling; return :meth:`summary`."""
        self._stop.set()
        return self.summary()


def quiet() -> None:
    """Silence Ax, BoTorch, Ray and Optuna below WARNING (benchmark output stays readable)."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    from ax.utils.common.logger import set_ax_logger_levels

    set_ax_logger_levels(logging.WARNING)
    for name in ("ax", "botorch", "distributed_bo", "optuna", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        pass


def init_worker(torch_threads: int) -> None:
    """Initializer of benchmark worker processes: quiet logs, fixed torch threads."""
    quiet()
    import torch

    torch.set_num_threads(torch_threads)


def worker_pool(jobs: int, torch_threads: int) -> ProcessPoolExecutor:
    """``jobs`` spawned processes, each quiet and with ``torch_threads`` torch threads."""
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(torch_threads,),
    )


class GridConfig(Protocol):
    """What :func:`run_grid` reads from a benchmark's configuration."""

    jobs: int
    torch_threads: int
    deadline_min: float | None


def run_grid(
    fn: Callable[..., Any],
    tasks: Iterable[tuple[Any, ...]],
    config: GridConfig,
    record: Recorder,
    on_result: Callable[[Any], None],
) -> list[tuple[Any, ...]]:
    """``fn(*task)`` for every task, in order, on ``config.jobs`` worker processes.

    ``on_result`` gets each result as it arrives (in completion order). No task is
    started once ``record`` has run ``config.deadline_min`` minutes (if set); the
    ones in flight finish.

    Returns:
        The tasks not started.
    """
    pending = deque(tasks)
    in_flight: set[Any] = set()
    with worker_pool(config.jobs, config.torch_threads) as pool:
        while pending or in_flight:
            late = config.deadline_min is not None and record.minutes() > config.deadline_min
            while pending and not late and len(in_flight) < config.jobs:
                in_flight.add(pool.submit(fn, *pending.popleft()))
            if not in_flight:
                break
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                on_result(future.result())
    return list(pending)


def command_line() -> str:
    """The command that started this process, as a reader would type it."""
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def new_header(**fields: Any) -> dict[str, Any]:
    """A run's header: command, UTC start date, machine, versions, then ``fields``."""
    return {
        "command": command_line(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": machine(),
        "versions": versions(),
        **fields,
    }


class Recorder:
    """Keeps a run's raw record (``{"header": ..., ...}``) on disk as results arrive.

    Every :meth:`dump` stamps the header with the minutes since construction
    (``wall_min``) and the load sampled so far (``load``), then rewrites ``path``.
    """

    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path, self.raw = path, raw
        self.t0 = time.perf_counter()
        self.load = LoadSampler()

    def minutes(self) -> float:
        """Wall minutes since the run started."""
        return (time.perf_counter() - self.t0) / 60

    def dump(self) -> None:
        """Stamp wall time and load into the header; rewrite the JSON file atomically."""
        header = self.raw["header"]
        header["wall_min"] = self.minutes()
        header["load"] = self.load.summary()
        # Atomic: a run killed mid-write leaves the previous, valid file.
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.raw))
        os.replace(tmp, self.path)

    def finish(self, finished: bool = True) -> None:
        """Stop sampling the load; mark the header finished (or not); dump."""
        self.load.stop()
        self.raw["header"]["finished"] = finished
        self.dump()


def parse_names(
    text: str, known: Iterable[str], what: str, parser: argparse.ArgumentParser
) -> list[str]:
    """Comma-separated names, each checked against ``known``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in known]
    if bad:
        parser.error(f"--{what}: {', '.join(bad)}; use names from {', '.join(known)}")
    return names


def earlier_runs(raw_path: Path, resume: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """With ``resume``: the runs already in the JSON, and a line per invocation so far."""
    if not (resume and raw_path.exists()):
        return [], []
    previous = json.loads(raw_path.read_text())
    h = previous["header"]
    line = (
        f"`{h['command']}`, started {h['date_utc']} UTC, ran {h.get('wall_min', 0):.1f} min, "
        f"{len(previous['runs'])} runs in the JSON at its end"
    )
    return previous["runs"], [*h.get("earlier", []), line]


def open_record(
    raw_path: Path, config: Any, **fields: Any
) -> tuple[list[dict[str, Any]], Recorder]:
    """Start (or, with ``config.resume``, continue) a benchmark's raw JSON record.

    Quiets the libraries, creates the folder, keeps the earlier runs when resuming,
    writes a fresh header (``config`` as a dict, the earlier invocations, ``fields``)
    and dumps the file once.

    Returns:
        The run list (the earlier runs; append new ones to it) and its recorder.
    """
    quiet()
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    runs, earlier = earlier_runs(raw_path, config.resume)
    header = new_header(config=asdict(config), earlier=earlier, finished=False, **fields)
    record = Recorder(raw_path, {"header": header, "runs": runs})
    record.dump()
    return runs, record
