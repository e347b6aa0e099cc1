"""cluster/: every file parses, has the keys its format requires, names real CLI commands
and job files, turns token auth on, and opens neither the dashboard nor the GCS."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from distributed_bo.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
LAUNCHER = [CLUSTER / "aws-gpu.yaml", CLUSTER / "gcp-gpu.yaml"]
KUBERAY = [CLUSTER / "kuberay" / "raycluster.yaml", CLUSTER / "kuberay" / "rayjob.yaml"]
SCRIPTS = [CLUSTER / "local" / "start.sh", CLUSTER / "local" / "stop.sh"]
ALL_FILES = [*LAUNCHER, *KUBERAY, *SCRIPTS, CLUSTER / "README.md"]
RAY_PORTS = (6379, 8265, 10001)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _kuberay_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _cluster_spec(doc: dict) -> dict:
    return doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]


def _containers(spec: dict) -> list[dict]:
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    return [c for g in groups for c in g["template"]["spec"]["containers"]]


def test_every_file_exists_and_parses():
    for path in ALL_FILES:
        assert path.is_file(), path
    for path in LAUNCHER:
        assert isinstance(_load(path), dict)
    for path in KUBERAY:
        assert _kuberay_docs(path)
    for path in SCRIPTS:
        subprocess.run(["bash", "-n", str(path)], check=True)


# -- Ray cluster launcher ------------------------------------------------------------------


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_config_passes_rays_own_schema(path):
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(_load(path)))  # raises on a schema error


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_config_has_cpu_head_and_autoscaling_spot_gpu_workers(path):
    config = _load(path)
    assert config["cluster_name"] and config["provider"]["type"] in ("aws", "gcp")
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    workers = {name: t for name, t in types.items() if name != config["head_node_type"]}
    gpu_types = {name: t for name, t in workers.items() if t["resources"].get("GPU", 0) > 0}
    assert gpu_types, "no GPU worker type"
    for t in workers.values():
        assert isinstance(t["resources"], dict)
        assert 0 <= t["min_workers"] <= t["max_workers"] <= config["max_workers"]
    assert any(t["max_workers"] > t["min_workers"] for t in gpu_types.values()), "no autoscaling"
    spot = [
        t["node_config"].get("InstanceMarketOptions", {}).get("MarketType") == "spot"
        or any(s.get("preemptible") for s in t["node_config"].get("scheduling", []))
        for t in gpu_types.values()
    ]
    assert any(spot), "no spot/preemptible GPU worker type"


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_config_installs_this_package_and_uses_shared_storage(path):
    config = _load(path)
    assert config["file_mounts"]["~/distributed-bo"] == "."
    assert any("pip install" in c and "~/distributed-bo" in c for c in config["setup_commands"])
    scheme = {"aws": "s3://", "gcp": "gs://"}[config["provider"]["type"]]
    assert f"--storage {scheme}" in path.read_text()


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_config_turns_token_auth_on_for_every_node(path):
    config = _load(path)
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in config[key] if "ray start" in c]
        assert starts and all("RAY_AUTH_MODE=token" in c for c in starts), key
    head_start = next(c for c in config["head_start_ray_commands"] if "ray start" in c)
    assert "--dashboard-host=127.0.0.1" in head_start


@pytest.mark.parametrize("path", LAUNCHER, ids=lambda p: p.name)
def test_launcher_config_opens_no_ray_port_to_the_internet(path):
    group = _load(path)["provider"].get("security_group", {})
    for rule in group.get("IpPermissions", []):
        ranges = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
        ranges += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
        if not {"0.0.0.0/0", "::/0"} & set(ranges):
            continue
        low, high = rule.get("FromPort", -1), rule.get("ToPort", -1)
        assert rule.get("IpProtocol") != "-1" and low != -1, rule
        assert not any(low <= port <= high for port in RAY_PORTS), rule


# -- KubeRay ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_kuberay_file_is_a_ray_io_v1_resource_with_a_gpu_worker_group(path):
    docs = _kuberay_docs(path)
    rays = [d for d in docs if d["apiVersion"] == "ray.io/v1"]
    kind = {"raycluster": "RayCluster", "rayjob": "RayJob"}[path.stem]
    assert [d["kind"] for d in rays] == [kind]
    spec = _cluster_spec(rays[0])
    assert spec["headGroupSpec"]["template"]["spec"]["containers"]
    assert spec["enableInTreeAutoscaling"] is True
    gpu_groups = []
    for group in spec["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group["maxReplicas"]
        for container in group["template"]["spec"]["containers"]:
            limits = container["resources"]["limits"]
            if int(limits.get("nvidia.com/gpu", 0)) > 0:
                assert (
                    container["resources"]["requests"]["nvidia.com/gpu"] == limits["nvidia.com/gpu"]
                )
                gpu_groups.append(group)
    assert gpu_groups and any(g["maxReplicas"] > g["minReplicas"] for g in gpu_groups)
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in head["resources"].get("limits", {})


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_kuberay_file_turns_token_auth_on_from_a_secret(path):
    spec = _cluster_spec(next(d for d in _kuberay_docs(path) if d["apiVersion"] == "ray.io/v1"))
    if spec.get("authOptions", {}).get("mode") == "token":
        return  # KubeRay makes the Secret and sets both variables on every container
    envs = [_container_env(c) for c in _containers(spec)]
    envs.append(_container_env(spec["autoscalerOptions"]))
    for env in envs:
        assert env["RAY_AUTH_MODE"] == {"name": "RAY_AUTH_MODE", "value": "token"}
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"]
        assert "value" not in env["RAY_AUTH_TOKEN"]  # the token is never in the file


def _container_env(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def test_rayjob_runs_the_study_as_its_entrypoint():
    job = next(d for d in _kuberay_docs(KUBERAY[1]) if d.get("kind") == "RayJob")
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["distributed-bo", "run"] and "--address" in argv
    assert argv[argv.index("--address") + 1] == "auto"
    _parse_cli(argv[1:], source=KUBERAY[1])
    assert job["spec"]["shutdownAfterJobFinishes"] is True


@pytest.mark.parametrize("path", KUBERAY, ids=lambda p: p.name)
def test_kuberay_file_exposes_nothing_outside_kubernetes(path):
    docs = _kuberay_docs(path)
    assert not [d for d in docs if d["kind"] in ("Ingress", "Gateway", "HTTPRoute")]
    for doc in docs:
        if doc["kind"] == "Service":
            assert doc["spec"].get("type", "ClusterIP") == "ClusterIP"
        if doc["apiVersion"] == "ray.io/v1":
            head = _cluster_spec(doc)["headGroupSpec"]
            assert head.get("serviceType", "ClusterIP") == "ClusterIP"
            host = head["rayStartParams"].get("dashboard-host", "pod network")
            assert host in ("127.0.0.1", "pod network")


# -- Every file ---------------------------------------------------------------------------

_COMMAND = re.compile(r"(?<![\w/.-])distributed-bo[ \t]+([^`\n;|&]+)")


def _cli_occurrences(path: Path) -> list[list[str]]:
    """The arguments of every ``distributed-bo COMMAND ...`` written in ``path``."""
    found = []
    for match in _COMMAND.finditer(path.read_text()):
        text = match.group(1)
        try:
            found.append(shlex.split(text))
        except ValueError:  # a command inside a quoted string: stop at the quote
            found.append(shlex.split(re.split(r"[\"']", text)[0]))
    return found


def _is_command(name: str) -> bool:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            build_parser().parse_args([name, "--help"])
        except SystemExit as done:
            return done.code == 0
    return False


def _parse_cli(argv: list[str], *, source: Path) -> None:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{source.name}: `distributed-bo {' '.join(argv)}`: {err.getvalue()}")
    spec = getattr(args, "spec", None)
    if spec is None:
        return
    if "jobs/" in spec:
        assert (ROOT / spec[spec.index("jobs/") :]).is_file(), f"{source.name}: no {spec}"
    else:
        assert spec == "JOB.yaml", f"{source.name}: {spec!r} is neither jobs/... nor JOB.yaml"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.relative_to(CLUSTER).as_posix())
def test_commands_name_real_cli_commands_and_real_job_files(path):
    occurrences = _cli_occurrences(path)
    if path.name != "stop.sh":
        assert occurrences, f"{path.name} shows no distributed-bo command"
    for argv in occurrences:
        assert argv and _is_command(argv[0]), f"{path.name}: distributed-bo {' '.join(argv)}"
        if path.suffix != ".md":  # prose may name a command without its arguments
            _parse_cli(argv, source=path)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.relative_to(CLUSTER).as_posix())
def test_no_file_binds_the_dashboard_to_all_interfaces_or_opens_it_to_the_internet(path):
    text = path.read_text()
    assert not re.search(r"dashboard[-_]host\W{1,3}(0\.0\.0\.0|::)\b", text), path.name
    assert "0.0.0.0/0" not in text and "::/0" not in text, path.name


def test_local_scripts_stay_on_loopback_and_stop_by_pid():
    start, stop = (p.read_text() for p in SCRIPTS)
    code = [
        line
        for script in (start, stop)
        for line in script.splitlines()
        if not line.lstrip().startswith("#")
    ]
    assert not [line for line in code if re.search(r"\bray stop\b", line)]
    assert start.count("--node-ip-address 127.0.0.1") == 2  # the head and every worker
    assert "--dashboard-host 127.0.0.1" in start
    assert '--address "127.0.0.1:$GCS_PORT"' in start
    head = 'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 "$PYTHON" -m ray.scripts.scripts start --head'
    assert head in start
    assert "export RAY_AUTH_MODE=token" in start
    assert ".pid" in stop and "kill -TERM" in stop
