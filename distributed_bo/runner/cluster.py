"""Connecting to Ray: a local instance on 127.0.0.1, or an existing cluster."""

from __future__ import annotations

import logging
import os

from distributed_bo.exceptions import ClusterError

logger = logging.getLogger(__name__)


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

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        ray.init(
            address="local",
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            num_gpus=num_gpus,
            configure_logging=False,
            log_to_driver=log_to_driver,
        )
        return True
    try:
        ray.init(address=address, configure_logging=False, log_to_driver=log_to_driver)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
        raise ClusterError(
            f"--address: cannot reach a Ray cluster at {address!r} ({_first_line(err)}); "
            "check the address and that the head node is running"
        ) from err
    return True


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
