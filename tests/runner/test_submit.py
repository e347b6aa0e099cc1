"""`distributed-bo submit` and `jobs` against a real Ray head started with `ray start --head`.

The head runs as it does on a laptop: token authentication switched on by itself (a token
in ``~/.ray/auth_token``, no ``RAY_AUTH_MODE``), the dashboard on 127.0.0.1, 2 CPUs and 2
logical GPUs. Its HOME is a temporary directory, which is also the test's HOME while it
submits, so ``submit`` finds the token where a user's machine keeps it. Tests that need
the head are marked slow; the rest run without a cluster.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from distributed_bo.cli import main
from distributed_bo.exceptions import SpecError
from distributed_bo.runner.jobs import find_auth_token, resolve_address
from distributed_bo.runner.submit import ENTRYPOINT, cluster_storage, package_study
from distributed_bo.spec import StudySpec, load_spec

TRAINABLE = '''
import math

from ray import tune


def branin(config):
    """Branin, reported as `value`; lives only in the submitter's directory."""
    x0, x1 = config["x0"], config["x1"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    tune.report({"value": (x1 - b * x0**2 + c * x0 - 6) ** 2 + 10 * (1 - t) * math.cos(x0) + 10})
'''

SPEC = """\
name: {name}
objective: {{metric: value, mode: min}}
trainable: {{name: "dbo_submit_branin:branin"}}
space:
  x0: {{type: uniform, lower: -5.0, upper: 10.0}}
  x1: {{type: uniform, lower: 0.0, upper: 15.0}}
budget: {{num_trials: 4, max_concurrent: 2}}
searcher: {{num_initial: 4}}
resources: {{cpus_per_trial: 0.5, gpus_per_trial: 1}}
checkpoint: {{frequency: 0}}
seed: 0
"""

AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _closed_port() -> int:
    return _free_ports(1)[0]


def _status(url: str, headers: dict | None = None) -> int:
    request = urllib.request.Request(f"{url}/api/version", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A Ray head on 127.0.0.1 (`ray start --head --block`); yields (dashboard URL, HOME)."""
    home = tmp_path_factory.mktemp("home")
    (home / ".ray").mkdir()
    token = secrets.token_hex(32)
    (home / ".ray" / "auth_token").write_text(token)
    gcs, dash, client, agent, agent_grpc, env_agent, metrics = _free_ports(7)
    env = {k: v for k, v in os.environ.items() if k not in (*AUTH_VARS, "RAY_ADDRESS")}
    bin_dir = str(Path(sys.executable).parent)  # `ray`, `distributed-bo` of this Python
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]),
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # keep the head on 127.0.0.1
    )
    ray_cli = Path(bin_dir, "ray")
    temp_dir = Path(f"/tmp/dbo-submit-{os.getpid()}")  # short: Ray's socket paths
    log = (home / "head.log").open("w")
    proc = subprocess.Popen(
        [
            str(ray_cli if ray_cli.exists() else "ray"),
            "start",
            "--head",
            "--block",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(gcs),
            "--include-dashboard",
            "true",
            "--dashboard-host",
            "127.0.0.1",
            "--dashboard-port",
            str(dash),
            "--ray-client-server-port",
            str(client),
            "--dashboard-agent-listen-port",
            str(agent),
            "--dashboard-agent-grpc-port",
            str(agent_grpc),
            "--runtime-env-agent-port",
            str(env_agent),
            "--metrics-export-port",
            str(metrics),
            "--num-cpus",
            "2",
            "--num-gpus",
            "2",
            "--temp-dir",
            str(temp_dir),
            "--disable-usage-stats",
        ],  # fmt: skip
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{dash}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (home / "head.log").read_text()[-3000:]
            try:
                _status(url)
                break
            except OSError:
                assert time.monotonic() < deadline, "the head's dashboard never answered"
                time.sleep(0.5)
        yield url, home, token
    finally:
        proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def user_env(tmp_path, monkeypatch):
    """The submitter: a module of its own, no Ray auth variables, a HOME without a token."""
    for name in (*AUTH_VARS, "RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "dbo_submit_branin.py").write_text(textwrap.dedent(TRAINABLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dbo_submit_branin", raising=False)  # this test's copy
    return tmp_path


@pytest.fixture
def on_head(head, user_env, monkeypatch):
    """The submitter on the head's machine: HOME holds the head's ~/.ray/auth_token."""
    url, home, _ = head
    monkeypatch.setenv("HOME", str(home))
    return url, home


def _spec_file(directory: Path, name: str, extra: str = "") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(SPEC.format(name=name) + extra)
    return path


# -- against the head -----------------------------------------------------------------------


@pytest.mark.slow
def test_head_turned_token_auth_on_by_itself(head):
    url, _, token = head
    assert _status(url) == 401
    assert _status(url, {"Authorization": f"Bearer {token}"}) == 200


@pytest.mark.slow
def test_submit_follow_runs_the_study_on_the_cluster(on_head, user_env, capsys):
    url, home = on_head
    spec = _spec_file(user_env, "submit-e2e")
    code = main(["submit", str(spec), "--address", url, "--follow"])
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:] + "\n--- job output ---\n" + out[-12000:]
    submission_id = out.splitlines()[0]
    assert submission_id.startswith("raysubmit_")
    assert "SUCCEEDED" in err and "dbo_submit_branin.py" in err  # the module was shipped
    assert ENTRYPOINT in out  # --follow streamed the job's own output
    # The spec's storage is relative (./experiments), so it is anchored at the head's
    # home directory, not at the job's temporary working directory.
    assert "~/experiments/submit-e2e" in err
    rows = pq.read_table(home / "experiments" / "submit-e2e" / "trials.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["COMPLETED"] * 4

    assert main(["jobs", "list", "--address", url]) == 0
    listed = capsys.readouterr().out
    assert submission_id in listed and "submit-e2e" in listed and "SUCCEEDED" in listed
    assert main(["jobs", "status", submission_id, "--address", url]) == 0
    assert capsys.readouterr().out.startswith(f"{submission_id}: SUCCEEDED (exit code 0)")
    assert main(["jobs", "logs", submission_id, "--address", url]) == 0
    assert "4/4 trials (4 completed)" in capsys.readouterr().out


@pytest.mark.slow
def test_submit_storage_override_and_stop(on_head, user_env, capsys, tmp_path):
    url, _ = on_head
    spec = _spec_file(user_env, "submit-stop")
    storage = tmp_path / "results"
    code = main(["submit", str(spec), "--address", url, "--storage", str(storage)])
    out, err = capsys.readouterr()
    assert code == 0, err
    submission_id = out.strip()
    assert f"{storage}/submit-stop" in err
    assert main(["jobs", "stop", submission_id, "--address", url]) == 0
    assert capsys.readouterr().out.strip() in (
        f"stopping {submission_id}",
        f"{submission_id} is not running (STOPPED)",
    )
    from distributed_bo.runner.jobs import connect_jobs

    assert connect_jobs(url).wait(submission_id, timeout_s=60, poll_s=0.5).status == "STOPPED"


@pytest.mark.slow
def test_unknown_job_id_is_bad_input(on_head, capsys):
    url, _ = on_head
    assert main(["jobs", "status", "raysubmit_nope", "--address", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ID: no job 'raysubmit_nope'")


@pytest.mark.slow
def test_missing_or_wrong_token_is_refused_with_one_line(head, user_env, capsys, monkeypatch):
    url, _, _ = head
    spec = _spec_file(user_env, "submit-refused")  # HOME is user_env: no token there
    assert main(["submit", str(spec), "--address", url]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "requires a token and none is set" in err[0]
    monkeypatch.setenv("RAY_AUTH_TOKEN", "not-the-token")
    assert main(["jobs", "list", "--address", url]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rejected the token from RAY_AUTH_TOKEN" in err[0]


# -- without a cluster ------------------------------------------------------------------------


def test_unreachable_address_exits_4_with_one_line(user_env, capsys):
    spec = _spec_file(user_env, "submit-unreachable")
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["submit", str(spec), "--address", url]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Ray dashboard answers" in err[0] and "refused" in err[0]


@pytest.mark.parametrize("address", ["ray://127.0.0.1:10001", "ftp://x", "http://127.0.0.1:x"])
def test_bad_address_is_bad_input(user_env, capsys, address):
    assert main(["jobs", "list", "--address", address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --address: got")


def test_address_defaults(monkeypatch):
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_address(None) == "http://127.0.0.1:8265"
    assert resolve_address("10.0.0.5:8265") == "http://10.0.0.5:8265"
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # a GCS address: not the Jobs API
    assert resolve_address(None) == "http://127.0.0.1:8265"
    monkeypatch.setenv("RAY_ADDRESS", "https://ray.example:443/")
    assert resolve_address(None) == "https://ray.example:443"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:9000")
    assert resolve_address(None) == "http://127.0.0.1:9000"


def test_token_is_found_where_ray_looks_in_rays_order(tmp_path, monkeypatch):
    for name in AUTH_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_auth_token() is None
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("from-home\n")
    assert find_auth_token().value == "from-home"
    (tmp_path / "t").write_text("from-path")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "t"))
    assert find_auth_token().value == "from-path"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "from-env")
    token = find_auth_token()
    assert (token.value, token.source) == ("from-env", "RAY_AUTH_TOKEN")
    assert "from-env" not in repr(token)  # never printed
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    with pytest.raises(SpecError, match="RAY_AUTH_TOKEN_PATH: cannot read"):
        find_auth_token()


def test_cluster_storage_anchors_relative_paths_at_the_heads_home():
    assert cluster_storage("./experiments") == "~/experiments"
    assert cluster_storage("runs/a") == "~/runs/a"
    assert cluster_storage("/shared/exp") == "/shared/exp"
    assert cluster_storage("~/exp") == "~/exp"
    assert cluster_storage("s3://bucket/prefix") == "s3://bucket/prefix"


def test_package_ships_the_users_module_and_the_spec(user_env):
    spec = load_spec(_spec_file(user_env, "packaged"), overrides=["budget.num_trials=8", "seed=3"])
    job = package_study(spec)
    assert job.py_modules == (str((user_env / "dbo_submit_branin.py").resolve()),)
    shipped = StudySpec.from_dict(yaml.safe_load(job.spec_yaml))
    assert shipped.budget.num_trials == 8 and shipped.seed == 3  # overrides travel
    assert shipped.storage == "~/experiments"
    stage = user_env / "stage"
    stage.mkdir()
    env = job.stage(str(stage))
    assert env["working_dir"] == str(stage) and "py_modules" not in env
    # `ray job stop` leaves the study time for its graceful stop before SIGKILL.
    assert env["env_vars"] == {"RAY_JOB_STOP_WAIT_TIME_S": "60"}
    assert sorted(p.name for p in stage.iterdir()) == ["dbo_submit_branin.py", "job.yaml"]


def test_package_ships_package_directories_as_py_modules(user_env):
    package = user_env / "dbo_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    spec = load_spec(_spec_file(user_env, "pkg"), overrides=["trainable.name=branin"])
    job = package_study(spec, py_modules=[str(package)])
    assert job.py_modules == (str(package.resolve()),)  # a built-in trainable ships nothing
    stage = user_env / "stage"
    stage.mkdir()
    assert job.stage(str(stage))["py_modules"] == [str(package.resolve())]
    with pytest.raises(SpecError, match="--py-module: got"):
        package_study(spec, py_modules=[str(user_env / "nope.txt")])


def test_a_package_trainable_ships_its_top_level_package(user_env):
    from distributed_bo.runner.submit import user_module_paths

    package = user_env / "dbo_user_pkg"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("def train(config):\n    pass\n")
    assert user_module_paths("dbo_user_pkg.models:train") == (str(package.resolve()),)
    assert user_module_paths("branin") == ()
    assert user_module_paths("distributed_bo.trainables.synthetic:branin") == ()
    assert user_module_paths("json:loads") == ()  # the standard library is everywhere


@pytest.mark.parametrize(
    ("status", "exit_code", "expected"),
    [("SUCCEEDED", 0, 0), ("FAILED", 5, 5), ("FAILED", None, 1), ("STOPPED", None, 130)],
)
def test_follow_exits_with_the_jobs_own_code(status, exit_code, expected, capsys):
    from distributed_bo.cli import _follow
    from distributed_bo.runner.jobs import JobRow

    row = JobRow(
        submission_id="raysubmit_x",
        status=status,
        study="s",
        entrypoint=ENTRYPOINT,
        message="Job entrypoint command failed with exit code 5, last logs:\nmore",
        start_time=None,
        end_time=None,
        driver_exit_code=exit_code,
    )

    class Client:
        address = "http://127.0.0.1:8265"

        def follow(self, submission_id, stream):
            return row

    assert _follow(Client(), "raysubmit_x") == expected
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    if expected:
        assert err[0].startswith(f"error: job raysubmit_x {status}")
