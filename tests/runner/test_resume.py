"""Driver SIGKILL at a random moment, then `resume`: nothing lost, nothing duplicated."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo.search.generator import BatchGenerator

HERE = Path(__file__).parent

SPEC = """\
name: crash
objective: {{metric: value, mode: min}}
trainable:
  name: counting_trainables:counter
  config: {{marker_dir: {markers}, steps: 8, step_s: 0.4}}
space:
  x0: {{type: uniform, lower: 0.0, upper: 1.0}}
  x1: {{type: uniform, lower: 0.0, upper: 1.0}}
budget: {{num_trials: {trials}, max_concurrent: 3}}
searcher: {{num_initial: 3}}
resources: {{cpus_per_trial: 0.5}}
checkpoint: {{frequency: 1, num_to_keep: 2}}
storage: {storage}
seed: 0
"""


def _cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.Popen(
        [sys.executable, "-m", "distributed_bo", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _rows(exp):
    try:
        return pq.read_table(exp / "trials.parquet").to_pylist()
    except (FileNotFoundError, OSError):
        return []


def _wait_for(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("seed", [0])
def test_sigkill_driver_then_resume_agrees_three_ways(tmp_path, seed):
    trials = 8
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = tmp_path / "crash.yaml"
    spec.write_text(SPEC.format(markers=markers, storage=tmp_path / "exp", trials=trials))
    exp = tmp_path / "exp" / "crash"

    driver = _cli("run", str(spec), "--quiet")
    # Wait until some trial is past its third checkpoint and Tune has snapshotted it,
    # then kill at a random moment within the next two seconds.
    assert _wait_for(lambda: any(markers.glob("*.step3")), 240), driver.stderr
    time.sleep(2.5 + random.Random(seed).uniform(0.0, 2.0))
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    before = {r["trial_id"]: r["status"] for r in _rows(exp)}
    assert any(s == "RUNNING" for s in before.values())
    assert (exp / "driver.lock").exists()  # the killed driver's: a plain resume takes it over

    resumed = _cli("resume", str(exp), "--quiet")
    _, err = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, err
    assert not (exp / "driver.lock").exists()  # released at the end

    rows = _rows(exp)
    # trials.parquet: exactly the budget, each Ax trial once, all finished.
    assert len(rows) == trials
    assert len({r["trial_id"] for r in rows}) == trials
    assert sorted(r["ax_index"] for r in rows) == list(range(trials))
    assert {r["status"] for r in rows} == {"COMPLETED"}
    # Finished trials stayed finished: their results did not change.
    for r in rows:
        if before.get(r["trial_id"]) == "COMPLETED":
            assert r["status"] == "COMPLETED"
    # The Ax experiment agrees trial for trial.
    experiment = BatchGenerator.client_from_json(
        json.loads((exp / "ax_experiment.json").read_text())
    )._experiment
    assert len(experiment.trials) == trials
    assert all(t.status.is_completed for t in experiment.trials.values())
    data = experiment.lookup_data().df.set_index("trial_index")["mean"]
    for r in rows:
        assert data[r["ax_index"]] == pytest.approx(r["metric"])
    # Tune's own results: every Tune trial is a row, with a result on disk.
    from ray.tune import ExperimentAnalysis

    tune_ids = {t.trial_id for t in ExperimentAnalysis(str(exp)).trials}
    assert tune_ids <= {r["trial_id"] for r in rows}
    # A trial that was running at the kill continued from its checkpoint.
    restarts = [p.name for p in markers.glob("*.start*") if ".start0." not in p.name]
    assert restarts, "no trial resumed from a checkpoint"
