"""The files of an experiment directory (``STORAGE/NAME/``), by name.

Ours:

- ``spec.yaml``: the validated spec, written before the first trial starts;
- ``trials.parquet``: one row per trial (:mod:`distributed_bo.experiment.rows`);
- ``searcher_state.json``: the searcher's state, saved on every trial event;
  fresher than Tune's own copy, which is only written with Tune's snapshots;
- ``ax_experiment.json``: the Ax experiment, for Ax's own tools;
- ``warm_start.json``: the earlier configurations a warm-started study runs first,
  or (``data`` mode) takes as observations, with their values
  (:mod:`distributed_bo.runner.warm_start`);
- ``report.html`` and its PNGs, once ``distributed-bo report`` ran;
- ``driver.lock``: held by the one ``run`` or ``resume`` writing the directory
  (:mod:`distributed_bo.experiment.lock`); not ``.json``, since Ray Tune's restore
  copies every ``*.json`` of the directory down and up again.

Ray Tune's: ``tuner.pkl``, ``experiment_state-<time>.json`` snapshots,
``searcher-state-<time>.pkl`` copies of the searcher, and one folder per trial.
"""

from __future__ import annotations

from collections.abc import Iterable

SPEC_FILE = "spec.yaml"
TRIALS_FILE = "trials.parquet"
SEARCHER_FILE = "searcher_state.json"
#: The searcher state saved before ``searcher_state.json``: the fallback on resume.
PREV_SEARCHER_FILE = "searcher_state.prev.json"
AX_FILE = "ax_experiment.json"
REPORT_FILE = "report.html"
WARM_START_FILE = "warm_start.json"
#: Ray Tune's pickled Tuner; its presence means the study started.
TUNER_FILE = "tuner.pkl"
#: The lock of the driver writing the directory (one at a time).
LOCK_FILE = "driver.lock"

_SNAPSHOT_PREFIX = "experiment_state-"
_TUNE_SEARCHER_PREFIX = "searcher-state-"


def tune_snapshots(names: Iterable[str]) -> list[str]:
    """Ray Tune's experiment snapshots among ``names``, oldest first."""
    return sorted(n for n in names if n.startswith(_SNAPSHOT_PREFIX) and n.endswith(".json"))


def tune_searcher_copies(names: Iterable[str]) -> list[str]:
    """Ray Tune's saved copies of the searcher among ``names``, oldest first."""
    return sorted(n for n in names if n.startswith(_TUNE_SEARCHER_PREFIX))
