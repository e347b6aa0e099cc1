"""Connecting to Ray: a local instance on 127.0.0.1, or an existing cluster."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from distributed_bo.exceptions import ClusterError

logger = logging.getLogger(__name__)

#: Ray's switch for single-machine mode. Off ("0"), Ray keeps 127.0.0.1 as the node
#: address; on (Linux's default), it swaps 127.0.0.1 for the machine's outward address
#: (ray-project/ray#59110) and its GCS, raylet and workers listen on every interface.
SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def connect(
    address: str | None = None, *, num_gpus: int | None = None, log_to_driver: bool = False
) -> bool:
    """Start or join Ray.

    With no ``address`` (and no ``RAY_ADDRESS``), start a local Ray bound to
    127.0.0.1 with no dashboard and the machine's GPUs. Otherwise join that
    cluster.

    Args:
        address: ``"auto"``, ``"HOST:PORT"`` or ``"ray://HOST:10001"``.
        num_gpus: Logical GPUs for a local instance; detected when ``None``.
        log_to_driver: Stream the workers' output to this process.

    Returns:
        True if this call started Ray (the caller should shut it down).

    Raises:
        ClusterError: If the cluster cannot be reached.
    """
    import ray

    if address:
        _probe(address)  # an explicit address must be reachable, even if Ray is up
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        with loopback_only():
            ray.init(
                address="local",
                _node_ip_address="127.0.0.1",
                include_dashboard=False,
                num_gpus=num_gpus,
                configure_logging=False,
                log_to_driver=log_to_driver,
            )
        return True
    _probe(address)  # RAY_ADDRESS
    try:
        ray.init(address=address, configure_logging=False, log_to_driver=log_to_driver)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
        raise ClusterError(
            f"--address: cannot reach a Ray cluster at {address!r} ({_first_line(err)}); "
            "check the address and that the head node is running"
        ) from err
    return True


@contextmanager
def loopback_only() -> Iterator[None]:
    """Keep a local Ray started inside this block on 127.0.0.1.

    Sets :data:`SINGLE_MACHINE_ENV` to ``"0"`` for the processes Ray starts, and
    Ray's copy of it (read when ``ray`` is imported) for this process, then restores
    both. Every listener of the instance is then on the loopback interface.
    """
    from ray._private import ray_constants

    saved_env = os.environ.get(SINGLE_MACHINE_ENV)
    saved = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_MACHINE_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
        if saved_env is None:
            os.environ.pop(SINGLE_MACHINE_ENV, None)
        else:
            os.environ[SINGLE_MACHINE_ENV] = saved_env


def _probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not minutes, when nothing listens at ``HOST:PORT``.

    ``ray.init`` retries an unreachable GCS for minutes (and rewrites 127.0.0.1 to
    the machine's outward address). ``auto`` and ``ray://`` addresses are left to Ray.
    """
    import socket

    if address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return
    except ValueError as err:
        raise ClusterError(
            f"--address: got {address!r}; write HOST:PORT, auto or ray://HOST:10001"
        ) from err
    except OSError as err:
        raise ClusterError(
            f"--address: cannot reach a Ray cluster at {address!r} ({err.strerror or err}); "
            "check the address and that the head node is running"
        ) from err


def max_gpus_per_node() -> float:
    """Largest number of GPUs on any alive node of the connected cluster."""
    import ray

    return max(
        (n.get("Resources", {}).get("GPU", 0.0) for n in ray.nodes() if n.get("Alive")),
        default=0.0,
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
