"""A study submitted to a running Ray cluster as a Ray job.

The validated spec (``--set`` overrides applied) travels as ``job.yaml`` in the job's
``working_dir``; the trainable's own module, and any ``--py-module``, travel with it:
packages in ``py_modules``, single ``.py`` files in the ``working_dir`` (the Jobs SDK
of Ray 2.60 uploads only directories as ``py_modules``). Both are importable by the
driver and by every trial. On the cluster the job runs
``distributed-bo run job.yaml --address auto``: it joins the cluster it was submitted
to, so its trials can use every node and the autoscaler.

``storage`` is read by the job on the head node. A URI (``s3://``, ``gs://``) or an
absolute path is used as given; a relative path would land in the job's temporary
working directory, which Ray deletes, so it is anchored at the home directory of the
head instead (``./experiments`` becomes ``~/experiments``). Clusters of several nodes
need storage every node can reach: a bucket URI or a shared filesystem.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from distributed_bo.exceptions import SpecError
from distributed_bo.runner.jobs import STUDY_KEY, JobsClient
from distributed_bo.spec import StudySpec
from distributed_bo.trainables import BUILTIN_TRAINABLES

#: The spec's file name inside the job's working directory.
JOB_FILE = "job.yaml"
#: What the job runs on the cluster.
ENTRYPOINT = f"distributed-bo run {JOB_FILE} --address auto"
#: Never uploaded with a shipped module.
EXCLUDES = ("__pycache__", "*.pyc", ".git", ".pytest_cache", ".ipynb_checkpoints")
#: Seconds ``ray job stop`` waits after its SIGTERM before it SIGKILLs the job (Ray's
#: default is 3 s): time for the study's graceful stop (:mod:`distributed_bo.runner.signals`).
#: The job supervisor reads it from the job's runtime environment.
STOP_WAIT_ENV = {"RAY_JOB_STOP_WAIT_TIME_S": "60"}


@dataclass(frozen=True, kw_only=True)
class StudyJob:
    """A study packaged as a Ray job.

    Attributes:
        name: The study name.
        spec_yaml: ``job.yaml``: the validated spec with the cluster's ``storage``.
        storage: Where the job writes, as the head node reads it.
        py_modules: Local package directories and ``.py`` files shipped with the job.
        entrypoint: The shell command the job runs.
    """

    name: str
    spec_yaml: str
    storage: str
    py_modules: tuple[str, ...]
    entrypoint: str = ENTRYPOINT

    @property
    def experiment_dir(self) -> str:
        """The study's directory on the cluster (``STORAGE/NAME``)."""
        return f"{self.storage.rstrip('/')}/{self.name}"

    def stage(self, working_dir: str) -> dict[str, Any]:
        """Write ``job.yaml`` and the ``.py`` modules into ``working_dir``.

        Returns:
            The job's runtime environment.
        """
        Path(working_dir, JOB_FILE).write_text(self.spec_yaml)
        packages = []
        for path in self.py_modules:
            if os.path.isdir(path):
                packages.append(path)
            else:
                shutil.copy2(path, working_dir)
        env: dict[str, Any] = {
            "working_dir": working_dir,
            "excludes": list(EXCLUDES),
            "env_vars": dict(STOP_WAIT_ENV),
        }
        if packages:
            env["py_modules"] = packages
        return env


@dataclass(frozen=True, kw_only=True)
class SubmittedStudy:
    """A study the cluster accepted.

    Attributes:
        submission_id: The Ray job's submission id.
        address: The dashboard it was submitted to.
        experiment_dir: Where its results go, as the head node sees it.
        py_modules: What was shipped besides ``job.yaml``.
    """

    submission_id: str
    address: str
    experiment_dir: str
    py_modules: tuple[str, ...]


def package_study(
    spec: StudySpec, *, storage: str | None = None, py_modules: Sequence[str] = ()
) -> StudyJob:
    """Package a validated spec for the cluster.

    Args:
        spec: The study (overrides already applied).
        storage: Overrides ``spec.storage``; see :func:`cluster_storage`.
        py_modules: Extra package directories or ``.py`` files to ship.

    Raises:
        SpecError: If a ``py_modules`` entry is not an existing directory or ``.py`` file.
    """
    target = cluster_storage(storage or spec.storage)
    data = spec.to_dict()
    data["storage"] = target
    shipped: list[str] = []
    for path in (*user_module_paths(spec.trainable.name), *py_modules):
        resolved = _check_module_path(path)
        if resolved not in shipped:
            shipped.append(resolved)
    return StudyJob(
        name=spec.name,
        spec_yaml=yaml.safe_dump(data, sort_keys=False),
        storage=target,
        py_modules=tuple(shipped),
    )


def submit_study(
    job: StudyJob, client: JobsClient, *, submission_id: str | None = None
) -> SubmittedStudy:
    """Submit a packaged study; returns once the cluster accepted it.

    Raises:
        SpecError: If Ray refuses the runtime environment.
        ClusterError: If the cluster refuses the job (e.g. a duplicate submission id).
    """
    with tempfile.TemporaryDirectory(prefix=f"distributed-bo-{job.name}-") as staging:
        job_id = client.submit(
            entrypoint=job.entrypoint,
            runtime_env=job.stage(staging),
            submission_id=submission_id,
            metadata={STUDY_KEY: job.name, "distributed_bo_storage": job.storage},
        )
    return SubmittedStudy(
        submission_id=job_id,
        address=client.address,
        experiment_dir=job.experiment_dir,
        py_modules=job.py_modules,
    )


def cluster_storage(storage: str) -> str:
    """Where a job on the head node writes for ``storage``.

    URIs, absolute paths and ``~`` paths are kept; a relative path is anchored at the
    head's home directory (``./experiments`` -> ``~/experiments``), because the job's
    own working directory is temporary.
    """
    if "://" in storage or os.path.isabs(storage) or storage.startswith("~"):
        return storage
    return f"~/{os.path.normpath(storage)}"


def user_module_paths(trainable_name: str) -> tuple[str, ...]:
    """The local package or ``.py`` file behind a ``module:function`` trainable.

    Returns:
        Its top-level package directory or module file, or nothing for built-in
        trainables, this package, and modules installed in site-packages (those must
        be installed on the cluster as well).
    """
    if trainable_name in BUILTIN_TRAINABLES or ":" not in trainable_name:
        return ()
    top = trainable_name.partition(":")[0].split(".")[0]
    if top == "distributed_bo":
        return ()
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return ()
    if found is None:
        return ()
    locations = list(found.submodule_search_locations or [])
    path = locations[0] if locations else found.origin
    if not path or not os.path.exists(path) or _installed(path):
        return ()
    return (os.path.realpath(path),)


def _check_module_path(path: str) -> str:
    resolved = os.path.realpath(os.path.expanduser(path))
    if os.path.isdir(resolved) or (os.path.isfile(resolved) and resolved.endswith(".py")):
        return resolved
    raise SpecError(
        f"--py-module: got {path!r}, which is not a directory or a .py file; pass a "
        "package directory or a module file"
    )


def _installed(path: str) -> bool:
    """Whether ``path`` lies in an installed-packages or standard-library directory."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("purelib", "platlib", "stdlib", "platstdlib") if k in paths}
    roots.update(site.getsitepackages())
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        roots.add(user_site)
    real = os.path.realpath(path)
    return any(real.startswith(os.path.realpath(r) + os.sep) for r in roots if r)
