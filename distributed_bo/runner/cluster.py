"""Connecting to Ray: a local instance on 127.0.0.1, or an existing cluster."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress

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
        try:
            with loopback_only(), _keep_sigterm_handler():
                ray.init(
                    address="local",
                    _node_ip_address="127.0.0.1",
                    include_dashboard=False,
                    num_gpus=num_gpus,
                    configure_logging=False,
                    log_to_driver=log_to_driver,
                )
        except Exception as err:  # Ray raises a bare Exception when its start times out
            with suppress(Exception):
                ray.shutdown()
            raise ClusterError(
                f"Ray did not start on this machine ({_first_line(err)}); it may be "
                "overloaded or out of memory: try again, and see /tmp/ray/session_latest/logs"
            ) from err
        return True
    _probe(address)  # RAY_ADDRESS
    try:
        with _keep_sigterm_handler():
            ray.init(address=address, configure_logging=False, log_to_driver=log_to_driver)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
        raise ClusterError(
            f"--address: cannot reach a Ray cluster at {address!r} ({_first_line(err)}); "
            "check the address and that the head node is running"
        ) from err
    return True


@contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """Keep a SIGTERM handler the caller installed across ``ray.init``.

    ``ray.init`` replaces it with one that exits with status 15 (or whose exit is lost,
    when it fires inside a finaliser); the CLI's own stops start-up with exit 143.
    Without a handler of the caller's (the default), Ray's is left in place.
    """
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    if not callable(before):
        yield
        return
    from distributed_bo.runner.signals import raise_if_terminated

    raise_if_terminated()  # a signal recorded so far stops us before Ray starts
    # Ray's private helper, called by ray.init to install its handler: kept out for the
    # call, so a SIGTERM while Ray starts reaches the caller's handler, not Ray's.
    import ray._private.utils as ray_utils

    install = ray_utils.set_sigterm_handler
    ray_utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        ray_utils.set_sigterm_handler = install
        signal.signal(signal.SIGTERM, before)
    raise_if_terminated()  # one that arrived while Ray started


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
    return max_per_node("GPU")


def max_per_node(resource: str) -> float:
    """Largest amount of ``resource`` (``"CPU"``, ``"GPU"``) on any alive node of the cluster."""
    import ray

    return max(
        (n.get("Resources", {}).get(resource, 0.0) for n in ray.nodes() if n.get("Alive")),
        default=0.0,
    )


def check_machine_fits(need: Mapping[str, float]) -> None:
    """Before a local Ray starts: refuse a trial that needs more than this machine has.

    Args:
        need: A trial's resources, ``{"CPU": cpus, "GPU": gpus}``.

    Raises:
        ClusterError: Naming the spec's field, the request, what the machine has and
            the fix.
    """
    counters = {"CPU": local_cpu_count, "GPU": local_gpu_count}
    for resource, wanted in need.items():
        count = counters[resource]() if wanted > 0 else None
        if count is not None and count < wanted:
            raise ClusterError(
                _too_big(resource, wanted, f"this machine has {count}", "pass --address of")
            )


def check_nodes_fit(need: Mapping[str, float]) -> None:
    """Refuse a trial that needs more than the biggest node of the connected cluster has.

    Such a trial would wait forever (Ray Tune only warns).

    Raises:
        ClusterError: As for :func:`check_machine_fits`.
    """
    for resource, wanted in need.items():
        most = max_per_node(resource) if wanted > 0 else None
        if most is not None and most < wanted:
            raise ClusterError(
                _too_big(resource, wanted, f"no node has more than {most:g}", "run on")
            )


def _too_big(resource: str, need: float, have: str, fix: str) -> str:
    field = f"{resource.lower()}s_per_trial"
    return (
        f"resources.{field}: {need:g} {resource}s per trial, but {have}; lower {field} or "
        f"{fix} a bigger cluster"
    )


def local_cpu_count() -> int | None:
    """CPUs a local Ray would find on this machine, without starting Ray (None if unknown).

    Ray counts the CPUs this process may use (its cgroup's quota, its affinity).
    """
    try:
        from ray._private.utils import get_num_cpus

        return int(get_num_cpus())
    except Exception:  # a private Ray API; the check after connecting still applies
        return os.cpu_count()


def local_gpu_count() -> int | None:
    """GPUs Ray would find on this machine, without starting Ray (None if unknown)."""
    try:
        from ray._private.accelerators import get_accelerator_manager_for_resource

        manager = get_accelerator_manager_for_resource("GPU")
        return None if manager is None else int(manager.get_current_node_num_accelerators())
    except Exception:  # a private Ray API; the check after connecting still applies
        return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
