"""The public lifecycle API from Python, as a notebook uses it (issue 11).

``load_spec`` → ``run_study`` → ``render_summary`` / ``write_report`` /
``read_experiment`` → ``resume_study``, all from ``distributed_bo`` itself.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import distributed_bo as dbo

SPEC = """\
name: lifecycle
objective: {{metric: value, mode: min}}
trainable: {{name: branin}}
space:
  x0: {{type: uniform, lower: -5.0, upper: 10.0}}
  x1: {{type: uniform, lower: 0.0, upper: 15.0}}
budget: {{num_trials: 4, max_concurrent: 2}}
searcher: {{num_initial: 4}}
resources: {{cpus_per_trial: 0.5}}
storage: {storage}
seed: 0
"""


def test_lifecycle_names_are_exported():
    for name in ("load_spec", "run_study", "resume_study", "write_report", "read_experiment"):
        assert name in dbo.__all__
        assert callable(getattr(dbo, name))
        assert getattr(dbo, name).__doc__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dbo.nope  # noqa: B018


def test_importing_the_package_stays_cheap():
    code = (
        "import sys, distributed_bo\n"
        "print(sorted(m for m in ('ray', 'ax', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_notebook_runs_what_the_cli_runs(ray_session, tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(SPEC.format(storage=tmp_path / "exp"))
    spec = dbo.load_spec(job, overrides=["budget.num_trials=3"])
    assert isinstance(spec, dbo.StudySpec) and spec.budget.num_trials == 3

    result = dbo.run_study(spec, progress=None)
    assert isinstance(result, dbo.StudyResult)
    assert result.experiment_dir == str(tmp_path / "exp" / "lifecycle")
    assert [r["status"] for r in result.rows] == ["COMPLETED"] * 3
    assert result.best == min(result.rows, key=lambda r: r["metric"])

    with pytest.raises(dbo.ExperimentExistsError, match="resume"):
        dbo.run_study(spec, progress=None)

    experiment = dbo.read_experiment(result.experiment_dir)
    assert experiment.spec == spec
    assert experiment.best_row()["trial_id"] == result.best["trial_id"]
    assert "3/3 trials (3 completed)" in dbo.render_summary(result.experiment_dir)

    report = dbo.write_report(result.experiment_dir, model=False)
    assert isinstance(report, dbo.Report) and report.html.endswith("report.html")
    assert report.model_note == "--no-model was given"

    again = dbo.resume_study(result.experiment_dir, progress=None)  # nothing left to run
    assert sorted(r["trial_id"] for r in again.rows) == sorted(r["trial_id"] for r in result.rows)
    assert again.best["trial_id"] == result.best["trial_id"]
