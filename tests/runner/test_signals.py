"""SIGINT (Ctrl-C) and SIGTERM stop a study gracefully; `resume` then continues exactly."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from test_resume import HERE, _rows, _wait_for, spec_text

from distributed_bo.runner.signals import TUNE_SIGINT_ENV, GracefulStop, signal_text
from distributed_bo.search.generator import BatchGenerator


def _handlers():
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}


def test_first_signal_goes_to_tunes_graceful_stop_and_handlers_are_restored(monkeypatch):
    monkeypatch.delenv(TUNE_SIGINT_ENV, raising=False)
    before = _handlers()
    got = []
    with GracefulStop() as stop:
        assert os.environ[TUNE_SIGINT_ENV] == "1"  # Tune leaves SIGINT to us
        # What tune.run does when its loop starts.
        signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
        os.kill(os.getpid(), signal.SIGTERM)
        assert got == [signal.SIGUSR1] and stop.signum == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):  # a second signal stops at once
            os.kill(os.getpid(), signal.SIGINT)
    assert _handlers() == before
    assert TUNE_SIGINT_ENV not in os.environ


def test_signal_before_tunes_loop_started_stops_at_once():
    with GracefulStop() as stop, pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
    assert stop.signum == signal.SIGINT


def test_nothing_is_installed_outside_the_main_thread():
    before = _handlers()
    seen = []

    def run():
        with GracefulStop() as stop:
            seen.append((stop.active, _handlers() == before))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [(False, True)]


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.Popen(
        [sys.executable, "-m", "distributed_bo", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell's foreground job
    )


def _started(markers):
    """Trial id to the steps its (re)starts resumed after, with the start's time."""
    starts = {}
    for p in markers.glob("*.start*"):
        trial_id, start, ns, _ = p.name.split(".")
        starts.setdefault(trial_id, []).append((int(start.removeprefix("start")), int(ns)))
    return starts


@pytest.mark.parametrize(
    ("signum", "code", "name"),
    [
        (signal.SIGINT, 130, "SIGINT (Ctrl-C)"),
        # Same path as SIGINT; SIGTERM's own exit code is checked at start-up below.
        pytest.param(signal.SIGTERM, 143, "SIGTERM", marks=pytest.mark.on_request),
    ],
)
def test_signal_stops_the_study_and_resume_continues_exactly(tmp_path, signum, code, name):
    trials = 4
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = tmp_path / "crash.yaml"
    spec.write_text(spec_text(markers=markers, storage=tmp_path / "exp", trials=trials))
    exp = tmp_path / "exp" / "crash"

    driver = _cli("run", str(spec), "--quiet")

    def one_done_one_checkpointed():
        done = {r["trial_id"] for r in _rows(exp) if r["status"] == "COMPLETED"}
        stepped = {p.name.split(".")[0] for p in markers.glob("*.step1")}
        return bool(done) and bool(stepped - done)

    assert _wait_for(one_done_one_checkpointed, 240), driver.stderr
    signalled_ns = time.time_ns()
    if signum == signal.SIGINT:  # Ctrl-C: the terminal signals the whole process group
        os.killpg(driver.pid, signum)
    else:  # `ray job stop`, Kubernetes and `kill` signal the driver itself
        driver.send_signal(signum)
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == code, err
    lines = [ln for ln in err.splitlines() if ln.startswith("interrupted")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"interrupted by {name}: ")
    assert lines[0].endswith(f"continue the study with `distributed-bo resume {exp}`")
    assert "Tuner.restore" not in err + out and "Traceback" not in err
    assert "best value" not in out  # no summary that looks like success
    before = {r["trial_id"]: r for r in _rows(exp)}
    assert any(r["status"] == "RUNNING" for r in before.values())

    resumed = _cli("resume", str(exp), "--quiet")
    _, err = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, err

    rows = _rows(exp)
    assert len(rows) == trials
    assert sorted(r["ax_index"] for r in rows) == list(range(trials))
    assert {r["status"] for r in rows} == {"COMPLETED"}
    starts = _started(markers)
    for r in rows:
        old = before.get(r["trial_id"])
        if old is not None and old["status"] == "COMPLETED":  # finished ones stay finished
            assert r["metric"] == old["metric"] and r["end_time"] == old["end_time"]
            assert all(ns < signalled_ns for _, ns in starts[r["trial_id"]])
    # A trial that was running continued from its checkpoint, not from scratch.
    assert any(s > 0 for tid, runs in starts.items() for s, ns in runs if ns > signalled_ns)
    experiment = BatchGenerator.client_from_json(
        json.loads((exp / "ax_experiment.json").read_text())
    )._experiment
    assert len(experiment.trials) == trials
    assert all(t.status.is_completed for t in experiment.trials.values())


@pytest.mark.parametrize(
    "command, signum",
    [
        ("run", signal.SIGTERM),
        # Three drivers and a study run to its end (~1.5 min): on request.
        pytest.param("resume", signal.SIGTERM, marks=pytest.mark.on_request),
        ("run", signal.SIGINT),
    ],
)
def test_a_signal_while_the_study_starts_exits_with_the_resume_line(tmp_path, command, signum):
    """Before the study's own stop takes over (Ray starting, checks): Ray would exit 15
    on SIGTERM, and a Ctrl-C raised inside Ray's start-up was seen lost (the study
    then ran to its end and exited 0)."""
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = tmp_path / "crash.yaml"
    spec.write_text(spec_text(markers=markers, storage=tmp_path / "exp", trials=2))
    exp = tmp_path / "exp" / "crash"
    if command == "resume":  # a started study to resume: stop its first run at once
        first = _cli("run", str(spec), "--quiet")
        assert _wait_for(lambda: (exp / "tuner.pkl").exists(), 240), first.stderr
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    driver = _cli(*(["run", str(spec)] if command == "run" else ["resume", str(exp)]), "--quiet")
    # The lock is taken before Ray starts: signal the driver inside its start-up.
    assert _wait_for(lambda: (exp / "driver.lock").exists(), 120), driver.stderr
    driver.send_signal(signum)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 128 + signum, err
    lines = [
        ln for ln in err.splitlines() if ln.startswith(f"interrupted by {signal_text(signum)}")
    ]
    assert len(lines) == 1 and f"`distributed-bo resume {exp}`" in lines[0], err
    assert "Traceback" not in err
    assert not (exp / "driver.lock").exists()  # released on the way out
    if command == "resume":  # stopped at its start twice: resume still runs it to the end
        again = _cli("resume", str(exp), "--quiet")
        _, err = again.communicate(timeout=400)
        assert again.returncode == 0, err
        rows = _rows(exp)
        assert sorted(r["ax_index"] for r in rows) == [0, 1]
        assert {r["status"] for r in rows} == {"COMPLETED"}
