"""Schedulers from the spec, end to end with the batch searcher (real Ray, real Ax)."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ray.tune.schedulers import (
    ASHAScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
)

from distributed_bo.exceptions import SpecError
from distributed_bo.runner.schedulers import build_scheduler
from distributed_bo.runner.study import run_study
from distributed_bo.spec import StudySpec
from distributed_bo.spec.schema import SchedulerSpec

HERE = Path(__file__).parent
STEPS = 9


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    # The driver imports the trainable by name; the runner ships it to the workers.
    monkeypatch.syspath_prepend(str(HERE))


def spec(tmp_path, name, scheduler, *, trials=8, num_initial=8, policy="highest_rung"):
    return StudySpec.from_dict(
        {
            "name": name,
            "objective": {"metric": "value", "mode": "min"},
            "trainable": {"name": "stopping_trainables:curve", "config": {"epochs": STEPS}},
            "space": {"x0": {"type": "uniform", "lower": 0.0, "upper": 1.0}},
            "budget": {"num_trials": trials, "max_concurrent": 4},
            "searcher": {"num_initial": num_initial, "stopped_trials": policy},
            "scheduler": scheduler,
            "resources": {"cpus_per_trial": 0.5},
            "checkpoint": {"frequency": 1, "num_to_keep": 1},
            "storage": str(tmp_path),
            "seed": 0,
        }
    )


def ax_statuses(tmp_path, name):
    import json

    from distributed_bo.search.generator import BatchGenerator

    snapshot = json.loads((tmp_path / name / "ax_experiment.json").read_text())
    client = BatchGenerator.client_from_json(snapshot)
    return {i: t.status.name for i, t in client._experiment.trials.items()}, client


# ------------------------------------------------------------------ building
@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("asha", ASHAScheduler),
        ("hyperband", HyperBandScheduler),
        ("median_stopping", MedianStoppingRule),
    ],
)
def test_build_scheduler_uses_ray_tunes_own_classes(kind, cls):
    section = SchedulerSpec(type=kind, max_t=9, grace_period=2, reduction_factor=3)
    scheduler = build_scheduler(section, full_length=9)
    assert isinstance(scheduler, cls)
    assert scheduler._time_attr == "training_iteration"
    assert scheduler._full_t == 9.0
    if kind == "asha":
        assert scheduler._max_t == 9
        # Rungs at grace_period * reduction_factor**k below max_t: 2 and 6 epochs.
        assert [t for t, _ in scheduler._brackets[0]._rungs] == [6, 2]
    if kind == "hyperband":
        assert scheduler._max_t_attr == 9
        assert scheduler._eta == 3
    if kind == "median_stopping":
        assert scheduler._grace_period == 2


def test_fifo_is_plain_fifo_and_a_stopping_scheduler_needs_max_t():
    assert type(build_scheduler(SchedulerSpec(), full_length=None)) is FIFOScheduler
    with pytest.raises(SpecError, match=r"^scheduler.max_t: got None; set it"):
        build_scheduler(SchedulerSpec(type="asha"), full_length=None)


def test_scheduler_pickles_with_its_listener():
    # Tune pickles the scheduler (with the searcher it reports to) into tuner.pkl.
    import pickle

    from distributed_bo import BatchBOSearcher

    searcher = BatchBOSearcher(seed=0)
    scheduler = build_scheduler(
        SchedulerSpec(type="asha", max_t=9), full_length=9, listener=searcher
    )
    copy = pickle.loads(pickle.dumps({"s": searcher, "sch": scheduler}))
    assert type(copy["sch"]).__name__ == "ReportingASHAScheduler"
    assert copy["sch"]._listener is copy["s"]


def test_hyperband_reports_the_paused_trials_it_stops():
    # HyperBand stops the paused losers of a rung through TuneController.stop_trial,
    # which calls on_trial_remove (not on_trial_result): a stop before max_t.
    from ray.tune.experiment import Trial

    from distributed_bo import BatchBOSearcher

    searcher = BatchBOSearcher(seed=0)
    section = SchedulerSpec(type="hyperband", max_t=9, reduction_factor=3)
    scheduler = build_scheduler(section, full_length=9, listener=searcher)
    scheduler.set_search_properties("value", "min")
    loser, finished = Trial("__fake", stub=True), Trial("__fake", stub=True)
    for trial in (loser, finished):
        scheduler.on_trial_add(None, trial)
    loser.update_last_result({"value": 3.0, "training_iteration": 3})
    finished.update_last_result({"value": 1.0, "training_iteration": 9})
    scheduler.on_trial_remove(None, loser)
    scheduler.on_trial_remove(None, finished)
    assert searcher.is_early_stopped(loser.trial_id)
    assert not searcher.is_early_stopped(finished.trial_id)


# ---------------------------------------------------------------- end to end
@pytest.mark.parametrize("kind", ["fifo", "asha", "hyperband", "median_stopping"])
def test_each_scheduler_runs_end_to_end_with_the_searcher(ray_session, tmp_path, kind):
    section = {"type": kind, "grace_period": 1, "reduction_factor": 3}
    result = run_study(spec(tmp_path, kind, section), progress=None)
    rows = pq.read_table(tmp_path / kind / "trials.parquet").to_pylist()
    assert len(rows) == 8
    statuses = {r["status"] for r in rows}
    assert statuses <= {"COMPLETED", "EARLY_STOPPED"}, rows
    assert "COMPLETED" in statuses
    for row in rows:
        if row["status"] == "COMPLETED":
            assert row["iterations"] == STEPS
        else:
            assert row["iterations"] < STEPS
    if kind == "fifo":
        assert statuses == {"COMPLETED"}
    elif kind != "hyperband":
        # HyperBand's first bracket runs every trial to max_t, and its later ones
        # halve only the trials created so far; 8 trials need not see a stop (its
        # stop path is tested below).
        assert "EARLY_STOPPED" in statuses, f"{kind} stopped no trial"
    ax, _ = ax_statuses(tmp_path, kind)
    for row in rows:
        assert ax[row["ax_index"]] == row["status"]
    assert result.best is not None and result.best["status"] == "COMPLETED"


@pytest.mark.parametrize("policy", ["highest_rung", "last_value"])
def test_asha_stopped_trials_are_modelled_per_policy_and_slots_refilled(
    ray_session, tmp_path, policy
):
    name = f"asha_{policy}"
    section = {"type": "asha", "grace_period": 1, "reduction_factor": 3}
    run_study(spec(tmp_path, name, section, trials=12, num_initial=3, policy=policy), progress=None)
    rows = pq.read_table(tmp_path / name / "trials.parquet").to_pylist()
    assert len(rows) == 12
    stopped = [r for r in rows if r["status"] == "EARLY_STOPPED"]
    done = [r for r in rows if r["status"] == "COMPLETED"]
    assert stopped and done
    ax, client = ax_statuses(tmp_path, name)
    data = client._experiment.lookup_data().full_df.set_index("trial_index")["mean"]
    if policy == "last_value":
        # Every finished trial is data: its last reported value, as if full length.
        for row in stopped + done:
            assert data[row["ax_index"]] == pytest.approx(row["metric"])
    else:
        # Only trials that reached the fidelity level are data, at that level.
        ends = sorted(r["iterations"] for r in stopped + done)
        level = max(e for e in ends if sum(x >= e for x in ends) >= 3)
        for row in stopped + done:
            if row["iterations"] >= level:
                x0 = row["config/x0"]
                assert data[row["ax_index"]] == pytest.approx(10 * (x0 - 0.3) ** 2 + 1 / level)
            else:
                assert row["ax_index"] not in data.index
    # Freed slots were refilled: 12 points in all, never more than 4 slots at once.
    assert len(ax) == 12
    assert not any(s == "FAILED" for s in ax.values())
