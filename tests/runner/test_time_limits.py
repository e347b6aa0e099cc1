"""Time limits: a hung trial (``trainable.timeout_s``) and the study's ``budget.time_budget_s``."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo import StudyFailedError
from distributed_bo.cli import main
from distributed_bo.runner.study import run_study
from distributed_bo.search.generator import BatchGenerator
from distributed_bo.spec import StudySpec

HERE = Path(__file__).parent
REASON = "trial reported nothing for 2 s (trainable.timeout_s)"


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def hang_spec(tmp_path, name, *, always):
    markers = tmp_path / f"{name}-markers"
    markers.mkdir()
    return StudySpec.from_dict(
        {
            "name": name,
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {
                "name": "timing_trainables:hang",
                "config": {"marker_dir": str(markers), "always": always},
                "timeout_s": 2,
            },
            "space": {"x0": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
            "budget": {"num_trials": 1, "max_concurrent": 1},
            "searcher": {"num_initial": 2},
            "resources": {"cpus_per_trial": 0.5},
            "retries": 1,
            "storage": str(tmp_path),
            "seed": 0,
        }
    )


def _rows(path):
    return pq.read_table(path / "trials.parquet").to_pylist()


def _ax_trials(path):
    ax = json.loads((path / "ax_experiment.json").read_text())
    return BatchGenerator.client_from_json(ax)._experiment.trials


def test_hung_trial_is_ended_and_retried_with_its_reason(ray_session, tmp_path):
    # It hangs in native code (time.sleep) on its first attempt only.
    result = run_study(hang_spec(tmp_path, "once", always=False), progress=None)
    [row] = result.rows
    assert row["status"] == "COMPLETED"
    assert row["restarts"] == 1
    assert row["error"] == REASON
    assert row["metric"] == pytest.approx(row["config/x0"])
    assert _rows(tmp_path / "once") == result.rows


def test_trial_that_always_hangs_fails_once_no_retry_is_left(ray_session, tmp_path):
    with pytest.raises(StudyFailedError, match="trainable.timeout_s"):
        run_study(hang_spec(tmp_path, "always", always=True), progress=None)
    [row] = _rows(tmp_path / "always")
    assert row["status"] == "FAILED"
    assert row["error"] == REASON
    assert row["restarts"] == 2  # Tune's failure count: the first attempt and its one retry
    assert [t.status.is_failed for t in _ax_trials(tmp_path / "always").values()] == [True]


TIME_BUDGET_SPEC = """\
name: budget
objective: {{metric: value, mode: min}}
trainable: {{name: "timing_trainables:fast_or_endless"}}
space:
  x0: {{type: uniform, lower: 0.0, upper: 1.0}}
budget: {{num_trials: 4, max_concurrent: 2, time_budget_s: {budget}}}
searcher: {{num_initial: 4}}
resources: {{cpus_per_trial: 0.5}}
storage: {storage}
seed: 0
"""


def test_spent_time_budget_ends_the_study_and_says_so(ray_session, tmp_path, capsys):
    # Trials with x0 >= 0.5 never end: only the time budget can end this study.
    job = tmp_path / "job.yaml"
    # 30 s: room for the fast trials to start and finish on a loaded 2-core machine.
    job.write_text(TIME_BUDGET_SPEC.format(budget=30, storage=tmp_path))
    assert main(["run", str(job), "--quiet"]) == 0
    err = capsys.readouterr().err
    rows = _rows(tmp_path / "budget")
    stopped = [r for r in rows if r["status"] == "EARLY_STOPPED"]
    done = [r for r in rows if r["status"] == "COMPLETED"]
    assert done and stopped and len(done) + len(stopped) == len(rows)
    assert all(r["config/x0"] < 0.5 for r in done)
    assert all(r["config/x0"] >= 0.5 for r in stopped)
    assert all(
        r["error"] == "stopped unfinished: budget.time_budget_s (30 s) was spent" for r in stopped
    )
    note = (
        f"note: budget.time_budget_s: the time budget of 30 s was spent; {len(done)} of 4 "
        f"trials finished, {len(stopped)} stopped unfinished (EARLY_STOPPED), "
        f"{4 - len(rows)} never ran"
    )
    assert note in err.splitlines()
    # Ax agrees: the stopped trials are EARLY_STOPPED there, none is left running.
    ax = _ax_trials(tmp_path / "budget")
    for r in rows:
        assert ax[r["ax_index"]].status.name == r["status"]


def test_time_budget_spent_before_any_trial_completed_is_exit_5(ray_session, tmp_path, capsys):
    job = tmp_path / "job.yaml"
    spec = TIME_BUDGET_SPEC.format(budget=2, storage=tmp_path)
    job.write_text(spec.replace("lower: 0.0", "lower: 0.5"))  # every trial is endless
    assert main(["run", str(job), "--quiet"]) == 5
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    assert lines[0].startswith("error: budget.time_budget_s: the time budget of 2 s was spent")
    assert "none completed; raise budget.time_budget_s" in lines[0]
    rows = _rows(tmp_path / "budget")
    assert rows and {r["status"] for r in rows} == {"EARLY_STOPPED"}
