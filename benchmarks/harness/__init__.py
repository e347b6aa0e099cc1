"""The one benchmark harness: every script in ``benchmarks/`` imports it.

* :mod:`harness.conditions`: machine, versions and load records, worker processes,
  and the raw JSON record a run keeps on disk as it goes.
* :mod:`harness.methods`: the ask/tell methods compared (ours and peers).
* :mod:`harness.simulate`: asynchronous workers in simulated time.
* :mod:`harness.stats`: percentiles and paired statistics (W-T-L, sign test, ranks).
* :mod:`harness.markdown`, :mod:`harness.plots`: the report header, tables and plots.

Scripts import it as ``from harness import ...``; running ``python benchmarks/X.py``
puts ``benchmarks/`` on ``sys.path``. Nothing in the package or its tests imports it.
"""

from harness.conditions import (
    LoadSampler,
    Recorder,
    command_line,
    init_worker,
    loadavg,
    machine,
    new_header,
    quiet,
    run_grid,
    versions,
    worker_pool,
)
from harness.functions import hartmann6
from harness.markdown import (
    date_line,
    header_lines,
    load_line,
    machine_line,
    peer_table,
    reading,
    table,
    versions_line,
)
from harness.methods import (
    AxClientMethod,
    Method,
    OptunaMethod,
    QBatchMethod,
    RandomMethod,
    SearcherMethod,
    SobolMethod,
    TimedMethod,
    optuna_distributions,
)
from harness.plots import median_band, pyplot, save
from harness.simulate import (
    REGRET_FLOOR,
    exponential_durations,
    simulate_async,
    simulate_records,
)
from harness.stats import (
    final_by,
    fmt,
    mean_ranks,
    paired_counts,
    pct,
    seed_range,
    sign_test,
    verdict,
    wtl,
)

__all__ = [
    "REGRET_FLOOR",
    "AxClientMethod",
    "LoadSampler",
    "Method",
    "OptunaMethod",
    "QBatchMethod",
    "RandomMethod",
    "Recorder",
    "SearcherMethod",
    "SobolMethod",
    "TimedMethod",
    "command_line",
    "date_line",
    "exponential_durations",
    "final_by",
    "fmt",
    "header_lines",
    "init_worker",
    "load_line",
    "loadavg",
    "machine",
    "machine_line",
    "mean_ranks",
    "median_band",
    "new_header",
    "optuna_distributions",
    "paired_counts",
    "pct",
    "peer_table",
    "pyplot",
    "quiet",
    "reading",
    "run_grid",
    "save",
    "seed_range",
    "hartmann6",
    "sign_test",
    "simulate_async",
    "simulate_records",
    "table",
    "verdict",
    "versions",
    "versions_line",
    "worker_pool",
    "wtl",
]
