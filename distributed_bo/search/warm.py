"""Warm data: earlier results that enter the model as observations, never run again.

A :class:`WarmObservation` is one earlier evaluation: a configuration inside this
search space and the values of every metric the searcher models. The searcher's
generator attaches them to the Ax experiment as COMPLETED trials with their own
generator key (``"WarmStart"``), before its first batch
(:meth:`~distributed_bo.search.generator.BatchGenerator.attach_warm`):

- they are data like any completed trial: the GP is fitted on them, and they count
  toward ``num_initial``, so the Sobol start is shortened by as many points, or
  skipped when there are at least ``num_initial`` of them;
- they are no Tune trial: they hold no slot, are never suggested, and count
  neither against ``num_samples`` nor as assigned trials;
- they are attached once, on a fresh start; a restored searcher finds them in its
  saved Ax experiment.

This is Ax's ``attach_trial`` plus ``complete_trial`` (the documented way to add
existing data to an experiment), done in one data update for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distributed_bo.search.events import is_finite_number
from distributed_bo.validation import fail

#: Generator key of the Ax trials that hold warm observations.
WARM_KEY = "WarmStart"
#: Key of a warm trial's Ax run metadata that holds its label.
LABEL_KEY = "warm_start"


@dataclass(frozen=True, kw_only=True)
class WarmObservation:
    """One earlier result: a configuration and its observed values.

    Attributes:
        config: The configuration, nested or with flat ``a/b`` keys, holding every
            searched parameter with a value inside its domain.
        values: Every metric the searcher models (objectives, then constrained
            metrics) by its reported name; finite numbers.
        label: Where it came from (``SOURCE#TRIAL`` for a study's warm start), kept
            in the Ax trial's run metadata.

    Raises:
        SpecError: If a value is not a finite number.
    """

    config: Mapping[str, Any]
    values: Mapping[str, float]
    label: str = field(default="")

    def __post_init__(self) -> None:
        for name, value in self.values.items():
            if not is_finite_number(value):
                fail(
                    f"WarmObservation.values[{name!r}]",
                    value,
                    "give a finite number for every metric the searcher models",
                )
        object.__setattr__(self, "values", {k: float(v) for k, v in self.values.items()})
        object.__setattr__(self, "config", dict(self.config))
