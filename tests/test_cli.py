"""The CLI end to end: run, show, resume refusal and clean errors for bad input."""

import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from distributed_bo.cli import main

SPEC = """\
name: {name}
objective: {{metric: value, mode: min}}
trainable: {{name: branin}}
space:
  x0: {{type: uniform, lower: -5.0, upper: 10.0}}
  x1: {{type: uniform, lower: 0.0, upper: 15.0}}
budget: {{num_trials: 6, max_concurrent: 3}}
searcher: {{num_initial: 3}}
resources: {{cpus_per_trial: 0.5}}
storage: {storage}
seed: 0
baseline: {{x0: 2.0, x1: 2.0}}
"""


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    spec = root / "job.yaml"
    spec.write_text(SPEC.format(name="cli-e2e", storage=root / "exp"))
    code = main(["run", str(spec), "--quiet"])
    return code, root, spec


def test_run_writes_every_trial(finished):
    code, root, _ = finished
    assert code == 0
    table = pq.read_table(root / "exp" / "cli-e2e" / "trials.parquet").to_pylist()
    assert len(table) == 6
    assert {r["status"] for r in table} == {"COMPLETED"}
    assert sorted(r["ax_index"] for r in table) == list(range(6))
    assert sum(bool(r["is_baseline"]) for r in table) == 1
    assert all(r["metric"] == r["best_metric"] for r in table)  # one report per trial
    assert (root / "exp" / "cli-e2e" / "ax_experiment.json").exists()
    assert (root / "exp" / "cli-e2e" / "spec.yaml").exists()


def test_run_releases_the_driver_lock(finished):
    _, root, _ = finished
    assert not (root / "exp" / "cli-e2e" / "driver.lock").exists()


def test_show_prints_table_best_and_baseline_gain(finished, capsys):
    _, root, _ = finished
    assert main(["show", str(root / "exp" / "cli-e2e")]) == 0
    out = capsys.readouterr().out
    assert "6/6 trials (6 completed)" in out
    assert "best value = " in out
    assert "improvement = " in out


def test_run_refuses_existing_experiment_and_points_to_resume(finished, capsys):
    _, root, spec = finished
    before = (root / "exp" / "cli-e2e" / "trials.parquet").read_bytes()
    assert main(["run", str(spec), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "already exists" in err and "distributed-bo resume" in err
    assert (root / "exp" / "cli-e2e" / "trials.parquet").read_bytes() == before
    assert not (root / "exp" / "cli-e2e" / "driver.lock").exists()  # released on the error


def test_show_missing_experiment_fails_cleanly(tmp_path, capsys):
    assert main(["show", str(tmp_path / "nope")]) == 2
    assert "holds no spec.yaml" in capsys.readouterr().err


def test_console_script_bad_spec_one_line_exit_2(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        textwrap.dedent(SPEC.format(name="bad", storage=tmp_path)).replace(
            "mode: min", "mode: maximize"
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "distributed_bo", "run", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [lines[-1]] and lines[-1].startswith("error: objective.mode")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "bad").exists()  # nothing started


def test_validate_accepts_every_shipped_job():
    from pathlib import Path

    jobs = sorted(Path(__file__).resolve().parents[1].joinpath("jobs").glob("*.yaml"))
    assert jobs
    for job in jobs:
        assert main(["validate", str(job)]) == 0, job


def test_validate_notes_a_budget_the_model_never_reaches(tmp_path, capsys):
    spec = tmp_path / "short.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            name: short
            objective: {metric: value, mode: min}
            trainable: {name: branin}
            space:
              x0: {type: uniform, lower: -5.0, upper: 10.0}
              x1: {type: uniform, lower: 0.0, upper: 15.0}
            budget: {num_trials: 5}
            """
        )
    )
    assert main(["validate", str(spec)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok: short")
    assert err.startswith("note: searcher.num_initial: 5 (the default") and "(5)" in err
    assert main(["validate", str(spec), "--set", "searcher.num_initial=3"]) == 0
    assert capsys.readouterr().err == ""


COUNTING = """\
name: held
objective: {{metric: value, mode: min}}
trainable:
  name: distributed_bo.testing.counting:counter
  config: {{marker_dir: {markers}, steps: 6, step_s: 0.5}}
space:
  x0: {{type: uniform, lower: 0.0, upper: 1.0}}
  x1: {{type: uniform, lower: 0.0, upper: 1.0}}
budget: {{num_trials: 2, max_concurrent: 2}}
resources: {{cpus_per_trial: 0.5}}
storage: {storage}
seed: 0
"""


def _top_files(exp):
    return {p.name: p.read_bytes() for p in exp.iterdir() if p.is_file()}


def test_second_driver_is_refused_with_exit_3_and_changes_nothing(tmp_path):
    import os
    import signal
    import socket
    import time

    markers = tmp_path / "markers"
    markers.mkdir()
    spec = tmp_path / "held.yaml"
    spec.write_text(COUNTING.format(markers=markers, storage=tmp_path / "exp"))
    exp = tmp_path / "exp" / "held"
    cli = [sys.executable, "-m", "distributed_bo"]
    first = subprocess.Popen([*cli, "run", str(spec), "--quiet"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (exp / "spec.yaml").exists():  # Ray is up, the study starting
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the study did not start"
            time.sleep(0.1)
        first.send_signal(signal.SIGSTOP)  # its own writes pause; the lock stays live
        before = _top_files(exp)
        assert "driver.lock" in before
        seconds = [
            subprocess.Popen([*cli, *argv, "--quiet"], stderr=subprocess.PIPE, text=True)
            for argv in (["run", str(spec)], ["resume", str(exp), "--force"])
        ]
        for second in seconds:
            _, second_err = second.communicate(timeout=300)
            lines = [ln for ln in second_err.splitlines() if ln.strip()]
            assert second.returncode == 3, second_err
            assert len(lines) == 1 and lines[0].startswith("error: experiment_dir: "), lines
            assert f"host {socket.gethostname()}, pid {first.pid}, since " in lines[0]
        assert _top_files(exp) == before
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert not (exp / "driver.lock").exists()
    assert os.path.exists(exp / "trials.parquet")
