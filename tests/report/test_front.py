"""The report with several objectives and constraints: front, hypervolume, violations."""

import base64
import re
from pathlib import Path

import pytest

from distributed_bo.experiment.rows import read_trials
from distributed_bo.experiment.storage import StorageDir
from distributed_bo.report import write_report
from distributed_bo.report.front import (
    hypervolume,
    hypervolume_trace,
    reference_point,
    violation_trace,
)
from distributed_bo.runner.study import run_study
from distributed_bo.search.outcomes import Outcomes
from distributed_bo.spec import StudySpec

RUNNER_TESTS = Path(__file__).parents[1] / "runner"


def _row(f1, f2, *, status="COMPLETED", feasible=None, end=None):
    row = {"status": status, "metric/f1": f1, "metric/f2": f2, "end_time": end}
    if feasible is not None:
        row["feasible"] = feasible
    return row


def test_hypervolume_trace_steps_up_only_when_a_row_joins_the_front():
    outcomes = Outcomes.build(metric=["f1", "f2"], mode=["min", "min"])
    ref = {"f1": 4.0, "f2": 4.0}
    rows = [
        _row(3.0, 3.0),  # box 1 x 1
        _row(3.5, 3.5),  # dominated: no change
        _row(1.0, 2.0, status="FAILED"),  # not completed: no change
        _row(1.0, 3.0),  # adds [1, 3] x [3, 4]: 2
        _row(0.5, 0.5, feasible=False),  # infeasible: no change
        _row(2.0, 1.0),  # HV of {(3,3), (1,3), (2,1)} above (4, 4)
    ]
    trace = hypervolume_trace(rows, outcomes, ref)
    # {(1,3), (2,1), (3,3)}: x in [1,2): y from 3 -> 1 * 1; [2,4): y from 1 -> 2 * 3
    assert trace == pytest.approx([1.0, 1.0, 1.0, 3.0, 3.0, 7.0])
    assert hypervolume(rows, outcomes, ref) == pytest.approx(trace[-1])
    # Without thresholds: the front {(1, 3), (2, 1)}: its worst less 10% of its range.
    assert reference_point(rows, outcomes) == pytest.approx({"f1": 2.1, "f2": 3.2})


def test_hypervolume_trace_follows_each_objectives_direction():
    outcomes = Outcomes.build(metric=["acc", "ms"], mode=["max", "min"])
    rows = [{"status": "COMPLETED", "metric/acc": 0.9, "metric/ms": 2.0}]
    assert hypervolume_trace(rows, outcomes, {"acc": 0.5, "ms": 4.0}) == pytest.approx([0.8])


def test_violation_trace_counts_judged_rows_only():
    rows = [
        _row(1, 1, status="RUNNING"),
        _row(1, 1, feasible=True),
        _row(1, 1, feasible=False),
        _row(1, 1, status="FAILED"),
        _row(1, 1, feasible=False),
    ]
    assert violation_trace(rows) == [None, 0.0, 0.5, 0.5, pytest.approx(2 / 3)]


def _spec(root, name, objective, *, constraints=(), trials=6):
    return StudySpec.from_dict(
        {
            "name": name,
            "objective": objective,
            "constraints": list(constraints),
            "trainable": {"name": "two_objective_trainables:trade_off"},
            "space": {
                "x0": {"type": "uniform", "lower": 0.0, "upper": 1.0},
                "x1": {"type": "uniform", "lower": 0.0, "upper": 1.0},
            },
            "budget": {"num_trials": trials, "max_concurrent": 2},
            "searcher": {"num_initial": trials},
            "resources": {"cpus_per_trial": 0.5},
            "storage": str(root),
            "seed": 0,
            "baseline": {"x0": 0.5, "x1": 0.25},
        }
    )


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(RUNNER_TESTS))


def _sections(page):
    return re.findall(r"<h2>(.*?)</h2>", page)


def _images(page):
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_two_objective_constrained_report_draws_front_hypervolume_and_violations(
    ray_session, tmp_path
):
    objective = [{"metric": "f1", "mode": "min"}, {"metric": "f2", "mode": "min"}]
    spec = _spec(tmp_path, "pareto", objective, constraints=["cost <= 0.5"])
    exp = run_study(spec, progress=None).experiment_dir
    rows = read_trials(StorageDir.open(exp))
    report = write_report(exp, out=str(tmp_path / "r" / "pareto.html"), model=False)
    page = Path(report.html).read_text()
    assert _sections(page) == [
        "Pareto front",
        "Hypervolume",
        "Constraints",
        "Timeline",
        "Parallel coordinates",
        "Parameter effects on f1, the first objective",
        "Trials",
        "Failures",
    ]
    names = [Path(p).name for p in report.pngs]
    assert names[:3] == ["pareto_front.png", "pareto_hypervolume.png", "pareto_violations.png"]
    for path, png in zip(report.pngs, _images(page), strict=True):
        assert Path(path).read_bytes() == png and png.startswith(b"\x89PNG")
    # The summary agrees with the rows: the Pareto set, its hypervolume, the violations.
    outcomes = spec.outcomes()
    front = [r for r in rows if r.get("is_pareto")]
    assert front
    hv = hypervolume(rows, outcomes, reference_point(rows, outcomes))
    assert f"{hv:.4g} (reference:" in page
    assert f"Pareto set</b></td><td>{len(front)} trial(s)" in page
    done = [r for r in rows if r["status"] == "COMPLETED"]
    bad = sum(1 for r in done if r["feasible"] is False)
    assert f"cost &lt;= 0.5; {bad} of {len(done)} completed infeasible" in page
    assert "baseline</b></td><td>trial 0" in page  # the baseline is judged against the front
    # The trial table shows each objective, the constrained metric, feasible and Pareto;
    # the Pareto rows are the highlighted ones.
    table = page.split("<h2>Trials</h2>")[1].split("<h2>")[0]
    assert "<th>f1</th><th>f2</th><th>cost</th><th>feasible</th><th>Pareto</th>" in table
    assert table.count('<tr class="best">') == len(front)


def test_three_objective_report_draws_the_objectives_on_parallel_axes(ray_session, tmp_path):
    objective = [
        {"metric": "f1", "mode": "min"},
        {"metric": "f2", "mode": "min"},
        {"metric": "cost", "mode": "min"},
    ]
    exp = run_study(_spec(tmp_path, "three", objective, trials=4), progress=None).experiment_dir
    report = write_report(exp, model=False)
    page = Path(report.html).read_text()
    assert _sections(page)[:2] == ["Pareto front", "Hypervolume"]
    assert "Constraints" not in _sections(page)  # no constraint, no violations figure
    assert "objective</b></td><td>min f1, min f2, min cost" in page
    assert Path(report.pngs[0]).name == "report_front.png"


def test_one_objective_with_a_constraint_keeps_best_so_far_and_adds_violations(
    ray_session, tmp_path
):
    spec = _spec(tmp_path, "one", {"metric": "f1", "mode": "min"}, constraints=["cost <= 0.5"])
    exp = run_study(spec, progress=None).experiment_dir
    rows = read_trials(StorageDir.open(exp))
    page = Path(write_report(exp, model=False).html).read_text()
    assert _sections(page)[:3] == ["Best so far", "Constraints", "Timeline"]
    done = [r for r in rows if r["status"] == "COMPLETED"]
    bad = sum(1 for r in done if r["feasible"] is False)
    assert f"{bad} of {len(done)} completed infeasible" in page
    table = page.split("<h2>Trials</h2>")[1].split("<h2>")[0]
    assert "<th>f1</th><th>cost</th><th>feasible</th><th>iters</th>" in table
    best = min((r for r in done if r["feasible"]), key=lambda r: r["metric/f1"])
    assert f"best</b></td><td>{best['metric/f1']:.4g} (trial {best['ax_index']})" in page
