"""A study on S3 (moto's S3 server on loopback): driver SIGKILL, then `resume` from S3.

The server is a real S3-protocol endpoint (``python -m moto.server``); Ray Tune, the
trials' checkpoints, ``trials.parquet`` and the searcher state all go through
``pyarrow.fs.S3FileSystem``, as they would against AWS.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo.experiment.storage import StorageDir
from distributed_bo.search.generator import BatchGenerator

pytest.importorskip("moto.server", reason="moto[server] is in the test extra")

HERE = Path(__file__).parent
BUCKET = "dbo-test"  # the s3_endpoint fixture's bucket (tests/conftest.py)
TRIALS = 4
#: Long enough that the first trial to reach step 3 is still running 3 s later, under load.
STEPS = 16

SPEC = """\
name: s3crash
objective: {{metric: value, mode: min}}
trainable:
  name: counting_trainables:counter
  config: {{marker_dir: {markers}, steps: {steps}, step_s: 0.4}}
space:
  x0: {{type: uniform, lower: 0.0, upper: 1.0}}
  x1: {{type: uniform, lower: 0.0, upper: 1.0}}
budget: {{num_trials: {trials}, max_concurrent: 3}}
searcher: {{num_initial: 3}}
resources: {{cpus_per_trial: 0.5}}
checkpoint: {{frequency: 1, num_to_keep: 2}}
storage: "{storage}"
seed: 0
"""


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.Popen(
        [sys.executable, "-m", "distributed_bo", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _rows(exp: StorageDir) -> list[dict]:
    if not exp.exists("trials.parquet"):
        return []
    with exp.fs.open_input_file(f"{exp.path}/trials.parquet") as f:
        return pq.read_table(f).to_pylist()


@pytest.mark.slow
def test_sigkill_driver_then_resume_from_s3(s3_endpoint, tmp_path):
    query = f"endpoint_override={s3_endpoint}&scheme=http&region=us-east-1"
    storage = f"s3://{BUCKET}/studies?{query}"
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = tmp_path / "s3crash.yaml"
    spec.write_text(SPEC.format(markers=markers, storage=storage, trials=TRIALS, steps=STEPS))
    exp = StorageDir.open(storage, "s3crash")
    assert exp.uri == f"s3://{BUCKET}/studies/s3crash?{query}"

    driver = _cli("run", str(spec), "--quiet")
    end = time.monotonic() + 240
    while not (third := sorted(markers.glob("*.step3"))):
        assert driver.poll() is None, driver.stderr.read()
        assert time.monotonic() < end, "no trial reached step 3"
        time.sleep(0.2)
    time.sleep(3.0)  # Tune has snapshotted the experiment (and that trial) to S3 by now
    first = third[0].name.split(".")[0]
    # The test needs a trial killed mid-run with a checkpoint; a finished one proves nothing.
    assert not (markers / f"{first}.step{STEPS}").exists(), "the trial finished before the kill"
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    before = {r["trial_id"]: r["status"] for r in _rows(exp)}
    assert "RUNNING" in before.values()
    assert not Path(exp.path).exists()  # nothing went to a local directory of that name
    assert exp.exists("driver.lock")  # the killed driver's; resume takes it over

    resumed = _cli("resume", exp.uri, "--quiet")
    _, err = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, err
    assert not exp.exists("driver.lock")  # released at the end

    rows = _rows(exp)
    assert len(rows) == TRIALS
    assert sorted(r["ax_index"] for r in rows) == list(range(TRIALS))
    # On failure, say which trial did not complete and what the resume printed: a
    # trial left FAILED after the kill was seen once in CI (2026-12-08), cause unknown.
    unfinished = [r for r in rows if r["status"] != "COMPLETED"]
    assert not unfinished, f"{unfinished}; before: {before}; resume stderr: {err[-4000:]}"
    for trial_id, status in before.items():
        if status == "COMPLETED":
            assert next(r for r in rows if r["trial_id"] == trial_id)["status"] == "COMPLETED"
    ax = json.loads(exp.read_bytes("ax_experiment.json"))
    experiment = BatchGenerator.client_from_json(ax)._experiment
    assert len(experiment.trials) == TRIALS
    assert all(t.status.is_completed for t in experiment.trials.values())
    data = experiment.lookup_data().df.set_index("trial_index")["mean"]
    for r in rows:
        assert data[r["ax_index"]] == pytest.approx(r["metric"])
    # A trial that was running at the kill continued from its checkpoint on S3.
    starts = sorted(p.name for p in markers.glob("*.start*"))
    restarts = [n for n in starts if ".start0." not in n]
    assert restarts, f"no trial resumed from a checkpoint: {starts}; before: {before}; {err}"
    assert any(n.startswith(f"{first}.start") for n in restarts), starts  # the one killed
    assert any(n.startswith("checkpoint_") for d in exp.list() for n in exp.list(d))
