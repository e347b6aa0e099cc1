"""Secure defaults: a local Ray listens on loopback only and serves no dashboard, and the
package never unpickles what it reads from storage."""

from __future__ import annotations

import ast
import http.client
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import dbo_procnet
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "distributed_bo"

LOCAL_RAY = """
import json, os, sys
import ray
from distributed_bo.runner.cluster import connect

assert connect(num_gpus=0)
nodes = [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]]
print(json.dumps({"pid": os.getpid(), "nodes": nodes}), flush=True)
sys.stdin.readline()  # the test looks at the listening sockets meanwhile
ray.shutdown()
"""


@pytest.mark.slow
def test_local_ray_listens_on_loopback_only_and_serves_no_dashboard():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCAL_RAY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        info = json.loads(proc.stdout.readline())
        sockets = dbo_procnet.listening(dbo_procnet.descendants(info["pid"]))
        assert info["nodes"] == ["127.0.0.1"]
        assert len(sockets) >= 3  # the GCS, the raylet, the driver's core worker at least
        wide = [s for s in sockets if not dbo_procnet.is_loopback(s[1])]
        assert not wide, f"listening beyond loopback: {wide}"
        dashboards = [s for s in sockets if _answers_like_a_dashboard(s[2])]
        assert not dashboards, f"a dashboard answers on {dashboards}"
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=60)


def _answers_like_a_dashboard(port: int) -> bool:
    """Whether ``port`` answers the dashboard's ``/api/version`` (sent with the token)."""
    from distributed_bo.runner.jobs import find_auth_token

    token = find_auth_token()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/version", headers=token.header() if token else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as r:
            return "ray_version" in r.read().decode(errors="replace")
    except (OSError, ValueError, http.client.HTTPException):  # gRPC ports and the like
        return False


def test_loopback_only_restores_rays_mode_and_the_environment(monkeypatch):
    from ray._private import ray_constants

    from distributed_bo.runner.cluster import SINGLE_MACHINE_ENV, loopback_only

    monkeypatch.setenv(SINGLE_MACHINE_ENV, "1")
    before = ray_constants.ENABLE_RAY_CLUSTER
    with loopback_only():
        assert os.environ[SINGLE_MACHINE_ENV] == "0"
        assert ray_constants.ENABLE_RAY_CLUSTER is False
    assert os.environ[SINGLE_MACHINE_ENV] == "1"
    assert ray_constants.ENABLE_RAY_CLUSTER is before


UNPICKLERS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("dill", "load"),
    ("dill", "loads"),
    ("joblib", "load"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
}
UNSAFE_YAML_LOADERS = {"Loader", "UnsafeLoader", "FullLoader"}


def test_package_never_unpickles_and_loads_torch_weights_only():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            call = (name, node.func.attr)
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            if call in UNPICKLERS:
                found.append(f"{where} {name}.{node.func.attr}(...)")
            if call == ("torch", "load") and not _weights_only(node):
                found.append(f"{where} torch.load(...) without weights_only=True")
            if call[1] == "load" and name in ("np", "numpy") and _keyword(node, "allow_pickle"):
                found.append(f"{where} {name}.load(..., allow_pickle=...)")
            loader = _keyword(node, "Loader")
            if call == ("yaml", "load") and getattr(loader, "attr", "") in UNSAFE_YAML_LOADERS:
                found.append(f"{where} yaml.load(..., Loader=yaml.{loader.attr})")
    assert not found, "unpickling in the package:\n" + "\n".join(found)


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _weights_only(node: ast.Call) -> bool:
    value = _keyword(node, "weights_only")
    return isinstance(value, ast.Constant) and value.value is True
