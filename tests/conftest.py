"""Shared fixtures: one local Ray instance, bound to 127.0.0.1, reused across tests.

Tests that need a different cluster (``ray.cluster_utils.Cluster``) shut the shared
instance down; the next test that asks for ``ray_session`` starts it again.
``s3_endpoint`` is moto's S3 server on loopback, for the modules that test S3.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

#: The bucket the ``s3_endpoint`` fixture creates.
S3_BUCKET = "dbo-test"


def start_local_ray() -> None:
    """Start the shared local Ray (4 CPUs, 4 logical GPUs) if none is running."""
    import ray

    from distributed_bo.runner.cluster import loopback_only

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if not ray.is_initialized():
        with loopback_only():
            ray.init(
                address="local",
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                num_cpus=4,
                num_gpus=4,
                log_to_driver=False,
                configure_logging=False,
            )


@pytest.fixture(scope="module")
def ray_session():
    """The shared local Ray, started on first use (again after a module stopped it)."""
    import ray

    start_local_ray()
    yield ray


@pytest.fixture(scope="session", autouse=True)
def _shutdown_ray_at_exit():
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """``host:port`` of a moto S3 server with an empty bucket ``dbo-test``; credentials
    in the env (``python -m moto.server`` on loopback, one per test module)."""
    pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        import pyarrow.fs as pafs

        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto's S3 server did not start"
                time.sleep(0.2)
        fs = pafs.S3FileSystem(
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        fs.create_dir(S3_BUCKET)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the tests marked on_request")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "optimizer_optional: the fast_optimizer fixture does not fail when the test "
        "never reaches the acquisition optimiser",
    )


def _run_on_request(config: pytest.Config) -> bool:
    return bool(config.getoption("run_slow", default=False)) or (
        os.environ.get("DISTRIBUTED_BO_RUN_SLOW", "") not in ("", "0")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked ``on_request`` unless asked (``--run-slow`` or the env var)."""
    if _run_on_request(config):
        return
    skip = pytest.mark.skip(reason="on request: pass --run-slow or set DISTRIBUTED_BO_RUN_SLOW=1")
    for item in items:
        if "on_request" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def fast_optimizer(request):
    """Cap BoTorch's acquisition optimiser for this test; fail if it was never called.

    See :func:`distributed_bo.testing.optimizer.fast_optimizer`; mark a test
    ``@pytest.mark.optimizer_optional`` when it may end before the model is used.
    """
    from distributed_bo.testing.optimizer import fast_optimizer as capped

    optional = request.node.get_closest_marker("optimizer_optional") is not None
    with capped(allow_unused=optional) as calls:
        yield calls
