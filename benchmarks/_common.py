"""Shared machinery of the benchmark scripts (not part of the package).

* Run-condition records: machine, versions, load average (a background sampler
  too, since other people's jobs share the benchmark machine).
* Statistics: percentiles, wins-ties-losses paired by seed with an exact sign test.
* The ask/tell :class:`Method` interface, the standalone drivers of
  ``BatchBOSearcher`` and random search over arbitrary Ray Tune spaces, and
  :func:`simulate_async`, which runs any method on simulated asynchronous workers.

Scripts import it as ``from _common import ...``; running ``python benchmarks/X.py``
puts this folder on ``sys.path``.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import platform
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

#: Regret floor for log plots; a float error can make regret ~1e-16 or slightly < 0.
REGRET_FLOOR = 1e-10


# --------------------------------------------------------------- run conditions
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


def machine_line(m: Mapping[str, str]) -> str:
    """One Markdown line naming the machine that :func:`machine` described."""
    return (
        f"- Machine: nproc={m['nproc']}, CPU {m['cpu']}, RAM {m['ram']}, GPU: {m['gpu']}; "
        f"Python {m['python']}"
    )


def date_line(header: Mapping[str, Any]) -> str:
    """One Markdown line: when a run started, and after how long it finished or stopped."""
    wall = f"{header['wall_min']:.1f} min"
    done = f"finished after {wall}" if header.get("finished") else f"**partial** after {wall}"
    return f"- Date (UTC): started {header['date_utc']}; {done}"


def load_line(summary: Mapping[str, float], nproc: str) -> str:
    """One Markdown line describing the load average sampled during a run."""
    if not summary:
        return "- Load: not sampled"
    line = (
        f"- Load during the run (1-minute load average sampled every 30 s, "
        f"{summary['samples']} samples): median {summary['median']:.1f}, range "
        f"{summary['min']:.1f}-{summary['max']:.1f} on {nproc} cores"
    )
    try:
        loaded = summary["median"] > float(nproc)
    except ValueError:
        loaded = True
    if loaded:
        return line + (
            f"; above {nproc}, other processes competed for the CPU and wall-clock "
            "numbers are inflated"
        )
    return line + f"; median at most {nproc}: the CPU was not oversubscribed"


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


# ------------------------------------------------------------------ statistics
def pct(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of ``values``."""
    return float(np.percentile(np.asarray(values, dtype=float), p))


def fmt(x: float) -> str:
    """Three significant-ish digits; scientific notation for tiny or huge values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.2e}" if (abs(x) < 1e-2 or abs(x) >= 1e3) and x != 0 else f"{x:.3f}"


def seed_range(seeds: Sequence[int]) -> str:
    """``"seeds 0-9"`` for a contiguous range, else the list."""
    if not seeds:
        return "none"
    if list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ",".join(map(str, seeds))


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test p-value (ties dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_counts(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[int, int, int, float]:
    """Wins, ties, losses of ``a`` against ``b`` over common seeds (lower wins), and p."""
    seeds = sorted(set(a) & set(b))
    wins = sum(a[s] < b[s] - 1e-12 for s in seeds)
    losses = sum(a[s] > b[s] + 1e-12 for s in seeds)
    return wins, len(seeds) - wins - losses, losses, sign_test(wins, losses)


def wtl(a: Mapping[int, float], b: Mapping[int, float]) -> str:
    """``"W-T-L (p=..)"`` of ``a`` against ``b`` over common seeds (lower wins)."""
    if not set(a) & set(b):
        return "-"
    w, t, losses, p = paired_counts(a, b)
    return f"{w}-{t}-{losses} (p={p:.2g})"


# --------------------------------------------------------------------- methods
class Method:
    """Ask/tell interface every compared method implements (minimisation)."""

    def ask(self, trial_id: str) -> dict[str, Any] | None:
        """Return the next config for ``trial_id``, or ``None`` if none can be given now."""
        raise NotImplementedError

    def tell(self, trial_id: str, value: float) -> None:
        """Report the objective ``value`` of ``trial_id`` (minimised)."""
        raise NotImplementedError

    def close(self) -> dict[str, Any]:
        """Release resources; return method-specific measurements."""
        return {}


class SearcherMethod(Method):
    """``BatchBOSearcher`` standalone, driven as Tune drives it (``num_samples`` = budget).

    A ``None`` from ``suggest()`` is followed by ``wait_ready()`` and another
    ``suggest()``, so the worker gets its point as soon as it is generated.
    """

    def __init__(
        self, space: Mapping[str, Any], seed: int, budget: int, workers: int, **kwargs: Any
    ) -> None:
        from distributed_bo import BatchBOSearcher

        self.searcher = BatchBOSearcher(
            space=space, metric="value", mode="min", max_concurrent=workers, seed=seed, **kwargs
        )
        self.searcher.set_search_properties(None, None, {}, num_samples=budget)
        self.latencies: list[float] = []
        self.waits: list[float] = []
        self.tell_waits: list[float] = []
        self.none_returns = 0

    def ask(self, trial_id: str) -> dict[str, Any]:
        waited = 0.0
        for _ in range(1000):
            start = time.perf_counter()
            config = self.searcher.suggest(trial_id)
            self.latencies.append(time.perf_counter() - start)
            if config is not None:
                self.waits.append(waited)
                return config
            self.none_returns += 1
            start = time.perf_counter()
            if not self.searcher.wait_ready(timeout=600):
                raise RuntimeError("searcher: wait_ready timed out after 600 s")
            waited += time.perf_counter() - start
        raise RuntimeError("searcher: suggest() kept returning None after wait_ready()")

    def tell(self, trial_id: str, value: float) -> None:
        self.searcher.on_trial_complete(trial_id, {"value": value})
        # Generation finishes before the next completion (it takes no simulated
        # time): with ``prefetch``, the spare for the next freed slot is then
        # always ready, and runs do not depend on thread timing.
        start = time.perf_counter()
        if not self.searcher.wait_ready(timeout=600):
            raise RuntimeError("searcher: wait_ready timed out after 600 s")
        self.tell_waits.append(time.perf_counter() - start)

    def close(self) -> dict[str, Any]:
        stats = [asdict(s) for s in self.searcher.generation_stats]
        self.searcher.close()
        return {
            "suggest_latency_s": self.latencies,
            "wait_s": self.waits,
            "tell_wait_s": self.tell_waits,
            "none_returns": self.none_returns,
            "generation_stats": stats,
        }


class RandomMethod(Method):
    """Independent samples of the Ray Tune domains with a seeded numpy RNG."""

    def __init__(self, space: Mapping[str, Any], seed: int) -> None:
        self.space = dict(space)
        self.rng = np.random.default_rng([seed, 1])

    def ask(self, trial_id: str) -> dict[str, Any]:
        return {k: _plain(d.sample(random_state=self.rng)) for k, d in self.space.items()}

    def tell(self, trial_id: str, value: float) -> None:
        pass


class SobolMethod(Method):
    """Ax's scrambled Sobol sequence, through the searcher's ``BatchGenerator``."""

    def __init__(self, space: Mapping[str, Any], seed: int, budget: int) -> None:
        from distributed_bo.search.generator import BatchGenerator
        from distributed_bo.search.space import map_space

        self.space = map_space(space)
        self.gen = BatchGenerator(
            space=self.space,
            metric="value",
            mode="min",
            acquisition="qLogNEI",
            batch_strategy="joint",
            num_initial=budget + 1,  # never leaves the Sobol phase
            seed=seed,
        )

    def ask(self, trial_id: str) -> dict[str, Any]:
        (index,) = self.gen.generate(1)
        return self.space.to_config(self.gen.parameters(index))

    def tell(self, trial_id: str, value: float) -> None:
        pass


def _plain(value: Any) -> Any:
    """numpy scalar -> Python scalar."""
    return value.item() if hasattr(value, "item") else value


# ------------------------------------------------------------------ simulation
def simulate_async(
    method: Method,
    objective: Callable[[dict[str, Any]], float],
    budget: int,
    durations: Sequence[float],
    workers: int,
) -> tuple[list[float], list[dict[str, Any]]]:
    """Run ``budget`` evaluations on ``workers`` simulated asynchronous workers.

    Evaluation ``i`` (in start order) lasts ``durations[i]`` simulated seconds.
    Workers start busy; when one finishes, its result is told and a new point is
    asked for that worker. A method that answers ``None`` (it wants more data
    first, as Ax's default strategy does after its initial points) leaves the worker
    idle until the next completion, when every idle worker asks again.
    Generation time does not advance simulated time.

    Returns:
        Objective values and configs, both in completion order.
    """
    running: list[tuple[float, int, dict[str, Any]]] = []
    started = 0

    def fill(now: float) -> None:
        nonlocal started
        while len(running) < workers and started < budget:
            config = method.ask(f"t{started}")
            if config is None:
                return
            heapq.heappush(running, (now + float(durations[started]), started, config))
            started += 1

    fill(0.0)
    values: list[float] = []
    configs: list[dict[str, Any]] = []
    while running:
        now, index, config = heapq.heappop(running)
        value = float(objective(config))
        method.tell(f"t{index}", value)
        values.append(value)
        configs.append(config)
        fill(now)
        if not running and started < budget:
            raise RuntimeError("simulation: every worker idle and the method gives no point")
    return values, configs
