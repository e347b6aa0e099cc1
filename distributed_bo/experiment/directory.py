"""One experiment directory, read whole: its spec and its rows, for ``show`` and ``report``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from distributed_bo.exceptions import DistributedBOError, ExperimentNotFoundError
from distributed_bo.experiment.layout import AX_FILE, SEARCHER_FILE, TRIALS_FILE
from distributed_bo.experiment.rows import best_row, check_row, read_trials
from distributed_bo.experiment.spec_file import read_spec
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.types import Mode, Row

if TYPE_CHECKING:
    from distributed_bo.spec import StudySpec


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """An experiment directory as read from storage.

    Attributes:
        exp: The directory.
        spec: The study's spec, from ``spec.yaml`` (its trainable not imported).
        rows: One dict per trial, in file order.
    """

    exp: StorageDir
    spec: StudySpec
    rows: list[Row]

    @property
    def metric(self) -> str:
        """The objective's key (the first objective's, with several)."""
        return self.spec.objectives[0].metric

    @property
    def mode(self) -> Mode:
        """``"min"`` or ``"max"``."""
        return self.spec.objectives[0].mode

    def best_row(self) -> Row | None:
        """The COMPLETED row with the best metric, or ``None``."""
        return best_row(self.rows, self.mode)


def read_experiment(experiment_dir: str) -> Experiment:
    """Read an experiment directory's spec and rows; needs neither Ray nor the trainable.

    Args:
        experiment_dir: The directory (``STORAGE/NAME``), a path or a URI.

    Raises:
        ExperimentNotFoundError: If it holds no study, or its files are corrupt, or
            its ``trials.parquet`` is missing although a trial started.
    """
    exp = StorageDir.open(experiment_dir)
    spec = read_spec(exp)
    _check_trials_file(exp)
    try:
        rows = read_trials(exp)
        for row in rows:
            check_row(row)
    except DistributedBOError:
        raise  # already one line: not a file, or storage out of reach
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.shown}/{TRIALS_FILE} is corrupt ({type(err).__name__}: "
            f"{err}); restore it, or `distributed-bo resume` the study to rewrite it"
        ) from err
    return Experiment(exp=exp, spec=spec, rows=rows)


def _check_trials_file(exp: StorageDir) -> None:
    """Refuse a directory whose ``trials.parquet`` is gone although a trial started.

    ``run`` writes ``spec.yaml`` before Ray Tune starts, and ``trials.parquet`` at the
    first trial's start, just after ``searcher_state.json``. So a study with no trial
    started yet has neither file (and shows as such); one with the searcher's
    state or the Ax experiment but no ``trials.parquet`` has lost its results file.
    """
    if exp.exists(TRIALS_FILE):
        return
    written = [name for name in (SEARCHER_FILE, AX_FILE) if exp.exists(name)]
    if written:
        raise ExperimentNotFoundError(
            f"experiment_dir: {exp.shown}/{TRIALS_FILE} is missing, though trials started "
            f"({written[0]} is there); restore {TRIALS_FILE} from a backup"
        )
