"""Where a trial runs: the device it trains on, the GPUs Ray gave it, and its node.

Inside Ray, a trial uses a GPU only if Ray assigned it one (``gpus_per_trial`` > 0);
Ray then sets ``CUDA_VISIBLE_DEVICES`` to the assigned GPUs, so the first one is
``cuda:0`` in the trial process. A trial Ray gave no GPU runs on the CPU even on a
GPU machine, so trials never share a GPU they did not ask for. Outside Ray the GPU
is used when there is one.
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

    """

    device: torch.device
    gpu_ids: tuple[int | str, ...]
    node: str


def place(requested: str = "auto") -> Placement:
    """Choose the device for this process.

    Args:
        requested: ``auto``: CUDA if Ray assigned a GPU (or, outside Ray, if CUDA
            exists), else CPU. ``cpu``: always CPU. ``cuda``: CUDA or an error.

    Returns:
        The placement; with ``auto``, a trial that Ray gave a GPU but that sees no
        CUDA device (logical GPUs, or a CPU-only torch) runs on the CPU and logs a
        warning.

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
    if wants_gpu and cuda:
        torch.cuda.set_device(0)
        return Placement(torch.device("cuda", 0), gpu_ids, node)
    if wants_gpu:
        logger.warning("Ray assigned GPU(s) %s but CUDA is not available; using the CPU", gpu_ids)
    return Placement(torch.device("cpu"), gpu_ids, node)
