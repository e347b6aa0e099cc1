"""Shared fixtures: one local Ray instance, bound to 127.0.0.1, reused across tests.

Tests that need a different cluster (``ray.cluster_utils.Cluster``) shut the shared
instance down; the next test that asks for ``ray_session`` starts it again.
"""

from __future__ import annotations

import os

import pytest


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


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "optimizer_optional: the fast_optimizer fixture does not fail when the test "
        "never reaches the acquisition optimiser",
    )


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
