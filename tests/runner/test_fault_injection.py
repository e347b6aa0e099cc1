"""Fault injection on real raylets: a worker node removed mid-trial, a worker process killed."""

import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from distributed_bo.runner.study import run_study
from distributed_bo.spec import StudySpec

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def spec(tmp_path, name, *, trials, concurrent, gpus, steps=8):
    markers = tmp_path / "markers"
    markers.mkdir(exist_ok=True)
    return markers, StudySpec.from_dict(
        {
            "name": name,
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {
                "name": "counting_trainables:counter",
                "config": {"marker_dir": str(markers), "steps": steps, "step_s": 0.4},
            },
            "space": {
                "x0": {"type": "uniform", "lower": 0.0, "upper": 1.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 1.0},
            },
            "budget": {"num_trials": trials, "max_concurrent": concurrent},
            "searcher": {"num_initial": concurrent},
            "resources": {"cpus_per_trial": 0.5, "gpus_per_trial": gpus},
            "checkpoint": {"frequency": 1, "num_to_keep": 2},
            "retries": 3,
            "storage": str(tmp_path / "exp"),
            "seed": 0,
        }
    )


def _in_background(fn):
    errors = []

    def run():
        try:
            fn()
        except BaseException as err:  # reported by the test
            errors.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _wait_for(predicate, timeout=180):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _check_finished(rows, trials):
    assert len(rows) == trials
    assert sorted(r["ax_index"] for r in rows) == list(range(trials))
    assert {r["status"] for r in rows} == {"COMPLETED"}


def test_killed_worker_process_is_retried_from_its_checkpoint(ray_session, tmp_path):
    markers, s = spec(tmp_path, "killproc", trials=4, concurrent=2, gpus=0)

    def kill_one():
        assert _wait_for(lambda: any(markers.glob("*.step3")))
        victim = next(markers.glob("*.step3")).name.split(".")[0]
        start = next(markers.glob(f"{victim}.start0.*"))
        os.kill(int(start.name.split(".")[-1]), signal.SIGKILL)
        killed.append(victim)

    killed: list[str] = []
    thread, errors = _in_background(kill_one)
    result = run_study(s, progress=None)
    thread.join(10)
    assert not errors and killed
    rows = pq.read_table(tmp_path / "exp" / "killproc" / "trials.parquet").to_pylist()
    _check_finished(rows, 4)
    row = next(r for r in rows if r["trial_id"] == killed[0])
    assert row["restarts"] == 1
    resumed = [p for p in markers.glob(f"{killed[0]}.start*") if ".start0." not in p.name]
    assert resumed, "the killed trial restarted from scratch"
    assert result.best is not None


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    local = {"node_ip_address": "127.0.0.1"}
    c = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 1, "num_gpus": 0, "include_dashboard": False, **local},
    )
    workers = [c.add_node(num_cpus=2, num_gpus=2, **local) for _ in range(2)]
    c.wait_for_nodes()
    with pytest.MonkeyPatch.context() as mp:
        # ray.init rewrites 127.0.0.1 to the host's routable IP, where nothing
        # listens: these raylets are bound to loopback only.
        mp.setattr(ray._private.services, "resolve_ip_for_localhost", lambda host: host)
        ray.init(address=c.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield c, workers
    ray.shutdown()
    c.shutdown()


def test_removed_worker_node_trials_resume_elsewhere(cluster, tmp_path):
    c, workers = cluster
    markers, s = spec(tmp_path, "nodeloss", trials=6, concurrent=4, gpus=1)

    checkpointed: set[str] = set()

    def remove_node():
        assert _wait_for(lambda: len(list(markers.glob("*.step2"))) >= 4)  # both nodes busy
        # A step marker is written after that step's checkpoint was persisted.
        checkpointed.update(p.name.split(".")[0] for p in markers.glob("*.step*"))
        c.remove_node(workers[0])  # a spot instance is reclaimed; its trials move

    thread, errors = _in_background(remove_node)
    run_study(s, progress=None)
    thread.join(60)
    assert not errors
    rows = pq.read_table(tmp_path / "exp" / "nodeloss" / "trials.parquet").to_pylist()
    _check_finished(rows, 6)
    restarted = [r for r in rows if r["restarts"] > 0]
    assert restarted, "no trial was on the removed node"
    resumed = 0
    for r in restarted:
        if r["trial_id"] not in checkpointed:
            continue  # it died before its first checkpoint: restarting from 0 is right
        starts = [p.name for p in markers.glob(f"{r['trial_id']}.start*")]
        assert any(".start0." not in n for n in starts), f"{r['trial_id']} restarted from 0"
        resumed += 1
    assert resumed, "no trial that had a checkpoint was on the removed node"
