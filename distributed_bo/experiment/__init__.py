"""The experiment directory ``STORAGE/NAME/``: file names, trial rows, the saved spec.

- :mod:`~distributed_bo.experiment.layout`: the names of its files;
- :mod:`~distributed_bo.experiment.storage`: :class:`StorageDir`, local or any URI;
- :mod:`~distributed_bo.experiment.rows`: the row schema, read/write, ``best_row``;
- :mod:`~distributed_bo.experiment.spec_file`: ``spec.yaml`` without the trainable;
- :mod:`~distributed_bo.experiment.directory`: the whole directory, read.

None of it imports Ray.
"""

from distributed_bo.experiment.directory import Experiment, read_experiment
from distributed_bo.experiment.rows import (
    TrialRow,
    best_metric,
    best_row,
    is_finished,
    objective,
    read_trials,
    write_trials,
)
from distributed_bo.experiment.spec_file import read_spec, write_spec
from distributed_bo.experiment.storage import StorageDir

__all__ = [
    "Experiment",
    "StorageDir",
    "TrialRow",
    "best_metric",
    "best_row",
    "is_finished",
    "objective",
    "read_experiment",
    "read_spec",
    "read_trials",
    "write_spec",
    "write_trials",
]
