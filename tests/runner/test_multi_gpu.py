"""One box with N GPUs: `distributed-bo run` pins each trial to its own GPU, runs as many
at once as the GPUs allow (two per GPU at 0.5), and queues the rest.

The box is simulated: a local Ray with logical GPUs, whose ids Ray hands out through
``CUDA_VISIBLE_DEVICES`` exactly as for real ones. The session's Ray (4 GPUs) is used when
it runs; otherwise ``connect`` starts one on 127.0.0.1 with 2.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from distributed_bo.cli import main

PROBE = '''
import json, os, time, uuid
from pathlib import Path

from ray import tune


def probe(config):
    """Record CUDA_VISIBLE_DEVICES and when the trial ran; wait for `peers` to start."""
    log = Path(config["log_dir"])
    me = uuid.uuid4().hex
    start = time.time()
    (log / f"{me}.start").touch()
    while len(list(log.glob("*.start"))) < config["peers"] and time.time() < start + 60:
        time.sleep(0.05)
    time.sleep(0.3)
    record = {"cvd": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}
    (log / f"{me}.json").write_text(json.dumps(record))
    tune.report({"value": float(config["x"])})
'''

SPEC = """\
name: {name}
objective: {{metric: value, mode: min}}
trainable:
  name: "dbo_gpu_probe:probe"
  config: {{log_dir: "{log_dir}", peers: {peers}}}
space:
  x: {{type: uniform, lower: 0.0, upper: 1.0}}
budget: {{num_trials: {trials}, max_concurrent: {concurrent}}}
searcher: {{num_initial: {trials}}}
resources: {{cpus_per_trial: 0.25, gpus_per_trial: {gpus}}}
checkpoint: {{frequency: 0}}
retries: 0
storage: "{storage}"
seed: 0
"""


@pytest.fixture(scope="module")
def gpu_box(tmp_path_factory):
    """The number of GPUs of a local Ray, and a directory holding the probe trainable."""
    import ray

    from distributed_bo.runner.cluster import connect

    started = connect(num_gpus=2)  # False when the session's Ray already runs
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus < 2:
        pytest.skip(f"the running Ray has {gpus} GPUs; this test needs 2 or more")
    root = tmp_path_factory.mktemp("gpu_box")
    (root / "dbo_gpu_probe.py").write_text(textwrap.dedent(PROBE))
    sys.path.insert(0, str(root))
    yield gpus, root
    sys.path.remove(str(root))
    if started:
        ray.shutdown()


def _run_study(root, *, gpus: float, trials: int, concurrent: int, peers: int):
    name = f"gpus-{str(gpus).replace('.', '_')}"
    log_dir = root / name
    log_dir.mkdir()
    spec = root / f"{name}.yaml"
    spec.write_text(
        SPEC.format(
            name=name,
            log_dir=log_dir,
            peers=peers,
            trials=trials,
            concurrent=concurrent,
            gpus=gpus,
            storage=root / "exp",
        )
    )
    assert main(["run", str(spec), "--quiet"]) == 0
    rows = pq.read_table(root / "exp" / name / "trials.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["COMPLETED"] * trials
    records = [json.loads(p.read_text()) for p in log_dir.glob("*.json")]
    assert len(records) == trials
    return records


def _running_together(records):
    """For every trial, the trials running at the moment it started (itself included)."""
    return [[r for r in records if r["start"] <= t["start"] < r["end"]] for t in records]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("gpus_per_trial", "per_gpu"),
    [(1, 1), (0.5, 2)],
    ids=["one-gpu-per-trial", "half-a-gpu-per-trial"],
)
def test_run_pins_trials_to_gpus_and_fills_them(gpu_box, gpus_per_trial, per_gpu):
    gpus, root = gpu_box
    expected = gpus * per_gpu  # trials that fit at once
    # max_concurrent asks for one more than fits: that trial waits for a free GPU
    records = _run_study(
        root, gpus=gpus_per_trial, trials=expected + 1, concurrent=expected + 1, peers=expected
    )
    ids = {str(i) for i in range(gpus)}
    for r in records:
        assert r["cvd"] in ids, r  # exactly one GPU each, pinned by Ray
    groups = _running_together(records)
    assert max(len(g) for g in groups) == expected
    for group in groups:
        seen = [r["cvd"] for r in group]
        assert all(seen.count(i) <= per_gpu for i in seen), seen  # never more than fit
    assert {r["cvd"] for r in records} == ids  # every GPU used
