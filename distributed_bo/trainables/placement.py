"""Where a trial runs: the device it trains on, the GPUs Ray gave it, and its node.

Inside Ray, a trial uses a GPU only if Ray assigned it one (``gpus_per_trial`` > 0);
Ray then sets ``CUDA_VISIBLE_DEVICES`` to the assigned GPUs, so the first one is
``cuda:0`` in the trial process. A trial Ray gave no GPU runs on the CPU even on a
GPU machine, so trials never share a GPU they did not ask for. Outside Ray the GPU
is used when there is one. A trial given a fraction of a GPU (``gpus_per_trial:
0.25``) may allocate at most that fraction of the card's memory
(``torch.cuda.set_per_process_memory_fraction``), so one trial cannot starve the
others sharing it; it gets an out-of-memory error instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from distributed_bo.exceptions import ClusterError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Where one trial trains.

    Attributes:
        device: The torch device, ``cpu`` or ``cuda:0``.
        gpu_ids: GPU ids Ray assigned (``ray.get_gpu_ids()``), empty outside Ray or
            without GPUs; ids may be ints or UUID strings.
        node: IP address of the Ray node, or ``"localhost"`` outside Ray.
        gpu_fraction: The share of one GPU Ray assigned when it is below 1 (the
            memory cap set on CUDA), else ``None``.

    """

    device: torch.device
    gpu_ids: tuple[int | str, ...]
    node: str
    gpu_fraction: float | None = None


def assigned_gpu_fraction() -> float | None:
    """The GPU share Ray assigned this worker if it is a fraction in (0, 1), else ``None``."""
    import ray

    if not ray.is_initialized():
        return None
    try:
        resources = ray.get_runtime_context().get_assigned_resources()
    except AssertionError:  # Ray asserts it is called in a worker; the driver has no share
        return None
    share = resources.get("GPU", 0.0)
    return float(share) if 0 < share < 1 else None


def place(requested: str = "auto") -> Placement:
    """Choose the device for this process.

    Args:
        requested: ``auto``: CUDA if Ray assigned a GPU (or, outside Ray, if CUDA
            exists), else CPU. ``cpu``: always CPU. ``cuda``: CUDA or an error.

    Returns:
        The placement; with ``auto``, a trial that Ray gave a GPU but that sees no
        CUDA device (logical GPUs, or a CPU-only torch) runs on the CPU and logs a
        warning. On CUDA with a fractional GPU, this process's allocations are
        capped at that fraction of the card's memory.

    Raises:
        ClusterError: If ``requested`` is ``cuda`` and CUDA is not usable here.

    """
    import ray

    in_ray = ray.is_initialized()
    # Ray's ids are ints, or UUID strings for some accelerators.
    ids = ray.get_gpu_ids() if in_ray else []
    gpu_ids = tuple(i if isinstance(i, int) else str(i) for i in ids)
    node = ray.util.get_node_ip_address() if in_ray else "localhost"
    cuda = torch.cuda.is_available()
    if requested == "cuda" and not cuda:
        raise ClusterError(
            f"device: got 'cuda', but this process sees no CUDA GPU (Ray GPU ids "
            f"{list(gpu_ids)}); set device: auto, or run on a GPU node with gpus_per_trial > 0"
        )
    if requested == "cpu":
        return Placement(torch.device("cpu"), gpu_ids, node)
    wants_gpu = requested == "cuda" or (bool(gpu_ids) if in_ray else cuda)
    fraction = assigned_gpu_fraction() if in_ray else None
    if wants_gpu and cuda:
        torch.cuda.set_device(0)
        if fraction is not None:
            torch.cuda.set_per_process_memory_fraction(fraction, 0)
        return Placement(torch.device("cuda", 0), gpu_ids, node, fraction)
    if wants_gpu:
        logger.warning("Ray assigned GPU(s) %s but CUDA is not available; using the CPU", gpu_ids)
    return Placement(torch.device("cpu"), gpu_ids, node, fraction)
