"""cluster/local: start.sh brings up a head and a worker on 127.0.0.1 with token auth on;
stop.sh ends every process it started, by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import dbo_procnet
import pytest

LOCAL = Path(__file__).resolve().parents[2] / "cluster" / "local"


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def local_dir(tmp_path):
    """A short state directory (Ray's socket paths must stay short), cleaned up after."""
    import shutil

    state = Path(f"/tmp/dbo-local-{os.getpid()}")
    yield state
    for pid_file in state.glob("*.pid"):  # stop.sh did not run or failed
        pid = int(pid_file.read_text())
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start" in args and b"--block" in args:  # still our `ray start --block`
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.slow
def test_start_and_stop_a_head_and_a_worker_on_loopback(tmp_path, local_dir):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    }
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        HOME=str(tmp_path),  # no token yet: start.sh makes ~/.ray/auth_token
        DBO_LOCAL_DIR=str(local_dir),
        PYTHON=sys.executable,
        PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]),
        HEAD_CPUS="1",
        WORKER_CPUS="1",
    )
    started = subprocess.run(
        ["bash", str(LOCAL / "start.sh"), "1", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert started.returncode == 0, started.stderr[-3000:]
    pid_files = sorted(p.name for p in local_dir.glob("*.pid"))
    assert pid_files == ["head.pid", "worker-1.pid"]
    processes = set()
    for pid_file in local_dir.glob("*.pid"):
        processes |= dbo_procnet.descendants(int(pid_file.read_text()))

    url = (local_dir / "dashboard").read_text().strip()
    assert url.startswith("http://127.0.0.1:")
    assert f"distributed-bo submit jobs/quickstart.yaml --address {url}" in started.stdout
    token = (tmp_path / ".ray" / "auth_token").read_text().strip()
    assert _get(f"{url}/api/version")[0] == 401  # token auth is on
    query = "/api/v0/nodes?limit=100&detail=false"
    status, body = _get(url + query, token)
    assert status == 200
    nodes = json.loads(body)["data"]["result"]["result"]
    assert sorted(n["resources_total"].get("GPU", 0) for n in nodes) == [0, 2]
    assert {n["node_ip"] for n in nodes} == {"127.0.0.1"} and len(nodes) == 2

    sockets = dbo_procnet.listening(processes)
    assert sockets
    wide = [s for s in sockets if not dbo_procnet.is_loopback(s[1])]
    assert not wide, f"listening beyond loopback: {wide}"

    stopped = subprocess.run(
        ["bash", str(LOCAL / "stop.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    assert stopped.returncode == 0, stopped.stderr
    assert not list(local_dir.glob("*.pid"))
    alive = [pid for pid in processes if _running(pid)]
    assert not alive, f"still running after stop.sh: {alive}"
