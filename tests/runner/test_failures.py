"""Failing trials: recorded FAILED with a readable reason, never data; the failure limit."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo import StudyFailedError
from distributed_bo.runner.study import run_study
from distributed_bo.search.generator import BatchGenerator
from distributed_bo.spec import StudySpec

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    # The driver imports the trainable by name; the runner ships it to the workers.
    monkeypatch.syspath_prepend(str(HERE))


def spec(tmp_path, name, trainable, *, trials=4, fraction=1.0):
    return StudySpec.from_dict(
        {
            "name": name,
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": f"failing_trainables:{trainable}"},
            "space": {"x0": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
            "budget": {"num_trials": trials, "max_concurrent": 2},
            "searcher": {"num_initial": 2},
            "resources": {"cpus_per_trial": 0.5},
            "retries": 2,
            "max_failure_fraction": fraction,
            "storage": str(tmp_path),
            "seed": 0,
        }
    )


@pytest.mark.parametrize(
    ("trainable", "reason"),
    [
        ("raises", "RuntimeError: user code broke at step 2"),
        ("cuda_oom", "OutOfMemoryError: CUDA out of memory"),
        ("nan_metric", "value was nan"),
        ("no_metric", "reported no 'value'"),
    ],
)
def test_failing_trial_is_failed_with_reason_and_never_data(
    ray_session, tmp_path, trainable, reason
):
    with pytest.raises(StudyFailedError, match="no trial completed"):
        run_study(spec(tmp_path, trainable, trainable, trials=2), progress=None)
    rows = pq.read_table(tmp_path / trainable / "trials.parquet").to_pylist()
    assert len(rows) == 2
    for row in rows:
        assert row["status"] == "FAILED"
        assert reason in row["error"]
        assert row["restarts"] == 0  # errors in user code are not retried
    ax = json.loads((tmp_path / trainable / "ax_experiment.json").read_text())
    experiment = BatchGenerator.client_from_json(ax)._experiment
    assert [t.status.is_failed for t in experiment.trials.values()] == [True, True]
    assert experiment.lookup_data().df.empty  # nothing was ever attached as data
    if trainable == "nan_metric":
        assert all(row["iterations"] <= 3 for row in rows)  # stopped, not run for 50 steps


def test_failure_rate_limit_stops_the_study(ray_session, tmp_path):
    with pytest.raises(StudyFailedError, match="max_failure_fraction"):
        run_study(spec(tmp_path, "limit", "raises", trials=20, fraction=0.5), progress=None)
    rows = pq.read_table(tmp_path / "limit" / "trials.parquet").to_pylist()
    assert 5 <= len(rows) < 20


def test_failed_configurations_are_not_model_data(ray_session, tmp_path):
    result = run_study(spec(tmp_path, "mixed", "mixed", trials=8, fraction=1.0), progress=None)
    rows = result.rows
    failed = [r for r in rows if r["status"] == "FAILED"]
    done = [r for r in rows if r["status"] == "COMPLETED"]
    assert failed and done
    assert all("FloatingPointError: loss is NaN" in r["error"] for r in failed)
    assert all(r["config/x0"] < 0.5 for r in failed)
