"""Shared fixtures: one local Ray instance per test session, bound to 127.0.0.1."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def ray_session():
    """Start one local Ray (4 CPUs, 4 logical GPUs) for the whole test session."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if not ray.is_initialized():
        ray.init(
            address="local",
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            num_cpus=4,
            num_gpus=4,
            log_to_driver=False,
            configure_logging=False,
        )
    yield ray
    ray.shutdown()
