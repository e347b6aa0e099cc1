"""A two-objective, constrained study end to end through the runner (real Ray, real Ax)."""

from pathlib import Path

import pytest

from distributed_bo.experiment.rows import read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.report.show import render_summary
from distributed_bo.runner.study import run_study
from distributed_bo.runner.wiring import finished_events
from distributed_bo.search.events import Complete
from distributed_bo.spec import StudySpec

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def test_two_objectives_and_a_constraint_reach_the_rows_and_show(tmp_path):
    spec = StudySpec.from_dict(
        {
            "name": "pareto",
            "objective": [
                {"metric": "f1", "mode": "min"},
                {"metric": "f2", "mode": "min", "threshold": 2.0},
            ],
            "constraints": ["cost <= 0.5"],
            "trainable": {"name": "two_objective_trainables:trade_off"},
            "space": {
                "x0": {"type": "uniform", "lower": 0.0, "upper": 1.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 1.0},
            },
            "budget": {"num_trials": 7, "max_concurrent": 2},
            "searcher": {"num_initial": 4},
            "resources": {"cpus_per_trial": 0.5},
            "storage": str(tmp_path),
            "seed": 0,
        }
    )
    result = run_study(spec, progress=None)
    rows = read_trials(StorageDir.open(result.experiment_dir))
    done = [r for r in rows if r["status"] == "COMPLETED"]
    assert len(done) == 7
    for r in done:
        x0, x1 = r["config/x0"], r["config/x1"]
        assert r["metric/f1"] == pytest.approx(x0**2) == pytest.approx(r["metric"])
        assert r["metric/f2"] == pytest.approx((x0 - 1) ** 2 + x1)
        assert r["feasible"] is (x1 <= 0.5)
    # is_pareto: feasible, and no feasible row is at least as good in both and better in one.
    feasible = [r for r in done if r["feasible"]]
    for r in done:
        dominated = any(
            o["metric/f1"] <= r["metric/f1"]
            and o["metric/f2"] <= r["metric/f2"]
            and (o["metric/f1"], o["metric/f2"]) != (r["metric/f1"], r["metric/f2"])
            for o in feasible
        )
        assert r["is_pareto"] is (r["feasible"] and not dominated)
    text = render_summary(result.experiment_dir)
    front = [r for r in done if r["is_pareto"]]
    assert f"Pareto set: {len(front)} trials, by f1" in text
    assert "hypervolume = " in text and "f2 2 (threshold)" in text
    infeasible = sum(1 for r in done if not r["feasible"])
    assert f"infeasible: {infeasible} of 7 completed trials" in text
    # A resume rebuilds every tracked metric from the rows.
    events = finished_events(rows, ("f1", "f2", "cost"))
    assert all(isinstance(e, Complete) for e in events.values())
    some = events[done[0]["trial_id"]]
    assert dict(some.others) == {"f2": done[0]["metric/f2"], "cost": done[0]["metric/cost"]}
