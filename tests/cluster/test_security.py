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


#: Modules whose readers run code from their input.
PICKLE_FAMILY = {
    "pickle",
    "_pickle",
    "cPickle",
    "cloudpickle",
    "dill",
    "marshal",
    "shelve",
    "joblib",
}
#: What distributed-bo may use of them: writing its own pickles, naming their errors,
#: and ``register_pickle_by_value`` (tuner.py: how Tune pickles the trainable's module).
PICKLE_ALLOWED = {
    "dump",
    "dumps",
    "Pickler",
    "PickleError",
    "PicklingError",
    "UnpicklingError",
    "HIGHEST_PROTOCOL",
    "DEFAULT_PROTOCOL",
    "register_pickle_by_value",
    "unregister_pickle_by_value",
}
#: Ray Tune's readers of its JSON blobs (each one ``cloudpickle.loads`` underneath).
TUNE_UNPICKLERS = {"_loads_with_cloudpickle", "from_json_state", "restore_run_metadata"}
UNSAFE_YAML = {"unsafe_load", "full_load", "unsafe_load_all", "full_load_all"}
UNSAFE_YAML_LOADERS = {"Loader", "UnsafeLoader", "FullLoader"}


def unpickling(source: str, where: str = "<source>") -> list[str]:
    """Every place in ``source`` that unpickles, or may, however the name was bound.

    Catches ``pickle.loads(...)``, ``from pickle import loads``, aliases (``import
    dill as d``, ``from ray import cloudpickle as cp``, ``import ray.cloudpickle``),
    ``pickle.Unpickler``, ``marshal``/``shelve``, ``getattr(pickle, ...)``,
    ``importlib.import_module("pickle")``, Ray Tune's blob readers, ``read_pickle``,
    ``allow_pickle=``, unsafe YAML loaders and ``torch.load`` without
    ``weights_only=True`` (also when imported as a bare name).
    """
    tree = ast.parse(source, filename=where)
    aliases: dict[str, str] = {}  # local name -> dotted module or module.attr it names
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                problem = _bad_name(f"{node.module}.{a.name}")
                if problem:
                    found.append(
                        f"{where}:{node.lineno} from {node.module} import {a.name} ({problem})"
                    )
    for node in ast.walk(tree):
        dotted = _dotted(node, aliases) if isinstance(node, (ast.Attribute, ast.Name)) else None
        if dotted and isinstance(node, ast.Attribute) and (problem := _bad_name(dotted)):
            found.append(f"{where}:{node.lineno} {dotted} ({problem})")
        if isinstance(node, ast.Call):
            found += [f"{where}:{node.lineno} {p}" for p in _bad_call(node, aliases)]
    return found


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([aliases.get(node.id, node.id), *reversed(parts)])


def _bad_name(dotted: str) -> str | None:
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        if part in PICKLE_FAMILY and parts[i + 1] not in PICKLE_ALLOWED:
            return f"{part}.{parts[i + 1]} may unpickle"
    if parts[-1] in TUNE_UNPICKLERS:
        return "Ray Tune's reader of cloudpickled blobs"
    if parts[-1] == "read_pickle":
        return "unpickles"
    if parts[0] == "yaml" and parts[-1] in UNSAFE_YAML:
        return "unsafe YAML loader"
    return None


def _bad_call(node: ast.Call, aliases: dict[str, str]) -> list[str]:
    name = _dotted(node.func, aliases) if isinstance(node.func, (ast.Attribute, ast.Name)) else None
    out = []
    if name and isinstance(node.func, ast.Name) and (problem := _bad_name(name)):
        out.append(f"{name}(...) ({problem})")
    if name in ("torch.load", "torch.serialization.load") and not _weights_only(node):
        out.append(f"{name}(...) without weights_only=True")
    if name in ("getattr", "builtins.getattr") and node.args:
        owner = node.args[0]
        target = _dotted(owner, aliases) if isinstance(owner, (ast.Attribute, ast.Name)) else None
        attr = node.args[1] if len(node.args) > 1 else None
        if (
            target
            and target.split(".")[-1] in PICKLE_FAMILY
            and not (isinstance(attr, ast.Constant) and attr.value in PICKLE_ALLOWED)
        ):
            out.append(f"getattr({target}, ...) may unpickle")
    if name in ("importlib.import_module", "__import__") and node.args:
        module = node.args[0]
        if isinstance(module, ast.Constant) and str(module.value).split(".")[-1] in PICKLE_FAMILY:
            out.append(f"{name}({module.value!r})")
    for keyword in node.keywords:
        value = keyword.value
        if keyword.arg in ("allow_pickle", "allow_cloudpickle") and not (
            isinstance(value, ast.Constant) and value.value is False
        ):
            out.append(f"{name}(..., {keyword.arg}=...)")
        loader = _dotted(value, aliases) if isinstance(value, (ast.Attribute, ast.Name)) else ""
        if keyword.arg == "Loader" and (loader or "").split(".")[-1] in UNSAFE_YAML_LOADERS:
            out.append(f"{name}(..., Loader={loader})")
    return out


def test_package_never_unpickles_and_loads_torch_weights_only():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += unpickling(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert not found, "unpickling in the package:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.loads(b)",
        "import pickle\npickle.load(f)",
        "from pickle import loads\nloads(b)",
        "from pickle import loads as safe\nsafe(b)",
        "import pickle as p\np.loads(b)",
        "import pickle\npickle.Unpickler(f).load()",
        "from _pickle import Unpickler",
        "import cloudpickle\ncloudpickle.loads(b)",
        "from ray import cloudpickle\ncloudpickle.loads(b)",
        "from ray import cloudpickle as cp\ncp.load(f)",
        "import ray.cloudpickle\nray.cloudpickle.loads(b)",
        "import ray\nray.cloudpickle.loads(b)",
        "from ray.cloudpickle import loads\nloads(b)",
        "import dill as d\nd.load(f)",
        "import marshal\nmarshal.loads(b)",
        "import shelve\nshelve.open(p)",
        "import joblib\njoblib.load(p)",
        "import pickle\ngetattr(pickle, 'loads')(b)",
        "import pickle\nf = getattr(pickle, name)",
        "import importlib\nimportlib.import_module('pickle')",
        "__import__('cloudpickle')",
        "from ray.tune.utils.serialization import _loads_with_cloudpickle",
        "from ray.tune.utils import serialization\nserialization._loads_with_cloudpickle(s)",
        "from ray.tune.experiment import Trial\nTrial.from_json_state(s)",
        "trial.restore_run_metadata(s)",
        "json.loads(s, cls=TuneFunctionDecoder, allow_cloudpickle=True)",
        "import pandas as pd\npd.read_pickle(p)",
        "import numpy as np\nnp.load(p, allow_pickle=True)",
        "import torch\ntorch.load(p)",
        "import torch\ntorch.load(p, weights_only=False)",
        "from torch import load\nload(p)",
        "import yaml\nyaml.unsafe_load(s)",
        "from yaml import full_load\nfull_load(s)",
        "import yaml\nyaml.load(s, Loader=yaml.UnsafeLoader)",
        "from yaml import Loader, load\nload(s, Loader=Loader)",
    ],
)
def test_the_scan_catches_every_way_of_unpickling(source):
    assert unpickling(source), source


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.dump(obj, f, protocol=2)",  # data/fake.py writes CIFAR files
        "import pickle\ntry:\n    pass\nexcept pickle.UnpicklingError:\n    pass",
        "import ray.cloudpickle\nray.cloudpickle.register_pickle_by_value(m)",  # tuner.py
        "import torch\ntorch.load(p, map_location='cpu', weights_only=True)",
        "import yaml\nyaml.safe_load(s)",
        "import json\njson.loads(s)",
        "from ray.tune.utils.serialization import TuneFunctionEncoder",
        "import pickletools\npickletools.genops(b)",  # lists opcodes, runs none
    ],
)
def test_the_scan_allows_what_the_package_may_do(source):
    assert unpickling(source) == []


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _weights_only(node: ast.Call) -> bool:
    value = _keyword(node, "weights_only")
    return isinstance(value, ast.Constant) and value.value is True
