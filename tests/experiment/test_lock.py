"""driver.lock: one `run`/`resume` per experiment directory, locally and on S3."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from distributed_bo.exceptions import ExperimentLockedError, ExperimentNotFoundError
from distributed_bo.experiment import lock as lock_module
from distributed_bo.experiment.layout import LOCK_FILE
from distributed_bo.experiment.lock import LockRecord, Verdict, acquire, judge
from distributed_bo.experiment.lock_owner import machine, process_start
from distributed_bo.experiment.storage import StorageDir

RACERS = 8


def _record(**changes) -> LockRecord:
    """A lock record of a driver on another host whose heartbeat is ten minutes old."""
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    when = old.strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = dict(
        host="elsewhere", pid=4242, since=when, heartbeat=when, token="t" * 32, machine="m"
    )
    return LockRecord(**{**fields, **changes})


def _plant(exp: StorageDir, record: LockRecord) -> None:
    os.makedirs(exp.path, exist_ok=True)
    Path(exp.path, LOCK_FILE).write_bytes(record.encode())


def _race(exp: StorageDir, n: int = RACERS):
    """``n`` threads call acquire() at once; returns (locks won, errors raised)."""
    barrier = threading.Barrier(n)
    won, refused, other = [], [], []

    def racer():
        barrier.wait()
        try:
            won.append(acquire(exp))
        except ExperimentLockedError as err:
            refused.append(str(err))
        except Exception as err:  # pragma: no cover - reported below
            other.append(err)

    threads = [threading.Thread(target=racer) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not other, other
    return won, refused


def test_threads_racing_on_a_local_directory_one_wins(tmp_path):
    exp = StorageDir.open(str(tmp_path), "race")
    won, refused = _race(exp)
    assert len(won) == 1 and len(refused) == RACERS - 1
    holder = f"host {socket.gethostname()}, pid {os.getpid()}, since {won[0].record.since}"
    assert all(holder in msg and "\n" not in msg for msg in refused), refused
    won[0].release()
    assert not (tmp_path / "race" / LOCK_FILE).exists()


PROCESS_RACER = textwrap.dedent(
    """
    import sys
    from distributed_bo.exceptions import ExperimentLockedError
    from distributed_bo.experiment.lock import acquire
    from distributed_bo.experiment.storage import StorageDir

    exp = StorageDir.open(sys.argv[1])
    sys.stdin.readline()  # go
    try:
        held = acquire(exp)
    except ExperimentLockedError as err:
        print("refused", err, flush=True)
    else:
        print("won", flush=True)
        sys.stdin.readline()  # hold until told
        held.release()
    """
)


def test_processes_racing_on_a_local_directory_one_wins(tmp_path):
    exp = tmp_path / "race"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_RACER, str(exp)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    first = {p.pid: p.stdout.readline().strip() for p in procs}
    winners = [pid for pid, line in first.items() if line == "won"]
    assert len(winners) == 1, first
    for pid, line in first.items():
        if pid != winners[0]:
            assert line.startswith("refused") and f"pid {winners[0]}," in line, line
    for p in procs:
        p.communicate("done\n", timeout=60)
        assert p.returncode == 0
    assert not (exp / LOCK_FILE).exists()


def test_threads_racing_on_s3_one_wins(s3_endpoint):
    query = f"endpoint_override={s3_endpoint}&scheme=http&region=us-east-1"
    exp = StorageDir.open(f"s3://dbo-test/locks?{query}", "race")
    for _ in range(3):
        won, refused = _race(exp)
        assert len(won) == 1 and len(refused) == RACERS - 1
        assert all(f"pid {os.getpid()}," in msg for msg in refused), refused
        assert json.loads(exp.read_bytes(LOCK_FILE))["token"] == won[0].record.token
        won[0].release()
        assert not exp.exists(LOCK_FILE)


def test_s3_stale_lock_needs_force_and_a_live_one_is_never_taken(s3_endpoint):
    query = f"endpoint_override={s3_endpoint}&scheme=http&region=us-east-1"
    exp = StorageDir.open(f"s3://dbo-test/locks?{query}", "stale")
    exp.write_bytes(LOCK_FILE, _record().encode())
    with pytest.raises(ExperimentLockedError, match="host elsewhere, pid 4242.*--force"):
        acquire(exp)
    held = acquire(exp, force=True)
    assert held.replaced is not None and held.replaced.host == "elsewhere"
    with pytest.raises(ExperimentLockedError, match="live driver"):
        acquire(exp, force=True)
    held.release()
    assert not exp.exists(LOCK_FILE)


def test_stale_foreign_lock_is_refused_without_force_and_taken_with_it(tmp_path):
    exp = StorageDir.open(str(tmp_path), "stale")
    _plant(exp, _record())
    before = Path(exp.path, LOCK_FILE).read_bytes()
    with pytest.raises(ExperimentLockedError) as refused:
        acquire(exp)
    msg = str(refused.value)
    assert "host elsewhere, pid 4242" in msg and "heartbeat stopped" in msg
    assert f"distributed-bo resume {exp.path} --force" in msg
    assert Path(exp.path, LOCK_FILE).read_bytes() == before
    held = acquire(exp, force=True)
    assert held.replaced_verdict is Verdict.STALE and held.replaced.pid == 4242
    assert json.loads(Path(exp.path, LOCK_FILE).read_bytes())["pid"] == os.getpid()
    held.release()
    assert not Path(exp.path, LOCK_FILE).exists()
    assert Path(exp.path).is_dir()  # it was there before the lock


def test_live_locks_are_refused_even_with_force(tmp_path, monkeypatch):
    exp = StorageDir.open(str(tmp_path), "live")
    held = acquire(exp)  # this process: alive on this machine
    with pytest.raises(ExperimentLockedError, match="--force takes over only a stale lock"):
        acquire(exp, force=True)
    held.release()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _plant(exp, _record(heartbeat=now))  # another host, heartbeating
    monkeypatch.setattr(lock_module, "STALE_AFTER_S", 1e9)  # no matter how slow this test
    with pytest.raises(ExperimentLockedError, match=r"live driver \(host elsewhere, pid 4242"):
        acquire(exp, force=True)
    with pytest.raises(ExperimentLockedError, match="if it is gone, take over with"):
        acquire(exp)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_dead_local_holder_is_taken_over_without_force(tmp_path):
    exp = StorageDir.open(str(tmp_path), "dead")
    here = dict(host=socket.gethostname(), machine=machine())
    dead = _record(pid=_dead_pid(), pid_start="1", **here)
    _plant(exp, dead)
    held = acquire(exp)
    assert held.replaced_verdict is Verdict.DEAD and held.replaced.pid == dead.pid
    held.release()


def test_a_reused_pid_or_a_zombie_is_not_the_holder(tmp_path):
    here = dict(host=socket.gethostname(), machine=machine())
    now = time.time()
    mine = process_start(os.getpid())
    assert judge(_record(pid=os.getpid(), pid_start=mine, **here), now=now) is Verdict.LIVE
    reused = _record(pid=os.getpid(), pid_start=f"{mine}0", **here)
    assert judge(reused, now=now) is Verdict.DEAD
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = process_start(zombie.pid)
    record = _record(pid=zombie.pid, pid_start=started, **here)
    assert judge(record, now=now) is Verdict.LIVE
    zombie.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 30
    while judge(record, now=now) is Verdict.LIVE and time.monotonic() < deadline:
        time.sleep(0.05)  # killed, not yet reaped: a zombie
    assert judge(record, now=now) is Verdict.DEAD
    zombie.wait()


def test_another_machine_with_this_host_name_is_foreign():
    other_boot = _record(host=socket.gethostname(), pid=os.getpid(), machine="other-boot")
    assert judge(other_boot, now=time.time()) is Verdict.STALE  # by heartbeat, not by pid


def test_unreadable_lock_counts_as_stale_by_its_mtime(tmp_path):
    exp = StorageDir.open(str(tmp_path), "empty")
    os.makedirs(exp.path)
    path = Path(exp.path, LOCK_FILE)
    path.write_bytes(b"{not json")
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    with pytest.raises(ExperimentLockedError, match=f"an unreadable {LOCK_FILE}"):
        acquire(exp)
    acquire(exp, force=True).release()
    assert not path.exists()


def test_heartbeat_refreshes_and_a_lost_lock_is_left_alone(tmp_path):
    exp = StorageDir.open(str(tmp_path), "beat")
    held = acquire(exp, heartbeat_s=0.05)
    path = Path(exp.path, LOCK_FILE)
    first = json.loads(path.read_bytes())
    deadline = time.monotonic() + 30
    while json.loads(path.read_bytes())["heartbeat"] == first["heartbeat"]:
        assert time.monotonic() < deadline, "no heartbeat"
        time.sleep(0.05)
    assert json.loads(path.read_bytes())["since"] == first["since"]
    other = _record().encode()
    path.write_bytes(other)  # another driver took it over (e.g. `resume --force`)
    assert held.lost.wait(30)
    held.release()
    assert path.read_bytes() == other


def test_resume_refuses_a_held_directory_before_reading_it(tmp_path):
    from distributed_bo.runner.study import resume_study

    exp = StorageDir.open(str(tmp_path), "held")
    held = acquire(exp)
    try:
        with pytest.raises(ExperimentLockedError, match=f"pid {os.getpid()},"):
            resume_study(exp.path, progress=None)  # no spec.yaml: the lock is checked first
    finally:
        held.release()


def test_resume_force_takes_a_stale_lock_and_releases_it_on_error(tmp_path, capsys):
    from distributed_bo.cli import main

    exp = StorageDir.open(str(tmp_path), "stale")
    _plant(exp, _record())
    assert main(["resume", exp.path]) == 3
    assert "--force" in capsys.readouterr().err
    assert main(["resume", exp.path, "--force"]) == 2  # taken, then: no spec.yaml
    assert "holds no spec.yaml" in capsys.readouterr().err
    assert not Path(exp.path, LOCK_FILE).exists()


def test_lock_is_released_on_error_and_on_keyboard_interrupt(tmp_path, monkeypatch):
    from distributed_bo.runner import study

    exp = StorageDir.open(str(tmp_path), "gone")
    with pytest.raises(ExperimentNotFoundError):
        study.resume_study(exp.path, progress=None)
    assert not Path(exp.path).exists()  # nothing left behind, not even the directory

    def interrupted(_exp):
        assert Path(_exp.path, LOCK_FILE).exists()  # held while the study runs
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "load_study_spec", interrupted)
    with pytest.raises(KeyboardInterrupt):
        study.resume_study(exp.path, progress=None)
    assert not Path(exp.path).exists()


def test_take_over_is_reported_on_the_notes_stream(tmp_path):
    import io

    from distributed_bo.experiment.lock import driver_lock

    exp = StorageDir.open(str(tmp_path), "noted")
    here = dict(host=socket.gethostname(), machine=machine())
    _plant(exp, _record(pid=_dead_pid(), pid_start="1", **here))
    notes = io.StringIO()
    with driver_lock(exp, notes=notes):
        pass
    assert notes.getvalue().startswith(f"note: took over the {LOCK_FILE} of a driver that ended")
    assert not Path(exp.path, LOCK_FILE).exists()


def test_other_schemes_get_a_best_effort_lock_and_a_warning(caplog):
    from distributed_bo.experiment.lock import driver_lock

    exp = StorageDir.open("mock:///studies", "elsewhere")  # pyarrow's in-memory filesystem
    with (
        caplog.at_level("WARNING", logger="distributed_bo.experiment.lock"),
        driver_lock(exp) as held,
    ):
        assert not held.exclusive
        assert exp.exists(LOCK_FILE)
        with pytest.raises(ExperimentLockedError, match=f"pid {os.getpid()},"):
            acquire(exp)
    assert "best effort" in caplog.text
    assert not exp.exists(LOCK_FILE)
